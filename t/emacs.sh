#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# contrib/emacs/lispd.el with real Emacs and Debian's SLIME, in batch mode:
# connect over the session's UNIX socket, slime-eval, completion, M-., a
# REPL round trip, UTF-8, disconnect and reconnect while the image lives
# on, a session that lispd-slime starts itself, and a connection through
# ssh (a real sshd on 127.0.0.1) whose file names TRAMP translates; ssh's
# stderr (a first contact's warning, a login banner) out of the stream and
# in a buffer, no advice on process-status, an unreachable host, a key the
# host refuses.
. "${srcdir:-.}/t/lib.sh"

slime=$(ls -d /usr/share/emacs/site-lisp/elpa/slime-* 2>/dev/null | head -1)
if ! command -v emacs >/dev/null || [ -z "$slime" ]; then
	echo "1..0 # SKIP emacs or Debian's slime is not installed (sh setup.sh check installs them)"
	exit 0
fi
sshd_usable || exit 0
lispd_el=$(cd "${srcdir:-.}" && pwd)/contrib/emacs/lispd.el
emacs_lib=$(cd "${srcdir:-.}" && pwd)/t/emacs-lib.el
lispd_boot=$(cd "${srcdir:-.}" && pwd)/src/lispd.lisp
start -s s -- sbcl --noinform
printf '%s\n' "Authorized uses only." "lispd-test-banner here" >"$T/banner"
sshd_banner=$T/banner	# shown by ssh without LogLevel=ERROR
sshd_start || exit 1
# ssh as a user has it: at its default LogLevel, saying what it does.
chatty="ssh -F /dev/null -i $T/ssh/id -o BatchMode=yes"
# A key the host does not know.
ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/other"

cat >"$T/test.el" <<EOT
(setq lispd-program "$LISPD" lispd-directory "$D")
(load "$lispd_el")
(slime-setup '(slime-repl))
(setq slime-kill-without-query-p t)
(load "$emacs_lib")
(say "connected" (connect "s"))
(say "sum" (slime-eval '(cl:+ 1 2)))
(say "pid" (image))
(say "utf8" (slime-eval '(cl:length "λ→ü")))
(say "complete" (complete))
(say "definition"
     (let ((xrefs (slime-eval '(swank:find-definitions-for-emacs "lispd:serve"))))
       (cadr (assq :file (cdr (cadr (car xrefs)))))))
(say "repl" (repl))
(say "disconnected" (disconnect))
(connect "s")
(say "again" (slime-eval '(cl:* 2 21)))
(disconnect)
(connect "fresh")
(say "fresh" (slime-eval '(cl:+ 40 2)))
(disconnect)
(say "sessions" (all-completions "" (completion-table-dynamic #'lispd--complete)))
(setq lispd-ssh-program (getenv "LISPD_SSH") lispd-program (concat "env XDG_CACHE_HOME=$T/rcache " (getenv "LISPD_REMOTE"))
      lispd-directory nil)
(say "ssh-sessions" (all-completions (concat "$host" ":")
                                     (completion-table-dynamic #'lispd--complete)))
(say "ssh" (connect (concat "$host" ":s")))
(say "ssh-pid" (image))
(say "ssh-translated"
     (substring-no-properties (slime-from-lisp-filename "/srv/app/x.lisp")))
(disconnect)
(defun ssh-log ()
  (let ((buf (get-buffer (format "*lispd-ssh %s*" "$host"))))
    (if buf (with-current-buffer buf (buffer-string)) "")))
;; Each step on its own: one that fails says so and the next runs.
(defmacro try (&rest body)
  \`(condition-case e (progn ,@body) (error (list 'error (error-message-string e)))))
(defun count-in (re text)
  (let ((n 0) (start 0))
    (while (string-match re text start) (setq n (1+ n) start (match-end 0)))
    n))
(defun ssh-procs ()
  (cl-remove-if-not (lambda (p) (string-prefix-p "lispd-ssh" (process-name p)))
                    (process-list)))
(say "ssh-gone" (wait-for (lambda () (null (ssh-procs))) 10))
;; A first contact: a fresh known_hosts, and the banner, on ssh's stderr.
(setq lispd-ssh-program
      "$chatty -p $port -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=$T/known_hosts")
(say "first" (try (connect (concat "$host" ":s"))))
(say "first-sum" (try (slime-eval '(cl:+ 1 2))))
(say "first-warned" (count-in "Permanently added" (ssh-log)))
(say "first-banner" (> (count-in "lispd-test-banner here" (ssh-log)) 0))
(disconnect)
;; Every ssh a first contact: the warning is on the swank ssh's stderr too.
(setq lispd-ssh-program
      "$chatty -p $port -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=/dev/null")
(let ((before (count-in "Permanently added" (ssh-log))))
  (say "every" (try (connect (concat "$host" ":s"))))
  (say "every-sum" (try (slime-eval '(cl:+ 1 2))))
  (say "every-warned" (- (count-in "Permanently added" (ssh-log)) before)))
(say "advice" (list (advice-member-p 'lispd--process-status 'process-status)
                    (advice--p (advice--symbol-function 'process-status))
                    (advice--p (advice--symbol-function 'slime-connection-port))))
(disconnect)
(say "every-gone" (wait-for (lambda () (null (ssh-procs))) 10))
;; Failures: one user-error, soon.
(defun failure (target)
  (let ((t0 (float-time)))
    (prog1 (condition-case e (progn (lispd-connect target) 'connected)
             (user-error (cadr e))
             (error (list 'not-a-user-error e)))
      (say "failure-quick" (< (- (float-time) t0) 20)))))
(setq lispd-ssh-program "$chatty -p 1 -o ConnectTimeout=10 -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=$T/known_hosts")
(say "unreachable" (failure (concat "$host" ":s")))
(setq lispd-ssh-program "$chatty -p $port -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=$T/known_hosts"
      lispd-program "lispd-not-installed")
(say "missing" (failure (concat "$host" ":s")))
(setq lispd-ssh-program "ssh -F /dev/null -i $T/ssh/other -o IdentitiesOnly=yes -o BatchMode=yes -p $port -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=$T/known_hosts"
      lispd-program "$LISPD_REMOTE")
(say "refused" (failure (concat "$host" ":s")))
(say "failed-procs" (ssh-procs))
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
is "$(get ssh-gone)" t "slime-disconnect ends ssh"
is "$(get first)" t "at a first contact with a host (its key added), with a banner, SLIME connects"
is "$(get first-sum)" 3 "and slime-eval works"
like "$(get first-warned)" '^[1-9]' "ssh's warning is in the buffer *lispd-ssh $host*"
is "$(get first-banner)" t "and so is the banner"
is "$(get every)" t "with the warning on every ssh, the swank one's too, SLIME connects"
is "$(get every-sum)" 3 "and slime-eval works"
like "$(get every-warned)" '^[2-9]' "the warnings of the ls and the swank ssh are in the buffer"
is "$(get advice)" "(nil nil nil)" "no advice on process-status or slime-connection-port"
is "$(get every-gone)" t "and disconnecting ends ssh"
like "$(get unreachable)" '^"lispd: ssh to [^ ]+ failed: ssh: connect to host 127.0.0.1 port 1: Connection refused \(see buffer \*lispd-ssh [^ ]+\*; check ' \
    "a host nothing answers on: one clear user-error"
like "$(get missing)" '^"lispd: no lispd on [^ ]+ for ls: .*not found \(install lispd there, or set .lispd-program.\)"$' \
    "no lispd there: one clear user-error"
like "$(get refused)" '^"lispd: ssh to [^ ]+ failed: .*Permission denied \(publickey.*\(see buffer \*lispd-ssh [^ ]+\*; check ' \
    "a key the host refuses: one clear user-error"
is "$(printf '%s\n' "$out" | grep -c '^failure-quick=t$')" 3 "each within 20 s"
is "$(get failed-procs)" nil "and no ssh left running"

done_testing
