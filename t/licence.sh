#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# The licence: LICENSE is ISC, and each source file says so in its first
# two lines (after a #! or an Emacs mode line).
. "${srcdir:-.}/t/lib.sh"

top=${srcdir:-.}
grep -q '^ISC License$' "$top/LICENSE"
ok $? "LICENSE is the ISC licence"
missing=
n=0
for f in $(cd "$top" && find src t contrib -type f \( -name '*.[ch]' -o \
    -name '*.lisp' -o -name '*.sh' -o -name '*.el' -o -name run -o \
    -name '*.service' \) ! -path 't/fuzz-corpus/*' | sort) \
    setup.sh configure.ac Makefile.am doc/lispd.1 .ci/run; do
	[ -f "$top/$f" ] || continue
	n=$((n + 1))
	head -2 "$top/$f" | grep -q 'SPDX-License-Identifier: ISC' ||
	    missing="$missing $f"
done
is "$missing" "" "each of $n source files names the licence in its first lines"
done_testing
