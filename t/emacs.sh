#!/bin/sh
# contrib/emacs/lispd.el with real Emacs and Debian's SLIME, in batch mode:
# connect over the session's UNIX socket, slime-eval, completion, M-., a
# REPL round trip, UTF-8, disconnect and reconnect while the image lives
# on, a session that lispd-slime starts itself, and a connection through
# ssh (a real sshd on 127.0.0.1) whose file names TRAMP translates.
. "${srcdir:-.}/t/lib.sh"

slime=$(ls -d /usr/share/emacs/site-lisp/elpa/slime-* 2>/dev/null | head -1)
if ! command -v emacs >/dev/null || [ -z "$slime" ]; then
	echo "1..0 # SKIP emacs or Debian's slime is not installed (sh setup.sh check installs them)"
	exit 0
fi
sshd_usable || exit 0
lispd_el=$(cd "${srcdir:-.}" && pwd)/contrib/emacs/lispd.el
lispd_boot=$(cd "${srcdir:-.}" && pwd)/src/lispd.lisp
start -s s -- sbcl --noinform
sshd_start || exit 1

cat >"$T/test.el" <<EOT
(setq lispd-program "$LISPD" lispd-directory "$D")
(load "$lispd_el")
(slime-setup '(slime-repl))
(setq slime-kill-without-query-p t)
(defun wait-for (pred secs)
  (let ((end (+ (float-time) secs)))
    (while (and (not (funcall pred)) (< (float-time) end))
      (accept-process-output nil 0.05))
    (funcall pred)))
(defun say (key value) (princ (format "%s=%S\n" key value)))
;; SLIME finishes a connection asynchronously: wait for it each time.
(defvar connected nil)
(add-hook 'slime-connected-hook (lambda () (setq connected t)))
(defun connect (target)
  (setq connected nil)
  (lispd-connect target)
  (wait-for (lambda () connected) 30))
(say "connected" (connect "s"))
(say "sum" (slime-eval '(cl:+ 1 2)))
(say "pid" (slime-eval '(swank/backend:getpid)))
(say "utf8" (slime-eval '(cl:length "λ→ü")))
(say "complete" (car (slime-eval '(swank:simple-completions "mapca" "COMMON-LISP-USER"))))
(say "definition"
     (let ((xrefs (slime-eval '(swank:find-definitions-for-emacs "lispd:serve"))))
       (cadr (assq :file (cdr (cadr (car xrefs)))))))
(let ((repl (slime-output-buffer)))
  (with-current-buffer repl
    (goto-char (point-max))
    (insert "(* 6 7)")
    (slime-repl-return)
    (say "repl" (wait-for (lambda ()
                            (with-current-buffer repl
                              (save-excursion
                                (goto-char (point-min))
                                (and (re-search-forward "^42$" nil t) t))))
                          10))))
(slime-disconnect-all)
(say "disconnected" (wait-for (lambda () (null slime-net-processes)) 10))
(connect "s")
(say "again" (slime-eval '(cl:* 2 21)))
(slime-disconnect-all)
(wait-for (lambda () (null slime-net-processes)) 10)
(connect "fresh")
(say "fresh" (slime-eval '(cl:+ 40 2)))
(slime-disconnect-all)
(wait-for (lambda () (null slime-net-processes)) 10)
(say "sessions" (all-completions "" (completion-table-dynamic #'lispd--complete)))
(setq lispd-ssh-program (getenv "LISPD_SSH") lispd-program (getenv "LISPD_REMOTE")
      lispd-directory nil)
(say "ssh-sessions" (all-completions (concat "$host" ":")
                                     (completion-table-dynamic #'lispd--complete)))
(say "ssh" (connect (concat "$host" ":s")))
(say "ssh-pid" (slime-eval '(swank/backend:getpid)))
(say "ssh-translated"
     (substring-no-properties (slime-from-lisp-filename "/srv/app/x.lisp")))
(slime-disconnect-all)
(wait-for (lambda () (null slime-net-processes)) 10)
EOT

out=$(timeout 120 emacs --batch -Q -L "$slime" -l "$T/test.el" 2>"$T/emacs.err")
rc=$?
track fresh
is $rc 0 "emacs --batch ran the session through (see $T/emacs.err)"
[ $rc -eq 0 ] || sed 's/^/#   /' "$T/emacs.err" | tail -20
get() {
	printf '%s\n' "$out" | sed -n "s/^$1=//p"
}
is "$(get connected)" t "lispd-connect: SLIME connects over the UNIX socket"
is "$(get sum)" 3 "slime-eval"
is "$(get pid)" "$(image_pid s)" "in the session's image"
is "$(get utf8)" 3 "UTF-8 round-trips"
is "$(get repl)" t "a REPL round trip in the slime-repl buffer"
is "$(get disconnected)" t "slime-disconnect closes the connection"
is "$(get again)" 42 "and a new connection reaches the same image"
alive "$(image_pid s)"; ok $? "which lived on"
is "$(get complete)" '("mapcan" "mapcar")' "completion"
is "$(get definition)" "\"$lispd_boot\"" "M-. finds a definition's file"
is "$(get fresh)" 42 "a session not running is started, then connected"
like "$(lispd ls)" "^fresh +[0-9]+ running" "and runs on"
is "$(get sessions)" '("fresh" "s")' "lispd-slime completes on the local sessions"
is "$(get ssh-sessions)" "(\"$host:fresh\" \"$host:s\")" "and on a host's, through ssh"
is "$(get ssh)" t "lispd-connect host:NAME connects through ssh lispd swank"
is "$(get ssh-pid)" "$(image_pid s)" "to the session's image"
like "$(get ssh-translated)" "^\"/[a-z]+:$host:/srv/app/x\.lisp\"$" \
    "and M-. names files on that host through TRAMP"

done_testing
