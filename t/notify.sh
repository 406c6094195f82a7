#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# run and systemd's readiness protocol: READY=1 to $NOTIFY_SOCKET once the
# image is ready (not when it merely runs), to a path or an abstract
# socket; the variable does not reach the image; a bad --notify-fd.
. "${srcdir:-.}/t/lib.sh"

# An application that says when it is ready: the datagram waits for it.
./t/notify-listen "$T/notify" 60 >"$T/got" 2>"$T/listen.err" &
listener=$!
PIDS="$PIDS $listener"
wait_until 10 test -S "$T/notify"
NOTIFY_SOCKET=$T/notify lispd run -s n -- sbcl --noinform \
    --eval '(setf lispd:*ready-at-repl* nil)' >/dev/null 2>&1 &
runner=$!
PIDS="$PIDS $runner"
wait_until 30 eval 'lispd ls 2>/dev/null | grep -q "^n .* starting"'
ok $? "the session runs, not yet ready"
track n
alive "$listener"; ok $? "and no READY=1 has come"
lispd send n '(lispd:ready)' >/dev/null
wait_until 20 dead "$listener"
is "$(cat "$T/got")" READY=1 "READY=1 comes when the application says (lispd:ready)"
is "$(lispd eval -s n '(sb-ext:posix-getenv "NOTIFY_SOCKET")')" NIL \
    "NOTIFY_SOCKET does not reach the image"
lispd stop n >/dev/null 2>&1
wait "$runner"; is $? 0 "run exits with the image's status once it is stopped"

# An abstract socket, and an image whose REPL is the readiness.
name="@lispd-test-$$"
./t/notify-listen "$name" 60 >"$T/got2" 2>"$T/listen2.err" &
listener=$!
PIDS="$PIDS $listener"
wait_until 10 grep -q ready "$T/listen2.err"
NOTIFY_SOCKET=$name lispd run -s m -- sbcl --noinform >/dev/null 2>&1 &
runner=$!
PIDS="$PIDS $runner"
wait_until 30 dead "$listener"
is "$(cat "$T/got2")" READY=1 "READY=1 to an abstract socket"
track m
lispd kill m >/dev/null 2>&1
wait "$runner"

# systemd's watchdog: WATCHDOG=1 every half period while the image
# answers pings, none while it is stopped, again once continued.
./t/notify-listen "$T/wd" 120 all >"$T/wd.got" 2>"$T/wd.err" &
listener=$!
PIDS="$PIDS $listener"
wait_until 10 test -S "$T/wd"
NOTIFY_SOCKET=$T/wd WATCHDOG_USEC=400000 WATCHDOG_PID=$$ \
    lispd run -s wd -- sbcl --noinform >/dev/null 2>"$T/wd.log" &
runner=$!
PIDS="$PIDS $runner"
wait_until 30 eval 'lispd wait -t 1 wd >/dev/null 2>&1'
track wd
# WATCHDOG_PID is the shell's, not run's: no watchdog. What must not
# come is waited for a while: five periods.
sleep 1
is "$(grep -c WATCHDOG=1 "$T/wd.got")" 0 "WATCHDOG_PID of another process: no watchdog"
lispd kill wd >/dev/null 2>&1
wait "$runner"
watchdogs() {
	grep -c '^WATCHDOG=1$' "$T/wd.got"
}
NOTIFY_SOCKET=$T/wd WATCHDOG_USEC=400000 \
    "$LISPD" -S "$D" run -s wd -- sbcl --noinform >/dev/null 2>"$T/wd.log" &
runner=$!
PIDS="$PIDS $runner"
wait_until 30 eval '[ "$(watchdogs)" -ge 3 ]'; ok $? "WATCHDOG=1 comes while the image answers"
track wd
is "$(lispd eval -s wd '(list (sb-ext:posix-getenv "WATCHDOG_USEC") (sb-ext:posix-getenv "NOTIFY_SOCKET"))')" "(NIL NIL)" \
    "neither variable reaches the image"
pid=$(image_pid wd)
kill -STOP "$pid"
sleep 0.5	# a tick's ping in flight before the stop may still be answered
n=$(watchdogs)
sleep 1.5	# three ticks of 0.2 s and more: none of them may come
is "$(watchdogs)" "$n" "none while the image is stopped"
like "$(cat "$T/wd.log")" "did not answer its watchdog ping" "and run says why"
kill -CONT "$pid"
wait_until 10 eval '[ "$(watchdogs)" -ge $((n + 2)) ]'; ok $? "they come again once it is continued"
lispd stop wd >/dev/null 2>&1
wait "$runner"

out=$(lispd run -s bad --notify-fd 77 -- sbcl 2>&1); rc=$?
is $rc 2 "run --notify-fd of a closed descriptor exits 2"
like "$out" "notify-fd 77: no such open file descriptor" "and says so"

done_testing
