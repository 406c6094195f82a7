;;; lispd.el --- SLIME to lispd sessions, over UNIX sockets and ssh -*- lexical-binding: t -*-

;; Usage:
;;
;;   (require 'lispd)
;;   M-x lispd-slime RET web RET        ; the local session "web"
;;   M-x lispd-slime RET box:web RET    ; session "web" on host box, via ssh
;;
;; Each lispd session serves swank on NAME.swank, a UNIX-domain socket in
;; its directory, never on a TCP port. Stock SLIME connects only to TCP
;; ports, so this file makes the connection itself, a local network
;; process on the socket, or `ssh HOST lispd swank NAME' as a pipe, and
;; hands it to SLIME's own connection setup. A session that is not
;; running is started first.

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

(defun lispd--call (host &rest args)
  "Run lispd with ARGS (on HOST): its output, or an error with it."
  (let ((cmd (lispd--command host args)))
    (with-temp-buffer
      (let ((status (apply #'call-process (car cmd) nil t nil (cdr cmd))))
        (unless (eql status 0)
          (error "lispd %s: %s" (mapconcat #'identity args " ")
                 (string-trim (buffer-string))))
        (buffer-string)))))

(defun lispd-sessions (&optional host)
  "The names of the lispd sessions, on HOST if given."
  (let ((lines (split-string (lispd--call host "ls") "\n" t)))
    (cl-loop for line in lines
             when (string-match "\\`\\([A-Za-z0-9._-]+\\) +[-0-9]+ " line)
             collect (match-string 1 line))))

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

;; SLIME wants a connection's status to be `open' (a pipe's is `run') and
;; reads its port from `process-contact' (a pipe has none).
(defun lispd--process-status (status proc)
  (let ((s (funcall status proc)))
    (if (and (eq s 'run) (processp proc) (process-get proc 'lispd-pipe))
        'open
      s)))

(defun lispd--connection-port (port connection)
  (if (process-get connection 'lispd-pipe)
      (process-get connection 'lispd-target)
    (funcall port connection)))

(advice-add 'process-status :around #'lispd--process-status)
(advice-add 'slime-connection-port :around #'lispd--connection-port)

(defun lispd-connect (target)
  "Connect SLIME to the lispd session TARGET, \"[user@]host:name\" or
\"name\", starting it first if it is not running. Return the connection."
  (slime-setup)
  (let* ((split (lispd--split target))
         (host (car split))
         (name (cdr split))
         proc)
    (unless (member name (lispd-sessions host))
      (message "Starting lispd session %s..." target)
      (lispd--call host "start" "-s" name))
    (message "Connecting to lispd session %s..." target)
    (if host
        (progn
          (setq proc (make-process :name (format "lispd %s" target)
                                   :command (lispd--command
                                             host (list "swank" name))
                                   :connection-type 'pipe
                                   :coding 'binary
                                   :noquery t))
          (process-put proc 'lispd-pipe t)
          (process-put proc 'lispd-target target))
      (setq proc (make-network-process
                  :name (format "lispd %s" name)
                  :family 'local
                  :service (expand-file-name (concat name ".swank")
                                             (lispd--directory))
                  :coding 'binary)))
    (slime-setup-connection (lispd--net-setup proc))))

(defun lispd--translate ()
  "A session reached through ssh names files on its host: have SLIME
translate them with TRAMP (slime-tramp), so that M-. opens them there."
  (let ((proc (slime-connection)))
    (when (process-get proc 'lispd-pipe)
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

(provide 'lispd)

;;; lispd.el ends here
