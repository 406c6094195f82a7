#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# lispd save: the core of a running SBCL image, saved by a fork of it into
# the session's state directory while the image goes on: what was defined
# (a function, a global, a CLOS instance, a package) is in the core and
# still in the image; the client attached through tmux stays attached and
# is told; swank serves on; the newest cores are kept; application threads
# stop in lispd:*save-hooks* and start again in sb-ext:*init-hooks*; a
# thread that does not stop, a running evaluation, an image without the
# bootstrap, a state directory that cannot be made, and too little room:
# each a clear error, the image unharmed, no core left half written.
. "${srcdir:-.}/t/lib.sh"

ev() {
	timeout 60 "$LISPD" -S "$D" eval "$@"
}

start -D "$T/st" -s sv -- sbcl --noinform
pid=$(image_pid sv)
grow sv
probe=$grown_probe
want=$grown_want

term_new a
term_type a "$LISPD attach sv; echo rc=\$?"
wait_screen a '^\* ?$'; ok $? "a client is attached through tmux"

out=$(lispd save sv 2>&1); rc=$?
is $rc 0 "lispd save exits 0"
like "$out" "^lispd: sv: saved sv \([0-9]+ MB\) in [0-9.]+ s into $T/st/sv/sv-1\.core; the image goes on$" \
    "and says what it saved, where and how fast"
[ -x "$T/st/sv/sv-1.core" ]; ok $? "the core is in the state directory, -D, as STATE/NAME/NAME-1.core"
is "$(ls -A "$T/st/sv" | grep -c tmp)" 0 "with no temporary file left"
is "$(stat -c %a "$T/st/sv")" 700 "the session's state directory is 0700"
wait_screen a '\[lispd: saved sv \([0-9]+ MB\)'; ok $? "the attached client is told"
term_answers a "after the save"
is "$(image_pid sv)" "$pid" "the image goes on: the same process"
is "$(ev -s sv "$probe")" "$want" "with all it had"
is "$(ev -s sv '(length (sb-thread:list-all-threads))')" \
    "$(ev -s sv '(length (sb-thread:list-all-threads))')" "eval works"
swank_call sv "$(rex '(car *kept*)')"
like "$(cat "$T/out")" '\(:return \(:ok \("" "1"\)\) 1\)' "and swank serves"
like "$(lispd ls)" "sv: saved into $T/st/sv/sv-1\.core \([0-9]+M\) at 20[0-9-]+ [0-9:]+" \
    "ls says which core was saved, and when"

# The core runs by itself, with the state (start --resume starts it so).
out=$("$T/st/sv/sv-1.core" --non-interactive --no-sysinit --no-userinit \
    --eval "(progn (prin1 $probe) (terpri))" 2>&1)
like "$out" "$(printf '%s' "$want" | sed 's/[()]/\\&/g')" "the core, run, has the function, the global, the instance and the package"

# Threads of the application: stopped by its save hook, started again by
# its init hook, in the image that goes on.
ev -s sv '(defvar *ticks* 0)' '(defvar *ticker* nil)' \
    '(defun start-ticker () (setf *ticker* (sb-thread:make-thread (lambda () (loop (incf *ticks*) (sleep 0.01))) :name "ticker")))' \
    '(start-ticker)' \
    '(push (lambda () (sb-thread:terminate-thread *ticker*) (sb-thread:join-thread *ticker* :default nil)) lispd:*save-hooks*)' \
    '(push (quote start-ticker) sb-ext:*init-hooks*)' >/dev/null
out=$(lispd save sv 2>&1); is $? 0 "an application thread its save hook stops: saved ($out)"
is "$(ev -s sv '(sb-thread:thread-alive-p *ticker*)')" T "and its init hook started it again"
t0=$(ev -s sv '*ticks*')
wait_until 5 eval '[ "$(ev -s sv "*ticks*")" -gt "$t0" ]'; ok $? "it runs"
# A swank client that has not authenticated: its thread goes with the
# save, and its socket too (else it would wait for ever).
mkfifo "$T/silent"
lispd swank sv <"$T/silent" >/dev/null 2>&1 &
silent=$!
PIDS="$PIDS $silent"
exec 7>"$T/silent"
pending() {
	[ "$(ev -s sv '(count "lispd swank client" (sb-thread:list-all-threads) :key (function sb-thread:thread-name) :test (function equal))')" = 1 ]
}
wait_until 10 pending; ok $? "a swank client waits to authenticate"
lispd save sv >/dev/null 2>&1; is $? 0 "a third save"
wait_until 10 dead $silent; ok $? "the save closed the waiting client's socket"
exec 7>&-
is "$(cd "$T/st/sv" && ls)" "$(printf 'sv-2.core\nsv-3.core')" "the newest two cores are kept"

# A thread that ignores the hooks: the save is abandoned, naming it.
ev -s sv '(sb-thread:make-thread (lambda () (loop (sleep 0.1))) :name "stubborn")' >/dev/null
out=$(lispd save -t 1 sv 2>&1); rc=$?
is $rc 1 "a thread that does not stop: save exits 1"
like "$out" '^lispd: session sv: cannot save: 1 thread did not stop within 1 s: "stubborn": stop it in lispd:\*save-hooks\* or sb-ext:\*save-hooks\*' \
    "naming it and what to do"
is "$(cd "$T/st/sv" && ls -A)" "$(printf 'sv-2.core\nsv-3.core')" "no core is added, none half written"
is "$(ev -s sv "$probe")" "$want" "the image is unharmed"
is "$(ev -s sv '(sb-thread:thread-alive-p *ticker*)')" T "its threads run again"
ev -s sv '(sb-thread:terminate-thread (find "stubborn" (sb-thread:list-all-threads) :key (function sb-thread:thread-name) :test (function equal)))' >/dev/null

# A running evaluation: not cut short.
bg=$(mktemp "$T/bg.XXXXXX")
"$LISPD" -S "$D" eval -s sv '(progn (sleep 3) :slept)' >"$bg" 2>&1 &
evp=$!
wait_until 10 eval '[ "$(ev -s sv "(hash-table-count lispd::*jobs*)")" -ge 2 ]'
out=$(lispd save sv 2>&1); rc=$?
is $rc 1 "an evaluation running: save exits 1"
like "$out" "cannot save: 1 evaluation running \(lispd eval\): let it end or interrupt it, then save" "saying so"
wait "$evp"
is "$(cat "$bg")" :SLEPT "and the evaluation ends as it would have"

# Errors before the image is asked.
start -s nb -- cat
out=$(lispd save nb 2>&1); rc=$?
is $rc 1 "an image without the bootstrap: save exits 1"
like "$out" "^lispd: session nb: cannot save: .*no lispd bootstrap" "saying the image has no bootstrap"
: >"$T/afile"
start -D "$T/afile/st" -s bad -- sbcl --noinform
out=$(lispd save bad 2>&1); rc=$?
is $rc 1 "a state directory that cannot be made: save exits 1"
like "$out" "^lispd: session bad: cannot save: cannot make the state directory $T/afile/st/bad: Not a directory: start the session with -D DIR" \
    "naming it, why, and what to do"
is "$(ev -s bad '(+ 1 2)')" 3 "and the image runs on"
if mkdir "$T/small" && mount -t tmpfs -o size=8m tmpfs "$T/small" 2>/dev/null; then
	start -D "$T/small" -s full -- sbcl --noinform
	out=$(lispd save full 2>&1); rc=$?
	is $rc 1 "too little room for the core: save exits 1"
	like "$out" "cannot save: [0-9]+ MB free in $T/small/full, and the core needs about [0-9]+ MB: free some, or start the session with -D DIR on another disk" \
	    "saying how much is free and needed"
	is "$(ls -A "$T/small/full")" "" "and leaves nothing behind"
	is "$(ev -s full '(+ 1 2)')" 3 "the image runs on"
	lispd kill full >/dev/null 2>&1
	wait_until 10 eval '! lispd ls | grep -q "^full "'
	umount "$T/small"
else
	ok 0 "# SKIP no tmpfs to fill (needs root)"
fi

term_detach a "after the saves"
done_testing
