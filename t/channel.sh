#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# The control channel under ordinary abuse: interrupted chatty evaluations,
# messages over a frame, bad bytes, threads that end past the evaluation,
# clients that leave before "go", more forms than the queue holds, and
# ^D held down at the console. After each, the channel still answers.
. "${srcdir:-.}/t/lib.sh"

ev() {
	timeout 60 "$LISPD" -S "$D" eval "$@"
}

# bg_ev ARGS...: an eval in the background, $! its pid for signals (a
# function run with & would be a subshell, which ignores SIGINT).
bg_ev() {
	"$LISPD" -S "$D" eval "$@" &
}

# answers: the channel answers an evaluation at once.
answers() {
	[ "$(timeout 10 "$LISPD" -S "$D" eval -s c '(+ 1 2)' 2>&1)" = 3 ]
}

start -s c -- sbcl --noinform
pid=$(image_pid c)

# C-c and --timeout on evaluations that print a lot, a hundred times:
# frames stay whole, so every later evaluation answers.
chatty='(loop (write-string (make-string 200000 :initial-element #\q)))'
broken=
for k in $(seq 100); do
	: >"$T/chatty"
	if [ $((k % 20)) -eq 0 ]; then
		ev -s c -t 1 "$chatty" >"$T/chatty" 2>/dev/null
	else
		bg_ev -s c "$chatty" >"$T/chatty" 2>/dev/null
		e=$!
		wait_until 10 test -s "$T/chatty"
		kill -INT "$e"
		wait "$e"
	fi
	answers || { broken=$k; break; }
done
is "$broken" "" "100 interrupted chatty evaluations: every later one answers"
like "$(lispd ls)" "^c +[0-9]+ running .* [0-9]+M +[0-9]+ +$swank_up " \
    "and ls still has the image's heap, threads and swank"

# Interrupted line output never repeats a line.
dups=0
for k in $(seq 20); do
	bg_ev -s c '(let ((i 0)) (loop (format t "line ~d~%" (incf i))))' \
	    >"$T/lines" 2>/dev/null
	e=$!
	wait_until 10 grep -q "line 2000" "$T/lines"
	kill -INT "$e"
	wait "$e"
	[ -n "$(uniq -d "$T/lines")" ] && dups=$((dups + 1))
done
is $dups 0 "20 interrupted line outputs repeat no line"

# An error message over a frame is cut to fit; swank and the channel stay.
out=$(ev -s c '(car (make-array 100000 :initial-element 0))' 2>&1); rc=$?
is $rc 1 "an error whose message is over 64 KiB exits 1"
like "$out" "bytes cut" "its message is cut, and says so"
like "$out" "condition of type TYPE-ERROR" "keeping its end, which names the condition"
answers; ok $? "and the next evaluation answers"
ev -s c '(defun deep (x n) (if (= n 0) (error "boom") (deep x (1- n))))' >/dev/null
out=$(ev -s c -v '(deep (make-list 3000 :initial-element 1234567) 10)' 2>&1); rc=$?
is $rc 1 "-v with a backtrace of big frames exits 1"
like "$out" "error: boom" "with the error"
answers; ok $? "and the channel answers"
like "$(lispd ls)" "^c +[0-9]+ running .* $swank_up " "swank is still up"
swank_call c "$(rex '(+ 20 22)')"
like "$(cat "$T/out")" '\(:return \(:ok \("" "42"\)\) 1\)' "and serves a client"

# A package name that is not UTF-8 fails that evaluation alone.
out=$(ev -s c -p "$(printf 'CL-\377')" '(+ 1 2)' 2>&1); rc=$?
is $rc 1 "a package name that is not UTF-8 exits 1"
like "$out" "no package CL-" "as no such package"
answers; ok $? "and the reader lives on"
out=$(printf '(+ 1 2) "\377"\n' | ev -s c - 2>&1); rc=$?
is $rc 2 "forms that are not UTF-8 exit 2"
like "$out" "not valid UTF-8" "saying so"
answers; ok $? "and the reader lives on"

# Evaluations whose thread ends past the evaluation still end.
for form in '(sb-thread:abort-thread)' \
    '(sb-thread:terminate-thread sb-thread:*current-thread*)' \
    '(sb-thread:return-from-thread 5)' \
    "(throw 'sb-impl::%end-of-the-world 1)"; do
	out=$(ev -s c -t 20 "$form" 2>&1); rc=$?
	is $rc 1 "$form ends with status 1"
	like "$out" "thread was ended" "saying the thread was ended"
done
out=$(ev -s c -t 20 '(error "bad ~a" (code-char #xDFFF))' 2>&1); rc=$?
is $rc 1 "an error message that is not encodable ends with status 1"
like "$out" "error: bad \?" "the character replaced"
answers; ok $? "and the channel answers"

# Reader messages: plain words, no directives, no stream objects.
out=$(ev -s c '(+ 1' 2>&1); rc=$?
is $rc 2 "an incomplete form exits 2"
is "$out" "eval: form 1, at line 1, column 1, does not read: it is not complete (a parenthesis, a string or a #| comment is not closed)" \
    "in one line, without format directives"
out=$(ev -s c '#<' 2>&1)
is "$out" "eval: form 1, at line 1, column 1, does not read: illegal sharp macro character: #\\<" \
    "a reader error without SBCL's stream object"
awk 'BEGIN { for (i = 0; i < 100000; i++) printf "("; print "" }' >"$T/deep"
out=$(ev -s c - <"$T/deep" 2>&1); rc=$?
is $rc 2 "a form that nests too deeply to read exits 2"
like "$out" "nests too deeply" "saying so"
answers; ok $? "and the channel answers"

# Clients that leave before "go" leave no job behind.
for k in $(seq 20); do
	mkfifo "$T/up.$k"
	"$LISPD" -S "$D" eval -s c - <"$T/up.$k" >/dev/null 2>&1 &
	e=$!
	exec 7>"$T/up.$k"
	awk 'BEGIN { for (i = 0; i < 2000; i++) print "(list 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40)" }' >&7
	kill -KILL "$e"
	wait "$e" 2>/dev/null
	exec 7>&-
done
wait_until 10 eval '[ "$(ev -s c "(hash-table-count lispd::*jobs*)")" = 1 ]'
is "$(ev -s c '(hash-table-count lispd::*jobs*)')" 1 \
    "20 clients gone before go: no job left in the image but this one"

# More forms than the server queues: they stream, in bounded memory.
awk 'BEGIN { for (i = 0; i < 1200000; i++) print "(+ 1 2)" }' >"$T/forms"
out=$(ev -s c - <"$T/forms" 2>&1); rc=$?
is "$out $rc" "3 0" "9.6 MB of forms on stdin are all evaluated"
memory_ok "$(server_pid c)" VmHWM 12000 "with the server's memory bounded"

# C-c while the server holds back the forms of an image that does not
# take them (stopped here): the client leaves at once, and is not held.
kill -STOP "$pid"
# (not bg_ev: the shell gives a command put in the background by a
# function /dev/null for stdin, whatever the function's was)
"$LISPD" -S "$D" eval -s c - <"$T/forms" >"$T/held.out" 2>&1 &
e=$!
held_back() {	# more read than the socket holds, and waiting for room
	# (rchar: sendmsg(2) is not counted in wchar)
	[ "$(awk '$1 == "rchar:" { print $2 }' "/proc/$e/io")" -gt 1200000 ] &&
	    grep -q '^State:.*S (sleeping)' "/proc/$e/status"
}
wait_until 10 held_back; ok $? "an eval's forms are held back by a stopped image"
kill -INT "$e"
wait_until 10 dead "$e"; ok $? "C-c ends an eval whose forms wait for a stopped image"
wait "$e"; rc=$?
is "$rc $(cat "$T/held.out")" "130 lispd: eval: interrupted while the forms were read from stdin: nothing was evaluated" \
    "with status 130, saying so"
kill -CONT "$pid"
answers; ok $? "and once the image goes on, the channel answers"

# ^D held down at the console: the image lives.
lispd send -n c "$(awk 'BEGIN { for (i = 0; i < 60; i++) printf "\004" }')"
lispd send c '(defparameter *after-eofs* :here)'
wait_until 10 eval '[ "$(ev -s c "(and (boundp (quote *after-eofs*)) *after-eofs*)")" = :HERE ]'
is "$(ev -s c '*after-eofs*')" :HERE "60 ^D in a row: the REPL reads on"
is "$(image_pid c)" "$pid" "and it is the same image, never ended"

# A channel the server closed (the image sent a frame over the limit)
# takes neither swank nor the image with it, and ^D still does not end it.
ev -s c '(lispd::send 99 (make-array 70000 :element-type (quote (unsigned-byte 8))))' >/dev/null 2>&1
wait_until 10 eval 'lispd ls | grep -q "^c .* - *- *up "'
like "$(lispd ls)" "^c +[0-9]+ running .* - +- +$swank_up " "a channel closed by the server leaves swank up"
swank_call c "$(rex '(+ 40 2)')"
like "$(cat "$T/out")" '\(:return \(:ok \("" "42"\)\) 1\)' "and swank serves"
lispd send -n c "$(printf '\004')"
lispd send c '(defparameter *after-close* :here)'
swank_call c "$(rex '*after-close*')"
like "$(cat "$T/out")" '\(:return \(:ok \("" ":HERE"\)\) 1\)' \
    "^D after the channel closed: the REPL reads on"
is "$(image_pid c)" "$pid" "in the same image"

# A frame begun and never ended (the channel out of step): the server says
# so at LISPD_CONTROL_STALL seconds (10 by default), and at 12 times that
# ends the evaluations waiting, each with the reason, and closes the
# channel; swank and the image stay.
LISPD_CONTROL_STALL=1 "$LISPD" -S "$D" run -s st -- sbcl --noinform \
    >"$T/st.log" 2>&1 &
PIDS="$PIDS $!"
wait_until 30 lispd wait st; ok $? "a session with LISPD_CONTROL_STALL=1 runs"
track st
stpid=$(image_pid st)
half='(sb-thread:with-mutex (lispd::*out-lock*) (write-sequence (coerce (list 0 0 0 3 0 0 234 96 1 2) (quote (vector (unsigned-byte 8)))) lispd::*out*) (finish-output lispd::*out*) 7)'
out=$(ev -s st "$half" 2>&1); rc=$?
is $rc 3 "an evaluation behind half a frame ends, status 3"
like "$out" "^lispd: session st: the control channel is out of step \(a frame of [0-9]+ bytes stayed incomplete for 12 s\)" \
    "saying the channel is out of step"
like "$(cat "$T/st.log")" "st: a frame of the control channel stays incomplete \([0-9]+ bytes\) for 1 s: the image is slow, or the channel is out of step" \
    "the server said so at 1 s"
like "$(ev -s st '(+ 1 2)' 2>&1)" "out of step" "a later evaluation is told at once"
swank_call st "$(rex '(+ 40 2)')"
like "$(cat "$T/out")" '\(:return \(:ok \("" "42"\)\) 1\)' "swank still serves"
is "$(image_pid st)" "$stpid" "in the same image"

# An image that falls into LDB (as on heap exhaustion) is said to be there.
lispd send c '(sb-alien:alien-funcall (sb-alien:extern-alien "ldb_monitor" (function sb-alien:void)))'
wait_until 10 eval 'lispd ls | grep -q "^c .* ldb "'
like "$(lispd ls)" "^c +[0-9]+ ldb " "an image in LDB has state ldb in ls"
like "$(lispd ls)" "^c: the image is in LDB, SBCL's low-level debugger" \
    "and a line below the table says what it means"

done_testing
