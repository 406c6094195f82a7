#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# The fd limit. Clients past what ulimit -n leaves room for are told so in
# one line at once. Should the limit still be met (lowered under a running
# server), the server pauses accepting (a level-triggered listen event
# would spin), says so once, and serves everyone once fds are free: on
# NAME.sock, and on NAME.swank, which it answers itself with -N.
. "${srcdir:-.}/t/lib.sh"

(ulimit -n 64; exec "$LISPD" -S "$D" run -N -s lim -- sbcl --noinform) \
    >"$T/lim.log" 2>&1 &
srv=$!
PIDS="$PIDS $srv"
wait_until 30 lispd wait lim; ok $? "a session runs with ulimit -n 64"
track lim
hello=000000010000000400000002

cpu() {
	awk '{ print $14 + $15 }' "/proc/$srv/stat"
}
ticks=$(getconf CLK_TCK)

# More clients than the limit leaves room for (64 less 32 kept), held 4 s.
./t/rawclient -k 80 4 "$D/lim.sock" "$hello" >"$T/held" &
hold=$!
PIDS="$PIDS $hold"
wait_until 20 grep -q held "$T/held"; ok $? "80 clients connect"
t0=$(cpu)
out=$(lispd eval -s lim '(+ 1 2)' 2>&1); rc=$?
is $rc 1 "a client past the limit exits 1 at once"
like "$out" "^lispd: session lim has 32 clients, as many as its limit of open files allows: try again once some have left, or raise ulimit -n for the session$" \
    "saying why and what to do"
wait "$hold"
t1=$(cpu)
[ $((t1 - t0)) -le $((ticks / 5)) ]; ok $? "the server idles at the limit ($((t1 - t0)) ticks of CPU)"
wait_until 10 eval '[ "$(lispd eval -s lim "(+ 1 2)")" = 3 ]'
is "$(lispd eval -s lim '(+ 1 2)')" 3 "once they left, clients are served again"
like "$(grep 'as many as ulimit' "$T/lim.log")" "lim: 32 clients, as many as ulimit -n allows: refusing more with a message; raise ulimit -n" \
    "the cap is logged"

# The limit lowered under the running server: accept fails; the server
# pauses instead of spinning, and serves who waited once fds are free.
n0=$(grep -c 'accept' "$T/lim.log")
prlimit --pid "$srv" --nofile=24:64
./t/rawclient -k 30 4 "$D/lim.sock" "$hello" >"$T/held2" &
hold=$!
PIDS="$PIDS $hold"
wait_until 20 grep -q held "$T/held2"; ok $? "30 clients connect to the lowered limit"
t0=$(cpu)
lispd eval -s lim '(+ 1 2)' >"$T/eval.out" 2>&1 &
ev=$!
PIDS="$PIDS $ev"
./t/rawclient -t 20 "$D/lim.swank" 00 >"$T/swank.out" 2>&1 &
sw=$!
PIDS="$PIDS $sw"
wait "$hold"
t1=$(cpu)
# 5% of the 4 s held.
[ $((t1 - t0)) -le $((ticks / 5)) ]; ok $? "the server idles at the fd limit ($((t1 - t0)) ticks of CPU in 4 s)"
prlimit --pid "$srv" --nofile=64:64
wait "$ev"; is $? 0 "a client that waited is served once fds are free"
is "$(cat "$T/eval.out")" 3 "with its answer"
wait "$sw"
is "$(cat "$T/swank.out")" closed "and NAME.swank is answered too"
n=$(($(grep -c 'accept' "$T/lim.log") - n0))
[ "$n" -ge 1 ] && [ "$n" -le 4 ]; ok $? "the limit is logged, a bounded number of times ($n lines)"
like "$(grep 'at the limit of open files' "$T/lim.log" | head -1)" "lim: (clients|swank): at the limit of open files \(ulimit -n 24\) with [0-9]+ clients: not accepting for 1 s at a time; raise ulimit -n" \
    "naming the limit and the clients"
is "$(lispd eval -s lim '(+ 2 3)')" 5 "the session goes on"

done_testing
