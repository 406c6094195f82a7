#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# lispd log: the console's recent output through the server, -n, -f while
# the image prints, the image's exit, and log readers that are not clients.
. "${srcdir:-.}/t/lib.sh"

start -s p -- sh
lispd send p 'for i in 1 2 3 4 5; do echo line-$i; done' >/dev/null
wait_until 10 eval 'lispd log p | grep -q "^line-5"'
ok $? "log prints the console's output"
out=$(lispd log -n 2 p | tr -d '\r')
like "$out" "^line-5$" "log -n 2 ends with the last lines"
is "$(printf '%s\n' "$out" | grep -c .)" 2 "and prints two lines"
lispd log -f p >"$T/follow" 2>"$T/follow.err" &
follower=$!
PIDS="$PIDS $follower"
wait_until 10 grep -q line-5 "$T/follow"
like "$(lispd ls)" "^p +[0-9]+ running +[0-9]+m[0-9]+s +0 " "a log reader is not counted as a client"
lispd send p 'echo later-$((6 * 7))' >/dev/null
wait_until 10 grep -q later-42 "$T/follow"; ok $? "log -f follows what the image prints"
lispd send p 'exit 3' >/dev/null
wait_until 10 dead "$follower"; ok $? "and ends when the image exits"
wait "$follower"; is $? 0 "with status 0"
like "$(cat "$T/follow.err")" "the image exited with status 3" "saying how the image ended"
# A reader that was stopped when the image ended still hears what it missed.
start -s big -- sh
"$LISPD" -S "$D" log -f -n 0 big >"$T/big.out" 2>"$T/big.err" &
reader=$!
PIDS="$PIDS $reader"
wait_until 10 eval 'lispd ls | grep -q "^big "'
# Readers are not counted in ls: this one reads once what is printed after
# it started reaches it (-n 0: nothing from before).
reading() {
	lispd send big 'echo reader-""here' >/dev/null
	grep -q reader-here "$T/big.out"
}
wait_until 10 reading
kill -STOP "$reader"
lispd send big 'yes 0123456789012345678901234567890123456789 | head -c 8000000; echo last-""words; exit 4' >/dev/null
wait_until 30 eval '! lispd ls | grep -Eq "^big +[0-9]+ running"'
kill -CONT "$reader"
wait "$reader"
like "$(cat "$T/big.err")" "[0-9]+ bytes of output were dropped" \
    "a reader stopped while the image ended is told what it missed"
like "$(tail -1 "$T/big.err")" "the image exited with status 4" "before the end"
like "$(tail -c 200 "$T/big.out")" "last-words" "and it is sent the image's last lines"

out=$(lispd log nosuch 2>&1); is $? 3 "log of a missing session exits 3"

done_testing
