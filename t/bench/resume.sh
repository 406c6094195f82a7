#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
#
# resume.sh - `lispd start --resume` of a session whose image has grown
# code, from the command to ready, against a fresh `lispd start` that loads
# the same code (a compiled file of BENCH_FUNCTIONS functions, each with
# its own closure and a global; the fasl loaded, as ASDF loads a built
# system), and the core's size.
#
#	sh t/bench/resume.sh
#
# Environment:
#	BENCH_REPS	measurements per target, interleaved; medians (5)
#	BENCH_FUNCTIONS	functions in the code loaded (20000)
#	BENCH_COLD	1: the page cache dropped before each measurement (root:
#			a boot's cold disk, for the core and for SBCL's files alike)
#	LISPD		lispd binary (as in run.sh)
#	BENCH_SUMMARY	a file to append the table's rows to (all.sh)
#
# The sessions run in a private socket and state directory, stopped by
# name on exit.

set -u
benchdir=$(cd "$(dirname "$0")" && pwd) || exit 1
BENCH_REPS=${BENCH_REPS:-5}
BENCH_FUNCTIONS=${BENCH_FUNCTIONS:-20000}
. "$benchdir/lib.sh"
bench_tmp resume
cleanup() {
	"$LISPD" -S "$tmp/s" kill fresh >/dev/null 2>&1
	"$LISPD" -S "$tmp/s" kill kept >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Files of 500 functions: one file of them all exhausts the compiler's heap.
awk -v n="$BENCH_FUNCTIONS" -v dir="$tmp" 'BEGIN {
	print "(defpackage :grown (:use :cl))" >(dir "/grown-0.lisp")
	for (i = 0; i < n; i++) {
		f = dir "/grown-" (int(i / 500) + 1) ".lisp"
		if (i % 500 == 0)
			print "(in-package :grown)" >f
		printf "(defvar *v%d* (list %d \"v%d\"))\n", i, i, i >f
		printf "(defun f%d (x) (let ((k (car *v%d*))) (if (evenp x) (+ x k) (list x k (lambda (y) (* y k))))))\n", i, i >f
	}
}'
files=$(ls "$tmp"/grown-*.lisp | sort -t- -k3 -n)
compile="(dolist (f (quote ($(for f in $files; do printf '"%s" ' "$f"; done)))) (load (compile-file f)))"
sbcl --noinform --non-interactive --no-sysinit --no-userinit --eval "$compile" \
    >"$tmp/compile.log" 2>&1 || { tail -20 "$tmp/compile.log"; exit 1; }
load="(dolist (f (quote ($(for f in $files; do printf '"%s" ' "${f%.lisp}.fasl"; done)))) (load f))"
"$LISPD" -S "$tmp/s" start -D "$tmp/state" -K 1 -s kept -- \
    sbcl --noinform --eval "$load" >/dev/null || exit 1
"$LISPD" -S "$tmp/s" stop --save kept >/dev/null 2>&1 || exit 1

now() {
	date +%s.%N
}

# one TARGET: a measurement in ms, appended to $tmp/TARGET
one() {
	if [ "${BENCH_COLD:-0}" = 1 ]; then
		sync
		echo 3 >/proc/sys/vm/drop_caches || exit 1
	fi
	t0=$(now)
	case $1 in
	resume)	"$LISPD" -S "$tmp/s" start -u -D "$tmp/state" -K 1 -s kept \
		    >/dev/null 2>&1 || exit 1 ;;
	fresh)	"$LISPD" -S "$tmp/s" start -D "$tmp/fstate" -s fresh -- \
		    sbcl --noinform --eval "$load" >/dev/null 2>&1 || exit 1 ;;
	esac
	t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", (b - a) * 1000 }' >>"$tmp/$1"
	echo "$1: $(tail -1 "$tmp/$1") ms" >&2
	n=kept
	[ "$1" = fresh ] && n=fresh
	[ "$("$LISPD" -S "$tmp/s" eval -s $n "(grown::f7 2)")" = 9 ] ||
	    { echo "resume.sh: $1: the code is not there" >&2; exit 1; }
	"$LISPD" -S "$tmp/s" kill $n >/dev/null 2>&1
}

echo "lispd start --resume benchmark: $(uname -srm), $(getconf _NPROCESSORS_ONLN) cpus"
echo "median of $BENCH_REPS measurements, $BENCH_FUNCTIONS functions loaded," \
    "page cache $([ "${BENCH_COLD:-0}" = 1 ] && echo dropped || echo warm)"
rounds resume fresh
r=$(median resume)
f=$(median fresh)
core=$(ls "$tmp/state/kept/"kept-*.core)
mb=$(($(stat -c %s "$core") / 1000000))
ratio=$(awk -v a="$r" -v b="$f" 'BEGIN { printf "%.2f", a / b }')
echo
printf '%-48s %8s\n' "" "ms"
printf '%-48s %8s\n' "lispd start --resume (core of $mb MB)" "$r"
printf '%-48s %8s\n' "lispd start, loading the same code" "$f"
echo
echo "a resume takes ${ratio}x a fresh start that loads the code"

if [ -n "${BENCH_SUMMARY:-}" ]; then
	v=$(awk -v r="$ratio" 'BEGIN { print (r <= 0.5) ? "met" : "missed" }')
	printf '%s\t%s\t%s\t%s\n' \
	    "start --resume to ready, ms, vs a fresh start loading the code ($r vs $f ms$([ "${BENCH_COLD:-0}" = 1 ] && echo ', cold'))" "$ratio" "<= 0.5" "$v" \
	    "  its core, MB ($BENCH_FUNCTIONS functions)" "$mb" "" "" \
	    >>"$BENCH_SUMMARY"
fi
