#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# stop --save and start --resume: the image outlives its machine. A
# session grown by hand is saved and stopped; everything goes as in a
# reboot, the socket directory too; start --resume brings the state back,
# with eval, swank and an attached terminal, and ls names the core. A
# newest core cut short or one that crashes: the one before, said; both
# bad: a fresh start, said; a core not ready in time is ended. stop --save
# that cannot save does not stop. SIGTERM with --save-on-term saves, then
# stops. A -B image with its own toplevel gets it back. Restarts resume.
. "${srcdir:-.}/t/lib.sh"

ev() {
	timeout 60 "$LISPD" -S "$D" eval "$@"
}

start -s web -- sbcl --noinform
grow web
probe=$grown_probe
want=$grown_want
is "$(ev -s web "$probe")" "$want" "the image is grown by hand"

# A save that cannot be made: stop --save does not stop.
ev -s web '(defvar *stubborn* (sb-thread:make-thread (lambda () (loop (sleep 0.1))) :name "stubborn"))' >/dev/null
out=$(lispd stop --save -t 1 web 2>&1); is $? 1 "stop --save that cannot save exits 1"
like "$out" 'cannot save: 1 thread did not stop within 1 s: "stubborn".*; not stopped, the image goes on' \
    "naming the thread, and saying the image was not stopped"
is "$(ev -s web '(+ 1 2)')" 3 "and it runs on"
ev -s web '(sb-thread:terminate-thread *stubborn*)' '(sb-thread:join-thread *stubborn* :default nil)' >/dev/null

# stop --save: a core, then the stop, the client told both.
out=$(lispd stop --save web 2>&1); rc=$?
is $rc 0 "stop --save exits with the image's status"
like "$out" "saved web \([0-9]+ MB\) in [0-9.]+ s into $LISPD_STATE/web/web-1\.core; stopping" \
    "it says the core was saved, then that it stops"
like "$out" "the image exited with status 0" "and that the image exited"
[ -x "$LISPD_STATE/web/web-1.core" ]; ok $? "the core is in the state directory"

# A reboot: the processes and the socket directory gone, the state kept.
rm -rf "$D"
lispd start --resume -s web >/dev/null 2>"$T/start.err"; rc=$?
track web
is $rc 0 "start --resume starts the session"
like "$(cat "$T/start.err")" "^lispd: web: resuming from $LISPD_STATE/web/web-1\.core \(saved 20[0-9-]+ [0-9:]+\)$" \
    "saying which core it starts from"
like "$(cat "$T/start.err")" "^lispd: web: resumed from $LISPD_STATE/web/web-1\.core in [0-9.]+ s$" \
    "and that it resumed"
is "$(ev -s web "$probe")" "$want" "the function, the global, the instance and the package are back"
swank_call web "$(rex '(car *kept*)')"
like "$(cat "$T/out")" '\(:return \(:ok \("" "1"\)\) 1\)' "swank serves the resumed image"
like "$(lispd ls)" "web: resumed from $LISPD_STATE/web/web-1\.core" "ls names the core"
term_new a
term_type a "$LISPD attach web; echo rc=\$?"
term_type a '(greet "terminal")'
wait_screen a '^"hello terminal"'; ok $? "an attached terminal reaches the resumed REPL"
term_detach a

# Two cores; the newest cut short: the one before, said.
lispd save web >/dev/null 2>&1
ev -s web '(defvar *second* t)' >/dev/null
lispd stop --save web >/dev/null 2>&1
is "$(cd "$LISPD_STATE/web" && ls)" "$(printf 'web-2.core\nweb-3.core')" "two cores are kept"
size=$(wc -c <"$LISPD_STATE/web/web-3.core")
truncate -s $((size / 2)) "$LISPD_STATE/web/web-3.core"
lispd start --resume -s web >/dev/null 2>"$T/start.err"; is $? 0 "a newest core cut short: start --resume starts"
track web
like "$(cat "$T/start.err")" "web-3\.core cannot be used: it does not end as a whole SBCL core does" \
    "saying the newest core is not whole"
like "$(cat "$T/start.err")" "resumed from $LISPD_STATE/web/web-2\.core in" "and resuming from the one before"
is "$(ev -s web '(list (greet "x") (boundp (quote *second*)))')" '("hello x" NIL)' "with that core's state"
lispd stop web >/dev/null 2>&1

# A core that crashes as it starts, and the one before cut short: afresh.
truncate -s "$size" "$LISPD_STATE/web/web-3.core"	# whole length, wrong heap
dd if=/dev/urandom of="$LISPD_STATE/web/web-3.core" bs=1M seek=4 count=20 conv=notrunc 2>/dev/null
tail -c 16 "$LISPD_STATE/web/web-2.core" | dd of="$LISPD_STATE/web/web-3.core" bs=1 \
    seek=$((size - 16)) conv=notrunc 2>/dev/null
size2=$(wc -c <"$LISPD_STATE/web/web-2.core")
truncate -s $((size2 - 1000)) "$LISPD_STATE/web/web-2.core"
lispd start --resume -s web >/dev/null 2>"$T/start.err"; is $? 0 "both cores bad: start --resume starts"
track web
like "$(cat "$T/start.err")" "the core $LISPD_STATE/web/web-3\.core did not start: the image (exited with status [0-9]+|was killed by signal [0-9]+[^ ]*) before it was ready$" \
    "saying the newest did not start"
like "$(cat "$T/start.err")" "web-2\.core cannot be used: .*; starting afresh" "and the one before cannot be used"
is "$(ev -s web '(fboundp (quote greet))')" NIL "the image is fresh"
like "$(lispd ls)" "web: started afresh: none of the 2 saved cores started" "ls says so"
lispd stop web >/dev/null 2>&1
rm -f "$LISPD_STATE"/web/*.core

# No core at all: afresh, said.
lispd start -u -s web >/dev/null 2>"$T/start.err"; is $? 0 "no core: start --resume starts"
track web
like "$(cat "$T/start.err")" "^lispd: web: no saved core in $LISPD_STATE/web: starting afresh$" "saying there is none"
lispd stop web >/dev/null 2>&1

# A core not ready in time is ended (LISPD_RESUME_WAIT), then the next.
start -s slow -- sbcl --noinform
ev -s slow '(defvar *slow* 1)' >/dev/null
lispd save slow >/dev/null 2>&1
ev -s slow '(push (lambda () (when (sb-ext:posix-getenv "LISPD_SESSION") (sleep 3600))) sb-ext:*init-hooks*)' >/dev/null
lispd stop --save slow >/dev/null 2>&1
LISPD_RESUME_WAIT=2 lispd start -u -s slow >/dev/null 2>"$T/start.err"; is $? 0 "a core that hangs: start --resume starts"
track slow
like "$(cat "$T/start.err")" "the core $LISPD_STATE/slow/slow-2\.core is not ready after 2 s: ending it" \
    "ending the core that is not ready in time"
like "$(cat "$T/start.err")" "resumed from $LISPD_STATE/slow/slow-1\.core" "then resuming from the one before"
is "$(ev -s slow '*slow*')" 1 "with its state"
lispd stop slow >/dev/null 2>&1

# Restarts resume too, and keep the runtime's settings.
lispd start -u --restart on-failure -s web -- sbcl --noinform >/dev/null 2>&1
track web
ev -s web '(defvar *again* 7)' >/dev/null
lispd save web >/dev/null 2>&1
is "$(ev -s web '(sb-alien:extern-alien "lose_on_corruption_p" sb-alien:int)')" 1 \
    "with a restart policy the image loses on corruption"
ev -s web '(sb-ext:exit :code 3 :abort t)' >/dev/null 2>&1
wait_until 30 eval '[ "$(ev -s web "*again*" 2>/dev/null)" = 7 ]'; ok $? "a restart resumes from the newest core"
track web
is "$(ev -s web '(sb-alien:extern-alien "lose_on_corruption_p" sb-alien:int)')" 1 \
    "and the resumed image does too (a core cannot take the runtime's options)"
lispd stop web >/dev/null 2>&1
rm -f "$LISPD_STATE"/web/*.core

# SIGTERM (a supervisor's stop) with --save-on-term: saved, then stopped.
"$LISPD" -S "$D" run --save-on-term -s sup -- sbcl --noinform >"$T/run.out" 2>&1 &
run=$!
PIDS="$PIDS $run"
wait_until 30 eval 'lispd wait -t 1 sup >/dev/null 2>&1'
track sup
ev -s sup '(defvar *supervised* :yes)' >/dev/null
kill -TERM $run
wait $run; is $? 0 "SIGTERM with --save-on-term: run exits with the image's status"
like "$(cat "$T/run.out")" "saved into $LISPD_STATE/sup/sup-1\.core" "after saving a core"
dead $run; ok $? "and the server is gone"
lispd start --resume -s sup >/dev/null 2>&1
track sup
is "$(ev -s sup '*supervised*')" :YES "which the next start resumes"
lispd stop sup >/dev/null 2>&1

# A -B image with its own toplevel: lispd:*save-toplevel* runs again. It
# has sb-posix in it: outside SBCL's directory it could not load it.
boot=$(cd "${srcdir:-.}" && pwd)/src/lispd.lisp
cat >"$T/app.lisp" <<'EOF'
(defvar *served* 0)
(defun main ()
  (incf *served*)
  (lispd:serve)
  (lispd:ready)
  (loop (sleep 60)))
(setf lispd:*save-toplevel* #'main)
EOF
sbcl --noinform --non-interactive --load "$boot" --load "$T/app.lisp" \
    --eval "(sb-ext:save-lisp-and-die \"$T/bare\" :executable t :toplevel #'main)" >"$T/app.log" 2>&1
start -B -s bare -- "$T/bare"
out=$(lispd save bare 2>&1); is $? 1 "an image that cannot load sb-posix: save exits 1"
like "$out" "cannot save: SBCL's sb-posix module, which the save forks with, does not load: build the image with \(require :sb-posix\), or start it with SBCL_HOME set" \
    "saying so and what to do"
is "$(ev -s bare '*served*')" 1 "and the image goes on"
lispd stop bare >/dev/null 2>&1
sbcl --noinform --non-interactive --eval '(require :sb-posix)' --load "$boot" --load "$T/app.lisp" \
    --eval "(sb-ext:save-lisp-and-die \"$T/app\" :executable t :toplevel #'main)" >"$T/app.log" 2>&1
ok $? "an application is built with the bootstrap, sb-posix and a toplevel"
start -B -s app -- "$T/app"
is "$(ev -s app '*served*')" 1 "its toplevel serves"
out=$(lispd stop --save app 2>&1); is $? 0 "stop --save saves and stops it"
lispd start -u -B -s app -- "$T/app" >/dev/null 2>&1; is $? 0 "start --resume starts it from its core"
track app
is "$(ev -s app '*served*')" 2 "and its toplevel ran again, in the saved state"
lispd stop app >/dev/null 2>&1

done_testing
