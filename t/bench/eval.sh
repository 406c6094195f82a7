#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
#
# eval.sh - `lispd eval NAME '(+ 1 2)'` as a whole process, against
# spawning /bin/true the same way (the floor for any command) and against
# `sbcl --non-interactive --eval` (a fresh image per evaluation).
#
#	sh t/bench/eval.sh
#
# Environment:
#	BENCH_EVAL_N	runs per measurement (500; sbcl gets a tenth)
#	BENCH_REPS	measurements per target, interleaved; medians (5)
#	LISPD		lispd binary (as in run.sh)
#	CC, CFLAGS	to build the helper (cc, -O2 -Wall -Wextra)
#	BENCH_SUMMARY	a file to append the table's rows to (all.sh)
#
# The session runs in a private socket directory and is killed by name
# on exit.

set -u
benchdir=$(cd "$(dirname "$0")" && pwd) || exit 1
BENCH_EVAL_N=${BENCH_EVAL_N:-500}
BENCH_REPS=${BENCH_REPS:-5}
CC=${CC:-cc}
CFLAGS=${CFLAGS:--O2 -Wall -Wextra}
. "$benchdir/lib.sh"
bench_tmp eval
cleanup() {
	"$LISPD" -S "$tmp/s" kill b >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

$CC $CFLAGS -o "$tmp/spawn" "$benchdir/spawn.c" || exit 1
"$LISPD" -S "$tmp/s" start -s b -- sbcl --noinform || exit 1

# one TARGET: a measurement, its p50 appended to $tmp/TARGET
one() {
	case $1 in
	true)	set -- "$1" "$BENCH_EVAL_N" /bin/true ;;
	lispd)	set -- "$1" "$BENCH_EVAL_N" "$LISPD" -S "$tmp/s" eval -s b '(+ 1 2)' ;;
	sbcl)	set -- "$1" $((BENCH_EVAL_N / 10)) sbcl --noinform \
		    --non-interactive --no-sysinit --no-userinit --eval '(+ 1 2)' ;;
	esac
	t=$1
	n=$2
	shift 2
	out=$("$tmp/spawn" -n "$n" -- "$@") || exit 1
	echo "$out" | sed 's/.*p50_us=\([^ ]*\).*/\1/' >>"$tmp/$t"
	echo "eval $t: $out" >&2
}

echo "lispd eval benchmark: $(uname -srm), $(getconf _NPROCESSORS_ONLN) cpus"
echo "$BENCH_EVAL_N runs per measurement, median of $BENCH_REPS measurements"
rounds true lispd sbcl
t0=$(median true)
l=$(median lispd)
sb=$(median sbcl)
echo
printf '%-28s %10s %12s\n' "" "p50 (us)" "vs /bin/true"
printf '%-28s %10s %12s\n' "spawn /bin/true" "$t0" 1.00
printf '%-28s %10s %12s\n' "lispd eval '(+ 1 2)'" "$l" \
    "$(awk -v a="$l" -v b="$t0" 'BEGIN { printf "%.2f", a / b }')"
printf '%-28s %10s %12s\n' "sbcl --non-interactive --eval" "$sb" \
    "$(awk -v a="$sb" -v b="$t0" 'BEGIN { printf "%.2f", a / b }')"
echo
echo "lispd eval is $(awk -v a="$sb" -v b="$l" 'BEGIN { printf "%.1f", a / b }')x faster than a fresh sbcl"

# summary FIGURE VALUE GOAL VERDICT: a row for all.sh's table.
if [ -n "${BENCH_SUMMARY:-}" ]; then
	r1=$(awk -v a="$l" -v b="$t0" 'BEGIN { printf "%.2f", a / b }')
	r2=$(awk -v a="$sb" -v b="$l" 'BEGIN { printf "%.1f", a / b }')
	v1=$(awk -v r="$r1" 'BEGIN { print (r <= 1.5) ? "met" : "missed" }')
	v2=$(awk -v r="$r2" 'BEGIN { print (r >= 3) ? "met" : "missed" }')
	printf '%s\t%s\t%s\t%s\n' \
	    "lispd eval '(+ 1 2)' vs spawning /bin/true" "$r1" "<= 1.50" "$v1" \
	    "  times faster than sbcl --non-interactive --eval" "$r2" ">= 3" "$v2" \
	    >>"$BENCH_SUMMARY"
fi
