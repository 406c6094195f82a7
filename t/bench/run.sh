#!/bin/sh
#
# run.sh - keystroke echo latency and console throughput of lispd
# against a bare pty, dtach and tmux, side by side.
#
#	sh t/bench/run.sh
#	BENCH_MB=10 sh t/bench/run.sh		# quick run
#
# Environment:
#	BENCH_MB	megabytes (10^6 bytes) per throughput run (100)
#	BENCH_REPS	runs per target and figure, medians reported (5)
#	BENCH_ECHO_N	timed keystrokes per echo run (2000)
#	BENCH_TARGETS	targets to run ("bare dtach tmux lispd lispd-relay")
#	LISPD		lispd binary ($top_builddir/src/lispd, else
#			../../src/lispd relative to this directory)
#	CC, CFLAGS	to build the helpers (cc, -O2 -Wall -Wextra)
#
# Every run gets a private directory for sockets; everything started
# is stopped again by pid (and tmux by its own socket) on exit.

set -u

prog=run.sh
benchdir=$(cd "$(dirname "$0")" && pwd) || exit 1

BENCH_MB=${BENCH_MB:-100}
BENCH_REPS=${BENCH_REPS:-5}
BENCH_ECHO_N=${BENCH_ECHO_N:-2000}
BENCH_TARGETS=${BENCH_TARGETS:-bare dtach tmux lispd lispd-relay}
CC=${CC:-cc}
CFLAGS=${CFLAGS:--O2 -Wall -Wextra}

if [ -z "${LISPD:-}" ]; then
	if [ -n "${top_builddir:-}" ]; then
		LISPD=$top_builddir/src/lispd
	else
		LISPD=$benchdir/../../src/lispd
	fi
fi
if d=$(cd "$(dirname "$LISPD")" 2>/dev/null && pwd); then
	LISPD=$d/$(basename "$LISPD")
fi

# Clients run on a pty the harness sets to 80x24; tmux wants a TERM.
TERM=xterm-256color
export TERM
unset TMUX

tmp=
pids=			# servers we started, killed on exit
tmux_sock=
lispd_dir=
cur_target=		# session currently up, stopped on exit
cur_name=
dtach_pid=
seq=0

die()
{
	echo "$prog: $*" >&2
	exit 1
}

warn()
{
	echo "$prog: $*" >&2
}

isnum()
{
	case $2 in
	''|*[!0-9]*|0)
		die "$1 must be a positive integer, not '$2'" ;;
	esac
}

# Short pause inside bounded polling loops (not POSIX, but common).
nap()
{
	sleep 0.01 2>/dev/null || sleep 1
}

# alive pid: running and not a zombie.
alive()
{
	kill -0 "$1" 2>/dev/null || return 1
	[ -r "/proc/$1/stat" ] || return 0
	case $(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) in
	Z*|X*)	return 1 ;;
	esac
}

# Kill processes whose command line names our private directory and
# that outlived their session (e.g. a server "kill" did not end).
# shellcheck disable=SC2317 # reap_strays and cleanup run from a trap
reap_strays()
{
	[ -d /proc ] && [ -n "$tmp" ] || return 0
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		[ "$pid" = "$$" ] && continue
		cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
		case $cmd in
		*"$tmp"*)
			warn "stray process $pid left behind, killing it: $cmd"
			kill "$pid" 2>/dev/null ;;
		esac
	done
}

# shellcheck disable=SC2317
cleanup()
{
	trap - EXIT HUP INT TERM
	if [ -n "$cur_target" ]; then
		session_stop "$cur_target" "$cur_name"
	fi
	if [ -n "$tmux_sock" ] && [ -S "$tmux_sock" ]; then
		tmux -S "$tmux_sock" kill-server >/dev/null 2>&1
	fi
	for p in $pids; do
		kill "$p" 2>/dev/null
	done
	for p in $pids; do
		i=0
		while alive "$p" && [ "$i" -lt 200 ]; do
			i=$((i + 1))
			nap
		done
		alive "$p" && kill -9 "$p" 2>/dev/null
	done
	reap_strays
	[ -n "$tmp" ] && rm -rf "$tmp"
}

# wait_sock path pid: until the server made its socket.
wait_sock()
{
	i=0
	while [ ! -S "$1" ]; do
		alive "$2" || return 1
		i=$((i + 1))
		[ $i -le 1000 ] || return 1
		nap
	done
}

# session_start target name script: a detached session running
# "sh script".  The bare pty has no session: ptyrelay starts it.
session_start()
{
	cur_target=$1
	cur_name=$2
	case $1 in
	bare)
		;;
	dtach)
		dtach -N "$tmp/$2.dtach" -r none -E -z sh "$3" \
		    </dev/null >/dev/null 2>"$tmp/$2.log" &
		dtach_pid=$!
		pids="$pids $dtach_pid"
		wait_sock "$tmp/$2.dtach" "$dtach_pid" ;;
	tmux)
		tmux -S "$tmux_sock" -f /dev/null new-session -d -s "$2" \
		    -x 80 -y 24 "exec sh '$3'" \; \
		    set-option -g status off \; \
		    set-option -s exit-empty off \
		    </dev/null >"$tmp/$2.log" 2>&1 || return 1
		p=$(tmux -S "$tmux_sock" display-message -p '#{pid}') ||
		    return 1
		case " $pids " in
		*" $p "*)	;;
		*)		pids="$pids $p" ;;
		esac ;;
	lispd|lispd-relay)
		"$LISPD" -S "$lispd_dir" start -s "$2" -- sh "$3" \
		    </dev/null >"$tmp/$2.log" 2>&1 ;;
	esac
}

# session_stop target name [quiet]
session_stop()
{
	case $1 in
	dtach)
		kill "$dtach_pid" 2>/dev/null
		wait "$dtach_pid" 2>/dev/null
		np=
		for p in $pids; do
			[ "$p" = "$dtach_pid" ] || np="$np $p"
		done
		pids=$np ;;
	tmux)
		tmux -S "$tmux_sock" kill-session -t "$2" >/dev/null 2>&1 ;;
	lispd|lispd-relay)
		if ! "$LISPD" -S "$lispd_dir" kill "$2" </dev/null \
		    >>"$tmp/$2.log" 2>&1 && [ -z "${3:-}" ]; then
			warn "lispd kill $2 failed: $(cat "$tmp/$2.log")"
		fi ;;
	esac
	cur_target=
	cur_name=
}

# with_client target name harness [arg ...]: run the harness with the
# target's attach client as its command.
with_client()
{
	t=$1
	n=$2
	shift 2
	case $t in
	bare)	"$@" -- "$bin/ptyrelay" sh "$inner" ;;
	dtach)	"$@" -- dtach -a "$tmp/$n.dtach" -E -z -r none ;;
	tmux)	"$@" -- tmux -u -S "$tmux_sock" attach-session -t "$n" ;;
	lispd)	"$@" -- "$LISPD" -S "$lispd_dir" attach "$n" ;;
	lispd-relay)
		"$@" -- "$LISPD" -S "$lispd_dir" attach -R "$n" ;;
	esac
}

# run_one echo|tp target: one measurement, result line appended to
# $tmp/res.KIND.TARGET.
run_one()
{
	kind=$1
	t=$2
	seq=$((seq + 1))
	name=s$seq
	case $kind in
	echo)
		what='echo'
		inner=$tmp/echo.sh
		set -- "$bin/echo" -n "$BENCH_ECHO_N" ;;
	tp)
		what=throughput
		inner=$tmp/tp.sh
		set -- "$bin/throughput" -b "$bytes" ;;
	esac
	if ! session_start "$t" "$name" "$inner"; then
		warn "$t: session did not start: $(cat "$tmp/$name.log" \
		    2>/dev/null)"
		session_stop "$t" "$name" quiet
		echo "$what: session did not start" >>"$tmp/fail.$t"
		: >"$tmp/fail.$kind.$t"
		return 1
	fi
	with_client "$t" "$name" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
	rc=$?
	session_stop "$t" "$name"
	if [ $rc -ne 0 ]; then
		warn "$t: $what failed: $(cat "$tmp/$name.err")"
		echo "$what failed" >>"$tmp/fail.$t"
		: >"$tmp/fail.$kind.$t"
		return 1
	fi
	cat "$tmp/$name.out" >>"$tmp/res.$kind.$t"
}

# field name file: the value of name=value on the last result line.
field()
{
	[ -s "$2" ] || return 0
	tail -n 1 "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

median()
{
	[ -s "$2" ] || return 0
	sed -n "s/.* $1=\([^ ]*\).*/\1/p" "$2" | sort -n | awk '
	{ v[NR] = $1 }
	END {
		if (NR % 2)
			print v[(NR + 1) / 2]
		else
			printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2
	}'
}

ratio()
{
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "" || b == "" || b + 0 == 0)
			print "-"
		else
			printf "%.2f\n", a / b
	}'
}

label()
{
	case $1 in
	bare)	echo "bare pty" ;;
	*)	echo "$1" ;;
	esac
}

isnum BENCH_MB "$BENCH_MB"
isnum BENCH_REPS "$BENCH_REPS"
isnum BENCH_ECHO_N "$BENCH_ECHO_N"
bytes=$((BENCH_MB * 1000000))

trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lispd-bench.XXXXXX") ||
    die "cannot make a temporary directory"
chmod 700 "$tmp"
bin=$tmp/bin
tmux_sock=$tmp/tmux.sock
lispd_dir=$tmp/lispd
mkdir -m 700 "$bin" "$lispd_dir" || die "mkdir failed"

for p in ptyrelay echo throughput gen; do
	# shellcheck disable=SC2086
	$CC $CFLAGS -o "$bin/$p" "$benchdir/$p.c" "$benchdir/benchpty.c" ||
	    die "cannot build $p"
done

echo 'exec cat >/dev/null' >"$tmp/echo.sh"
printf 'exec "%s" %s\n' "$bin/gen" "$bytes" >"$tmp/tp.sh"

targets=
for t in $BENCH_TARGETS; do
	case $t in
	bare)
		;;
	dtach|tmux)
		if ! command -v "$t" >/dev/null 2>&1; then
			echo "skipped: $t not installed" >"$tmp/skip.$t"
		fi ;;
	lispd|lispd-relay)
		if [ ! -x "$LISPD" ]; then
			echo "skipped: no executable $LISPD" >"$tmp/skip.$t"
		fi ;;
	*)
		die "unknown target: $t" ;;
	esac
	targets="$targets $t"
done

echo "lispd benchmark: $(uname -srm), $(getconf _NPROCESSORS_ONLN) cpus"
echo "echo: $BENCH_ECHO_N keystrokes, throughput: $BENCH_MB MB;" \
    "median of $BENCH_REPS runs each"

# Interleave the targets, so that drift hits them all alike.
r=1
while [ $r -le "$BENCH_REPS" ]; do
	for t in $targets; do
		[ -e "$tmp/skip.$t" ] || [ -e "$tmp/fail.echo.$t" ] && continue
		printf 'echo %s %d/%d ... ' "$(label "$t")" "$r" \
		    "$BENCH_REPS" >&2
		if run_one echo "$t"; then
			echo "p50 $(field p50_us "$tmp/res.echo.$t") us," \
			    "p99 $(field p99_us "$tmp/res.echo.$t") us" >&2
		else
			echo "failed" >&2
		fi
	done
	for t in $targets; do
		[ -e "$tmp/skip.$t" ] || [ -e "$tmp/fail.tp.$t" ] && continue
		printf 'throughput %s %d/%d ... ' "$(label "$t")" "$r" \
		    "$BENCH_REPS" >&2
		if run_one tp "$t"; then
			echo "$(field mbps "$tmp/res.tp.$t") MB/s" >&2
		else
			echo "failed" >&2
		fi
	done
	r=$((r + 1))
done

base_p50=$(median p50_us "$tmp/res.echo.bare")
base_mbps=$(median mbps "$tmp/res.tp.bare")
echo
printf '%-10s %10s %10s %9s %10s %9s\n' "" "echo p50" "echo p99" \
    "p50 vs" "output" "MB/s vs"
printf '%-10s %10s %10s %9s %10s %9s\n' "target" "(us)" "(us)" \
    "bare" "(MB/s)" "bare"
for t in $targets; do
	if [ -e "$tmp/skip.$t" ]; then
		printf '%-10s %s\n' "$(label "$t")" "$(cat "$tmp/skip.$t")"
		continue
	fi
	p50=$(median p50_us "$tmp/res.echo.$t")
	p99=$(median p99_us "$tmp/res.echo.$t")
	mbps=$(median mbps "$tmp/res.tp.$t")
	printf '%-10s %10s %10s %9s %10s %9s' "$(label "$t")" "${p50:--}" \
	    "${p99:--}" "$(ratio "$p50" "$base_p50")" "${mbps:--}" \
	    "$(ratio "$mbps" "$base_mbps")"
	if [ -e "$tmp/fail.$t" ]; then
		printf '  (%s)' "$(sort -u "$tmp/fail.$t" |
		    awk 'NR > 1 { printf "; " } { printf "%s", $0 }')"
	fi
	echo
done
echo
echo "all runs (echo p50/p99 us; throughput MB/s):"
for t in $targets; do
	[ -s "$tmp/res.echo.$t" ] || [ -s "$tmp/res.tp.$t" ] || continue
	printf '  %-10s echo %s\n' "$(label "$t")" \
	    "$(sed -n 's/.* p50_us=\([^ ]*\) p99_us=\([^ ]*\).*/\1\/\2/p' \
	    "$tmp/res.echo.$t" 2>/dev/null | tr '\n' ' ')"
	printf '  %-10s tput %s\n' "" \
	    "$(sed -n 's/.* mbps=\([^ ]*\).*/\1/p' "$tmp/res.tp.$t" \
	    2>/dev/null | tr '\n' ' ')"
done
for t in $targets; do
	[ -e "$tmp/fail.$t" ] && exit 1
done
exit 0
