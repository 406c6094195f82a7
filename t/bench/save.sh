#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
#
# save.sh - `lispd save NAME` of a running image, against a fresh
# `sbcl --non-interactive` that saves the same kind of core itself
# (save-lisp-and-die :executable t, the floor: no threads to stop, no
# fork), and the core's size.
#
#	sh t/bench/save.sh
#
# Environment:
#	BENCH_REPS	measurements per target, interleaved; medians (5)
#	LISPD		lispd binary (as in run.sh)
#	BENCH_SUMMARY	a file to append the table's rows to (all.sh)
#
# The session runs in a private socket and state directory, killed by
# name on exit.

set -u
benchdir=$(cd "$(dirname "$0")" && pwd) || exit 1
BENCH_REPS=${BENCH_REPS:-5}
. "$benchdir/lib.sh"
bench_tmp save
cleanup() {
	"$LISPD" -S "$tmp/s" kill b >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

"$LISPD" -S "$tmp/s" start -D "$tmp/state" -K 1 -s b -- sbcl --noinform ||
    exit 1

now() {
	date +%s.%N
}

# one TARGET: a measurement in ms, appended to $tmp/TARGET
one() {
	t0=$(now)
	case $1 in
	lispd)	"$LISPD" -S "$tmp/s" save b >/dev/null 2>&1 || exit 1 ;;
	sbcl)	sbcl --noinform --non-interactive --no-sysinit --no-userinit \
		    --eval "(sb-ext:save-lisp-and-die \"$tmp/fresh.core\" :executable t :save-runtime-options t)" \
		    >/dev/null 2>&1 || exit 1 ;;
	esac
	t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", (b - a) * 1000 }' >>"$tmp/$1"
	echo "save $1: $(tail -1 "$tmp/$1") ms" >&2
}

echo "lispd save benchmark: $(uname -srm), $(getconf _NPROCESSORS_ONLN) cpus"
echo "median of $BENCH_REPS measurements"
rounds lispd sbcl
l=$(median lispd)
sb=$(median sbcl)
core=$(ls "$tmp/state/b/"b-*.core)
mb=$(($(stat -c %s "$core") / 1000000))
fmb=$(($(stat -c %s "$tmp/fresh.core") / 1000000))
ratio=$(awk -v a="$l" -v b="$sb" 'BEGIN { printf "%.2f", a / b }')
echo
printf '%-40s %8s %8s\n' "" "ms" "core MB"
printf '%-40s %8s %8s\n' "lispd save (running image, swank loaded)" "$l" "$mb"
printf '%-40s %8s %8s\n' "fresh sbcl saving itself" "$sb" "$fmb"
echo
echo "lispd save takes ${ratio}x a fresh sbcl's own save"

if [ -n "${BENCH_SUMMARY:-}" ]; then
	v=$(awk -v r="$ratio" 'BEGIN { print (r <= 2) ? "met" : "missed" }')
	printf '%s\t%s\t%s\t%s\n' \
	    "lispd save, ms, vs a fresh sbcl saving itself ($l vs $sb ms)" "$ratio" "<= 2" "$v" \
	    "  the core, MB (a fresh sbcl's: $fmb)" "$mb" "" "" \
	    >>"$BENCH_SUMMARY"
fi
