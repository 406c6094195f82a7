;;;; SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
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
  (:export #:serve #:ready #:*ready-at-repl* #:*save-hooks*
           #:*save-toplevel*))

(in-package #:lispd)

;;; Loaded as source, a form at a time: say what is defined further down.
(declaim (ftype function worker-loop read-until-eval run-job job-done
                          swank-rebind save-begin save-in-main save-child
                          swank-accept-thread saved serve))

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
(defconstant +saved+ 7)
(defconstant +pong+ 8)
(defconstant +welcome+ 16)
(defconstant +text+ 17)
(defconstant +eval+ 18)
(defconstant +interrupt+ 19)
(defconstant +ack+ 20)
(defconstant +askinfo+ 21)
(defconstant +exit+ 22)
(defconstant +rebind+ 23)
(defconstant +save+ 24)
(defconstant +ping+ 25)

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

(defparameter *utf-8* '(:utf-8 :replacement #\?)
  "What cannot be encoded or decoded (a lone surrogate, a bad byte) becomes
a ?: one bad character never fails a frame.")

(defun utf8 (string &optional (max nil))
  "STRING's UTF-8; with MAX, at most MAX bytes: the middle is cut, at
characters, and says so (an error's end names its condition's type)."
  (let ((o (sb-ext:string-to-octets string :external-format *utf-8*)))
    (if (or (null max) (<= (length o) max))
        o
        (flet ((boundary (i)            ; back up to a character's start
                 (loop while (and (> i 0) (= (logand (aref o i) #xc0) #x80))
                       do (decf i))
                 i))
          (let* ((tail (boundary (- (length o) (floor max 16))))
                 (head (boundary (- max (- (length o) tail) 40)))
                 (note (format nil "~%... (~d bytes cut) ...~%" (- tail head))))
            (concatenate 'octets (subseq o 0 head)
                         (sb-ext:string-to-octets note :external-format :ascii)
                         (subseq o tail)))))))

(defun from-utf8 (octets &key (start 0) end)
  (sb-ext:octets-to-string octets :start start :end end
                                  :external-format *utf-8*))

(defparameter *text-max* 60000
  "The most bytes of text (a message, a reason) in one frame: a frame's
payload is at most PROTO_MAXLEN, 65536, and a bigger one breaks the
channel.")

(defun send (type &rest parts)
  "One frame to the server; from any thread. The frame is built whole and
written with interrupts deferred: an interrupt (C-c, --timeout) that ends
an evaluation never leaves half a frame behind, which would put the
channel out of step for good."
  (let* ((len (reduce #'+ parts :key #'length))
         (frame (octets (+ 8 len)))
         (at 8))
    (replace frame (u32 type))
    (replace frame (u32 len) :start1 4)
    (dolist (p parts)
      (replace frame p :start1 at)
      (incf at (length p)))
    (sb-sys:without-interrupts
      (sb-thread:with-mutex (*out-lock*)
        (write-sequence frame *out*)
        (when *send-finish*
          (finish-output *out*))))))

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

(defun read-failure (c)
  "Why a form does not read, in a line: no stream objects, no directives."
  (typecase c
    (end-of-file
     "it is not complete (a parenthesis, a string or a #| comment is not closed)")
    (storage-condition "it nests too deeply to read")
    (simple-condition
     (handler-case
         (let ((text (apply #'format nil (simple-condition-format-control c)
                            (simple-condition-format-arguments c))))
           ;; SBCL's reader errors end with the stream: cut it.
           (string-right-trim '(#\Space #\Newline)
                              (subseq text 0 (search "Stream: " text))))
       (error () (condition-text c))))
    (t (condition-text c))))

(defun eval-forms (job out)
  "Read and evaluate the forms in order; then print the last values."
  (let* ((text (handler-case
                   (sb-ext:octets-to-string (job-text job)
                                            :external-format :utf-8)
                 (error ()
                   (throw 'job-end
                     (values 2 (format nil "eval: the forms are not valid ~
                                          UTF-8: give them as UTF-8 text"))))))
         (in (make-string-input-stream text))
         (eof '#:eof)
         (n 0)
         (values '()))
    (setf (job-text job) nil)           ; read from TEXT: let it go
    (loop
      (let* ((start (file-position in))
             (form (handler-case (read in nil eof)
                     (serious-condition (c)
                       (multiple-value-bind (line col)
                           (line-and-column text start)
                         (throw 'job-end
                           (values 2 (format nil "eval: form ~d, at line ~d, ~
                                                  column ~d, does not read: ~a"
                                             (1+ n) line col
                                             (read-failure c)))))))))
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
        (status 1)
        (message "eval: the evaluation's thread was ended before it finished")
        (sent nil))
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
           (job-done job status message)
           (setf sent t))
      ;; A way past the catch (abort-thread, return-from-thread, a throw
      ;; to an outer tag): the client still gets a status.
      (unless sent
        (ignore-errors (job-done job status message)))
      (sb-thread:with-mutex (*out-lock*)
        (remhash (job-id job) *jobs*)))))

(defun job-done (job status message)
  (send +done+ (u32 (job-id job)) (u32 status)
        (utf8 (if (stringp message) message (princ-to-string message))
              *text-max*)))

(defun find-job (id &optional create)
  "The job ID, made if CREATE: only forms and an evaluation make one, so
that an interrupt or an acknowledgement for a job that ended leaks none."
  (sb-thread:with-mutex (*out-lock*)
    (or (gethash id *jobs*)
        (and create
             (setf (gethash id *jobs*) (make-job :id id))))))

(defun job-interrupt (job status)
  (let ((message (if (= status 124)
                     "eval: timed out: the evaluation was interrupted"
                     "eval: interrupted"))
        (thread (job-thread job)))
    (setf (job-stop job) (list status message))
    (if (null thread)
        ;; Its forms never came whole (the client went, or was stopped,
        ;; before "go"): it never runs, so drop it and its text.
        (sb-thread:with-mutex (*out-lock*)
          (remhash (job-id job) *jobs*))
        (when (sb-thread:thread-alive-p thread)
          (ignore-errors
           (sb-thread:interrupt-thread
            thread
            (lambda ()
              (when (and *in-job* (eq *current-job* job))
                (throw 'job-end (values status message))))))))))

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
      (when (eq (worker-reader w) :exit)  ; a save stops the idle ones
        (return))
      (setf (worker-reader w) nil))
    (let ((job (read-until-eval)))
      (unless job
        (return))                       ; the channel is gone, or a save
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
       (let ((job (find-job id t)))
         (setf (job-text job)
               (append-to (job-text job) data 4 (length data)))))
      ((= type +eval+)
       ;; This thread runs it: the caller hands the reading on.
       (let ((job (find-job id t)))
         (setf (job-thread job) sb-thread:*current-thread*)
         (list job (get-u32 data 4) (from-utf8 data :start 8))))
      ((= type +interrupt+)
       (let ((job (find-job id)))
         (when job
           (job-interrupt job (get-u32 data 4)))))
      ((= type +ack+)
       (let ((job (find-job id)))
         (when job
           (job-grant job (get-u32 data 4)))))
      ((= type +askinfo+)
       (send +info+ (utf8 (info) *text-max*)))
      ((= type +ping+)                  ; lispd ping: the reader answers
       (send +pong+ (u32 id)))
      ((= type +rebind+)
       (when *swank-socket*
         (swank-rebind (from-utf8 data))))
      ((= type +save+)
       ;; Handed to the main thread: this one, the reader, is to end.
       (when (save-begin id (from-utf8 data :start 4))
         :saving))
      ((= type +exit+)
       (sb-thread:make-thread (lambda () (sb-ext:exit :code 0))
                              :name "lispd exit")))))

(defvar *server-pid* nil "The image's parent when it joined its server.")

(defun c-getppid ()
  (sb-alien:alien-funcall
   (sb-alien:extern-alien "getppid" (function sb-alien:int))))

(defun read-until-eval ()
  "Read and act on frames until an evaluation comes: return it, or nil
when the channel is gone. A frame that fails fails alone: its evaluation
ends with the error, and the reading goes on."
  (loop
    (multiple-value-bind (type data)
        (handler-case (read-frame)
          (error (c)
            (console "the control channel failed: ~a" (condition-text c))
            nil))
      (unless type
        (return nil))
      (let ((job (handler-case (dispatch type data)
                   (error (c)
                     (let ((id (if (>= (length data) 4) (get-u32 data 0) 0)))
                       (console "a control message (type ~d) failed: ~a"
                                type (condition-text c))
                       (when (and (= type +eval+) (/= id 0))
                         (ignore-errors
                          (job-done (make-job :id id) 1
                                    (format nil "eval: the request failed in ~
                                                 the image: ~a"
                                            (condition-text c))))
                         (sb-thread:with-mutex (*out-lock*)
                           (remhash id *jobs*))))
                     nil))))
        (when (eq job :saving)
          (return nil))
        (when (and job (= type +eval+))
          (return job))))))

;;; Swank on NAME.swank: the server made the listening socket (fd in
;;; LISPD_SWANK_FD). Each client is handled in a thread of its own,
;;; authentication included, so that a silent client or a wrong secret
;;; cannot stall the others (stock swank's accept loop does both).


(defvar *swank-lock* (sb-thread:make-mutex :name "lispd swank switch")
  "Held while swank is replaced, and around each accept: no connection
begins with half a swank.")

(defun swank-value (package name)
  (let ((s (and (find-package package) (find-symbol name package))))
    (and s (boundp s) (symbol-value s))))

(defun swank-symbol (name)
  (or (find-symbol name "SWANK")
      (error "swank has no ~a: an unknown version of swank" name)))

(defun swank-guard ()
  "Swank closes a connection's socket with what it still buffers for the
editor in it: when the editor has gone, that write is a broken pipe, which
swank's debugger takes and then waits on the gone editor for ever, so that
the image counts the connection (swank -w refuses to switch) and keeps its
thread. Once swank has stopped serving a connection, drop what it buffered:
no one is there to read it. Done again after each load of swank."
  (let* ((name (find-symbol "STOP-SERVING-REQUESTS" "SWANK"))
         (io (find-symbol "CONNECTION.SOCKET-IO" "SWANK"))
         (stop (and name (fboundp name) (fdefinition name))))
    (when (and stop io (fboundp io) (not (eq stop (get name 'lispd-guard))))
      (let ((guard (lambda (connection)
                     (funcall stop connection)
                     (let ((s (ignore-errors (funcall io connection))))
                       (when (and (streamp s) (open-stream-p s))
                         (ignore-errors (close s :abort t)))))))
        (setf (fdefinition name) guard
              (get name 'lispd-guard) guard)))))

(defparameter *compile-lock-wait* 300
  "Seconds at most to wait for another image compiling swank.")

(defun compile-lock-path ()
  "The lock file beside the user's fasl cache, or nil without a home."
  (let ((xdg (sb-ext:posix-getenv "XDG_CACHE_HOME"))
        (home (sb-ext:posix-getenv "HOME")))
    (cond ((and xdg (string/= xdg ""))
           (concatenate 'string xdg "/common-lisp/lispd-swank.lock"))
          ((and home (string/= home ""))
           (concatenate 'string home "/.cache/common-lisp/lispd-swank.lock")))))

(defun call-with-compile-lock (fn)
  "Call FN holding an flock on the fasl cache's lock file: images that
start at once load swank one after another, so none loads a fasl that
another is still writing (\"an empty FASL file\"). If the lock cannot be
had (no home, a read-only one, a holder stuck for *compile-lock-wait*
seconds), FN runs without it."
  (let* ((path (compile-lock-path))
         (s (and path
                 (ignore-errors
                  (ensure-directories-exist path)
                  (open path :direction :output :if-exists :append
                             :if-does-not-exist :create)))))
    (if (null s)
        (funcall fn)
        (unwind-protect
             (let ((fd (sb-sys:fd-stream-fd s))
                   (deadline (+ (get-internal-real-time)
                                (* *compile-lock-wait*
                                   internal-time-units-per-second))))
               (loop until (or (zerop (sb-alien:alien-funcall
                                       (sb-alien:extern-alien
                                        "flock" (function sb-alien:int
                                                          sb-alien:int
                                                          sb-alien:int))
                                       fd 6)) ; LOCK_EX | LOCK_NB
                               (> (get-internal-real-time) deadline))
                     do (sleep 0.1))
               (funcall fn))
          (close s)))))                 ; and the lock with it

(defun swank-load ()
  "Load swank, quietly: LISPD_SWANK names a swank-loader.lisp or a
directory with swank.asd; else Quicklisp's, if the init file loaded
Quicklisp; else ASDF finds it (Debian's cl-swank)."
  (let ((path (sb-ext:posix-getenv "LISPD_SWANK"))
        (*standard-output* (make-broadcast-stream))
        (*error-output* (make-broadcast-stream)))
    (unless (find-package "SWANK")
      (require :asdf)
      (call-with-compile-lock
       (lambda ()
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
                (funcall (find-symbol "LOAD-SYSTEM" "ASDF") :swank)))))))
  (swank-guard))

(defparameter *swank-first-max* (* 1024 1024)
  "The most bytes the first frame of a swank client may announce: before
it is authenticated, swank would allocate whatever its header says.")
(defparameter *swank-pending-max* 32
  "Connections at most that have not yet sent their first frame.")
(defparameter *swank-first-wait* 20 "Seconds for the first frame's header.")
(defvar *swank-pending* 0)
(defvar *swank-full-said* nil "The console was told the pending are full.")
(defvar *swank-pending-lock* (sb-thread:make-mutex :name "lispd swank pending"))

(defun c-getuid ()
  (sb-alien:alien-funcall
   (sb-alien:extern-alien "getuid" (function sb-alien:unsigned-int))))

(defun peer-uid (fd)
  "The uid of the process at the other end of the UNIX socket FD, or nil."
  (sb-alien:with-alien ((cred (array (sb-alien:unsigned 32) 3))
                        (len sb-alien:unsigned-int 12))
    (when (zerop (sb-alien:alien-funcall
                  (sb-alien:extern-alien
                   "getsockopt"
                   (function sb-alien:int sb-alien:int sb-alien:int
                             sb-alien:int (* t) (* sb-alien:unsigned-int)))
                  fd 1 17                ; SOL_SOCKET, SO_PEERCRED
                  (sb-alien:cast cred (* t)) (sb-alien:addr len)))
      (sb-alien:deref cred 1))))

(defun peek-header (fd)
  "The length the client's first swank frame announces, looked at without
taking it (swank reads it next); nil if it closes, sends no header in time
or one that is not six hex digits."
  (let ((deadline (+ (get-internal-real-time)
                     (* *swank-first-wait* internal-time-units-per-second))))
    (sb-alien:with-alien ((buf (array (sb-alien:unsigned 8) 6)))
      (loop
        (let ((left (/ (- deadline (get-internal-real-time))
                       internal-time-units-per-second)))
          (when (or (<= left 0)
                    (not (sb-sys:wait-until-fd-usable fd :input left)))
            (return nil)))
        (let ((n (sb-alien:alien-funcall
                  (sb-alien:extern-alien
                   "recv" (function sb-alien:long sb-alien:int (* t)
                                    sb-alien:unsigned-long sb-alien:int))
                  fd (sb-alien:cast buf (* t)) 6
                  (logior 2 #x40))))    ; MSG_PEEK, MSG_DONTWAIT
          (cond ((= n 6)
                 (let ((hex (map 'string (lambda (i) (code-char (sb-alien:deref buf i)))
                                 '(0 1 2 3 4 5))))
                   (return (and (every (lambda (c) (digit-char-p c 16)) hex)
                                (parse-integer hex :radix 16)))))
                ((<= n 0)
                 (return nil))
                (t (sleep 0.05))))))))   ; a part of the header: wait

(defun swank-client (socket stream)
  (let ((handed nil))
    (unwind-protect
         (handler-case
             (let ((len nil) (known nil))
               ;; Counted among the pending until it is known: a client that
               ;; stops halfway through its header or its secret waits alone,
               ;; holding no lock (it held swank's from all others).
               (unwind-protect
                    (progn
                      (setf len (peek-header (sb-sys:fd-stream-fd stream)))
                      (when (and len (<= len *swank-first-max*))
                        (funcall (swank-symbol "AUTHENTICATE-CLIENT") stream)
                        (setf known t)))
                 (sb-thread:with-mutex (*swank-pending-lock*)
                   (decf *swank-pending*)))
               (unless known
                 (when len
                   (console "closed a swank connection whose first frame would be ~
                             ~d bytes (at most ~d before it is authenticated)"
                            len *swank-first-max*))
                 (return-from swank-client))
               ;; Under the lock: swank-want replaces no swank a connection is
               ;; being made with, and it finds this one among the connections.
               (sb-thread:with-mutex (*swank-lock*)
                 ;; Set to t, swank opens a TCP port for output: never here.
                 (setf (symbol-value (swank-symbol "*USE-DEDICATED-OUTPUT-STREAM*"))
                       nil)
                 (let ((conn (funcall (swank-symbol "MAKE-CONNECTION") socket stream
                                      :spawn)))
                   (setf handed t)
                   (funcall (swank-symbol "SERVE-REQUESTS") conn)
                   ;; A sentinel thread, if swank runs one, adds it a moment later.
                   (loop repeat 50
                         until (member conn (swank-value "SWANK" "*CONNECTIONS*"))
                         do (sleep 0.02)))))
           (error ()
             (ignore-errors (close stream))))
      ;; Refused, failed, or ended by a save before swank had it: its
      ;; socket goes with the thread, or the client would wait for ever.
      (unless handed
        (ignore-errors (close stream))))))

(defun swank-admit (stream)
  "Whether to serve the new connection STREAM: the peer is this image's
user or root (as the server checks on NAME.sock), and not too many wait to
send their first frame."
  (let ((uid (peer-uid (sb-sys:fd-stream-fd stream)))
        (me (c-getuid)))
    (cond ((not (or (eql uid me) (eql uid 0)))
           (console "refused a swank connection from uid ~a: only uid ~d ~
                     and root may connect" uid me)
           nil)
          ((sb-thread:with-mutex (*swank-pending-lock*)
             (when (< *swank-pending* *swank-pending-max*)
               (setf *swank-full-said* nil)
               (incf *swank-pending*)))
           t)
          (t
           ;; Said once while it stays full: a flood is not a flood of lines.
           (unless *swank-full-said*
             (setf *swank-full-said* t)
             (console "closing new swank connections: ~d wait to send their ~
                       first frame, as many as may (each ~d s at most)"
                      *swank-pending-max* *swank-first-wait*))
           nil))))

(defun swank-accept-loop (socket)
  (let ((fd (funcall (find-symbol "SOCKET-FILE-DESCRIPTOR" "SB-BSD-SOCKETS")
                     socket)))
    (loop
      (sb-sys:wait-until-fd-usable fd :input)
      ;; Non-blocking: another may have taken it (nil), or it failed.
      ;; Looked up each time, and not while swank is replaced (swank-want).
      (let ((stream (sb-thread:with-mutex (*swank-lock*)
                      (ignore-errors
                       (funcall (find-symbol "ACCEPT-CONNECTION"
                                             "SWANK/BACKEND")
                                socket :external-format nil
                                       :buffering t)))))
        (cond ((null stream)
               (sleep 0.01))
              ((swank-admit stream)
               (handler-case
                   (sb-thread:make-thread #'swank-client
                                          :name "lispd swank client"
                                          :arguments (list socket stream))
                 ;; No thread to be had: this client goes, the loop stays.
                 (error ()
                   (sb-thread:with-mutex (*swank-pending-lock*)
                     (decf *swank-pending*))
                   (ignore-errors (close stream)))))
              (t (ignore-errors (close stream))))))))

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

;;; The swank an editor needs: SLIME and swank speak one version's
;;; protocol, so an editor names its own swank-loader.lisp (lispd swank -w)
;;; and the image loads that swank in place of its own, when no swank
;;; client is connected to be cut off by it.

(defun swank-version ()
  "The version of the swank loaded (what SLIME compares), or nil."
  (swank-value "SWANK" "*SWANK-WIRE-PROTOCOL-VERSION*"))

(defun loader-version (loader)
  "The version the swank of LOADER says it is, worked out as its loader
does: Debian's from the first line of the file slime-version beside it,
SLIME's own from the \";; Version:\" line of slime.el there; nil if neither
says. The rule of swank_cache_version in src/swank-cache.c, on the same
files (t/swank-version.sh)."
  (flet ((after (name type prefix)
           ;; What follows PREFIX on the first line that begins with it.
           (with-open-file (s (make-pathname :name name :type type
                                             :version nil :defaults loader)
                              :if-does-not-exist nil)
             (when s
               (loop for line = (read-line s nil) while line
                     when (eql 0 (search prefix line))
                       return (string-trim '(#\Space #\Tab #\Return)
                                           (subseq line (length prefix))))))))
    (let ((v (after "slime-version" nil "")))
      (when (or (null v) (string= v ""))
        (setf v (after "slime" "el" ";; Version:")))
      (and v (string/= v "") v))))

(defun swank-load-from (loader)
  "Load the swank of LOADER in place of the one loaded, if any."
  (let ((*standard-output* (make-broadcast-stream))
        (*error-output* (make-broadcast-stream)))
    (require :asdf)                     ; Debian's loader compiles with it
    ;; Debian's loader has them as defvars: unbound, they are LOADER's.
    (dolist (name '("*SOURCE-DIRECTORY*" "*FASL-DIRECTORY*"))
      (let ((s (and (find-package "SWANK-LOADER")
                    (find-symbol name "SWANK-LOADER"))))
        (when s
          (makunbound s))))
    (call-with-compile-lock
     (lambda ()
       (load loader)
       ;; Its contribs go with the old swank's packages: they load again.
       (setf *modules* (remove-if (lambda (m)
                                    (eql 0 (search "SWANK" (string m))))
                                  *modules*))
       (funcall (find-symbol "INIT" "SWANK-LOADER") :delete t :reload t)))
    (funcall (swank-symbol "INIT-LOG-OUTPUT"))
    (swank-guard)))

(defvar *swank-unserved* nil
  "NAME.swank's fd, while no swank loaded to serve it: swank-want may.")

(defun swank-replace (path want have old)
  "Load the swank of PATH (version WANT) in place of HAVE, loaded from the
directory OLD (nil: none was); if it fails, OLD's again, and end the
evaluation saying so. Not cut short by C-c: no half-loaded swank."
  (sb-sys:without-interrupts
    (handler-case (swank-load-from path)
      (serious-condition (c)
        (let ((back (and old
                         (ignore-errors
                          (swank-load-from
                           (merge-pathnames "swank-loader.lisp" old))
                          t))))
          (ignore-errors
           (if back
               (send +swank+ (u32 0) (utf8 (or (swank-version) "") 64))
               (when have
                 (send +swank+ (u32 1)
                       (utf8 (format nil "swank ~a did not load in place of ~
                                          ~a: restart the session" want have)
                             200)))))
          (let ((why (format nil "session ~a could not load swank ~a ~
                                  from ~a: ~a; ~:[it serves no swank now: ~
                                  restart it~;it serves swank ~a still: ~
                                  mend or reinstall that SLIME, or connect ~
                                  with a SLIME ~:*~a~]"
                             *session* want path (condition-text c) back
                             have)))
            ;; The console too: the client may have gone (C-c) meanwhile.
            (console "~a" why)
            (throw 'job-end (values 1 (format nil "lispd swank: ~a" why)))))))))

(defun swank-serve (fd)
  "Serve the swank loaded on the listening socket FD; tell the server."
  (funcall (swank-symbol "INIT-LOG-OUTPUT"))
  (setf *swank-socket*                  ; swank loaded sb-bsd-sockets
        (make-instance (find-symbol "LOCAL-SOCKET" "SB-BSD-SOCKETS")
                       :type :stream :descriptor fd))
  (swank-accept-thread)
  (send +swank+ (u32 0) (utf8 (or (swank-version) "") 64)))

(defvar *swank-thread* nil "The thread of swank-accept-loop.")

(defun swank-accept-thread ()
  (setf *swank-thread*
        (sb-thread:make-thread #'swank-accept-loop
                               :name "lispd swank"
                               :arguments (list *swank-socket*))))

(defun swank-want (loader)
  "Serve the swank of LOADER, a swank-loader.lisp: at once if it is the
version loaded, else in place of it if no swank client is connected; print
the version served. Else end the evaluation with status 1, saying why."
  (flet ((fail (control &rest args)
           (throw 'job-end
             (values 1 (format nil "lispd swank: session ~a ~?"
                               *session* control args)))))
    (let* ((path (probe-file (sb-ext:parse-native-namestring loader)))
           (want (and path (pathname-name path) (loader-version path))))
      (cond ((null path)
             (fail "has no file ~a: name the swank-loader.lisp of your ~
                    SLIME (its slime-backend)" loader))
            ((null want)
             (fail "cannot tell the version of the swank at ~a: it has ~
                    neither slime-version nor slime.el beside it" path)))
      ;; A client that just left is counted until swank sees it go: an
      ;; editor that reconnects at once with another version waits for it.
      (loop repeat 20
            while (and (swank-version) (string/= want (swank-version))
                       (plusp (length (swank-value "SWANK" "*CONNECTIONS*"))))
            do (sleep 0.1))
      ;; Decided and done under the lock (swank-start may be loading it),
      ;; and whole: a C-c waits, or the server would not hear of it.
      (sb-sys:without-interrupts
       (sb-thread:with-mutex (*swank-lock*)
        (let ((have (swank-version))
              (old (swank-value "SWANK-LOADER" "*SOURCE-DIRECTORY*"))
              (n (length (swank-value "SWANK" "*CONNECTIONS*"))))
          (cond ((and (null have) (null *swank-unserved*))
                 (fail "serves no swank (see lispd ls): start it without ~
                        --no-swank, with LISPD_SWANK=~a for this one" path))
                ((null have)
                 ;; Its own did not load: the editor's may.
                 (swank-replace path want nil nil)
                 (swank-serve (shiftf *swank-unserved* nil)))
                ((string= want have)
                 (when *swank-unserved*     ; loaded, and C-c'ed before?
                   (swank-serve (shiftf *swank-unserved* nil))))
                ((> n 0)
                 (fail "serves swank ~a to ~d client~:p; this editor's swank ~
                        is ~a (~a): disconnect ~:[them~;it~], or use a SLIME ~
                        of version ~a" have n want path (= n 1) have))
                (t
                 (swank-replace path want have old)
                 (send +swank+ (u32 0) (utf8 (or (swank-version) "") 64)))))))
      (format t "~a~%" (or (swank-version) "(a swank that does not say its version)"))
      (values))))

(defun swank-start (fd)
  "Serve swank on the inherited socket FD; tell the server how it went."
  (let ((start (get-internal-real-time))
        (ok nil))
    ;; All under the lock: a swank -w meanwhile waits for the outcome.
    (sb-thread:with-mutex (*swank-lock*)
      (handler-case
          (progn
            (swank-load)
            (swank-serve fd)
            (setf ok t))
        (serious-condition (c)
          (let ((why (format nil "swank did not load: ~a (install cl-swank, ~
                                  or set LISPD_SWANK to a swank-loader.lisp)"
                             (condition-text c))))
            (setf *swank-unserved* fd)
            (console "~a" why)
            (ignore-errors (send +swank+ (u32 1) (utf8 why *text-max*)))))))
    (let ((s (/ (- (get-internal-real-time) start)
                internal-time-units-per-second)))
      (when (and ok (> s 1))
        (console "swank loaded in ~,1f s (compiled the first time)" s)))))

;;; The REPL: ^D does not end the image.

(defvar *eof-said* nil "When the REPL last said what ^D does.")

;;; lispd save: a core of the image, written by a fork of it. SBCL saves
;;; only with one thread and forks only with one: the others stop (the
;;; application's through the save hooks, the bootstrap's and swank's
;;; here), the main thread forks, the child saves and exits, and the image
;;; goes on, its threads started again: a save that fails costs it nothing.

(defvar *save-hooks* '()
  "Functions lispd calls, in order, before it saves the image (`lispd
save'): each stops the threads it started, as SBCL's sb-ext:*save-hooks*
do, which run next. Then sb-ext:*init-hooks* run in the image, which goes
on, and in an image started from the core: start them again there.")

(defvar *save-toplevel* nil
  "The function an image started from a saved core runs (`lispd start
--resume`), after sb-ext:*init-hooks*, in place of SBCL's REPL; nil for
the REPL. An image with its own toplevel (lispd start -B) sets it to that
toplevel, which calls (lispd:ready) once it serves; with the REPL the
image is ready once its init hooks have run.")

(defvar *save-state* nil
  "A save handed to the main thread: :asked, :taken or :cancelled.")
(defvar *saved-lose* nil
  "In a saved core: whether its image ran with --lose-on-corruption and
--disable-ldb, which a core saved with its runtime options cannot take.")
(defvar *save-lock* (sb-thread:make-mutex :name "lispd save"))
(defvar *saved-save-hooks* nil "sb-ext:*save-hooks*, while a core is saved.")

(defun other-threads ()
  "The threads that keep SBCL from forking: all but main and this one."
  (remove-if (lambda (th)
               (or (eq th sb-thread:*current-thread*)
                   (eq th (sb-thread:main-thread))))
             (sb-thread:list-all-threads)))

(defun save-stop-ours ()
  "Stop the bootstrap's threads but this one, the reader, and swank's."
  (dolist (w (sb-thread:with-mutex (*pool-lock*) (shiftf *idle-workers* '())))
    (sb-thread:with-mutex ((worker-lock w))
      (setf (worker-reader w) :exit)
      (sb-thread:condition-notify (worker-queue w))))
  (when (and *swank-thread* (sb-thread:thread-alive-p *swank-thread*))
    (sb-thread:terminate-thread *swank-thread*))
  (dolist (th (sb-thread:list-all-threads))
    (when (equal (sb-thread:thread-name th) "lispd swank client")
      (ignore-errors (sb-thread:terminate-thread th))))
  ;; Each editor's connection, its threads with it: SLIME reconnects.
  ;; Its threads stopped and its socket closed (swank-guard), as swank's
  ;; stop-serving-requests does; not close-connection, whose hooks and
  ;; sentinel may wait on the threads it stops.
  (when (find-package "SWANK")
    (let ((conns (find-symbol "*CONNECTIONS*" "SWANK")))
      (dolist (c (symbol-value conns))
        (ignore-errors (funcall (swank-symbol "STOP-SERVING-REQUESTS") c))
        (setf (symbol-value conns) (remove c (symbol-value conns)))))))

(defun save-go-on (&optional reader)
  "After a save, or its failure: the bootstrap's threads again (the
reader too if READER), then sb-ext:*init-hooks*, as an image started from
the core runs them. Not in an interrupt: see unblock-signals."
  (when reader
    (sb-thread:make-thread #'worker-loop :name "lispd"
                                         :arguments (list (make-worker :reader t))))
  (when (and *swank-socket*
             (not (and *swank-thread* (sb-thread:thread-alive-p *swank-thread*))))
    (swank-accept-thread))
  (dolist (hook sb-ext:*init-hooks*)
    (handler-case (funcall hook)
      (error (c)
        (console "after the save, an init hook failed: ~a"
                 (condition-text c))))))

(defun unblock-signals ()
  "Unblock every signal in this thread. A thread made in an interrupt (as
the main thread's save runs) starts with the interrupt's signals blocked:
interrupt-thread and terminate-thread would never reach it, nor the
threads it makes."
  (sb-alien:with-alien ((set (array (sb-alien:unsigned 8) 128)))
    (dotimes (i 128)
      (setf (sb-alien:deref set i) 0))
    (sb-alien:alien-funcall
     (sb-alien:extern-alien "pthread_sigmask"
                            (function sb-alien:int sb-alien:int
                                      sb-alien:system-area-pointer
                                      sb-alien:system-area-pointer))
     2 (sb-alien:alien-sap set) (sb-sys:int-sap 0)))) ; SIG_SETMASK

(defun save-after-main (status &optional (fmt "") &rest args)
  "From the main thread's interrupt: the bootstrap's threads and the init
hooks in a thread that unblocks its signals first, so that none of the
threads made is deaf to interrupts; then the server is told STATUS. If
STATUS is a function, it is called there first for the status, the format
and its arguments: waiting for the child that writes the core."
  (sb-thread:make-thread
   (lambda ()
     (unblock-signals)
     (save-go-on t)
     (if (functionp status)
         (apply #'saved (funcall status))
         (apply #'saved status fmt args)))
   :name "lispd save")
  nil)

(defun saved (status fmt &rest args)
  "Tell the server how the save went; nil."
  (send +saved+ (u32 status) (utf8 (apply #'format nil fmt args) *text-max*))
  nil)

(defun save-begin (seconds path)
  "In the reader: stop what runs, then hand the save of a core into PATH
to the main thread; true if it took it (this thread then ends), else the
save failed, which the server was told. Threads get SECONDS to end."
  (let ((busy (sb-thread:with-mutex (*out-lock*)
                (loop for job being the hash-values of *jobs*
                      count (job-thread job)))))
    (when (plusp busy)
      (return-from save-begin
        (saved 1 "~d evaluation~:p running~:* (lispd eval): let ~[~;it~:;them~] ~
                  end or interrupt ~:*~[~;it~:;them~], then save" busy))))
  ;; The fork is sb-posix's. An executable of its own finds SBCL's modules
  ;; only through SBCL_HOME, or if it was built with sb-posix in it.
  (handler-case (require :sb-posix)
    (error ()
      (return-from save-begin
        (saved 1 "SBCL's sb-posix module, which the save forks with, does ~
                  not load: build the image with (require :sb-posix), or ~
                  start it with SBCL_HOME set to SBCL's library directory ~
                  (/usr/lib/sbcl on Debian)"))))
  (handler-case (progn (mapc #'funcall *save-hooks*)
                       (mapc #'funcall sb-ext:*save-hooks*))
    (error (c)
      (save-go-on)
      (return-from save-begin
        (saved 1 "a save hook failed: ~a" (condition-text c)))))
  (save-stop-ours)
  (loop with end = (+ (get-internal-real-time)
                      (* seconds internal-time-units-per-second))
        while (and (other-threads) (< (get-internal-real-time) end))
        do (sleep 0.05))
  (let ((left (other-threads)))
    (when left
      (save-go-on)
      (return-from save-begin
        (saved 1 "~d thread~:p did not stop within ~d s: ~{~s~^, ~}: stop ~
                  ~3:*~[~;it~:;them~] in lispd:*save-hooks* or ~
                  sb-ext:*save-hooks*, and start ~:*~[~;it~:;them~] again in ~
                  sb-ext:*init-hooks*"
               (length left) seconds (mapcar #'sb-thread:thread-name left)))))
  ;; The main thread forks: it may be reading the console, or busy.
  (let ((reader sb-thread:*current-thread*))
    (setf *save-state* :asked)
    (sb-thread:interrupt-thread (sb-thread:main-thread)
                                (lambda () (save-in-main path reader)))
    (loop repeat 100 until (eq *save-state* :taken) do (sleep 0.05))
    (sb-thread:with-mutex (*save-lock*)
      (unless (eq *save-state* :taken)
        (setf *save-state* :cancelled)))
    (when (eq *save-state* :cancelled)
      (save-go-on)
      (return-from save-begin
        (saved 1 "the main thread did not take the save within 5 s (it is ~
                  in foreign code, or without interrupts): try again")))
    t))

(defun save-in-main (path reader)
  "In the main thread, interrupted: once the reader has ended, fork; the
child saves the core into PATH, and this image goes on."
  (sb-thread:with-mutex (*save-lock*)
    (unless (eq *save-state* :asked)
      (return-from save-in-main))
    (setf *save-state* :taken))
  (sb-thread:join-thread reader :default nil :timeout 5)
  (let ((left (other-threads)))
    (when left
      (return-from save-in-main
        (save-after-main 1 "thread~p ~{~s~^, ~} started while the save ~
                            was made ready: try again" (length left)
                         (mapcar #'sb-thread:thread-name left)))))
  (dolist (s (list *standard-output* *error-output* *terminal-io*))
    (ignore-errors (finish-output s)))
  (let ((pid (handler-case (funcall (find-symbol "FORK" "SB-POSIX"))
               (error (c)
                 (return-from save-in-main
                   (save-after-main 1 "fork failed: ~a"
                                    (condition-text c)))))))
    (when (zerop pid)
      (save-child path))
    ;; The image goes on at once; the child is waited for beside it.
    (save-after-main
     (lambda ()
       (let ((status (nth-value 1 (funcall (find-symbol "WAITPID" "SB-POSIX")
                                           pid 0))))
         (if (and (funcall (find-symbol "WIFEXITED" "SB-POSIX") status)
                  (zerop (funcall (find-symbol "WEXITSTATUS" "SB-POSIX")
                                  status)))
             (list 0 "")
             (list 1 "the process that wrote the core failed (wait status ~
                      ~d): the disk may be full" status)))))))

(defun save-child (path)
  "In the forked child: save the core into PATH and exit, never return."
  (handler-case
      (let ((null (funcall (find-symbol "OPEN" "SB-POSIX") "/dev/null"
                           (symbol-value (find-symbol "O-RDWR" "SB-POSIX")))))
        ;; SBCL's runtime reports the save on fd 1: not on the console.
        (dolist (fd '(0 1 2))
          (funcall (find-symbol "DUP2" "SB-POSIX") null fd))
        ;; What a started core must make anew, as serve does.
        (setf *in* nil *out* nil *ready-sent* nil *idle-workers* '()
              *jobs* (make-hash-table) *swank-thread* nil *swank-pending* 0
              *swank-socket* nil *save-state* nil
              *saved-save-hooks* sb-ext:*save-hooks*
              sb-ext:*save-hooks* nil
              *saved-lose* (/= 0 (sb-alien:extern-alien "lose_on_corruption_p"
                                                        sb-alien:int)))
        (setf sb-ext:*init-hooks*
              (append (remove 'resume sb-ext:*init-hooks*) (list 'resume)))
        (apply #'sb-ext:save-lisp-and-die path :executable t
               :save-runtime-options t
               (and *save-toplevel* (list :toplevel *save-toplevel*))))
    (serious-condition ()
      (sb-ext:exit :code 1 :abort t)))
  (sb-ext:exit :code 1 :abort t))

(defun resume ()
  "In an image started from a saved core (sb-ext:*init-hooks*): the save
hooks back, the runtime's settings, and the server that started it joined:
ready now, unless *save-toplevel* is to say so."
  (setf sb-ext:*save-hooks* *saved-save-hooks*
        *saved-save-hooks* nil)
  (when *saved-lose*
    (setf (sb-alien:extern-alien "lose_on_corruption_p" sb-alien:int) 1)
    (sb-alien:alien-funcall
     (sb-alien:extern-alien "disable_lossage_handler" (function sb-alien:void))))
  (serve :ready (null *save-toplevel*)))

(defun repl-read-form (in out)
  (when *ready-at-repl*
    (ready))
  (let ((eof '#:eof))
    (loop
      (let ((form (read in nil eof)))
        (unless (eq form eof)
          (return form))
        ;; Under lispd the terminal is the server's pty, which never goes
        ;; away while its server runs, so no number of ^D ends the image.
        ;; Only with the server gone (the image has another parent now) is
        ;; this EOF a terminal gone for good: leave as from a hangup.
        (when (and *server-pid* (/= (c-getppid) *server-pid*))
          (sb-ext:exit :code 129))
        (let ((now (get-internal-real-time)))
          ;; Held down, ^D repeats: say it once a second, not 30 times.
          (when (or (null *eof-said*)
                    (>= (- now *eof-said*) internal-time-units-per-second))
            (setf *eof-said* now)
            (format out "~&; lispd: ^D does not end this image: ~
                         (sb-ext:exit) does, or `lispd stop ~a`; C-\\ ~
                         detaches.~%"
                    (or *session* "NAME"))))
        (fresh-line out)
        (funcall sb-int:*repl-prompt-fun* out)
        (finish-output out)))))

;;; lispd repl, the image's side: completion of a symbol's name, and
;;; whether the text typed so far holds whole forms, both as this image's
;;; reader reads them in the REPL's package.

(defun complete-name (name lower)
  "NAME as typed: in lower case if the user types in lower case and the
reader would read it back so."
  (if (and lower (eq (readtable-case *readtable*) :upcase)
           (notany #'lower-case-p name))
      (string-downcase name)
      name))

(defun complete (prefix &optional (package *package*))
  "The completions of PREFIX, sorted: the symbols accessible in PACKAGE
(or named by it) that begin so, and package names with a colon; after
PKG: the package's external symbols, after PKG:: all those present in
it; after a colon alone, keywords. Each as it would be typed."
  (let* ((pkg (or (and (packagep package) package)
                  (find-package* package)
                  *package*))
         (colon (position #\: prefix))
         (lower (notany #'upper-case-p prefix))
         (found '()))
    (labels ((begins (name start)
               (let ((n (- (length prefix) start)))
                 (and (>= (length name) n)
                      (string-equal prefix name :start1 start :end2 n))))
             (add (lead name)
               (push (concatenate 'string lead (complete-name name lower))
                     found)))
      (cond ((eql colon 0)
             (do-external-symbols (sym "KEYWORD")
               (when (begins (symbol-name sym) 1)
                 (add ":" (symbol-name sym)))))
            (colon
             (let* ((internal (and (< (1+ colon) (length prefix))
                                   (char= (char prefix (1+ colon)) #\:)))
                    (lead (subseq prefix 0 (+ colon (if internal 2 1))))
                    (from (find-package* (subseq prefix 0 colon))))
               (when from
                 (if internal
                     (do-symbols (sym from)
                       (when (and (eq (symbol-package sym) from)
                                  (begins (symbol-name sym) (length lead)))
                         (add lead (symbol-name sym))))
                     (do-external-symbols (sym from)
                       (when (begins (symbol-name sym) (length lead))
                         (add lead (symbol-name sym))))))))
            (t
             (do-symbols (sym pkg)
               (when (begins (symbol-name sym) 0)
                 (add "" (symbol-name sym))))
             (dolist (p (list-all-packages))
               (dolist (name (cons (package-name p) (package-nicknames p)))
                 (when (begins name 0)
                   (add "" (concatenate 'string name ":"))))))))
    ;; Sorted, then the neighbours alike dropped: remove-duplicates is
    ;; quadratic, 10 ms for 1000 names.
    (let ((sorted (sort found #'string<)))
      (loop for (a . rest) on sorted
            unless (and rest (string= a (car rest)))
              collect a))))

(defun form-complete-p (text &optional (package *package*))
  "Whether TEXT holds only whole forms (or none): false while a list, a
string, a |symbol| or a #| comment is open, as the reader finds. Read
with *read-suppress*: nothing is interned, no #. evaluated; any other
reader error is the evaluation's to report."
  (let ((*package* (or (and (packagep package) package)
                       (find-package* package)
                       *package*))
        (*read-suppress* t)
        (in (make-string-input-stream text))
        (eof '#:eof))
    (handler-case
        (loop (when (eq (read in nil eof) eof)
                (return t)))
      (end-of-file () nil)
      (error () t))))

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
        (setf *session* (sb-ext:posix-getenv "LISPD_SESSION")
              *server-pid* (c-getppid))
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
