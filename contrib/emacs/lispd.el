;;; lispd.el --- SLIME to lispd sessions, over UNIX sockets and ssh -*- lexical-binding: t -*-
;; SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors

;; Usage:
;;
;;   (require 'lispd)
;;   M-x lispd-slime RET web RET        ; the local session "web"
;;   M-x lispd-slime RET box:web RET    ; session "web" on host box, via ssh
;;   M-x lispd-console RET web RET      ; its console, in a comint buffer
;;   M-x lispd-disconnect               ; close SLIME's lispd connections
;;
;; Each lispd session serves swank on NAME.swank, a UNIX-domain socket in
;; its directory, never on a TCP port. Stock SLIME connects only to TCP
;; ports, so this file makes the connection itself, a local network
;; process on the socket, and hands it to SLIME's own connection setup.
;; A session on another host is reached through `ssh HOST lispd swank
;; NAME', relayed to SLIME through a local socket in a private directory,
;; so that SLIME gets a real network process here too and no Emacs or
;; SLIME function is advised. What ssh writes on stderr (a first
;; contact's host key warning, a login banner) goes to the buffer
;; "*lispd-ssh HOST*", never into the swank stream; an ssh failure is
;; one message in the echo area. A session that is not running is started
;; first.
;;
;; A local session serves this SLIME's own swank, so that SLIME never asks
;; "Versions differ: ... Continue?": before connecting, `lispd swank -w
;; LOADER -n NAME' makes the image load the swank-loader.lisp of this
;; SLIME (`slime-backend' in `slime-path') in place of the one it has,
;; if no other swank client is connected (the first load compiles, for
;; seconds). If one is, with the old version, the connection is refused
;; with one message naming both versions. A session started here loads
;; this SLIME's swank from the start (start -w). Over ssh the same holds:
;; the first time, the sources of this SLIME's swank are sent to the host
;; as a tar archive (`lispd swank -C VERSION'), which lispd keeps in the
;; user's cache there ($XDG_CACHE_HOME/lispd/swank/VERSION, by default
;; ~/.cache/lispd/swank/VERSION), and `lispd swank -c
;; VERSION' finds them the next times.
;;
;; When the other end closes a connection (the image restarted under
;; `lispd start --restart on-failure', the ssh link dropped), SLIME is
;; reconnected by itself, with backoff (`lispd-reconnect-delays', up to
;; `lispd-reconnect-limit' seconds), in the same REPL buffer; never after
;; `slime-disconnect' or `lispd-disconnect', nor with `lispd-reconnect'
;; nil. Images are never stopped by disconnecting.
;;
;; `lispd-console' is the session's console, `lispd attach -P NAME' (over
;; ssh for host:NAME, its stderr in the host's ssh buffer) in the comint
;; buffer *lispd-console NAME*: the scrollback, then what every thread
;; prints. C-c C-c interrupts the image (C-c typed in-band), C-c C-d or
;; C-c C-z detaches, and C-d at the end of input sends the line, since an
;; end of input would detach.

;;; Code:

(require 'cl-lib)
(require 'slime)

(defgroup lispd nil
  "SLIME connections to lispd sessions."
  :group 'slime
  :prefix "lispd-")

(defcustom lispd-program "lispd"
  "The lispd program, here and on remote hosts."
  :type 'string)

(defcustom lispd-ssh-program (or (getenv "LISPD_SSH") "ssh")
  "The ssh command for remote hosts, with any options, split on spaces."
  :type 'string)

(defcustom lispd-directory nil
  "The socket directory; nil for lispd's: $LISPD_DIR, else /tmp/lispd-UID."
  :type '(choice (const :tag "lispd's default" nil) directory))

(defun lispd--directory ()
  (or lispd-directory (getenv "LISPD_DIR")
      (format "/tmp/lispd-%d" (user-uid))))

(defun lispd--split (target)
  "TARGET, \"[user@]host:name\" or \"name\", as (HOST . NAME)."
  (if (string-match "\\`\\(.+\\):\\([A-Za-z0-9._-]+\\)\\'" target)
      (cons (match-string 1 target) (match-string 2 target))
    (cons nil target)))

(defun lispd--command (host args)
  "The command line that runs lispd with ARGS, through ssh on HOST."
  (let ((dir (and (null host) lispd-directory
                  (list "-S" (expand-file-name lispd-directory)))))
    (if host
        (append (split-string lispd-ssh-program) (list host lispd-program)
                args)
      (append (list lispd-program) dir args))))

(defun lispd--ssh-buffer (host)
  "The buffer for what ssh to HOST writes on stderr."
  (get-buffer-create (format "*lispd-ssh %s*" host)))

(defun lispd--last-line (text)
  (car (last (split-string (or text "") "[\r\n]+" t "[ \t]+"))))

(defun lispd--ssh-failed (host status what stderr)
  "An ssh failure as one message saying what to do, or nil if STATUS,
of ssh running lispd WHAT on HOST, is lispd's own."
  (let ((line (or (lispd--last-line stderr) "no message")))
    (cond ((eql status 255)
           (format "lispd: ssh to %s failed: %s (see buffer *lispd-ssh %s*; \
check the host, its key and `lispd-ssh-program')" host line host))
          ((and (eql status 127) (not (string-prefix-p "lispd" line)))
           (format "lispd: no lispd on %s for %s: %s (install lispd there, \
or set `lispd-program')" host what line)))))

(defun lispd--said (what line)
  "LINE, what lispd WHAT said when it failed; lispd's own line names
itself (\"lispd swank: ...\"), else it is prefixed."
  (if (string-prefix-p "lispd" line)
      line
    (format "lispd %s: %s" what line)))

(defvar lispd--input nil "A file for `lispd--call' to give lispd on stdin.")

(defun lispd--call (host &rest args)
  "Run lispd with ARGS (on HOST): its output, or an error with it.
stderr is kept apart: through ssh, it goes to HOST's ssh buffer."
  (let ((cmd (lispd--command host args))
        (err (with-file-modes #o600 (make-temp-file "lispd-stderr")))
        (what (mapconcat #'identity args " ")))
    (unwind-protect
        (with-temp-buffer
          (let* ((status (apply #'call-process (car cmd) lispd--input (list t err) nil
                                (cdr cmd)))
                 (stderr (with-temp-buffer
                           (insert-file-contents err)
                           (buffer-string))))
            (when (and host (> (length stderr) 0))
              (with-current-buffer (lispd--ssh-buffer host)
                (goto-char (point-max))
                (insert stderr)))
            (unless (eql status 0)
              (user-error "%s"
                          (or (and host (lispd--ssh-failed host status what
                                                           stderr))
                              (lispd--said what
                                           (or (lispd--last-line stderr)
                                               (string-trim
                                                (buffer-string)))))))
            (buffer-string)))
      (delete-file err))))

(defun lispd--ls (host)
  "The lispd sessions (on HOST if given), as (NAME . SWANK): SWANK is
ls's column, the version of swank served once it is up."
  (let ((lines (split-string (lispd--call host "ls") "\n" t)))
    (cl-loop for line in lines
             when (string-match "\\`\\([A-Za-z0-9._-]+\\) +[-0-9]+ " line)
             collect (cons (match-string 1 line)
                           (nth 7 (split-string line " +" t))))))

(defun lispd-sessions (&optional host)
  "The names of the lispd sessions, on HOST if given."
  (mapcar #'car (lispd--ls host)))

(defun lispd--net-setup (proc)
  "Give PROC what `slime-net-connect' gives a TCP connection."
  (push proc slime-net-processes)
  (set-process-buffer proc (slime-make-net-buffer " *cl-connection*"))
  (set-process-filter proc #'slime-net-filter)
  (set-process-sentinel proc #'slime-net-sentinel)
  (slime-set-query-on-exit-flag proc)
  (set-process-coding-system proc 'binary 'binary)
  (slime-send-secret proc)
  proc)

;; Reconnecting: when the image restarts (a crash under --restart
;; on-failure) or the ssh link drops, SLIME's connection closes from the
;; other end, and lispd.el connects again, with backoff, through the same
;; steps as `lispd-connect' (so the new image serves this SLIME's swank),
;; but never starting a session that is gone. The REPL buffer is kept:
;; the new connection has the old one's name.

(defcustom lispd-reconnect t
  "Non-nil: reconnect SLIME by itself when the other end of a lispd
connection closes it (the image restarted, the ssh link dropped).
`lispd-disconnect' and `slime-disconnect' never reconnect."
  :type 'boolean)

(defcustom lispd-reconnect-delays '(0.5 1 2 4 8)
  "Seconds before each attempt to reconnect; the last repeats."
  :type '(repeat number))

(defcustom lispd-reconnect-limit 60
  "Seconds after the connection was lost to give up reconnecting."
  :type 'number)

(defvar lispd--reconnecting (make-hash-table :test #'equal)
  "Per target being reconnected: (ATTEMPT SINCE TIMER).")

(defun lispd--reconnect-cancel (target)
  (let ((state (gethash target lispd--reconnecting)))
    (when (and state (nth 2 state))
      (cancel-timer (nth 2 state)))
    (remhash target lispd--reconnecting)))

(defun lispd--reconnect-later (target &optional why)
  "The next attempt to reconnect to TARGET, after its delay, or giving up."
  (let* ((state (gethash target lispd--reconnecting))
         (attempt (1+ (or (car state) 0)))
         (since (or (nth 1 state) (float-time)))
         (delay (or (nth (1- attempt) lispd-reconnect-delays)
                    (car (last lispd-reconnect-delays))
                    1)))
    (when (and state (nth 2 state))
      (cancel-timer (nth 2 state)))
    (if (> (+ (- (float-time) since) delay) lispd-reconnect-limit)
        (progn
          (remhash target lispd--reconnecting)
          (message "lispd: gave up reconnecting to %s after %d s%s (M-x \
lispd-slime to connect again)" target (round (- (float-time) since))
                   (if why (format ": %s" why) "")))
      (puthash target
               (list attempt since
                     (run-at-time delay nil #'lispd--reconnect target attempt))
               lispd--reconnecting))))

(defun lispd--reconnect (target attempt)
  (let ((state (gethash target lispd--reconnecting)))
    (when (and state (eql (car state) attempt))
      (setf (nth 2 state) nil)
      (message "lispd: reconnecting to %s (attempt %d)..." target attempt)
      (condition-case err
          (lispd--connect target t)
        (lispd--gone
         (remhash target lispd--reconnecting)
         (message "lispd: session %s is gone: not reconnecting" target))
        (error
         (lispd--reconnect-later target (error-message-string err)))))))

(defun lispd--reconnected ()
  "On `slime-connected-hook': a reconnection is done."
  (let ((target (process-get (slime-connection) 'lispd-target)))
    (when (and target (gethash target lispd--reconnecting))
      (lispd--reconnect-cancel target)
      (message "lispd: reconnected to %s" target))))

(add-hook 'slime-connected-hook #'lispd--reconnected)

(define-error 'lispd--gone "lispd: no such session")

;;;###autoload
(defun lispd-disconnect (&optional target)
  "Close lispd.el's SLIME connections, to TARGET or to all sessions, and
stop reconnecting to them. The images run on."
  (interactive)
  (maphash (lambda (key _)
             (when (or (null target) (equal key target))
               (lispd--reconnect-cancel key)))
           lispd--reconnecting)
  (dolist (proc (copy-sequence slime-net-processes))
    (let ((key (process-get proc 'lispd-target)))
      (when (and key (or (null target) (equal key target)))
        (slime-net-close proc)))))

;; Over ssh, SLIME gets a real network process: a local socket in a
;; private directory, whose other end this file relays to the pipe of
;; `ssh HOST lispd swank NAME'. SLIME wants an `open' network process (a
;; pipe's status is `run', and it has no `process-contact'); rather than
;; advise `process-status' for every package, or forward a socket with
;; `ssh -L' (which needs the remote NAME.swank path, which only the
;; remote lispd knows, and stream-local forwarding allowed in sshd), the
;; relay reaches the session through `lispd swank' as any client does.
;; ssh's stderr is its own pipe, into the host's ssh buffer.

(defvar lispd-connect-timeout 10
  "Seconds to wait for the local end of an ssh connection.")

(defun lispd--ssh-close (client)
  "End the ssh relay behind CLIENT, if any: ssh, its socket's other end."
  (let ((ssh (process-get client 'lispd-ssh))
        (peer (process-get client 'lispd-peer)))
    (when ssh
      (process-put ssh 'lispd-closing t)
      (delete-process ssh))
    (when peer
      (delete-process peer))))

(defun lispd--net-close (client)
  "On `slime-net-process-close-hooks': end the relay, and say why ssh
ended if it did (after SLIME's own \"closed unexpectedly\"); reconnect
if the other end closed it."
  ;; Closed by the other end: SLIME's sentinel runs this, on a process no
  ;; longer open; `slime-disconnect' closes an open one (and its sentinel
  ;; runs this again, once deleted: only the first call counts), and
  ;; `slime-quit-lisp' puts its own sentinel first.
  (let ((lost (and (not (process-live-p client))
                   (eq (process-sentinel client) #'slime-net-sentinel)))
        (target (process-get client 'lispd-target)))
    (when (process-get client 'lispd-ssh)
      (lispd--ssh-close client)
      (let ((why (process-get client 'lispd-error)))
        (when why
          (message "%s" why))))
    (when (and target (not (process-get client 'lispd-closed)))
      (process-put client 'lispd-closed t)
      (if (and lost lispd-reconnect)
          (lispd--reconnect-later target)
        (lispd--reconnect-cancel target)))))

(add-hook 'slime-net-process-close-hooks #'lispd--net-close)

(defun lispd--ssh-connect (host name target)
  "A local network process relayed to `ssh HOST lispd swank NAME'."
  (let* ((dir (with-file-modes #o700 (make-temp-file "lispd-" t)))
         (sock (expand-file-name "swank" dir))
         (log (lispd--ssh-buffer host))
         (start (with-current-buffer log (point-max)))
         (stderr (make-pipe-process :name (format "lispd-ssh %s stderr" target)
                                    :buffer log :noquery t
                                    :coding 'utf-8-unix
                                    :sentinel #'ignore))
         (pending '())
         client peer ssh server done)
    (unwind-protect
        (progn
          (setq ssh (make-process
                     :name (format "lispd-ssh %s" target)
                     :command (lispd--command host (list "swank" name))
                     :connection-type 'pipe :coding 'binary :noquery t
                     :stderr stderr
                     :filter (lambda (_ data)
                               (if (process-live-p peer)
                                   (process-send-string peer data)
                                 (push data pending)))
                     :sentinel
                     (lambda (proc _)
                       (unless (process-live-p proc)
                         ;; What ssh said last may still be in the pipe.
                         (while (accept-process-output stderr 0.05))
                         (delete-process stderr)
                         (unless (process-get proc 'lispd-closing)
                           (when client
                             (process-put
                              client 'lispd-error
                              (let ((text (with-current-buffer log
                                            (buffer-substring-no-properties
                                             (min start (point-max))
                                             (point-max)))))
                                (or (lispd--ssh-failed
                                     host (process-exit-status proc)
                                     "swank" text)
                                    (format "lispd: ssh to %s ended: %s (see \
buffer *lispd-ssh %s*)" host (or (lispd--last-line text) (process-exit-status proc))
                                            host)))))
                           (when peer
                             (delete-process peer)))))))
          (setq server
                (make-network-process
                 :name (format "lispd-relay %s" target)
                 :server t :family 'local :service sock
                 :coding 'binary :noquery t
                 :filter (lambda (_ data)
                           (when (process-live-p ssh)
                             (process-send-string ssh data)))
                 ;; The connections' sentinel, and the server's.
                 :sentinel (lambda (conn _)
                             (when (and (eq conn peer)
                                        (not (process-live-p conn))
                                        (process-live-p ssh))
                               (process-put ssh 'lispd-closing t)
                               (delete-process ssh)))
                 :log (lambda (_server conn _message)
                        (setq peer conn)
                        (dolist (data (nreverse pending))
                          (process-send-string conn data))
                        (setq pending nil))))
          (setq client (make-network-process
                        :name (format "lispd %s" target)
                        :family 'local :service sock :coding 'binary))
          (process-put client 'lispd-ssh ssh)
          (process-put client 'lispd-target target)
          ;; The accept is ours to run: wait for it, bounded.
          (let ((end (+ (float-time) lispd-connect-timeout)))
            (while (and (null peer) (< (float-time) end))
              (accept-process-output nil 0.05)))
          (unless peer
            (user-error "lispd: no local connection for %s within %d s"
                        target lispd-connect-timeout))
          (unless (process-live-p ssh)
            ;; ssh failed at once: its own words.
            (user-error "%s" (or (process-get client 'lispd-error)
                                 (format "lispd: ssh to %s ended" host))))
          (process-put client 'lispd-peer peer)
          (setq done t)
          client)
      (unless done
        (when ssh
          (process-put ssh 'lispd-closing t)
          (delete-process ssh))
        (when (process-live-p stderr)
          (delete-process stderr))
        (when client
          (delete-process client))
        (when peer
          (delete-process peer)))
      (when server
        (delete-process server))
      (delete-directory dir t))))

(defun lispd--swank-loader ()
  "The swank-loader.lisp of this SLIME, or nil if it has none here."
  (let ((loader (expand-file-name slime-backend slime-path)))
    (and (file-exists-p loader) loader)))

(defun lispd--remote-loader (host loader)
  "The swank-loader.lisp on HOST of a copy of LOADER's swank sources,
which are sent there first (a tar archive, through ssh) if HOST has no
copy of this version; lispd keeps it in the user's cache there."
  (let ((version slime-protocol-version))
    (or (ignore-errors
          (string-trim (lispd--call host "swank" "-c" version)))
        (let ((tar (with-file-modes #o600 (make-temp-file "lispd-swank"))))
          (message "lispd: sending swank %s to %s..." version host)
          (unwind-protect
              (progn
                (unless (eql 0 (call-process
                                "tar" nil nil nil "-c" "-f" tar
                                "--exclude=.git" "--exclude=*.elc"
                                "--exclude=*.fasl" "-C"
                                (file-name-directory loader) "."))
                  (user-error "lispd: cannot make a tar archive of %s"
                              (file-name-directory loader)))
                (let ((lispd--input tar))
                  (string-trim (lispd--call host "swank" "-C" version))))
            (delete-file tar))))))

(defun lispd-connect (target)
  "Connect SLIME to the lispd session TARGET, \"[user@]host:name\" or
\"name\", starting it first if it is not running. The session is made
to serve this SLIME's swank first; through ssh, its host gets a copy of
its sources the first time. Return the connection."
  (lispd--reconnect-cancel target)
  (lispd--connect target nil))

(defun lispd--connect (target again)
  "`lispd-connect' TARGET; AGAIN, a reconnection: signal `lispd--gone'
rather than start a session that is not there."
  (slime-setup)
  (let* ((split (lispd--split target))
         (host (car split))
         (name (cdr split))
         ;; First: it says clearly if ssh or the remote lispd fails.
         (session (assoc name (lispd--ls host)))
         (running session)
         ;; Serving this SLIME's version already: nothing to send or load.
         (loader (and (not (equal (cdr session) slime-protocol-version))
                      (lispd--swank-loader)))
         ;; The path of this SLIME's swank-loader.lisp where the session is.
         (there (and loader (if host (lispd--remote-loader host loader)
                              loader)))
         proc)
    (when (and again (not running))
      (signal 'lispd--gone (list target)))
    (unless running
      (message "Starting lispd session %s..." target)
      (apply #'lispd--call host "start" "-s" name
             (and there (list "-w" there))))
    (when there
      ;; Loading another swank compiles it the first time: seconds.
      (message "lispd: making session %s serve swank %s..." target
               slime-protocol-version)
      (lispd--call host "swank" "-w" there "-n" name))
    (message "Connecting to lispd session %s..." target)
    (if host
        (setq proc (lispd--ssh-connect host name target))
      (setq proc (make-network-process
                  :name (format "lispd %s" name)
                  :family 'local
                  :service (expand-file-name (concat name ".swank")
                                             (lispd--directory))
                  :coding 'binary))
      (process-put proc 'lispd-target target))
    (slime-setup-connection (lispd--net-setup proc))))

(defun lispd--translate ()
  "A session reached through ssh names files on its host: have SLIME
translate them with TRAMP (slime-tramp), so that M-. opens them there."
  (let ((proc (slime-connection)))
    (when (process-get proc 'lispd-ssh)
      (let* ((host (car (lispd--split (process-get proc 'lispd-target))))
             (at (string-match "@" host))
             (user (and at (substring host 0 at)))
             (hostname (if at (substring host (1+ at)) host)))
        (require 'slime-tramp)
        (unless (eq slime-from-lisp-filename-function
                    #'slime-tramp-from-lisp-filename)
          (slime-tramp-init))           ; as (slime-setup '(slime-tramp))
        (push (slime-create-filename-translator
               :machine-instance (regexp-quote (slime-machine-instance))
               :remote-host hostname
               :username user)
              slime-filename-translations)))))

(add-hook 'slime-connected-hook #'lispd--translate)

(defun lispd--complete (string)
  "Sessions for completing STRING: local ones, or once it has a host and
a colon, the host's (lispd ls through ssh)."
  (if (string-match "\\`\\(.+\\):" string)
      (let ((host (match-string 1 string)))
        (mapcar (lambda (name) (concat host ":" name))
                (ignore-errors (lispd-sessions host))))
    (ignore-errors (lispd-sessions))))

;;;###autoload
(defun lispd-slime (target)
  "Connect SLIME to the lispd session TARGET: a name, completed from the
local sessions, or \"[user@]host:name\" for one reached through ssh,
completed from that host's sessions."
  (interactive
   (list (completing-read "lispd session ([host:]name): "
                          (completion-table-dynamic #'lispd--complete))))
  (lispd-connect target))

;;; The console: `lispd attach -P NAME', through pipes, in a comint
;;; buffer. The scrollback comes first, then what every thread of the
;;; image prints; the image's pty echoes what is typed.

(defcustom lispd-console-prompt-regexp "^\\(?:\\* \\|[0-9]+\\] \\)"
  "The prompts of the image's REPL: SBCL's \"* \" and its debugger's \"0] \"."
  :type 'regexp)

(defvar lispd-console-mode-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "C-c C-c") #'lispd-console-interrupt)
    (define-key map (kbd "C-c C-d") #'lispd-console-detach)
    (define-key map (kbd "C-c C-z") #'lispd-console-detach)
    ;; End of input detaches: C-d at the end sends the line instead.
    (define-key map [remap comint-delchar-or-maybe-eof]
      #'lispd-console-delchar-or-send)
    (define-key map [remap comint-send-eof] #'lispd-console-detach)
    map)
  "Keys of `lispd-console-mode'.")

(define-derived-mode lispd-console-mode comint-mode "lispd-console"
  "The console of a lispd session, read-write.
\\<lispd-console-mode-map>
\\[lispd-console-interrupt] interrupts the image (C-c, typed to it),
\\[lispd-console-detach] detaches; C-d at the end of input sends the line, and
never ends the image. Detaching never stops the image.

\\{lispd-console-mode-map}"
  (setq-local comint-prompt-regexp lispd-console-prompt-regexp)
  (setq-local comint-process-echoes t)
  (setq-local comint-use-prompt-regexp t))

(defun lispd--console-process ()
  (or (get-buffer-process (current-buffer))
      (user-error "lispd: this console is detached \
(M-x lispd-console to attach again)")))

(defun lispd-console-interrupt ()
  "Interrupt the image: C-c, typed to it (in-band, so through ssh too)."
  (interactive)
  (process-send-string (lispd--console-process) "\003"))

(defun lispd-console-detach ()
  "Detach from the console: the image runs on."
  (interactive)
  (process-send-eof (lispd--console-process)))

(defun lispd-console-delchar-or-send (arg)
  "Delete ARG characters forward, or at the end of input send the line:
end of input would detach, and the image ignores ^D."
  (interactive "p")
  (if (and (eobp) (get-buffer-process (current-buffer)))
      (comint-send-input)
    (delete-char arg)))

(defun lispd--console-sentinel (proc _event)
  (unless (process-live-p proc)
    (let ((buf (process-buffer proc))
          (target (process-get proc 'lispd-target))
          (status (process-exit-status proc))
          (stderr (process-get proc 'lispd-stderr)))
      (when stderr
        (while (accept-process-output stderr 0.05))
        (delete-process stderr))
      (when (buffer-live-p buf)
        (with-current-buffer buf
          (let ((inhibit-read-only t)
                (line (format "[detached from %s]" target)))
            (save-excursion
              (goto-char (point-max))
              ;; Local, lispd says it on stderr, here: once is enough.
              (unless (save-excursion
                        (re-search-backward
                         (regexp-quote line) (max (point-min) (- (point) 200))
                         t))
                (unless (bolp) (insert "\n"))
                (insert line "\n"))))))
      (message "lispd: console %s: detached%s" target
               (if (eql status 0) ""
                 (format " (lispd attach exited with status %s)" status))))))

;;;###autoload
(defun lispd-console (target)
  "The console of the lispd session TARGET, \"name\" or
\"[user@]host:name\", in the buffer *lispd-console TARGET*: the
scrollback first, then what the image prints, from any thread; what is
typed goes to the image's REPL.
See `lispd-console-mode' for the keys."
  (interactive
   (list (completing-read "lispd console ([host:]name): "
                          (completion-table-dynamic #'lispd--complete))))
  (require 'comint)
  (let* ((split (lispd--split target))
         (host (car split))
         (name (cdr split))
         (buf (get-buffer-create (format "*lispd-console %s*" target))))
    (unless (comint-check-proc buf)
      (with-current-buffer buf
        (unless (derived-mode-p 'lispd-console-mode)
          (lispd-console-mode))
        ;; Attached again: the scrollback comes again, in full.
        (let ((inhibit-read-only t))
          (erase-buffer))
        (let* ((stderr (and host
                            (make-pipe-process
                             :name (format "lispd-console %s stderr" target)
                             :buffer (lispd--ssh-buffer host) :noquery t
                             :coding 'utf-8-unix :sentinel #'ignore)))
               (proc (make-process
                      :name (format "lispd-console %s" target)
                      :buffer buf
                      :command (lispd--command host
                                               (list "attach" "-P" name))
                      :connection-type 'pipe
                      ;; The pty's lines end CR LF; what is typed, LF.
                      :coding '(utf-8-dos . utf-8-unix)
                      :stderr stderr
                      :sentinel #'lispd--console-sentinel)))
          (process-put proc 'lispd-target target)
          (process-put proc 'lispd-stderr stderr)
          (goto-char (point-max))
          (set-marker (process-mark proc) (point))
          (set-process-filter proc #'comint-output-filter))))
    (pop-to-buffer-same-window buf)
    buf))

(provide 'lispd)

;;; lispd.el ends here
