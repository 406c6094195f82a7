#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
#
# run.sh - the terminal figures of lispd against a bare pty, dtach and
# tmux, side by side: keystroke echo latency, console throughput, attach
# time with 1 MB of scrollback, and what no client, one, fifty and one
# stalled client cost the image.
#
#	sh t/bench/run.sh
#	BENCH_MB=10 sh t/bench/run.sh		# quick run
#
# Environment:
#	BENCH_MB	megabytes (10^6 bytes) per throughput run (100)
#	BENCH_FAN_MB	megabytes the image writes per fan-out run (50)
#	BENCH_FAN_N	clients in the fan-out runs (50)
#	BENCH_REPS	runs per target and figure, medians reported (5)
#	BENCH_ECHO_N	timed keystrokes per echo run (2000)
#	BENCH_KINDS	figures to run ("echo tp attach replay none one fan
#			stall")
#	BENCH_TARGETS	targets to run ("bare dtach tmux lispd lispd-relay")
#	BENCH_SUMMARY	a file to append the table's rows to (all.sh)
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
BENCH_FAN_MB=${BENCH_FAN_MB:-50}
BENCH_FAN_N=${BENCH_FAN_N:-50}
BENCH_REPS=${BENCH_REPS:-5}
BENCH_ECHO_N=${BENCH_ECHO_N:-2000}
BENCH_KINDS=${BENCH_KINDS:-echo tp attach replay none one fan stall}
BENCH_TARGETS=${BENCH_TARGETS:-bare dtach tmux lispd lispd-relay}
BENCH_SUMMARY=${BENCH_SUMMARY:-}
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
		# shellcheck disable=SC2086
		"$LISPD" -S "$lispd_dir" start $lispd_opts -s "$2" -- sh "$3" \
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
	# shellcheck disable=SC2086
	lispd)	"$@" -- "$LISPD" -S "$lispd_dir" attach $attach_opts "$n" ;;
	# shellcheck disable=SC2086
	lispd-relay)
		"$@" -- "$LISPD" -S "$lispd_dir" attach -R $attach_opts "$n" ;;
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
	lispd_opts=
	attach_opts=
	case $kind in
	echo)
		what='echo'
		inner=$tmp/echo.sh
		set -- "$bin/echo" -n "$BENCH_ECHO_N" ;;
	tp)
		what=throughput
		inner=$tmp/tp.sh
		set -- "$bin/throughput" -b "$bytes" ;;
	attach|replay)
		what="attach time ($kind)"
		inner=$tmp/$name.sh
		lispd_opts='-b 1048576'
		[ "$kind" = replay ] && attach_opts='-n 1000000'
		printf '%s | head -c 1000000\necho __BENCH_END__\n: >%s\nexec cat >/dev/null\n' \
		    "$yes" "$tmp/$name.ready" >"$inner"
		set -- "$bin/replay" ;;
	none|one|fan|stall)
		what="fan-out ($kind)"
		inner=$tmp/$name.sh
		printf 'while [ ! -e %s ]; do sleep 0.01; done\n' \
		    "$tmp/$name.go" >"$inner"
		printf 't0=$(date +%%s%%N)\n%s | head -c %s\n' "$yes" \
		    "$fan_bytes" >>"$inner"
		printf 't1=$(date +%%s%%N)\necho $((t1 - t0)) >%s.tmp\n' \
		    "$tmp/$name.done" >>"$inner"
		printf 'mv %s.tmp %s\necho __BENCH_END__\nexec cat >/dev/null\n' \
		    "$tmp/$name.done" "$tmp/$name.done" >>"$inner"
		case $kind in
		none)	nc=0 ns=0 ;;
		one)	nc=1 ns=0 ;;
		fan)	nc=$BENCH_FAN_N ns=0 ;;
		stall)	nc=1 ns=1 ;;
		esac
		set -- "$bin/fanout" -n $nc -s $ns -t 20000 \
		    -g "$tmp/$name.go" -f "$tmp/$name.done" ;;
	esac
	if ! session_start "$t" "$name" "$inner"; then
		warn "$t: session did not start: $(cat "$tmp/$name.log" \
		    2>/dev/null)"
		session_stop "$t" "$name" quiet
		echo "$what: session did not start" >>"$tmp/fail.$t"
		: >"$tmp/fail.$kind.$t"
		return 1
	fi
	if [ "$kind" = attach ] || [ "$kind" = replay ]; then
		i=0
		while [ ! -e "$tmp/$name.ready" ] && [ $i -lt 3000 ]; do
			i=$((i + 1))
			nap
		done
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
	case $kind in
	tp)
		# What reached the terminal, per second.
		awk '{
			s = $0; sub(/.*secs=/, "", s); sub(/ .*/, "", s)
			r = $0; sub(/.*read=/, "", r); sub(/ .*/, "", r)
			printf "%s dmbps=%.1f\n", $0, r / s / 1e6
		}' "$tmp/$name.out" >>"$tmp/res.$kind.$t" ;;
	none|one|fan|stall)
		# The image's own MB/s, from the time it took.
		awk -v b="$fan_bytes" '{
			ns = $0; sub(/.*image_ns=/, "", ns); sub(/ .*/, "", ns)
			printf "%s mbps=%.1f\n", $0, (ns > 0 ? b / ns * 1000 : 0)
		}' "$tmp/$name.out" >>"$tmp/res.$kind.$t" ;;
	*)
		cat "$tmp/$name.out" >>"$tmp/res.$kind.$t" ;;
	esac
}

# Which figures a target takes part in: the bare pty has one client by
# construction, dtach no scrollback to replay.
kind_ok()
{
	case $1:$2 in
	attach:bare|attach:dtach|replay:bare|replay:dtach|replay:tmux)
		return 1 ;;
	none:bare|one:bare|fan:bare|stall:bare)
		return 1 ;;
	esac
	return 0
}

# One run's figure, for the progress lines.
brief()
{
	f=$tmp/res.$1.$2
	case $1 in
	echo)	echo "p50 $(field p50_us "$f") us, p99 $(field p99_us "$f") us" ;;
	tp)	echo "$(field mbps "$f") MB/s, $(field dmbps "$f") reached" \
		    "the terminal" ;;
	attach|replay)
		echo "$(field us "$f") us" ;;
	*)	echo "image $(field mbps "$f") MB/s, a client got" \
		    "$(field med "$f") bytes, $(field dropped "$f") dropped" ;;
	esac
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
isnum BENCH_FAN_MB "$BENCH_FAN_MB"
isnum BENCH_FAN_N "$BENCH_FAN_N"
for k in $BENCH_KINDS; do
	case $k in
	echo|tp|attach|replay|none|one|fan|stall)	;;
	*)	die "unknown figure in BENCH_KINDS: $k" ;;
	esac
done
bytes=$((BENCH_MB * 1000000))
fan_bytes=$((BENCH_FAN_MB * 1000000))
yes='yes 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz012345' 

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

for p in ptyrelay echo throughput gen fanout replay; do
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
	for k in $BENCH_KINDS; do
		for t in $targets; do
			kind_ok "$k" "$t" || continue
			[ -e "$tmp/skip.$t" ] || [ -e "$tmp/fail.$k.$t" ] &&
			    continue
			printf '%s %s %d/%d ... ' "$k" "$(label "$t")" "$r" \
			    "$BENCH_REPS" >&2
			if run_one "$k" "$t"; then
				brief "$k" "$t" >&2
			else
				echo "failed" >&2
			fi
		done
	done
	r=$((r + 1))
done

# val KIND KEY TARGET [SCALE]: the median, divided by SCALE, or "-".
val()
{
	v=$(median "$2" "$tmp/res.$1.$3")
	if [ -z "$v" ]; then
		echo "-"
	else
		awk -v v="$v" -v s="${4:-1}" 'BEGIN { printf "%.2f\n", v / s }' |
		    sed 's/\.00$//; s/\(\.[0-9]\)0$/\1/'
	fi
}

# meets VALUE OP LIMIT: "met" or "missed".
meets()
{
	awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {
		if (a == "-" || b == "-" || a == "" || b == "") {
			print "-"
			exit
		}
		if (op == "<=")
			ok = a + 0 <= b + 0
		else if (op == "<")
			ok = a + 0 < b + 0
		else if (op == ">=")
			ok = a + 0 >= b + 0
		else
			ok = a + 0 > b + 0
		print ok ? "met" : "missed"
	}'
}

# row LABEL GOAL VALUE...: one line of the table, a value per target.
row()
{
	label=$1
	goal=$2
	shift 2
	printf '%-34s' "$label"
	for cell in "$@"; do	# not v: the callers' verdict
		printf ' %9s' "$cell"
	done
	printf '  %s\n' "$goal"
}

# per KIND KEY [SCALE]: a value per target.
per()
{
	for t in $targets; do
		if kind_ok "$1" "$t" && [ ! -e "$tmp/skip.$t" ]; then
			val "$1" "$2" "$t" "${3:-1}"
		else
			echo "-"
		fi
	done
}

# rel VALUES... / BASES...: each value over its base, as a ratio.
rel()
{
	n=$(($# / 2))
	i=0
	for a in "$@"; do
		i=$((i + 1))
		[ $i -le $n ] || break
		eval "b=\${$((i + n))}"
		ratio "$a" "$b"
	done
}

# The lispd column of a row of values.
lispd_of()
{
	i=0
	for t in $targets; do
		i=$((i + 1))
		if [ "$t" = lispd ]; then
			eval "echo \${$i}"
			return
		fi
	done
	echo "-"
}

# summary FIGURE VALUE GOAL VERDICT: a row for all.sh's table.
summary()
{
	[ -n "$BENCH_SUMMARY" ] || return 0
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$BENCH_SUMMARY"
}

# judge LABEL FIGURE GOAL OP LIMIT VALUE...: a row of the table with
# lispd's verdict (its VALUE OP LIMIT), and the same as a row for all.sh.
judge()
{
	jl=$1 jf=$2 jg=$3 jo=$4 jm=$5
	shift 5
	lp=$(lispd_of "$@")
	v=$(meets "$lp" "$jo" "$jm")
	row "$jl" "$jg: $v" "$@"
	summary "$jf" "$lp" "$jg" "$v"
}

# shellcheck disable=SC2046
{
base_p50=$(val echo p50_us bare)
base_mbps=$(val tp mbps bare)
base_read=$(val tp read bare)
dtach_p99=$(val echo p99_us dtach)
dtach_mbps=$(val tp mbps dtach)

echo
row "figure" "goal for lispd" $(for t in $targets; do label "$t" | tr ' ' '-'; done)
echo

p50=$(per echo p50_us)
row "echo p50, us" "" $p50
judge "  vs bare" "keystroke echo p50 vs bare pty" "<= 1.50" "<=" 1.5 \
    $(for v in $p50; do ratio "$v" "$base_p50"; done)
judge "echo p99, us" "keystroke echo p99, us (dtach $dtach_p99)" \
    "below dtach" "<" "$dtach_p99" $(per echo p99_us)

mbps=$(per tp mbps)
dmbps=$(per tp dmbps)
base_dmbps=$(val tp dmbps bare)
row "throughput: image MB/s" "" $mbps
r=$(for v in $mbps; do ratio "$v" "$base_mbps"; done)
lp=$(lispd_of $r)
row "  vs bare" "" $r
row "throughput: MB/s on the terminal" "" $dmbps
rd=$(for v in $dmbps; do ratio "$v" "$base_dmbps"; done)
ld=$(lispd_of $rd)
# The image prints at least 0.95x as fast as on a bare pty and faster
# than under dtach, and what reaches the terminal is 0.95x too.
v1=$(meets "$lp" ">=" 0.95)
v2=$(meets "$ld" ">=" 0.95)
v3=$(meets "$(lispd_of $mbps)" ">" "$dtach_mbps")
[ "$v1" = met ] && [ "$v2" = met ] && [ "$v3" = met ] && v=met || v=missed
row "  vs bare" ">= 0.95 both, image ahead of dtach: $v" $rd
summary "console throughput vs bare pty, image / terminal (dtach $(ratio "$dtach_mbps" "$base_mbps") / $(ratio "$(val tp dmbps dtach)" "$base_dmbps"))" "$lp / $ld" ">= 0.95, ahead of dtach" "$v"
row "  bytes on the terminal vs bare" "" $(for v in $(per tp read); do ratio "$v" "$base_read"; done)

judge "attach, 1 MB scrollback, ms" \
    "attach (a screenful) with 1 MB of scrollback, ms" "< 5" "<" 5 \
    $(per attach us 1000)
rep=$(per replay us 1000)
lim=$(awk -v m="$base_dmbps" 'BEGIN { if (m > 0) printf "%.1f", 1000 / m; else print "-" }')
row "attach -n 1000000: all 1 MB, ms" "(the bare pty passes 1 MB in $lim)" $rep
summary "attach replaying all 1 MB, ms (bare pty passes 1 MB in $lim)" "$(lispd_of $rep)" "-" "-"

none=$(per none mbps)
one=$(per one mbps)
fan=$(per fan mbps)
stall=$(per stall mbps)
row "image MB/s, no client" "" $none
row "image MB/s, 1 client" "" $one
row "image MB/s, $BENCH_FAN_N clients" "" $fan
judge "  vs 1 client" "$BENCH_FAN_N clients draining: image vs 1 client" \
    ">= 0.50" ">=" 0.5 $(rel $fan $one)
row "  a client received, median MB" "" $(per fan med 1000000)
row "  all dropped, MB (told)" "" $(per fan dropped 1000000)
row "image MB/s, 1 stalled client" "" $stall
judge "  vs no client" "a SIGSTOPped client: image vs no client" \
    ">= 0.90" ">=" 0.9 $(rel $stall $none)
}

echo
echo "all runs:"
for t in $targets; do
	for k in $BENCH_KINDS; do
		[ -s "$tmp/res.$k.$t" ] || continue
		printf '  %-11s %-6s %s\n' "$(label "$t" | tr ' ' '-')" "$k" \
		    "$(case $k in
		    echo)	key='p50_us' ;;
		    tp|none|one|fan|stall) key='mbps' ;;
		    attach|replay)	key='us' ;;
		    esac
		    sed -n "s/.* $key=\([^ ]*\).*/\1/p" "$tmp/res.$k.$t" |
		    tr '\n' ' ')"
	done
done
for t in $targets; do
	if [ -e "$tmp/fail.$t" ]; then
		echo "$(label "$t"): $(sort -u "$tmp/fail.$t" |
		    awk 'NR > 1 { printf "; " } { printf "%s", $0 }')"
	fi
done
for t in $targets; do
	[ -e "$tmp/fail.$t" ] && exit 1
done
exit 0
