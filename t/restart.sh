#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# --restart: the image comes back after it dies, with backoff; attached
# clients stay and are told; NAME.sock and NAME.swank stay; sbcl runs with
# --disable-ldb --lose-on-corruption; stop during the wait ends it; run
# with a policy stays until stopped.
. "${srcdir:-.}/t/lib.sh"

start --restart on-failure -s r -- sbcl --noinform
img=$(image_pid r)
like "$(tr '\0' ' ' <"/proc/$img/cmdline")" "^sbcl --disable-ldb --lose-on-corruption " \
    "under a restart policy sbcl runs with --disable-ldb --lose-on-corruption"
sock=$(stat -c %i "$D/r.sock")
swank=$(stat -c %i "$D/r.swank")
term_new a
term_type a "$LISPD attach r; echo rc=\$?"
wait_screen a '^\* ?$'
lispd eval -s r '(sb-ext:exit :code 3 :abort t)' >/dev/null 2>&1
wait_screen a 'the image exited with status 3; restarting in 1 s'
ok $? "the attached client is told of the exit and the restart"
lispd wait r; is $? 0 "wait returns once the new image is ready"
[ "$(image_pid r)" != "$img" ]; ok $? "a new image runs"
track r
is "$(lispd eval -s r '(+ 1 2)')" 3 "and answers eval"
term_type a '(+ 40 2)'
wait_screen a '^42'; ok $? "the client that stayed attached types into it"
[ "$(stat -c %i "$D/r.sock")" = "$sock" ] && [ "$(stat -c %i "$D/r.swank")" = "$swank" ]
ok $? "r.sock and r.swank are the same sockets"
swank_call r "$(rex '(+ 1 2)')"
like "$(cat "$T/out")" '\(:ok \("" "3"\)\)' "and swank is served again"
like "$(lispd ls)" "r: restarted 1 times; the last image exited with status 3" \
    "ls says how many restarts and how the last image ended"

# Quick failures: twice as long each time.
lispd eval -s r '(sb-ext:exit :code 4 :abort t)' >/dev/null 2>&1
wait_screen a 'exited with status 4; restarting in 2 s'; ok $? "the next quick failure waits 2 s"
like "$(lispd ls)" "^r +[0-9]+ restarting" "ls shows it restarting meanwhile"
out=$(lispd send r '(+ 1 2)' 2>&1); rc=$?
is $rc 1 "send while it restarts is refused"
like "$out" "the image is restarting: nothing sent" "saying why"
like "$(lispd ls)" "^r +[0-9]+ restarting" "and the server answers on, unharmed"
out=$(lispd stop r 2>&1); rc=$?
is $rc 0 "stop while it waits ends the session"
wait_screen a '^rc=4'; ok $? "and the client leaves with the last status"

# on-failure: an exit 0 is the end; always: not even that.
start --restart on-failure -s ok -- sh -c 'exit 0'
wait_until 10 eval '! lispd ls | grep -q "^ok "'; ok $? "on-failure: an image that exits 0 is not restarted"
start --restart always -s al -- sh -c 'echo run; exit 0'
wait_until 10 eval 'lispd ls | grep -q "^al: restarted [1-9]"'; ok $? "always: it is"
track al
lispd kill al >/dev/null 2>&1

# run --restart stays in the foreground across restarts, until stopped.
lispd run --restart always -s fg -- sh -c 'exit 7' >/dev/null 2>&1 &
runner=$!
PIDS="$PIDS $runner"
wait_until 10 eval 'lispd ls | grep -q "^fg: restarted [1-9]"'
alive "$runner"; ok $? "run with a policy stays across restarts"
lispd stop fg >/dev/null 2>&1
wait "$runner"; is $? 7 "and exits with the last image's status when stopped"

# An image that exits before it is ready: start and wait say so and fail
# at the first failure, while the server goes on restarting it.
before='the image exited with status 3 before it was ready; it is being restarted'
out=$(timeout 20 "$LISPD" -S "$D" start --restart always -s early -- \
    sbcl --noinform --eval '(sb-ext:exit :code 3)' 2>&1); rc=$?
PIDS="$PIDS $(./t/rawclient "$D/early.sock" 0000000100000004000000020000000500000000 | sed -n 's/^server=//p')"
is $rc 1 "start of an image that exits before it is ready returns, exit 1"
like "$out" "^lispd: early: the image exited with status 3; restarting in [0-9]+ s$" \
    "printing the server's restart notice"
like "$out" "^lispd: session early: $before: see 'lispd ls'" "and then why it failed"
out=$(timeout 20 "$LISPD" -S "$D" wait early 2>&1); rc=$?
is $rc 1 "wait for it fails too, at its next failure"
like "$out" "^lispd: session early: $before" "saying the same"
like "$(lispd ls)" "^early +[-0-9]+ (restarting|starting) " "and the session goes on restarting"
lispd stop early >/dev/null 2>&1

out=$(lispd start --restart sometimes -s x 2>&1); is $? 2 "a bad policy exits 2"
like "$out" "say never, on-failure or always" "naming the choices"

done_testing
