#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
#
# figures.sh - the figures of the table that are not about moving bytes:
# an idle session's wakeups and memory with three clients attached, for
# lispd, dtach and tmux, and the time from `lispd start` to a ready image
# against sbcl loading swank alone.
#
#	sh t/bench/figures.sh
#
# Environment:
#	BENCH_IDLE	seconds the idle sessions are watched (10)
#	LISPD		lispd binary (as in run.sh)
#	BENCH_SUMMARY	a file to append the table's rows to (all.sh)
#
# The three clients of each session are attach clients in the windows of
# a private tmux server, which plays the user's terminals. Everything runs
# in a private directory and is stopped by name, socket or pid on exit.

set -u
benchdir=$(cd "$(dirname "$0")" && pwd) || exit 1
BENCH_IDLE=${BENCH_IDLE:-10}
if [ -z "${LISPD:-}" ]; then
	LISPD=${top_builddir:+$top_builddir/src/lispd}
	LISPD=${LISPD:-$benchdir/../../src/lispd}
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lispd-bench-fig.XXXXXX") || exit 1
D=$tmp/s
mkdir -m 700 "$D"
term=$tmp/term.sock	# the terminals
peer=$tmp/peer.sock	# tmux as a peer
dpid=
unset TMUX

cleanup() {
	[ -n "$dpid" ] && kill "$dpid" 2>/dev/null
	tmux -S "$term" kill-server 2>/dev/null
	tmux -S "$peer" kill-server 2>/dev/null
	for s in idle rd; do
		"$LISPD" -S "$D" kill "$s" >/dev/null 2>&1
	done
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

# Three terminals running COMMAND, as windows of the terminal tmux.
three() {
	for i in 1 2 3; do
		if [ -S "$term" ]; then
			tmux -S "$term" new-window -d "$*"
		else
			tmux -S "$term" -f /dev/null new-session -d -x 80 -y 24 "$*"
		fi
	done
}

# Voluntary and involuntary context switches of PID.
cs() {
	awk '/ctxt_switches/ { s += $2 } END { print s }' "/proc/$1/status"
}

dirty() {
	awk '/^Private_Dirty:/ { print $2 }' "/proc/$1/smaps_rollup"
}

# clients PID N: does the server PID hold N terminals (of the tmux)?
clients() {
	[ "$(ls -l "/proc/$1/fd" 2>/dev/null | grep -c '/dev/pts/')" -ge "$2" ]
}

echo "lispd figures: $(uname -srm), $(getconf _NPROCESSORS_ONLN) cpus;" \
    "idle for $BENCH_IDLE s with 3 clients"

# The sessions, each idle with three attached clients.
l start -s idle -- sh >/dev/null || exit 1
srv=$(ps -o ppid= -p "$(l ls | awk '$1 == "idle" { print $2 }')" | tr -d ' ')
three "env TERM=xterm $LISPD -S $D attach idle"
# The server holds the pty and the three handed-over terminals.
wait_for 10 clients "$srv" 3 || echo "lispd: the clients did not attach" >&2

have_dtach=0
if command -v dtach >/dev/null; then
	dtach -n "$tmp/dt.sock" -E sh
	dpid=$(pgrep -f "dtach -n $tmp/dt.sock" | head -1)
	three "dtach -a $tmp/dt.sock -E"
	wait_for 10 sh -c "[ \$(ls -l /proc/$dpid/fd | grep -c socket) -ge 4 ]" &&
	    have_dtach=1
fi
have_tmux=0
if command -v tmux >/dev/null; then
	tmux -S "$peer" -f /dev/null new-session -d -s m sh \; \
	    set-option -g status off
	tp=$(tmux -S "$peer" display-message -p '#{pid}')
	three "env -u TMUX tmux -S $peer attach -t m"
	wait_for 10 sh -c "[ \$(tmux -S $peer list-clients | wc -l) -ge 3 ]" &&
	    have_tmux=1
fi
sleep 1	# the attaches settle: their screens drawn

before_l=$(cs "$srv")
[ $have_dtach = 1 ] && before_d=$(cs "$dpid")
[ $have_tmux = 1 ] && before_t=$(cs "$tp")
sleep "$BENCH_IDLE"	# the window measured
wake_l=$(($(cs "$srv") - before_l))
wake_d=-
wake_t=-
[ $have_dtach = 1 ] && wake_d=$(($(cs "$dpid") - before_d))
[ $have_tmux = 1 ] && wake_t=$(($(cs "$tp") - before_t))

mem_l=$(dirty "$srv")
mem_d=-
mem_t=-
[ $have_dtach = 1 ] && mem_d=$(dirty "$dpid")
[ $have_tmux = 1 ] && mem_t=$(dirty "$tp")
tmux -S "$term" kill-server 2>/dev/null
l kill idle >/dev/null 2>&1

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
ready_r=$(awk -v a="$ready_l" -v b="$ready_s" 'BEGIN { printf "%.2f", a / b }')

v_wake=$([ "$wake_l" -eq 0 ] && echo met || echo missed)
v_mem=$([ "$mem_l" -le $((256 + 64)) ] && echo met || echo missed)
v_ready=$(awk -v r="$ready_r" 'BEGIN { print (r <= 1.5) ? "met" : "missed" }')

echo
printf '%-44s %8s %8s %8s  %s\n' "figure" "lispd" "dtach" "tmux" "goal for lispd"
printf '%-44s %8s %8s %8s  %s\n' "server wakeups, idle, 3 clients, ${BENCH_IDLE} s" \
    "$wake_l" "$wake_d" "$wake_t" "0: $v_wake"
printf '%-44s %8s %8s %8s  %s\n' "server Private_Dirty kB, idle, 3 clients" \
    "$mem_l" "$mem_d" "$mem_t" "<= 256 + 64 (scrollback): $v_mem"
printf '%-44s %8s %8s %8s  %s\n' "start to ready, ms (sbcl + swank: $ready_s)" \
    "$ready_l" "" "" "<= 1.50x: $ready_r, $v_ready"

if [ -n "${BENCH_SUMMARY:-}" ]; then
	printf '%s\t%s\t%s\t%s\n' \
	    "server wakeups, idle 3 clients, ${BENCH_IDLE} s (dtach $wake_d, tmux $wake_t)" \
	    "$wake_l" "0" "$v_wake" \
	    "server Private_Dirty kB, 64 KiB scrollback (dtach $mem_d, tmux $mem_t)" \
	    "$mem_l" "<= 320" "$v_mem" \
	    "lispd start to ready vs sbcl loading swank ($ready_l / $ready_s ms)" \
	    "$ready_r" "<= 1.50" "$v_ready" >>"$BENCH_SUMMARY"
fi
