#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# contrib/emacs/lispd.el's console and reconnect, with real Emacs in
# batch mode: M-x lispd-console (lispd attach -P in a comint buffer): the
# scrollback first, a line typed is evaluated, another thread's output,
# C-c C-c interrupts, ^D and the detach key leave the image running; and
# SLIME reconnecting by itself to an image restarted under --restart
# on-failure, but not after slime-disconnect or lispd-disconnect, nor to a
# session stopped, nor with lispd-reconnect nil; the backoff and giving up
# when every attempt fails; through ssh, the console of host:NAME and a
# dropped link reconnected.
. "${srcdir:-.}/t/lib.sh"

slime=$(ls -d /usr/share/emacs/site-lisp/elpa/slime-* 2>/dev/null | head -1)
if ! command -v emacs >/dev/null || [ -z "$slime" ]; then
	echo "1..0 # SKIP emacs or Debian's slime is not installed (sh setup.sh check installs them)"
	exit 0
fi
lispd_el=$(cd "${srcdir:-.}" && pwd)/contrib/emacs/lispd.el
emacs_lib=$(cd "${srcdir:-.}" && pwd)/t/emacs-lib.el
# A private HOME: nothing of the user's Emacs or SLIME is read or written.
HOME=$T/home
export HOME
mkdir -p "$HOME"

cat >"$T/common.el" <<EOT
(setq lispd-program "$LISPD" lispd-directory "$D")
(load "$lispd_el")
(setq slime-kill-without-query-p t print-escape-newlines t)
(load "$emacs_lib")
(with-temp-file "$T/emacs.pids" (insert (format "%d\n" (emacs-pid))))
EOT
get() {
	sed -n "s/^$2=//p" "$1" 2>/dev/null
}
# run_emacs SECONDS NAME: $T/NAME.el, what it says in $T/NAME.out.
run_emacs() {
	OUT=$T/$2.out timeout "$1" emacs --batch -Q -L "$slime" \
	    -l "$T/common.el" -l "$T/$2.el" >"$T/$2.err" 2>&1
}
# ran NAME STATUS WHAT: Emacs NAME exited STATUS, 0 if it ran WHAT through
# (else its last words are shown); its pid is for the end's check; its
# answers are in $o.
ran() {
	is "$2" 0 "emacs --batch ran $3 through (see $T/$1.err)"
	[ "$2" -eq 0 ] || tail -20 "$T/$1.err" | sed 's/^/#   /'
	PIDS="$PIDS $(cat "$T/emacs.pids" 2>/dev/null)"
	o=$T/$1.out
}

# The console.
start -s c -- sbcl --noinform
cpid=$(image_pid c)
lispd send c '(format t "scroll-~a~%" (* 6 7))'
wait_until 10 eval 'lispd log c | grep -q "^scroll-42"'
cat >"$T/console.el" <<EOT
(setq buf (lispd-console "c"))
(defun proc-live () (and (process-live-p (get-buffer-process buf)) t))
(say "mode" (with-current-buffer buf major-mode))
(say "scrollback" (shown "^scroll-42$"))
(say "no-cr" (with-current-buffer buf
               (not (string-match-p "\r" (buffer-string)))))
(type "(format t \"typed-~a~%\" (* 6 7))")
(say "typed" (shown "^typed-42$"))
(write-region "" nil "$T/console.ready")
(say "thread" (shown "thread-out$"))
(say "interrupted" (interrupt))
(type "abort")			; the debugger's restart, to the REPL
(say "aborted" (shown "^\\* $"))
(with-current-buffer buf
  (goto-char (point-max))
  (execute-kbd-macro (kbd "C-d")))
(say "key-d-live" (proc-live))
(with-current-buffer buf (comint-send-eof))
(write-region "" nil "$T/console.eof")
(wait-for (lambda () (file-exists-p "$T/console.go")) 30)
(setq buf (lispd-console "c"))
(say "again" (proc-live))
(say "again-scrollback" (shown "^scroll-42$"))
(type "(format t \"again-~a~%\" (* 6 7))")
(say "again-typed" (shown "^again-42$"))
(with-current-buffer buf
  (execute-kbd-macro (kbd "C-c C-d")))
(say "detached" (wait-for (lambda () (not (proc-live))) 10))
(say "said" (shown "^\\\\[detached from c\\\\]$"))
(say "echo" (with-current-buffer "*Messages*"
              (and (string-match-p "lispd: console c: detached" (buffer-string)) t)))
EOT
run_emacs 90 console &
e=$!
wait_until 60 sh -c "[ -f '$T/console.ready' ] || ! kill -0 $e"
lispd send c '(sb-thread:make-thread (lambda () (format t "thread-out~%") (finish-output)))'
wait_until 60 sh -c "[ -f '$T/console.eof' ] || ! kill -0 $e"
eof_pid=$(image_pid c)
touch "$T/console.go"
wait "$e"
ran console $? "the console"
is "$(get "$o" mode)" lispd-console-mode "lispd-console opens a buffer in lispd-console-mode"
is "$(get "$o" scrollback)" t "the scrollback comes first"
is "$(get "$o" no-cr)" t "lines end LF, no CR"
is "$(get "$o" typed)" t "a line typed is evaluated, its output shown"
is "$(get "$o" thread)" t "another thread's output is shown"
is "$(get "$o" interrupted)" t "C-c C-c interrupts the image"
is "$(get "$o" aborted)" t "and the debugger's abort, typed, returns to the REPL"
is "$(get "$o" key-d-live)" t "C-d at the end of input does not detach"
is "$eof_pid" "$cpid" "nor does comint-send-eof end the image"
is "$(get "$o" again)" t "a console opens again"
is "$(get "$o" again-scrollback)" t "the scrollback first again"
is "$(get "$o" again-typed)" t "and evaluates what is typed"
is "$(get "$o" detached)" t "C-c C-d detaches"
is "$(get "$o" said)" t "saying so in the buffer"
is "$(get "$o" echo)" t "and in the echo area"
is "$(image_pid c)" "$cpid" "the image runs on"
like "$(lispd eval -s c '(+ 1 2)')" '^3$' "and answers"

# Reconnect: the image killed under --restart on-failure, SLIME connects
# again by itself to the new one; never after slime-disconnect or
# lispd-disconnect.
start -s r --restart on-failure -- sbcl --noinform
cat >"$T/reconnect.el" <<EOT
(slime-setup '(slime-repl))
;; kill-image N: have the shell kill -9 the image; wait until SLIME lost it.
(defun kill-image (n)
  (write-region (format "%d\n" (image)) nil (format "$T/kill%d" n))
  (wait-for (lambda () (null slime-net-processes)) 30))
(lispd-connect "r")
(say "connected" (wait-for (lambda () (= connections 1)) 30))
(defvar repl (slime-output-buffer))
(say "pid1" (image))
(say "lost" (kill-image 1))
(say "reconnected" (wait-for (lambda () (= connections 2)) 60))
(say "pid2" (image))
(say "sum" (slime-eval '(cl:+ 1 2)))
(say "repl-kept" (and (buffer-live-p repl) (eq repl (slime-output-buffer))))
(say "said" (messages "^lispd: reconnecting to r (attempt 1)\\\\.\\\\.\\\\.$"))
;; The user's slime-disconnect: no reconnect.
(slime-disconnect)
(say "user-gone" (wait-for (lambda () (null slime-net-processes)) 10))
(say "user-stayed" (not (wait-for (lambda () slime-net-processes) 4)))
;; lispd-disconnect while a reconnect waits: none.
(lispd-connect "r")
(wait-for (lambda () (= connections 3)) 30)
(say "lost2" (kill-image 2))
(lispd-disconnect)
(say "disconnect-stayed" (not (wait-for (lambda () slime-net-processes) 8)))
(say "connections" connections)
;; lispd-disconnect of a connection: closed, and no reconnect.
(write-region "" nil "$T/ready3")
(wait-for (lambda () (file-exists-p "$T/go3")) 30)
(lispd-connect "r")
(say "connected3" (wait-for (lambda () (= connections 4)) 30))
(say "pid3" (image))
(lispd-disconnect)
(say "closed3" (null slime-net-processes))
(say "stayed3" (not (wait-for (lambda () slime-net-processes) 4)))
(say "pids" (process-list))
EOT
run_emacs 200 reconnect &
e=$!
for n in 1 2; do
	wait_until 60 sh -c "[ -s '$T/kill$n' ] || ! kill -0 $e"
	[ -s "$T/kill$n" ] && kill -9 "$(cat "$T/kill$n")"
done
# The image restarted after the second kill: ready for the third
# connection.
wait_until 60 sh -c "[ -f '$T/ready3' ] || ! kill -0 $e"
wait_until 30 eval 'lispd ls | grep -Eq "^r +[0-9]+ +running .* $swank_up "'
touch "$T/go3"
wait "$e"
ran reconnect $? "the reconnections"
track r
is "$(get "$o" connected)" t "lispd-connect connects SLIME to r"
is "$(get "$o" pid1)" "$(cat "$T/kill1")" "slime-eval in r's image"
is "$(get "$o" lost)" t "kill -9 of the image closes SLIME's connection"
is "$(get "$o" reconnected)" t "and lispd.el reconnects by itself"
like "$(get "$o" pid2)" '^[0-9]+$' "slime-eval works again"
[ "$(get "$o" pid2)" != "$(get "$o" pid1)" ]; ok $? "in the new image"
is "$(get "$o" sum)" 3 "which computes"
is "$(get "$o" repl-kept)" t "the REPL buffer carries on"
is "$(get "$o" said)" 1 "the echo area said: lispd: reconnecting to r (attempt 1)..."
is "$(get "$o" user-gone)" t "slime-disconnect closes the connection"
is "$(get "$o" user-stayed)" t "and no reconnect follows"
is "$(get "$o" lost2)" t "a second kill -9 closes the connection again"
is "$(get "$o" disconnect-stayed)" t "lispd-disconnect then: no reconnect within 8 s"
is "$(get "$o" connections)" 3 "none at all"
is "$(get "$o" connected3)" t "lispd-connect connects again"
is "$(get "$o" closed3)" t "lispd-disconnect closes the connection"
is "$(get "$o" stayed3)" t "and no reconnect follows"
is "$(image_pid r)" "$(get "$o" pid3)" "the image runs on"
like "$(lispd eval -s r '(+ 1 2)')" '^3$' "and answers"

# A session stopped is not reconnected to (nor started again); with
# lispd-reconnect nil, a restarted image is not either.
start -s g -- sbcl --noinform
cat >"$T/gone.el" <<EOT
(slime-setup '(slime-repl))
(lispd-connect "g")
(say "connected" (wait-for (lambda () (= connections 1)) 30))
(write-region "" nil "$T/stop-g")
(say "lost" (wait-for (lambda () (null slime-net-processes)) 30))
(say "gone" (wait-for (lambda ()
                        (> (messages "^lispd: session g is gone: not reconnecting$") 0))
                      30))
(say "connections" connections)
(setq lispd-reconnect nil)
(lispd-connect "r")
(say "connected-r" (wait-for (lambda () (= connections 2)) 30))
(write-region (format "%d\n" (image)) nil "$T/kill3")
(say "lost-r" (wait-for (lambda () (null slime-net-processes)) 30))
(say "stayed-r" (not (wait-for (lambda () slime-net-processes) 4)))
(say "tried" (messages "^lispd: reconnecting to r"))
;; Backoff, then giving up: every attempt fails (lispd-program false).
(setq lispd-reconnect t lispd-reconnect-delays '(0.3 0.6)
      lispd-reconnect-limit 3)
(wait-for (lambda () (file-exists-p "$T/go4")) 60)
(lispd-connect "r")
(say "connected-b" (wait-for (lambda () (= connections 3)) 30))
(write-region (format "%d\n" (image)) nil "$T/kill4")
(say "lost-b" (wait-for (lambda () (null slime-net-processes)) 30))
(setq lispd-program "false")
(say "gave-up" (wait-for (lambda ()
                           (> (messages "^lispd: gave up reconnecting to r after [0-9]+ s: ") 0))
                         15))
(say "attempts" (messages "^lispd: reconnecting to r (attempt [0-9]+)\\.\\.\\.$"))
(say "stayed-b" (not (wait-for (lambda () slime-net-processes) 2)))
(setq lispd-program "$LISPD")
EOT
run_emacs 120 gone &
e=$!
wait_until 60 sh -c "[ -f '$T/stop-g' ] || ! kill -0 $e"
lispd stop g >/dev/null 2>&1
wait_until 60 sh -c "[ -s '$T/kill3' ] || ! kill -0 $e"
[ -s "$T/kill3" ] && kill -9 "$(cat "$T/kill3")"
wait_until 30 eval 'lispd ls | grep -Eq "^r +[0-9]+ +running .* $swank_up "'
touch "$T/go4"
wait_until 60 sh -c "[ -s '$T/kill4' ] || ! kill -0 $e"
[ -s "$T/kill4" ] && kill -9 "$(cat "$T/kill4")"
wait "$e"
ran gone $? "the stopped session"
track r
track g		# if lispd.el started it again
is "$(get "$o" connected)" t "SLIME connected to g"
is "$(get "$o" lost)" t "lispd stop g closes the connection"
is "$(get "$o" gone)" t "lispd.el says g is gone, not reconnecting"
is "$(get "$o" connections)" 1 "and does not"
is "$(lispd ls | grep -c '^g ')" 0 "nor starts g again"
is "$(get "$o" connected-r)" t "with lispd-reconnect nil, SLIME connects to r"
is "$(get "$o" lost-r)" t "kill -9 of the image closes the connection"
is "$(get "$o" stayed-r)" t "and no reconnect follows"
is "$(get "$o" tried)" 0 "none is tried"
is "$(get "$o" connected-b)" t "SLIME connects to r again"
is "$(get "$o" lost-b)" t "kill -9 closes it"
is "$(get "$o" gave-up)" t "every reconnect failing, lispd.el gives up after lispd-reconnect-limit, saying why"
like "$(get "$o" attempts)" '^[2-9]$' "after attempts at the lispd-reconnect-delays ($(get "$o" attempts))"
is "$(get "$o" stayed-b)" t "and tries no more"
wait_until 30 eval 'lispd ls | grep -Eq "^r +[0-9]+ +running .* $swank_up "'
ok $? "r's image restarted meanwhile"

# Through ssh (a real sshd on 127.0.0.1): the console of host:c, and a
# dropped link, which SLIME reconnects to the same image.
if sshd_usable >/dev/null && sshd_start; then
	cat >"$T/ssh.el" <<EOT
(slime-setup '(slime-repl))
(setq lispd-ssh-program (getenv "LISPD_SSH") lispd-program (getenv "LISPD_REMOTE")
      lispd-directory nil)
(setq buf (lispd-console "$host:c"))
(say "name" (buffer-name buf))
(say "scrollback" (shown "^again-42$"))
(type "(format t \"ssh-~a~%\" (* 6 7))")
(say "typed" (shown "^ssh-42$"))
(say "interrupted" (interrupt))
(type "abort")
(with-current-buffer buf
  (execute-kbd-macro (kbd "C-c C-z")))
(say "detached" (wait-for (lambda () (not (process-live-p (get-buffer-process buf)))) 15))
(defun detach-said ()		; the sentinel may run after the status
  (with-current-buffer "*Messages*"
    (save-excursion
      (goto-char (point-min))
      (how-many "^lispd: console $host:c: detached$"))))
(say "echo" (progn (wait-for (lambda () (> (detach-said) 0)) 10) (detach-said)))
(say "said" (shown "^\\\\[detached from $host:c\\\\]$"))
(say "stderr-apart" (with-current-buffer buf
                      (not (string-match-p "^\\\\[detached from c\\\\]" (buffer-string)))))
(say "console-procs" (cl-remove-if-not
                      (lambda (p) (string-prefix-p "lispd-console" (process-name p)))
                      (process-list)))
;; SLIME through ssh; the link drops (ssh killed): it reconnects.
(lispd-connect "$host:r")
(say "connected" (wait-for (lambda () (= connections 1)) 30))
(say "pid1" (image))
(signal-process (process-get (slime-connection) 'lispd-ssh) 'KILL)
(say "lost" (wait-for (lambda () (null slime-net-processes)) 15))
(say "reconnected" (wait-for (lambda () (= connections 2)) 60))
(say "pid2" (image))
(say "said-ssh" (with-current-buffer "*Messages*"
                  (save-excursion
                    (goto-char (point-min))
                    (how-many "^lispd: reconnecting to $host:r (attempt 1)\\\\.\\\\.\\\\.$"))))
(lispd-disconnect)
(say "closed" (null slime-net-processes))
(say "ssh-gone" (wait-for (lambda ()
                            (null (cl-remove-if-not
                                   (lambda (p) (string-prefix-p "lispd-ssh" (process-name p)))
                                   (process-list))))
                          10))
EOT
	run_emacs 150 ssh
	ran ssh $? "the ssh part"
	is "$(get "$o" name)" "\"*lispd-console $host:c*\"" "lispd-console host:c opens *lispd-console host:c*"
	is "$(get "$o" scrollback)" t "the scrollback comes through ssh lispd attach -P"
	is "$(get "$o" typed)" t "a line typed is evaluated"
	is "$(get "$o" interrupted)" t "C-c C-c interrupts the image through ssh"
	is "$(get "$o" detached)" t "C-c C-z detaches"
	is "$(get "$o" echo)" 1 "with status 0, the echo area says"
	is "$(get "$o" said)" t "and so does the buffer"
	is "$(get "$o" stderr-apart)" t "lispd's stderr is not in the console buffer"
	is "$(get "$o" console-procs)" nil "and nothing of the console is left running"
	is "$(image_pid c)" "$cpid" "c's image runs on"
	is "$(get "$o" connected)" t "lispd-connect host:r connects SLIME through ssh"
	is "$(get "$o" lost)" t "ssh killed: the connection is lost"
	is "$(get "$o" reconnected)" t "and lispd.el reconnects by itself"
	is "$(get "$o" pid2)" "$(get "$o" pid1)" "to the same image"
	is "$(get "$o" said-ssh)" 1 "saying lispd: reconnecting to $host:r (attempt 1)..."
	is "$(get "$o" closed)" t "lispd-disconnect closes it"
	is "$(get "$o" ssh-gone)" t "and ends ssh"
else
	ok 0 "# SKIP no sshd for the ssh part"
fi

done_testing
