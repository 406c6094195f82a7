#!/bin/sh
# contrib/emacs/lispd.el's console and reconnect, with real Emacs in
# batch mode: M-x lispd-console (lispd attach -P in a comint buffer): the
# scrollback first, a line typed is evaluated, another thread's output,
# C-c C-c interrupts, ^D and the detach key leave the image running; and
# SLIME reconnecting by itself to an image restarted under --restart
# on-failure, but not after lispd-disconnect.
. "${srcdir:-.}/t/lib.sh"

slime=$(ls -d /usr/share/emacs/site-lisp/elpa/slime-* 2>/dev/null | head -1)
if ! command -v emacs >/dev/null || [ -z "$slime" ]; then
	echo "1..0 # SKIP emacs or Debian's slime is not installed (sh setup.sh check installs them)"
	exit 0
fi
lispd_el=$(cd "${srcdir:-.}" && pwd)/contrib/emacs/lispd.el
# A private HOME: nothing of the user's Emacs or SLIME is read or written.
HOME=$T/home
export HOME
mkdir -p "$HOME"

cat >"$T/common.el" <<EOT
(setq lispd-program "$LISPD" lispd-directory "$D")
(load "$lispd_el")
(setq slime-kill-without-query-p t print-escape-newlines t)
(defun wait-for (pred secs)
  (let ((end (+ (float-time) secs)))
    (while (and (not (funcall pred)) (< (float-time) end))
      (accept-process-output nil 0.05))
    (funcall pred)))
(defun say (key value)		; at once: the shell reads it while Emacs runs
  (write-region (format "%s=%S\n" key value) nil (getenv "OUT") t 0))
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

# The console.
start -s c -- sbcl --noinform
cpid=$(image_pid c)
lispd send c '(format t "scroll-~a~%" (* 6 7))'
wait_until 10 eval 'lispd log c | grep -q "^scroll-42"'
cat >"$T/console.el" <<EOT
(defvar buf (lispd-console "c"))
(defun shown (re)
  (wait-for (lambda ()
              (with-current-buffer buf
                (save-excursion
                  (goto-char (point-min))
                  (and (re-search-forward re nil t) t))))
            15))
(defun type (text)
  (with-current-buffer buf
    (goto-char (point-max))
    (insert text)
    (comint-send-input)))
(defun proc-live () (and (process-live-p (get-buffer-process buf)) t))
(say "mode" (with-current-buffer buf major-mode))
(say "scrollback" (shown "^scroll-42$"))
(say "no-cr" (with-current-buffer buf
               (not (string-match-p "\r" (buffer-string)))))
(type "(format t \"typed-~a~%\" (* 6 7))")
(say "typed" (shown "^typed-42$"))
(write-region "" nil "$T/console.ready")
(say "thread" (shown "thread-out$"))
(type "(progn (format t \"sleeping~%\") (finish-output) (sleep 600))")
(shown "^sleeping$")
(with-current-buffer buf
  (execute-kbd-macro (kbd "C-c C-c")))
(say "interrupted" (shown "Interactive interrupt"))
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
(with-current-buffer buf (write-region nil nil "$T/console.text"))
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
is $? 0 "emacs --batch ran the console through (see $T/console.err)"
PIDS="$PIDS $(cat "$T/emacs.pids" 2>/dev/null)"
o=$T/console.out
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

done_testing
