#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# SIGUSR1 makes the sockets again after a tmp cleaner deleted them (tmux
# users meet exactly this): NAME.sock at once; NAME.swank, which the image
# serves, by the image listening at the path anew; the clients connected
# stay; after a restart the server's own NAME.swank again.
. "${srcdir:-.}/t/lib.sh"

start --restart always -s s -- sbcl --noinform
term_new a
term_type a "$LISPD attach s"
wait_screen a '^\* ?$'
srv=$(server_pid s)
rm -f "$D/s.sock" "$D/s.swank"
out=$(lispd eval -s s '(+ 1 2)' 2>&1); is $? 3 "with the sockets deleted the session is out of reach"
kill -USR1 "$srv"
wait_until 10 eval '[ -S "$D/s.sock" ] && [ -S "$D/s.swank" ]'
ok $? "SIGUSR1 makes s.sock and s.swank again"
is "$(stat -c %a "$D/s.sock") $(stat -c %a "$D/s.swank")" "600 600" "both 0600"
is "$(lispd eval -s s '(+ 1 2)')" 3 "eval reaches the session again"
swank_call s "$(rex '(+ 40 2)')"
like "$(cat "$T/out")" '\(:ok \("" "42"\)\)' "and swank"
term_type a '(+ 20 3)'
wait_screen a '^23'; ok $? "the client that was attached never left"

# The image goes; the next one is served on the server's socket again.
lispd eval -s s '(sb-ext:exit :code 1 :abort t)' >/dev/null 2>&1
wait_screen a 'restarting in 1 s'
lispd wait s
track s
swank_call s "$(rex '(+ 1 1)')"
like "$(cat "$T/out")" '\(:ok \("" "2"\)\)' "after a restart swank is served on s.swank"
rm -f "$D/s.swank"
kill -USR1 "$(server_pid s)"
wait_until 10 test -S "$D/s.swank"
swank_call s "$(rex '(+ 2 2)')"
like "$(cat "$T/out")" '\(:ok \("" "4"\)\)' "and SIGUSR1 works again after it"

# A tmp cleaner deletes the lock: a second start must not clobber the live
# session, and SIGUSR1 makes the lock again.
start -s web -- sbcl --noinform
lispd eval -s web '(defparameter *state* :precious)' >/dev/null
srv=$(server_pid web)
is "$(cat "$D/web.lock")" "$srv" "the lock names the server's pid"
rm -f "$D/web.lock"
out=$(lispd start -s web 2>&1); rc=$?
[ $rc -eq 0 ] && track web	# a second session, to clean up
is $rc 4 "without its lock a live session is still running: exit 4"
like "$out" "already running \(server pid $srv\), but its lock .*web.lock was deleted.*kill -USR1 $srv" "naming the server and SIGUSR1"
is "$(lispd eval -s web '(boundp (quote *state*))')" T "the live session's socket is still its own"
kill -USR1 "$srv"
wait_until 10 test -e "$D/web.lock"; ok $? "SIGUSR1 makes the lock again"
flock -n "$D/web.lock" true; is $? 1 "and holds it"
is "$(cat "$D/web.lock")" "$srv" "with the server's pid in it"
rm -f "$D/web.sock"
out=$(lispd start -s web 2>&1); rc=$?
[ $rc -eq 0 ] && track web
is $rc 4 "with its socket deleted the session is running: exit 4"
like "$out" "already running \(server pid $srv\), but its socket .*web.sock is gone: make it again with 'kill -USR1 $srv'" "naming the server and SIGUSR1"
out=$(lispd eval -s web '(+ 1 2)' 2>&1); rc=$?
is $rc 3 "a client finds no socket: exit 3"
like "$out" "session web has lost its socket .*web.sock: its server \(pid $srv\) makes it again with 'kill -USR1 $srv'" "and is told how to get it back"
kill -USR1 "$srv"
wait_until 10 test -S "$D/web.sock"
is "$(lispd eval -s web '(list (boundp (quote *state*)) (+ 1 2))')" "(T 3)" "after SIGUSR1 the same image answers"
is "$(ls "$D" | grep -c '^web\.')" 3 "no second session's files are left"

# A cleaner deletes all three files and a second session takes the name:
# the first server, when it ends, leaves the second one's sockets alone.
rm -f "$D/web.lock" "$D/web.sock" "$D/web.swank"
start -s web -- sbcl --noinform; is $? 0 "with all its files gone, the name can be taken again"
srv2=$(server_pid web)
[ -n "$srv2" ] && [ "$srv2" != "$srv" ]; ok $? "by a second server"
kill -TERM "$srv"
wait_until 30 dead "$srv"; ok $? "the first server ends"
[ -S "$D/web.sock" ] && [ -S "$D/web.swank" ]
ok $? "and leaves the second one's web.sock and web.swank"
is "$(lispd eval -s web '(+ 1 2)')" 3 "which answers"
swank_call web "$(rex '(+ 2 3)')"
like "$(cat "$T/out")" '\(:ok \("" "5"\)\)' "on swank too"

done_testing
