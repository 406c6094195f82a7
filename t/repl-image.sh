#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# The image's side of lispd repl (issue 15), through lispd eval: completion
# as typed (symbols of the REPL's package, pkg: and pkg:: names, keywords,
# package names, in the case typed, no duplicates), and whether the text
# typed so far holds whole forms, as the image's reader finds (strings,
# #\( characters, |symbols|, comments, #| |#), with nothing interned or
# evaluated by the look.
. "${srcdir:-.}/t/lib.sh"

ev() {
	timeout 60 "$LISPD" -S "$D" eval -s c "$@"
}

start -s c -- sbcl --noinform
ev '(defpackage :many (:use :cl) (:export #:out-one #:out-two))' \
    '(dotimes (i 1000) (intern (format nil "ITEM-~d" i) :many))' \
    '(intern "IN-ONE" :many)' >/dev/null

is "$(ev '(lispd::complete "make-hash")')" '("make-hash-table")' "a symbol of CL-USER completes, in lower case as typed"
is "$(ev '(lispd::complete "MAKE-HASH")')" '("MAKE-HASH-TABLE")' "and in upper case as typed"
is "$(ev '(length (lispd::complete "mak"))')" "$(ev '(let ((n 0)) (do-symbols (s) (when (and (>= (length (symbol-name s)) 3) (string= "MAK" (symbol-name s) :end2 3)) (incf n))) n)')" \
    "an ambiguous prefix: every accessible symbol that begins so"
is "$(ev '(lispd::complete "sb-ext:*pos")')" '("sb-ext:*posix-argv*")' "pkg: completes its external symbols"
is "$(ev '(lispd::complete "many:")')" '("many:out-one" "many:out-two")' "pkg: alone: all its external ones"
is "$(ev '(lispd::complete "many::in-")')" '("many::in-one")' "pkg:: its internal ones"
is "$(ev '(lispd::complete ":abort")')" '(":abort" ":aborted")' "a colon: keywords"
like "$(ev '(lispd::complete "sb-e")')" '"sb-ext:"' "package names complete with their colon"
is "$(ev '(length (lispd::complete "item-" :many))')" 1000 "1000 matches in the REPL's package"
is "$(ev '(let ((l (lispd::complete "item-" :many))) (= (length l) (length (remove-duplicates l :test (function string=)))))')" T \
    "each once"
is "$(ev '(lispd::complete "nosuchpkg:x")')" NIL "an unknown package: nothing"

# fc TEXT: the look at TEXT as typed, made a Lisp string here.
fc() {
	ev "(lispd::form-complete-p \"$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')\")"
}
is "$(fc '(defun f (x)')" NIL "an open list is not whole"
is "$(fc '(defun f (x) x)')" T "a closed one is"
is "$(fc '(a "b)')" NIL "an open string is not"
is "$(fc '(a #\( b)')" T "#\\( does not open a list"
is "$(fc '(a |x)| b)')" T "nor does a paren in |symbol|"
is "$(fc '(a) ; (')" T "nor one in a comment"
is "$(fc '#| x')" NIL "an open #| is not whole"
is "$(fc '')" T "nothing is whole"
is "$(fc '#.(defparameter *looked* t)')" T "#. reads as whole"
is "$(ev '(let ((s (find-symbol "*LOOKED*"))) (and s (boundp s)))')" NIL "and is not evaluated by the look"
is "$(fc 'look-not-interned::x')" T "an unknown package is the evaluation's to report"
is "$(ev '(find-symbol "NEVER-INTERNED-HERE")')" "NIL
NIL" "and nothing is interned"
fc 'never-interned-here' >/dev/null
is "$(ev '(find-symbol "NEVER-INTERNED-HERE")')" "NIL
NIL" "even by a form looked at"

done_testing
