#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# lispd ping: a round trip through the control channel to the image's
# bootstrap. It answers while every evaluation loops (the reader is a
# thread of its own); a SIGSTOPped image does not, and ping gives up in
# -t seconds with exit 1; no session is 3, no bootstrap 1, each saying why.
. "${srcdir:-.}/t/lib.sh"

start -s p -- sbcl --noinform
lispd ping p; is $? 0 "ping: the image answers"
like "$(lispd ping -v p)" '^[0-9]+ us$' "-v: in microseconds"

"$LISPD" -S "$D" eval -s p '(loop)' >/dev/null 2>&1 &
e1=$!
"$LISPD" -S "$D" eval -s p '(loop)' >/dev/null 2>&1 &
e2=$!
PIDS="$PIDS $e1 $e2"
busy() {
	[ "$("$LISPD" -S "$D" eval -s p '(hash-table-count lispd::*jobs*)')" -ge 3 ]
}
wait_until 10 busy; ok $? "two evaluations loop"
lispd ping -t 5 p; is $? 0 "ping still answers: the bootstrap's reader is a thread of its own"
kill $e1 $e2

pid=$(image_pid p)
kill -STOP "$pid"
t0=$(date +%s)
out=$(lispd ping -t 1 p 2>&1); rc=$?
t1=$(date +%s)
kill -CONT "$pid"
is $rc 1 "a stopped image: ping exits 1"
like "$out" "^lispd: session p: the image did not answer in 1 s: it is stopped" "saying so"
[ $((t1 - t0)) -le 3 ]; ok $? "in about the time given ($((t1 - t0)) s)"
lispd ping p; is $? 0 "continued, it answers again"

out=$(lispd ping nosuch 2>&1); is $? 3 "no session: exit 3"
like "$out" "no session nosuch" "saying so"
start -s plain -- cat
out=$(lispd ping plain 2>&1); is $? 1 "no bootstrap: exit 1"
like "$out" "^lispd: session plain: cannot ping: the image has no lispd bootstrap" "saying so, once named"
lispd kill plain >/dev/null 2>&1
out=$(lispd ping -t 0 p 2>&1); is $? 2 "-t 0 is a usage error"

done_testing
