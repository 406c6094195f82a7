;;;; lispd.lisp: the bootstrap lispd loads into an SBCL image.
;;;;
;;;; It joins the image to its lispd server over the control channel, a
;;;; socketpair the image inherits (fd in LISPD_CONTROL_FD): hello, ready,
;;;; `lispd eval` requests (each in a thread of its own, output streamed
;;;; back as it is printed, flow-controlled), interrupts and a graceful
;;;; exit. It also keeps a stray ^D at the REPL from ending the image.
;;;;
;;;; lispd loads this file into a plain `sbcl` itself. An image with its
;;;; own toplevel loads it when it is built and calls (lispd:serve) when it
;;;; starts; without LISPD_CONTROL_FD, serve does nothing.
;;;;
;;;; Frames are those of src/proto.h: a 32-bit big-endian type and payload
;;;; length, then the payload.

(defpackage #:lispd
  (:use #:common-lisp)
  (:export #:serve #:ready #:*ready-at-repl*))

(in-package #:lispd)

;;; Loaded as source, a form at a time: say what is defined further down.
(declaim (ftype function worker-loop read-until-eval run-job swank-rebind))

(defparameter *protocol* 1 "CTL_VERSION in src/proto.h.")
(defparameter *window* (* 256 1024) "CTL_WINDOW: unacknowledged output.")
(defparameter *chunk* 65000 "The most output in one frame.")

;;; Message types (src/proto.h, enum ctl_type).
(defconstant +hello+ 1)
(defconstant +ready+ 2)
(defconstant +out+ 3)
(defconstant +done+ 4)
(defconstant +info+ 5)
(defconstant +swank+ 6)
(defconstant +welcome+ 16)
(defconstant +text+ 17)
(defconstant +eval+ 18)
(defconstant +interrupt+ 19)
(defconstant +ack+ 20)
(defconstant +askinfo+ 21)
(defconstant +exit+ 22)
(defconstant +rebind+ 23)

(defvar *ready-at-repl* t
  "When true, the image is ready once the REPL reads its first form. An
application that becomes ready later sets it to nil while it loads and
calls (lispd:ready) when it is.")

(defvar *session* nil "The session's name.")
(defvar *swank-socket* nil "Kept: its finalizer would close the fd.")
(defvar *in* nil)
(defvar *out* nil)
(defvar *out-lock* (sb-thread:make-mutex :name "lispd control output"))
(defvar *ready-sent* nil)
(defvar *jobs* (make-hash-table))
(defvar *in-job* nil "True inside an evaluation's catch.")
(defvar *send-finish* t
  "When nil, a frame stays in the stream's buffer for the next to take.")
(defvar *hold-lines* nil
  "When true, a newline does not send an evaluation's output at once.")
(defvar *current-job* nil "The job this worker thread runs.")
(defvar *idle-workers* '())
(defvar *pool-lock* (sb-thread:make-mutex :name "lispd workers"))
(defparameter *max-idle-workers* 4
  "Threads kept idle for the next evaluations: making one costs more than
the rest of a small `lispd eval`.")

(deftype octets () '(simple-array (unsigned-byte 8) (*)))

(defun octets (n)
  (make-array n :element-type '(unsigned-byte 8)))

(defun append-to (vector from start end)
  "Add FROM's elements START to END to the fill-pointer VECTOR, which may
grow: the vector is returned."
  (let* ((old (fill-pointer vector))
         (new (+ old (- end start))))
    (when (> new (array-dimension vector 0))
      (setf vector (adjust-array vector (max new (* 2 (array-dimension vector 0))))))
    (setf (fill-pointer vector) new)
    (replace vector from :start1 old :start2 start :end2 end)
    vector))

(defun octets-of (byte)
  (let ((v (octets 1)))
    (setf (aref v 0) byte)
    v))

(defun get-u32 (v i)
  (logior (ash (aref v i) 24) (ash (aref v (+ i 1)) 16)
          (ash (aref v (+ i 2)) 8) (aref v (+ i 3))))

(defun u32 (n)
  (let ((v (octets 4)))
    (setf (aref v 0) (ldb (byte 8 24) n) (aref v 1) (ldb (byte 8 16) n)
          (aref v 2) (ldb (byte 8 8) n) (aref v 3) (ldb (byte 8 0) n))
    v))

(defun utf8 (string)
  (sb-ext:string-to-octets string :external-format :utf-8))

(defun send (type &rest parts)
  "One frame to the server; from any thread."
  (let ((hdr (octets 8)))
    (replace hdr (u32 type))
    (replace hdr (u32 (reduce #'+ parts :key #'length)) :start1 4)
    (sb-thread:with-mutex (*out-lock*)
      (write-sequence hdr *out*)
      (dolist (p parts)
        (write-sequence p *out*))
      (when *send-finish*
        (finish-output *out*)))))

(defun read-frame ()
  "The next frame: its type and payload, or nil at the end."
  (let ((hdr (octets 8)))
    (when (= (read-sequence hdr *in*) 8)
      (let* ((data (octets (get-u32 hdr 4))))
        (when (= (read-sequence data *in*) (length data))
          (values (get-u32 hdr 0) data))))))

(defun ready ()
  "Tell lispd the image is ready: `lispd start` and `lispd wait` return."
  (unless *ready-sent*
    (setf *ready-sent* t)
    (when *out*
      (send +ready+)))
  t)

;;; Evaluations.

(defstruct job
  id
  (text (make-array 0 :element-type '(unsigned-byte 8) :adjustable t
                      :fill-pointer 0))
  thread
  (credit *window*)
  (lock (sb-thread:make-mutex :name "lispd eval"))
  (queue (sb-thread:make-waitqueue))
  stop)                                 ; (status message) of an early stop

(defun job-send (job tag octets start end)
  "Output in frames, each waiting for the credit the server gives back."
  (loop while (< start end)
        do (let ((n (min *chunk* (- end start))))
             (sb-thread:with-mutex ((job-lock job))
               (loop while (< (job-credit job) n)
                     do (sb-thread:condition-wait (job-queue job)
                                                  (job-lock job)))
               (decf (job-credit job) n))
             (send +out+ (u32 (job-id job)) (octets-of tag)
                   (subseq octets start (+ start n)))
             (incf start n))))

(defclass job-stream (sb-gray:fundamental-character-output-stream)
  ((job :initarg :job :reader job-stream-job)
   (tag :initarg :tag :reader job-stream-tag)
   (buf :initform (make-array 4096 :element-type 'character
                                   :adjustable t :fill-pointer 0)
        :accessor job-stream-buf)
   (col :initform 0 :accessor job-stream-col))
  (:documentation "*standard-output* or *error-output* of an evaluation:
what is printed goes to the client a line at a time."))

(defun job-stream-flush (s &optional (finish t))
  "Send what S holds; with FINISH nil, leave it for the next frame sent to
carry (the last output goes out with the evaluation's status)."
  (let ((buf (job-stream-buf s))
        (*send-finish* finish))
    (when (plusp (fill-pointer buf))
      (let ((o (utf8 buf)))
        (setf (fill-pointer buf) 0)
        (job-send (job-stream-job s) (job-stream-tag s) o 0 (length o))))))

(defmethod sb-gray:stream-write-char ((s job-stream) char)
  (vector-push-extend char (job-stream-buf s))
  (if (char= char #\Newline)
      (progn (setf (job-stream-col s) 0)
             (unless *hold-lines*
               (job-stream-flush s)))
      (incf (job-stream-col s)))
  char)

(defmethod sb-gray:stream-write-string ((s job-stream) string
                                        &optional (start 0) end)
  (let* ((end (or end (length string)))
         (nl (position #\Newline string :start start :end end
                                        :from-end t))
         (buf (setf (job-stream-buf s)
                    (append-to (job-stream-buf s) string start end))))
    (setf (job-stream-col s)
          (if nl (- end nl 1) (+ (job-stream-col s) (- end start))))
    (when (or (and nl (not *hold-lines*)) (> (fill-pointer buf) *chunk*))
      (job-stream-flush s)))
  string)

(defmethod sb-gray:stream-line-column ((s job-stream))
  (job-stream-col s))

(defmethod sb-gray:stream-force-output ((s job-stream))
  (job-stream-flush s))

(defmethod sb-gray:stream-finish-output ((s job-stream))
  (job-stream-flush s))

(defun condition-text (c)
  (handler-case (princ-to-string c)
    (error () (format nil "(a ~s that cannot be printed)" (type-of c)))))

(defun error-message (c verbose)
  (with-output-to-string (s)
    (format s "error: ~a~%  [condition of type ~s]" (condition-text c)
            (type-of c))
    (when verbose
      (terpri s)
      (ignore-errors (sb-debug:print-backtrace :stream s :count 50)))))

(defun line-and-column (text pos)
  (let ((line 1) (col 1))
    (loop for i from 0 below (min pos (length text))
          do (if (char= (char text i) #\Newline)
                 (setf line (1+ line) col 1)
                 (incf col)))
    (values line col)))

(defun eval-forms (job out)
  "Read and evaluate the forms in order; then print the last values."
  (let* ((text (sb-ext:octets-to-string (job-text job) :external-format :utf-8))
         (in (make-string-input-stream text))
         (eof '#:eof)
         (n 0)
         (values '()))
    (loop
      (let* ((start (file-position in))
             (form (handler-case (read in nil eof)
                     (error (c)
                       (multiple-value-bind (line col)
                           (line-and-column text start)
                         (throw 'job-end
                           (values 2 (format nil "eval: form ~d, at line ~d, ~
                                                  column ~d, does not read: ~a"
                                             (1+ n) line col
                                             (if (typep c 'end-of-file)
                                                 "it is not complete (a ~
                                                  parenthesis or quote is ~
                                                  not closed)"
                                                 (condition-text c))))))))))
        (when (eq form eof)
          (return))
        (incf n)
        (setf values (multiple-value-list (eval form)))))
    (when values
      (fresh-line out))
    ;; The values go with the status, in one write.
    (let ((*hold-lines* t))
      (dolist (v values)
        (prin1 v out)
        (terpri out)))))

(defun find-package* (name)
  (cond ((string= name "") (find-package "COMMON-LISP-USER"))
        ((find-package name))
        ((find-package (string-upcase name)))))

(defun run-job (job flags package)
  (let ((verbose (logtest flags 1))
        (out (make-instance 'job-stream :job job :tag 1))
        (err (make-instance 'job-stream :job job :tag 2))
        ;; Outside the catch, the last resort: never the console's debugger.
        (sb-ext:*invoke-debugger-hook*
          (lambda (c hook)
            (declare (ignore c hook))
            (sb-thread:abort-thread)))
        (status 0)
        (message ""))
    (unwind-protect
         (progn
           ;; Inside the catch every error goes to the debugger hook, which
           ;; ends the evaluation: no handler here sees the user's errors.
           (setf (values status message)
                 (catch 'job-end
                   (let ((*in-job* t)
                         (*current-job* job)
                         (*debugger-hook* nil)
                         (sb-ext:*invoke-debugger-hook*
                           (lambda (c hook)
                             (declare (ignore hook))
                             (throw 'job-end
                               (values 1 (error-message c verbose)))))
                         (pkg (find-package* package)))
                     (when (job-stop job)
                       (throw 'job-end (values-list (job-stop job))))
                     (unless pkg
                       (throw 'job-end
                         (values 1 (format nil "eval: no package ~a: give ~
                                                an existing one with -p"
                                           package))))
                     (let* ((*standard-output* out)
                            (*error-output* err)
                            (*trace-output* out)
                            (*standard-input* (make-string-input-stream ""))
                            (*query-io* (make-two-way-stream *standard-input*
                                                             out))
                            (*debug-io* *query-io*)
                            (*package* pkg)
                            (*readtable* *readtable*))
                       (eval-forms job out)
                       (job-stream-flush err nil)
                       (job-stream-flush out nil)
                       (values 0 "")))))
           (send +done+ (u32 (job-id job)) (u32 status) (utf8 message)))
      (sb-thread:with-mutex (*out-lock*)
        (remhash (job-id job) *jobs*)))))

(defun find-job (id)
  (sb-thread:with-mutex (*out-lock*)
    (or (gethash id *jobs*)
        (setf (gethash id *jobs*) (make-job :id id)))))

(defun job-interrupt (job status)
  (let ((message (if (= status 124)
                     "eval: timed out: the evaluation was interrupted"
                     "eval: interrupted"))
        (thread (job-thread job)))
    (setf (job-stop job) (list status message))
    (when (and thread (sb-thread:thread-alive-p thread))
      (ignore-errors
       (sb-thread:interrupt-thread
        thread
        (lambda ()
          (when (and *in-job* (eq *current-job* job))
            (throw 'job-end (values status message)))))))))

(defun job-grant (job n)
  "The server delivered N bytes: that much more may be sent."
  (sb-thread:with-mutex ((job-lock job))
    (incf (job-credit job) n)
    (sb-thread:condition-broadcast (job-queue job))))

;;; Threads: one of them reads the channel. When an evaluation comes, the
;;; reader hands the reading to an idle thread (or a new one) and runs the
;;; evaluation itself, so that no thread has to be woken for it; then it
;;; waits, idle, for its next turn to read.

(defstruct worker
  thread
  reader                                ; set: its turn to read
  (lock (sb-thread:make-mutex :name "lispd worker"))
  (queue (sb-thread:make-waitqueue)))

(defun promote ()
  "Make another thread the reader: an idle one, or a new one."
  (let ((w (sb-thread:with-mutex (*pool-lock*) (pop *idle-workers*))))
    (if w
        (sb-thread:with-mutex ((worker-lock w))
          (setf (worker-reader w) t)
          (sb-thread:condition-notify (worker-queue w)))
        (sb-thread:make-thread #'worker-loop :name "lispd"
                                             :arguments (list (make-worker :reader t))))))

(defun worker-loop (w)
  (setf (worker-thread w) sb-thread:*current-thread*)
  (loop
    (sb-thread:with-mutex ((worker-lock w))
      (loop until (worker-reader w)
            do (sb-thread:condition-wait (worker-queue w) (worker-lock w)))
      (setf (worker-reader w) nil))
    (let ((job (read-until-eval)))
      (unless job
        (return))                       ; the channel is gone
      (promote)
      (apply #'run-job job))
    (unless (sb-thread:with-mutex (*pool-lock*)
              (when (< (length *idle-workers*) *max-idle-workers*)
                (push w *idle-workers*)))
      (return))))

;;; The channel.

(defun info ()
  "What `lispd ls` shows of the image; the server knows the rest."
  (format nil "heap=~d~%threads=~d~%"
          (sb-kernel:dynamic-usage) (length (sb-thread:list-all-threads))))

(defun console (fmt &rest args)
  (format *terminal-io* "~&; lispd: ~?~%" fmt args)
  (finish-output *terminal-io*))

(defun dispatch (type data)
  "Act on a frame from the server; for an evaluation, return what
RUN-JOB is to be applied to, and nil otherwise."
  (let ((id (if (>= (length data) 4) (get-u32 data 0) 0)))
    (cond
      ((= type +welcome+)
       (unless (= id *protocol*)
         (console "this image's bootstrap speaks control protocol ~d and ~
                   its server ~d: restart the session" *protocol* id)
         (close *out*)))
      ((= type +text+)
       (let ((job (find-job id)))
         (setf (job-text job)
               (append-to (job-text job) data 4 (length data)))))
      ((= type +eval+)
       ;; This thread runs it: the caller hands the reading on.
       (let ((job (find-job id)))
         (setf (job-thread job) sb-thread:*current-thread*)
         (list job (get-u32 data 4)
               (sb-ext:octets-to-string data :start 8
                                             :external-format :utf-8))))
      ((= type +interrupt+)
       (job-interrupt (find-job id) (get-u32 data 4)))
      ((= type +ack+)
       (let ((job (sb-thread:with-mutex (*out-lock*) (gethash id *jobs*))))
         (when job
           (job-grant job (get-u32 data 4)))))
      ((= type +askinfo+)
       (send +info+ (utf8 (info))))
      ((= type +rebind+)
       (when *swank-socket*
         (swank-rebind (sb-ext:octets-to-string data :external-format :utf-8))))
      ((= type +exit+)
       (sb-thread:make-thread (lambda () (sb-ext:exit :code 0))
                              :name "lispd exit")))))

(defun read-until-eval ()
  "Read and act on frames until an evaluation comes: return it, or nil
when the channel is gone."
  (handler-case
      (loop
        (multiple-value-bind (type data) (read-frame)
          (unless type
            (return nil))
          (let ((job (dispatch type data)))
            (when (= type +eval+)
              (return job)))))
    (error (c)
      (console "the control channel failed: ~a" (condition-text c))
      nil)))

;;; Swank on NAME.swank: the server made the listening socket (fd in
;;; LISPD_SWANK_FD). Each client is handled in a thread of its own,
;;; authentication included, so that a silent client or a wrong secret
;;; cannot stall the others (stock swank's accept loop does both).


(defun swank-symbol (name)
  (or (find-symbol name "SWANK")
      (error "swank has no ~a: an unknown version of swank" name)))

(defun swank-load ()
  "Load swank, quietly: LISPD_SWANK names a swank-loader.lisp or a
directory with swank.asd; else Quicklisp's, if the init file loaded
Quicklisp; else ASDF finds it (Debian's cl-swank)."
  (let ((path (sb-ext:posix-getenv "LISPD_SWANK"))
        (*standard-output* (make-broadcast-stream))
        (*error-output* (make-broadcast-stream)))
    (unless (find-package "SWANK")
      (require :asdf)
      (cond ((and path (string/= path "")
                  (pathname-name (probe-file path)))
             (load path)
             (funcall (find-symbol "INIT" "SWANK-LOADER")))
            ((and (or (null path) (string= path ""))
                  (find-package "QUICKLISP-CLIENT"))
             ;; The user's init file loaded Quicklisp: its swank.
             (funcall (find-symbol "QUICKLOAD" "QUICKLISP-CLIENT") :swank
                      :silent t))
            (t
             (when (and path (string/= path ""))
               (push (probe-file path)
                     (symbol-value (find-symbol "*CENTRAL-REGISTRY*" "ASDF"))))
             (funcall (find-symbol "LOAD-SYSTEM" "ASDF") :swank))))))

(defun swank-client (socket stream)
  (handler-case
      (progn
        ;; Set to t, swank opens a TCP port for output: never here.
        (setf (symbol-value (swank-symbol "*USE-DEDICATED-OUTPUT-STREAM*"))
              nil)
        (funcall (swank-symbol "AUTHENTICATE-CLIENT") stream)
        (funcall (swank-symbol "SERVE-REQUESTS")
                 (funcall (swank-symbol "MAKE-CONNECTION") socket stream
                          :spawn)))
    (error ()
      (ignore-errors (close stream)))))

(defun swank-accept-loop (socket)
  (let ((fd (funcall (find-symbol "SOCKET-FILE-DESCRIPTOR" "SB-BSD-SOCKETS")
                     socket))
        (accept (find-symbol "ACCEPT-CONNECTION" "SWANK/BACKEND")))
    (loop
      (sb-sys:wait-until-fd-usable fd :input)
      ;; Non-blocking: another may have taken it (nil), or it failed.
      (let ((stream (ignore-errors
                     (funcall accept socket :external-format nil
                                            :buffering t))))
        (if stream
            (sb-thread:make-thread #'swank-client :name "lispd swank client"
                                                  :arguments (list socket stream))
            (sleep 0.01))))))

(defun c-umask (mask)
  (sb-alien:alien-funcall
   (sb-alien:extern-alien "umask" (function sb-alien:unsigned-int
                                            sb-alien:unsigned-int))
   mask))

(defvar *rebound* '() "Sockets bound anew: kept, their finalizers close them.")

(defun swank-rebind (path)
  "The swank socket's path was deleted and the server was told (SIGUSR1):
listen at PATH anew, 0600, and serve it as well."
  (handler-case
      (let ((s (make-instance (find-symbol "LOCAL-SOCKET" "SB-BSD-SOCKETS")
                              :type :stream))
            (old (c-umask #o177)))
        (unwind-protect
             (progn
               (ignore-errors (delete-file path))
               (funcall (find-symbol "SOCKET-BIND" "SB-BSD-SOCKETS") s path))
          (c-umask old))
        (funcall (find-symbol "SOCKET-LISTEN" "SB-BSD-SOCKETS") s 128)
        (push s *rebound*)
        (sb-thread:make-thread #'swank-accept-loop :name "lispd swank"
                                                   :arguments (list s)))
    (error (c)
      (console "cannot listen on ~a again: ~a" path (condition-text c)))))

(defun swank-start (fd)
  "Serve swank on the inherited socket FD; tell the server how it went."
  (let ((start (get-internal-real-time)))
    (handler-case
        (progn
          (swank-load)
          (funcall (swank-symbol "INIT-LOG-OUTPUT"))
          (setf *swank-socket*     ; swank loaded sb-bsd-sockets
                (make-instance (find-symbol "LOCAL-SOCKET" "SB-BSD-SOCKETS")
                               :type :stream :descriptor fd))
          (sb-thread:make-thread #'swank-accept-loop :name "lispd swank"
                                                     :arguments (list *swank-socket*))
          (send +swank+ (u32 0))
          (let ((s (/ (- (get-internal-real-time) start)
                      internal-time-units-per-second)))
            (when (> s 1)
              (console "swank loaded in ~,1f s (compiled the first time)" s))))
      (error (c)
        (let ((why (format nil "swank did not load: ~a (install cl-swank, or ~
                                set LISPD_SWANK to a swank-loader.lisp)"
                           (condition-text c))))
          (console "~a" why)
          (ignore-errors (send +swank+ (u32 1) (utf8 why))))))))

;;; The REPL: ^D does not end the image.

(defvar *eofs* '() "When the last end-of-files at the REPL came.")

(defun repl-read-form (in out)
  (when *ready-at-repl*
    (ready))
  (let ((eof '#:eof))
    (loop
      (let ((form (read in nil eof)))
        (unless (eq form eof)
          (return form))
        ;; A terminal that is gone gives EOF for ever: let SBCL quit then.
        (let ((now (get-internal-real-time)))
          (push now *eofs*)
          (setf *eofs* (subseq *eofs* 0 (min 20 (length *eofs*))))
          (when (and (= (length *eofs*) 20)
                     (< (- now (car (last *eofs*)))
                        internal-time-units-per-second))
            (sb-ext:exit)))
        (format out "~&; lispd: ^D does not end this image: (sb-ext:exit) ~
                     does, or `lispd stop ~a`; C-\\ detaches.~%"
                (or *session* "NAME"))
        (funcall sb-int:*repl-prompt-fun* out)
        (finish-output out)))))

;;; The entry point.

(defun c-unsetenv (name)
  (sb-alien:alien-funcall
   (sb-alien:extern-alien "unsetenv" (function sb-alien:int sb-alien:c-string))
   name))

(defun c-cloexec (fd)
  (sb-alien:alien-funcall
   (sb-alien:extern-alien "fcntl" (function sb-alien:int sb-alien:int
                                            sb-alien:int sb-alien:int))
   fd 2 1))                             ; F_SETFD, FD_CLOEXEC

(defun serve (&key ready)
  "Join the image to its lispd server, if it runs under one: the control
channel, and ^D at the REPL. Call it once the image runs; again is a no-op.
With :READY true the image is ready at once; else when its REPL starts, or
when it calls (lispd:ready)."
  (when ready
    (setf *ready-at-repl* nil))
  (let ((fd (sb-ext:posix-getenv "LISPD_CONTROL_FD")))
    (when (and fd (null *out*))
      (let ((fd (parse-integer fd)))
        (setf *session* (sb-ext:posix-getenv "LISPD_SESSION"))
        (c-cloexec fd)
        (c-unsetenv "LISPD_CONTROL_FD")
        (c-unsetenv "LISPD_SESSION")
        (setf *in* (sb-sys:make-fd-stream fd :input t :buffering :full
                                             :element-type '(unsigned-byte 8)
                                             :name "lispd control")
              *out* (sb-sys:make-fd-stream fd :output t :buffering :full
                                              :element-type '(unsigned-byte 8)
                                              :name "lispd control"))
        (send +hello+ (u32 *protocol*)
              (utf8 (format nil "~a ~a" (lisp-implementation-type)
                            (lisp-implementation-version))))
        (setf sb-int:*repl-read-form-fun* #'repl-read-form)
        (sb-thread:make-thread #'worker-loop :name "lispd"
                                             :arguments (list (make-worker :reader t)))
        (let ((swank (sb-ext:posix-getenv "LISPD_SWANK_FD")))
          (when swank
            (c-unsetenv "LISPD_SWANK_FD")
            (c-cloexec (parse-integer swank))
            (swank-start (parse-integer swank))))
        (when ready
          (ready))
        t))))

(serve)
