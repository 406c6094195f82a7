#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# The control channel's message numbers are written twice: enum ctl_type in
# src/proto.h and the defconstants of src/lispd.lisp, the image's side. A
# number changed on one side only would pass every other test that does not
# send that message: the two lists are compared here, by name.
. "${srcdir:-.}/t/lib.sh"
top=$(cd "${srcdir:-.}" && pwd)

# "name number" lines, sorted by name.
c_types() {
	sed -n '/^enum ctl_type {/,/^};/s/^[[:space:]]*CTL_\([A-Z_]*\) = \([0-9]*\),.*/\1 \2/p' \
	    "$top/src/proto.h" | tr 'A-Z_' 'a-z-' | sort
}
lisp_types() {
	sed -n '/^;;; Message types/,/^$/s/^(defconstant +\([a-z-]*\)+ \([0-9]*\))$/\1 \2/p' \
	    "$top/src/lispd.lisp" | sort
}

c=$(c_types)
lisp=$(lisp_types)
# At least the 14 there were when this was written: the extraction works.
[ "$(printf '%s\n' "$c" | grep -c .)" -ge 14 ]
ok $? "src/proto.h's CTL_ types are found"
[ "$(printf '%s\n' "$lisp" | grep -c .)" -ge 14 ]
ok $? "src/lispd.lisp's message constants are found"
# Each line one side has and the other not: "<" proto.h, ">" lispd.lisp.
printf '%s\n' "$c" >"$T/c"
printf '%s\n' "$lisp" >"$T/lisp"
is "$(diff "$T/c" "$T/lisp" | grep '^[<>]')" "" \
    "src/lispd.lisp's message numbers are proto.h's CTL_ ones"

is "$(sed -n 's/^(defparameter \*protocol\* \([0-9]*\) .*/\1/p' "$top/src/lispd.lisp")" \
    "$(sed -n 's/^#define CTL_VERSION[[:space:]]*\([0-9]*\).*/\1/p' "$top/src/proto.h")" \
    "src/lispd.lisp's *protocol* is proto.h's CTL_VERSION"
done_testing
