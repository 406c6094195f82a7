#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# lispd eval, lispd wait and the bootstrap, with real SBCL: values, output,
# errors, unreadable forms, interrupts, timeouts, 20 MB of output, UTF-8,
# images without the bootstrap, bad frames on the control channel, and a
# REPL that ^D does not end.
. "${srcdir:-.}/t/lib.sh"

ev() {
	timeout 60 "$LISPD" -S "$D" eval "$@"
}

threads() {
	ev -s s '(length (sb-thread:list-all-threads))'
}

start -s s -- sbcl --noinform
out=$(ev -s s '(+ 1 2)'); rc=$?
is "$out" 3 "eval prints the value"
is $rc 0 "and exits 0"
out=$(ev -s s '(format t "out~%")' '(values 1 "two" :three)')
is "$out" "$(printf 'out\n1\n"two"\n:THREE')" \
    "output as printed, then the last form's values, one per line"
out=$(ev -s s '(princ "no newline")' '(values)')
is "$out" "no newline" "no values, no value lines"
out=$(ev -s s '(defpackage :p1 (:use :cl))' '(in-package :p1)' \
    '(defun here () (package-name *package*))' '(here)')
is "$out" '"P1"' "forms are read in order: in-package works"
out=$(ev -s s '(set-dispatch-macro-character #\# #\! (lambda (s c n) (declare (ignore c n)) (list :bang (read s t nil t))))' \
    "'#!x")
is "$out" "(:BANG X)" "and so do reader macros"
out=$(ev -s s -p p1 '(here)')
is "$out" '"P1"' "-p names the package the forms are read in"
out=$(printf '(defun twice (x)\n  (* 2 x))\n(twice 21)\n' | ev -s s -)
is "$out" 42 "eval - reads the forms from stdin"
out=$(ev -s s '(warn "careful")' 2>&1 >/dev/null)
like "$out" "WARNING: careful" "warnings go to stderr"

# Programs the image runs get neither the channel nor its variables.
out=$(ev -s s '(with-output-to-string (o) (sb-ext:run-program "/bin/sh" (list "-c" "[ -e /proc/$$/fd/3 ] && echo fd3-open; env | grep -e ^LISPD_CONTROL_FD= -e ^LISPD_SESSION= || echo no-vars") :output o))')
is "$out" '"no-vars
"' "a program the image runs sees no control fd and no LISPD_ variables"

# Errors: the condition on stderr, status 1, no debugger, no thread left.
before=$(threads)
out=$(ev -s s '(error "boom ~a" 42)' 2>&1); rc=$?
is $rc 1 "an error exits 1"
like "$out" "^error: boom 42" "and prints the condition"
like "$out" "condition of type SIMPLE-ERROR" "and its type"
out=$(ev -s s -v '(car 1)' 2>&1)
like "$out" "Backtrace|^[0-9]+: \(" "with -v, a backtrace"
out=$(ev -s s -p no-such-package 1 2>&1); rc=$?
is $rc 1 "a package that does not exist exits 1"
like "$out" "no package no-such-package" "and names it"
out=$(ev -s s '(+ 1 2)' '(list 1' 2>&1); rc=$?
is $rc 2 "a form that does not read exits 2"
like "$out" "form 2, at line 2, column 1, does not read: it is not complete" \
    "naming the form and where it starts"
out=$(ev -s s '(read-from-string "(")' 2>&1); rc=$?
is $rc 1 "a read error inside an evaluation is an error (1), not 2"
wait_until 10 eval '[ "$(threads)" = "$before" ]'
ok $? "errors leave no thread behind ($before threads)"

# Interrupt (C-c in a terminal) and --timeout.
term_new a
term_type a "$LISPD eval -s s '(progn (format t \"started~%\") (finish-output) (sleep 600))'; echo rc=\$?"
wait_screen a '^started'
term_keys a C-c
wait_screen a '^rc=130'; ok $? "C-c interrupts the evaluation and exits 130"
screen_has a 'eval: interrupted'; ok $? "and says so"
out=$(ev -s s --timeout 1 '(sleep 600)' 2>&1); rc=$?
is $rc 124 "--timeout ends it with 124"
like "$out" "timed out" "and says so"
wait_until 10 eval '[ "$(threads)" = "$before" ]'
ok $? "interrupts leave no thread behind either"
is "$(ev -s s '(1- (hash-table-count lispd::*jobs*))')" 0 \
    "and no evaluation is left running"
out=$(ev -s s '(defvar *after* (+ 2 2))' '*after*')
is "$out" 4 "the image evaluates on after them"

# C-c while eval - reads the forms from the terminal: it leaves at once,
# and nothing is evaluated. catches PID SIG: its handler is installed.
catches() {
	mask=$(awk '/^SigCgt:/ { print $2 }' "/proc/$1/status")
	[ $((0x$mask >> ($2 - 1) & 1)) -eq 1 ]
}
term_afresh a "$LISPD eval -s s -"
wait_until 10 eval 'p=$(term_pid a) && catches "$p" 2'
term_type a '(defvar *typed* 1)'
wait_screen a '^\(defvar \*typed\* 1\)'
term_keys a C-c
wait_screen a '^rc=130'; ok $? "C-c while eval - reads the terminal exits 130 at once"
screen_has a 'eval: interrupted while the forms were read from stdin'
ok $? "and says nothing was evaluated"
is "$(ev -s s "(boundp '*typed*)")" NIL "and nothing was"
# The same by kill, with a fifo held open on stdin: 130, 143 and 129.
mkfifo "$T/forms"
exec 7<>"$T/forms"
for sig in INT:130 TERM:143 HUP:129; do
	"$LISPD" -S "$D" eval -s s - <"$T/forms" >/dev/null 2>"$T/err" &
	p=$!
	wait_until 10 catches "$p" 2
	printf '(defvar *fifo* 1)\n' >&7
	kill -"${sig%:*}" "$p"
	wait_until 10 dead "$p"; ok $? "SIG${sig%:*} while eval - reads a fifo ends it"
	kill -KILL "$p" 2>/dev/null
	wait "$p"; is $? "${sig#*:}" "with ${sig#*:}"
done
like "$(cat "$T/err")" "^lispd: eval: SIGHUP while the forms were read from stdin" "saying which signal"
exec 7>&-
is "$(ev -s s "(boundp '*fifo*)")" NIL "and nothing was evaluated"

# Much output streams through in bounded memory.
n=$(ev -s s '(let ((line (make-string 99 :initial-element #\x))) (dotimes (i 200000) (write-line line)))' | wc -c)
is "$n" 20000004 "20 MB of output arrive whole (and NIL)"
memory_ok "$(server_pid s)" VmHWM 20000 "the server's peak memory stays bounded"
out=$(ev -s s '(make-string 3000000 :initial-element #\y)' | wc -c)
is "$out" 3000003 "a 3 MB value arrives whole, quoted"

# UTF-8 both ways.
out=$(ev -s s '(length "λ→ü")')
is "$out" 3 "UTF-8 in forms is read as characters"
out=$(ev -s s '(format t "~a~%" (coerce (list (code-char 955) (code-char 8594)) (quote string)))' '(values)')
is "$out" "λ→" "and printed as UTF-8"

# An image without the bootstrap answers at once.
start -s plain -- cat
out=$(ev -s plain '(+ 1 2)' 2>&1); rc=$?
is $rc 3 "eval in an image without the bootstrap exits 3 at once"
like "$out" "has no lispd bootstrap.*\(lispd:serve\)" "saying why and what to do"
out=$(lispd start -s ni -- sbcl --noinform --non-interactive --eval '(sleep 600)' 2>&1)
is $? 0 "sbcl --non-interactive starts"
track ni
like "$out" "warning: .*--non-interactive.*bootstrap is not loaded" \
    "with a warning that eval will not reach it"

# A command without the bootstrap gets neither the channel, the swank
# socket nor the variables; its NAME.swank is still answered.
ls /proc/"$(image_pid plain)"/fd | sort -n | tr '\n' ' ' >"$T/fds"
is "$(cat "$T/fds")" "0 1 2 " "a command without the bootstrap gets fds 0, 1 and 2 only"
tr '\0' '\n' </proc/"$(image_pid plain)"/environ |
    grep -c -e '^LISPD_CONTROL_FD=' -e '^LISPD_SWANK_FD=' -e '^LISPD_SESSION=' >"$T/vars"
is "$(cat "$T/vars")" 0 "and none of lispd's variables"
is "$(./t/rawclient "$D/plain.swank" "")" closed "its swank socket is answered and closed"

# Bad frames on the control channel: the channel goes, the image stays.
# -B: the command serves the channel; start waits for a readiness that never
# comes, so it runs in the background.
start_bg() {
	lispd start -B "$@" >/dev/null 2>&1 &
	PIDS="$PIDS $!"
	wait_until 20 eval 'lispd ls | grep -q "^$2 "'
	track "$2"
}
start_bg -s bad -- sh -c 'printf "garbage-garbage" >&3; exec cat'
out=$(ev -s bad 1 2>&1); rc=$?
is $rc 3 "a garbled control channel: eval exits 3"
like "$out" "frame over the limit on the control channel" "and says what came"
lispd send bad "still-here" >/dev/null; ok $? "the console still takes input"
like "$(lispd ls)" "^bad +[0-9]+ starting" "and the session runs (never ready)"
start_bg -s old -- sh -c 'printf "\000\000\000\001\000\000\000\010\000\000\000\143fake" >&3; exec cat'
out=$(ev -s old 1 2>&1); rc=$?
is $rc 3 "a bootstrap of another control protocol: eval exits 3"
like "$out" "bootstrap speaks control protocol 99 .*restart the session" \
    "naming both versions and the fix"

# ls shows what the image reports.
like "$(lispd ls)" "^s +[0-9]+ running +[0-9]+m[0-9]+s +[0-9]+ +[0-9]+M +[0-9]+ +$swank_up +SBCL 2\.[0-9]" \
    "ls shows the image's heap, threads and Lisp"
like "$(lispd ls)" "^plain +[0-9]+ running .* +- +- +off +- +cat" \
    "and dashes for an image without the bootstrap"

# Readiness: the REPL, or the application's (lispd:ready).
lispd wait s; is $? 0 "wait returns 0 for a ready image"
lispd start -s late -- sbcl --noinform --eval '(setf lispd:*ready-at-repl* nil)' \
    >"$T/late.out" 2>&1 &
late=$!
wait_until 20 eval 'lispd ls | grep -q "^late "'
track late
lispd wait --timeout 1 late; is $? 124 "wait --timeout gives 124 while the application is not ready"
like "$(lispd ls)" "^late +[0-9]+ starting " "ls shows it as starting"
alive "$late"; ok $? "and start waits too"
lispd send late '(lispd:ready)' >/dev/null
wait "$late"; is $? 0 "(lispd:ready) makes start return 0"
lispd wait late; is $? 0 "and wait"
out=$(lispd wait nosuch 2>&1); is $? 3 "wait for a missing session exits 3"

# An executable of its own (save-lisp-and-die) calls the entry point.
boot=$(cd "${srcdir:-.}" && pwd)/src/lispd.lisp
sbcl --noinform --non-interactive --load "$boot" --eval "(sb-ext:save-lisp-and-die \"$T/app\" :executable t :toplevel (lambda () (lispd:serve :ready t) (loop (sleep 60))))" >"$T/app.log" 2>&1
ok $? "an executable is built with the bootstrap in it"
lispd start -B -s app -- "$T/app"; is $? 0 "start -B runs it and waits for its hello"
track app
out=$(ev -s app '(+ 1 2)'); is "$out" 3 "eval reaches it through (lispd:serve)"
like "$(lispd ls)" "^app +[0-9]+ running .*SBCL" "and ls shows its Lisp"

# ^D at the REPL does not end the image; in the debugger it goes to the top.
term_new r
term_type r "$LISPD attach s"
wait_screen r '^\* ?$'
screen_has r 'WARNING|caught'; ok $((! $?)) "the bootstrap and swank load without a word on the console"
term_keys r C-d
wait_screen r 'does not end this image'; ok $? "^D at the REPL says how to quit instead"
term_type r '(+ 40 2)'
wait_screen r '^42'; ok $? "and the REPL goes on"
term_type r '(error "into-the-debugger")'
wait_screen r '^0\] ?$'
term_keys r C-d
last_is_top() {
	[ "$(term_screen r | grep -v '^$' | tail -1)" = "*" ] ||
	    [ "$(term_screen r | grep -v '^$' | tail -1)" = "* " ]
}
wait_until 10 last_is_top; ok $? "^D in the debugger returns to the top level"
alive "$(image_pid s)"; ok $? "and the image lives"

done_testing
