#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
#
# all.sh - every benchmark, then the whole table in one place: each
# figure's median for lispd, its ratio or value against the peers that do
# the same work (measured in the same run), the goal, and met or missed.
#
#	sh t/bench/all.sh		(what `make bench` runs)
#
# The environment of run.sh, eval.sh, figures.sh, save.sh and resume.sh applies. Exits 1 if
# a script failed; a missed goal is reported, not an error.

set -u
benchdir=$(cd "$(dirname "$0")" && pwd) || exit 1
sum=$(mktemp "${TMPDIR:-/tmp}/lispd-bench-sum.XXXXXX") || exit 1
trap 'rm -f "$sum"' EXIT
trap 'exit 1' INT TERM
BENCH_SUMMARY=$sum
export BENCH_SUMMARY

rc=0
for s in run.sh eval.sh figures.sh save.sh resume.sh; do
	echo "== $s"
	sh "$benchdir/$s" || rc=1
	echo
done

echo "== the whole table: $(date -u +%Y-%m-%d), $(uname -srm)," \
    "$(getconf _NPROCESSORS_ONLN) cpus, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)"
awk -F '\t' '
BEGIN { printf "%-72s %14s  %-26s %s\n", "figure", "lispd", "goal", "" }
{ printf "%-72s %14s  %-26s %s\n", $1, $2, $3, $4 }
' "$sum"
missed=$(awk -F '\t' '$4 == "missed"' "$sum" | wc -l)
echo "goals missed: $missed"
exit $rc
