;;; emacs-lib.el --- what lispd's Emacs tests share  -*- lexical-binding: t -*-
;; SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
;; Loaded by t/emacs.sh, t/emacs-swank.sh and t/emacs-console.sh after
;; contrib/emacs/lispd.el: waiting on a condition, telling the shell what
;; was seen, connecting SLIME, and typing into the console's buffer.

(require 'cl-lib)

(defun wait-for (pred secs)
  "PRED's value once it is true, or after SECS seconds; processes run."
  (let ((end (+ (float-time) secs)))
    (while (and (not (funcall pred)) (< (float-time) end))
      (accept-process-output nil 0.05))
    (funcall pred)))

(defun say (key value)
  "KEY=VALUE, one line: appended to $OUT at once (the shell may read it
while Emacs runs), or on stdout if OUT is not set."
  (let ((line (format "%s=%S\n" key value))
        (out (getenv "OUT")))
    (if out
        (write-region line nil out t 0)
      (princ line))))

;;; SLIME finishes a connection asynchronously: count them.

(defvar connections 0 "SLIME connections made so far.")
(add-hook 'slime-connected-hook (lambda () (setq connections (1+ connections))))

(defun connect (target &optional secs)
  "Connect SLIME to TARGET with lispd.el; t once it is connected."
  (let ((n connections))
    (lispd-connect target)
    (wait-for (lambda () (> connections n)) (or secs 60))))

(defun disconnect ()
  "Close every SLIME connection; t once they are gone."
  (slime-disconnect-all)
  (wait-for (lambda () (null slime-net-processes)) 10))

(defun image ()
  "The pid of the image SLIME is connected to."
  (slime-eval '(swank/backend:getpid)))

(defun complete ()
  (car (slime-eval '(swank:simple-completions "mapca" "COMMON-LISP-USER"))))

(defun repl ()
  "t once (* 6 7) typed in the REPL buffer shows 42."
  (let ((repl (slime-output-buffer)))
    (with-current-buffer repl
      (goto-char (point-max))
      (insert "(* 6 7)")
      (slime-repl-return))
    (shown "^42$" repl 10)))

(defun messages (re)
  "How many times RE is in *Messages*."
  (with-current-buffer "*Messages*"
    (save-excursion (goto-char (point-min)) (how-many re))))

;;; The console (lispd-console): its buffer is BUF.

(defvar buf nil "The buffer `shown' and `type' work in.")

(defun shown (re &optional buffer secs)
  "t once RE is in BUFFER (else BUF), within SECS (15) seconds."
  (let ((b (or buffer buf)))
    (wait-for (lambda ()
                (with-current-buffer b
                  (save-excursion
                    (goto-char (point-min))
                    (and (re-search-forward re nil t) t))))
              (or secs 15))))

(defun type (text)
  "Type TEXT at the end of BUF and send it, as RET in comint."
  (with-current-buffer buf
    (goto-char (point-max))
    (insert text)
    (comint-send-input)))

(defun interrupt ()
  "t once C-c C-c in BUF has interrupted a form that sleeps."
  (type "(progn (format t \"sleeping~%\") (finish-output) (sleep 600))")
  (shown "^sleeping$")
  (with-current-buffer buf
    (execute-kbd-macro (kbd "C-c C-c")))
  (shown "Interactive interrupt"))

;;; emacs-lib.el ends here
