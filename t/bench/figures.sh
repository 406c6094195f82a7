#!/bin/sh
#
# figures.sh - the rest of the benchmark table (issue 6): image throughput
# with no client, one, fifty, and one stalled; idle wakeups with three
# clients; the server's memory against dtach's and tmux's; the time of a
# 1 MB replay; the time to a ready image against sbcl loading swank.
#
#	sh t/bench/figures.sh
#
# Environment:
#	BENCH_MB	megabytes the image writes per throughput run (20)
#	BENCH_REPS	runs per figure, medians reported (3)
#	LISPD		lispd binary (as in run.sh)
#
# Clients here are `lispd log -f` readers: socket clients, as a relaying
# attach is, draining to /dev/null or a file. Everything runs in a private
# directory and is stopped by name or pid on exit.

set -u
benchdir=$(cd "$(dirname "$0")" && pwd) || exit 1
BENCH_MB=${BENCH_MB:-20}
BENCH_REPS=${BENCH_REPS:-3}
if [ -z "${LISPD:-}" ]; then
	LISPD=${top_builddir:+$top_builddir/src/lispd}
	LISPD=${LISPD:-$benchdir/../../src/lispd}
fi
bytes=$((BENCH_MB * 1000000))
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lispd-bench-fig.XXXXXX") || exit 1
D=$tmp/s
mkdir -m 700 "$D"
pids=

cleanup() {
	for p in $pids; do
		kill -KILL "$p" 2>/dev/null
	done
	for s in $("$LISPD" -S "$D" ls 2>/dev/null | awk 'NR > 1 && $2 ~ /^[0-9]+$/ { print $1 }'); do
		"$LISPD" -S "$D" kill "$s" >/dev/null 2>&1
	done
	[ -n "${tmux_sock:-}" ] && tmux -S "$tmux_sock" kill-server 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

l() {
	"$LISPD" -S "$D" "$@"
}

median() {	# numbers on stdin
	sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

now_ns() {
	date +%s%N
}

wait_for() {	# wait_for SECONDS COMMAND...
	n=$(($1 * 20))
	shift
	while ! "$@" >/dev/null 2>&1; do
		n=$((n - 1))
		[ "$n" -le 0 ] && return 1
		sleep 0.05
	done
}

# throughput CLIENTS STALLED: MB/s the image writes, one line per run; the
# clients' received and dropped bytes in $tmp/clients.
throughput() {
	nc=$1
	stall=$2
	l start -s tp -- sh >/dev/null || return 1
	cp=
	i=0
	while [ $i -lt "$nc" ]; do
		"$LISPD" -S "$D" log -f -n 0 tp >"$tmp/c.$i" 2>"$tmp/e.$i" &
		cp="$cp $!"
		i=$((i + 1))
	done
	pids="$pids $cp"
	wait_for 10 sh -c "[ \$($LISPD -S $D ls | awk '\$1 == \"tp\" { print \$5 }') = 0 ]" 2>/dev/null
	sleep 0.5	# the log readers connect (they are not counted in ls)
	if [ "$stall" = 1 ]; then
		for p in $cp; do
			kill -STOP "$p"
		done
	fi
	rm -f "$tmp/done"
	l send tp "t0=\$(date +%s%N); yes 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz012345 | head -c $bytes; t1=\$(date +%s%N); echo \$((t1 - t0)) >$tmp/done" >/dev/null
	wait_for 300 test -s "$tmp/done" || return 1
	ns=$(cat "$tmp/done")
	awk -v b="$bytes" -v ns="$ns" 'BEGIN { printf "%.1f\n", b / (ns / 1e9) / 1e6 }'
	if [ "$stall" = 1 ]; then
		for p in $cp; do
			kill -CONT "$p"
		done
	fi
	# Let every client catch up (and hear what it missed) before the end.
	l send tp 'echo bench-end-marker' >/dev/null
	i=0
	while [ $i -lt "$nc" ]; do
		wait_for 120 grep -q bench-end-marker "$tmp/c.$i"
		i=$((i + 1))
	done
	l kill tp >/dev/null 2>&1
	for p in $cp; do
		wait "$p" 2>/dev/null
	done
	i=0
	: >"$tmp/clients"
	while [ $i -lt "$nc" ]; do
		got=$(wc -c <"$tmp/c.$i")
		dropped=$(sed -n 's/.*: \([0-9]*\) bytes of output were dropped.*/\1/p' "$tmp/e.$i" | awk '{ s += $1 } END { print s + 0 }')
		echo "$got $dropped" >>"$tmp/clients"
		i=$((i + 1))
	done
}

echo "lispd figures: $(uname -srm), $(getconf _NPROCESSORS_ONLN) cpus;" \
    "$BENCH_MB MB per throughput run, median of $BENCH_REPS"

for c in "0 0" "1 0" "50 0" "1 1"; do
	set -- $c
	r=0
	: >"$tmp/tp.$1.$2"
	while [ $r -lt "$BENCH_REPS" ]; do
		throughput "$1" "$2" >>"$tmp/tp.$1.$2" || echo "run failed" >&2
		r=$((r + 1))
	done
	cp "$tmp/clients" "$tmp/clients.$1.$2" 2>/dev/null
done
none=$(median <"$tmp/tp.0.0")
one=$(median <"$tmp/tp.1.0")
fan=$(median <"$tmp/tp.50.0")
stalled=$(median <"$tmp/tp.1.1")
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
}
fan_min=$(awk '{ print $1 }' "$tmp/clients.50.0" | sort -n | head -1)
fan_drop=$(awk '{ s += $2 } END { print s + 0 }' "$tmp/clients.50.0")
st_drop=$(awk '{ print $2 }' "$tmp/clients.1.1")

# Idle: three clients, the image idle, 10 s.
l start -s idle -- sh >/dev/null
for i in 1 2 3; do
	"$LISPD" -S "$D" log -f idle >/dev/null 2>&1 &
	pids="$pids $!"
done
sleep 1
srv=$(ps -o ppid= -p "$(l ls | awk '$1 == "idle" { print $2 }')" | tr -d ' ')
cs() {
	awk '/ctxt_switches/ { s += $2 } END { print s }' "/proc/$1/status"
}
before=$(cs "$srv")
sleep 10	# the window measured
after=$(cs "$srv")
wakeups=$((after - before))

# Memory: Private_Dirty of the servers, idle, default scrollback.
dirty() {
	awk '/^Private_Dirty:/ { print $2 }' "/proc/$1/smaps_rollup"
}
mem_lispd=$(( $(dirty "$srv") ))
mem_dtach=-
mem_tmux=-
if command -v dtach >/dev/null; then
	dtach -n "$tmp/dt.sock" -E sh
	dp=$(pgrep -f "dtach -n $tmp/dt.sock" | head -1)
	pids="$pids $dp"
	sleep 0.5
	mem_dtach=$(dirty "$dp")
fi
if command -v tmux >/dev/null; then
	tmux_sock=$tmp/tmux.sock
	tmux -S "$tmux_sock" -f /dev/null new-session -d -s m sh
	tp=$(tmux -S "$tmux_sock" display-message -p '#{pid}')
	sleep 0.5
	mem_tmux=$(dirty "$tp")
fi
l kill idle >/dev/null 2>&1

# A 1 MB replay: lispd log of a full 1 MB scrollback, as a whole process.
l start -b 1048576 -s rep -- sh >/dev/null
l send rep "yes 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123 | head -c 2000000; echo rep-done" >/dev/null
wait_for 30 sh -c "$LISPD -S $D log -n 1 rep | grep -q rep-done"
cc=${CC:-cc}
$cc -O2 -o "$tmp/spawn" "$benchdir/spawn.c" || exit 1
replay=$("$tmp/spawn" -n 50 -- "$LISPD" -S "$D" log rep | sed 's/.*p50_us=\([^ ]*\).*/\1/')
l kill rep >/dev/null 2>&1

# Ready: lispd start until the image (with swank) is ready, against sbcl
# loading swank alone; warm fasls (one run of each first).
sbcl --noinform --non-interactive --eval '(require :asdf)' \
    --eval '(asdf:load-system :swank)' >/dev/null 2>&1
: >"$tmp/ready.l"
: >"$tmp/ready.s"
r=0
while [ $r -lt 5 ]; do
	t0=$(now_ns)
	l start -s rd -- sbcl --noinform >/dev/null
	t1=$(now_ns)
	echo $(((t1 - t0) / 1000000)) >>"$tmp/ready.l"
	l kill rd >/dev/null 2>&1
	wait_for 10 sh -c "! $LISPD -S $D ls | grep -q '^rd '"
	t0=$(now_ns)
	sbcl --noinform --non-interactive --eval '(require :asdf)' \
	    --eval '(asdf:load-system :swank)' >/dev/null 2>&1
	t1=$(now_ns)
	echo $(((t1 - t0) / 1000000)) >>"$tmp/ready.s"
	r=$((r + 1))
done
ready_l=$(median <"$tmp/ready.l")
ready_s=$(median <"$tmp/ready.s")

echo
printf '%-44s %12s %10s  %s\n' "figure" "lispd" "ratio" "goal"
printf '%-44s %12s %10s  %s\n' "image MB/s, no client" "$none" "1.00" ""
printf '%-44s %12s %10s  %s\n' "image MB/s, 1 client draining" "$one" \
    "$(ratio "$one" "$none")" ""
printf '%-44s %12s %10s  %s\n' "image MB/s, 50 clients draining" "$fan" \
    "$(ratio "$fan" "$one")" ">= 0.50 of 1 client"
printf '%-44s %12s %10s  %s\n' "  least received by one of the 50 (bytes)" \
    "$fan_min" "" "dropped by all: $fan_drop"
printf '%-44s %12s %10s  %s\n' "image MB/s, 1 stalled client" "$stalled" \
    "$(ratio "$stalled" "$none")" ">= 0.90 of none; it dropped $st_drop"
printf '%-44s %12s %10s  %s\n' "server wakeups, idle, 3 clients, 10 s" \
    "$wakeups" "" "0"
printf '%-44s %12s %10s  %s\n' "server Private_Dirty kB (64 KiB scrollback)" \
    "$mem_lispd" "" "<= 256 + 64; dtach $mem_dtach, tmux $mem_tmux"
printf '%-44s %12s %10s  %s\n' "1 MB replay (lispd log), whole process, us" \
    "$replay" "" "< 5000"
printf '%-44s %12s %10s  %s\n' "start to ready, ms (sbcl+swank alone: $ready_s)" \
    "$ready_l" "$(ratio "$ready_l" "$ready_s")" "<= 1.50"
