#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# lispd attach -P: the console through pipes, for a program that edits
# lines itself (Emacs's comint): the scrollback first, input to the image,
# the output of every thread back, SIGINT the image's, and neither ^D,
# the detach key nor the end of input ends the image; and on a dumb
# terminal.
. "${srcdir:-.}/t/lib.sh"

start -s p -- sbcl --noinform
pid=$(image_pid p)
lispd send p '(format t "before-~a~%" (* 6 7))'
wait_until 10 eval 'lispd log p | grep -q "^before-42"'

out=$(lispd attach p </dev/null 2>&1); rc=$?
is $rc 2 "attach without a terminal and without -P exits 2"
like "$out" "attach needs a terminal: run it in one, use 'ssh -t', or -P for pipes" \
    "and names -P"

# pipe_attach [OPTIONS]: attach -P in the background, fed from fd 7.
pipe_attach() {
	rm -f "$T/in"
	mkfifo "$T/in"
	"$LISPD" -S "$D" attach -P "$@" p <"$T/in" >"$T/out" 2>&1 &
	ap=$!
	exec 7>"$T/in"
}
seen() {	# seen PATTERN: in what attach -P printed
	wait_until 10 grep -q -- "$1" "$T/out"
}

pipe_attach
seen '^before-42'; ok $? "the scrollback comes first"
printf '(format t "piped-~a~%%" (* 6 7))\n' >&7
seen '^piped-42'; ok $? "a line written is evaluated, and its output comes back"
printf '(sb-thread:make-thread (lambda () (format t "thread-~a~%%" 7) (finish-output)))\n' >&7
seen 'thread-7'; ok $? "so does another thread's output"
printf '(sleep 600)\n' >&7
wait_until 10 eval 'lispd eval -s p "(sb-thread:list-all-threads)" >/dev/null'
seen '(sleep 600)'
kill -INT "$ap"
seen 'Interactive interrupt'; ok $? "SIGINT to attach -P interrupts the image"
alive "$ap"; ok $? "and attach -P goes on"
printf '\004\004\004' >&7
seen '^\* '
printf '(format t "after-~a~%%" (+ 40 2))\n' >&7
# Not at a line's start: the pty may echo the line before the REPL's
# prompts for the ^Ds, and the output then follows a "* ".
seen 'after-42'; r=$?
ok $r "^D written three times: the REPL goes on"
[ $r -eq 0 ] || tail -n 20 "$T/out" | cat -v | sed 's/^/#   out: /'
is "$(image_pid p)" "$pid" "in the same image"
printf '\034' >&7
wait_until 10 dead "$ap"; ok $? "the detach key detaches"
wait "$ap"; is $? 0 "with status 0"
seen '\[detached from p\]'; ok $? "saying so"
exec 7>&-

pipe_attach
seen 'after-42'
exec 7>&-
wait_until 10 dead "$ap"; ok $? "the end of input detaches"
wait "$ap"; is $? 0 "with status 0"
is "$(image_pid p)" "$pid" "and the image runs on"

pipe_attach -r
seen 'after-42'
printf '(format t "from-~a~%%" "ro")\n' >&7
seen 'read-only: input ignored'; ok $? "attach -P -r says input is ignored"
lispd send p '(format t "marker-~a~%" 2)'
seen '^marker-2'
grep -q '^from-ro' "$T/out"; ok $((! $?)) "and none reaches the image"
exec 7>&-
wait "$ap"

# A dumb terminal (TERM=dumb, Emacs's M-x shell): -P leaves it in its own
# line mode; a line goes when it is ended, C-c is the image's, and ^D on an
# empty line (the end of input) detaches.
term_new d
term_type d "TERM=dumb $LISPD attach -P p; echo rc=\$?"
wait_screen d '^marker-2'; ok $? "attach -P on a dumb terminal replays the scrollback"
term_answers d "a dumb terminal"
term_type d '(loop)'
term_keys d C-c
wait_screen d 'Interactive interrupt'; ok $? "a dumb terminal: C-c interrupts the image"
term_type d 1
term_keys d C-d
wait_screen d '^rc=0'; ok $? "a dumb terminal: ^D on an empty line detaches, exit 0"
term_canonical d; ok $? "and its modes were never changed"
is "$(image_pid p)" "$pid" "and the image runs on"

done_testing
