# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# What the shell benchmarks share: the lispd they measure and a private
# directory. Sourced after benchdir is set; bench_tmp NAME sets tmp.

if [ -z "${LISPD:-}" ]; then
	LISPD=${top_builddir:+$top_builddir/src/lispd}
	LISPD=${LISPD:-$benchdir/../../src/lispd}
fi

# bench_tmp NAME: a private directory in $tmp, or exit 1.
bench_tmp() {
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/lispd-bench-$1.XXXXXX") || exit 1
}

# median FILE: the median of the numbers in $tmp/FILE, one a line.
median() {
	sort -n "$tmp/$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# rounds TARGET...: BENCH_REPS rounds of `one TARGET` for each, interleaved.
rounds() {
	r=0
	while [ $r -lt "$BENCH_REPS" ]; do
		for t in "$@"; do
			one "$t"
		done
		r=$((r + 1))
	done
}
