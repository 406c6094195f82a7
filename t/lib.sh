# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# Shared by the shell tests: TAP output, a private directory, real tmux as
# the terminal a person types into, and cleanup of every process started.

: "${LISPD:=$(pwd)/src/lispd}"
T=$(mktemp -d "${TMPDIR:-/tmp}/lispd-test.XXXXXX")
D=$T/sock
TMUX_SOCK=$T/tmux.sock
# Cores that lispd save writes: here, never in the user's state directory.
LISPD_STATE=$T/state
export LISPD_STATE
PIDS=
tap_n=0
# ls's SWANK column once swank is up: the version it serves.
swank_up='[0-9]+\.[0-9][0-9a-z.]*'

tap_failed=0

cleanup() {
	if [ -S "$TMUX_SOCK" ]; then
		tmux -S "$TMUX_SOCK" kill-server 2>/dev/null
	fi
	for p in $PIDS; do
		kill -KILL "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() {
	tap_n=$((tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $tap_n - $2"
	else
		echo "not ok $tap_n - $2"
		tap_failed=$((tap_failed + 1))
	fi
}

# is GOT WANT DESCRIPTION
is() {
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		echo "#   got:  '$1'"
		echo "#   want: '$2'"
	fi
}

# like TEXT PATTERN DESCRIPTION (grep -E)
like() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		printf '%s\n' "$1" | sed 's/^/#   got: /'
		echo "#   want match: $2"
	fi
}

# A "remote" host: a real sshd on 127.0.0.1, with a throwaway host key and
# client key, a private port and the authorized keys in the test
# directory. sshd_usable says "1..0 # SKIP" and fails without one;
# sshd_start sets host, port, LISPD_SSH and LISPD_REMOTE (this lispd,
# -S $D); with sshd_banner set, sshd shows that file before logging in.
sshd_usable() {
	sshd=$(command -v sshd || echo /usr/sbin/sshd)
	[ -x "$sshd" ] && return 0
	echo "1..0 # SKIP no sshd (sh setup.sh check installs openssh-server)"
	return 1
}

sshd_start() {
	mkdir -m 700 "$T/ssh"
	ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/host_key" || return 1
	ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/id" || return 1
	cp "$T/ssh/id.pub" "$T/ssh/authorized_keys"
	[ "$(id -u)" -eq 0 ] && mkdir -p /run/sshd	# Debian's sshd wants it
	host=$(id -un)@127.0.0.1
	port=$((20000 + $$ % 20000))
	for try in 1 2 3 4 5; do
		printf '%s\n' "Port $port" "ListenAddress 127.0.0.1" \
		    "HostKey $T/ssh/host_key" \
		    "AuthorizedKeysFile $T/ssh/authorized_keys" \
		    "PidFile $T/ssh/sshd.pid" "UsePAM no" "StrictModes no" \
		    "PermitRootLogin prohibit-password" \
		    "PasswordAuthentication no" \
		    "KbdInteractiveAuthentication no" "PrintMotd no" \
		    "LogLevel ERROR" ${sshd_banner:+"Banner $sshd_banner"} \
		    >"$T/ssh/config"
		"$sshd" -D -e -f "$T/ssh/config" 2>>"$T/ssh/log" &
		sshd_pid=$!
		PIDS="$PIDS $sshd_pid"
		LISPD_SSH="ssh -F /dev/null -i $T/ssh/id -p $port -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes"
		# sshd passes no environment: the sanitizers' options too.
		LISPD_REMOTE="env ${ASAN_OPTIONS:+ASAN_OPTIONS=$ASAN_OPTIONS} ${UBSAN_OPTIONS:+UBSAN_OPTIONS=$UBSAN_OPTIONS} $LISPD -S $D"
		export LISPD_SSH LISPD_REMOTE
		wait_until 10 $LISPD_SSH "$host" true && return 0
		kill "$sshd_pid" 2>/dev/null
		port=$((port + 1))
	done
	return 1
}

# frame TEXT: a swank frame, 6 hex digits of UTF-8 length then the text.
frame() {
	printf '%06x%s' "$(printf '%s' "$1" | wc -c)" "$1"
}

# swank_call NAME FRAMES...: send the frames through `lispd swank NAME`;
# what came back is in $T/out once a :return arrived, or the bridge ended
# (swank closed the connection), or 10 s passed.
n=0
swank_call() {
	name=$1
	shift
	n=$((n + 1))
	mkfifo "$T/in.$n"
	lispd swank "$name" <"$T/in.$n" >"$T/out" 2>&1 &
	bridge=$!
	exec 8>"$T/in.$n"
	for f in "$@"; do
		printf '%s' "$f" >&8
	done
	# Not answered in time: the bridge goes, for the test to say so.
	wait_until 10 eval 'grep -q ":return" "$T/out" || dead $bridge' ||
	    kill "$bridge" 2>/dev/null
	exec 8>&-
	wait "$bridge"
}

# backtraces NAME: the backtrace of each of the image's threads but the
# evaluation's own, as TAP comments: what a test that timed out waited on.
backtraces() {
	lispd eval -s "$1" '(let ((me sb-thread:*current-thread*)) (with-output-to-string (o) (dolist (th (sb-thread:list-all-threads)) (unless (eq th me) (let ((bt nil)) (ignore-errors (sb-thread:interrupt-thread th (lambda () (setf bt (with-output-to-string (s) (sb-debug:print-backtrace :stream s :count 25)))))) (loop repeat 30 until bt do (sleep 0.1)) (format o "~a~%~a~%" (sb-thread:thread-name th) (or bt "(no answer)")))))))' |
	    sed 's/^/#   bt: /'
}

# rex FORM: a request to evaluate the form (a string of Lisp) in swank.
rex() {
	frame "(:emacs-rex (swank:eval-and-grab-output \"$1\") \"COMMON-LISP-USER\" t 1)"
}

# memory_ok PID FIELD KB DESCRIPTION: FIELD (VmRSS, VmHWM) of PID under KB.
# Under ASan (LISPD_TEST_MEMORY=skip, from t/ci.sh) memory says nothing of
# the program: its allocator holds freed blocks by the hundred megabytes.
memory_ok() {
	if [ "${LISPD_TEST_MEMORY:-}" = skip ]; then
		tap_n=$((tap_n + 1))
		echo "ok $tap_n - $4 # SKIP memory is not weighed under ASan"
		return
	fi
	kb=$(awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status")
	[ "$kb" -lt "$3" ]; ok $? "$4 ($2 $kb kB)"
}

done_testing() {
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
}

lispd() {
	"$LISPD" -S "$D" "$@"
}

# Remember a session's server and image for cleanup, by pid.
track() {
	img=$(image_pid "$1")
	[ -n "$img" ] || return 0
	PIDS="$PIDS $img $(parent_pid "$img")"
}

# The image's pid, or nothing (a stale or exited session has none).
image_pid() {
	lispd ls 2>/dev/null | awk -v n="$1" '$1 == n && $2 ~ /^[0-9]+$/ { print $2 }'
}

parent_pid() {
	ps -o ppid= -p "$1" | tr -d ' '
}

# The server is the image's parent.
server_pid() {
	parent_pid "$(image_pid "$1")"
}

start() {
	lispd start "$@" && track "$(start_name "$@")"
}

start_name() {
	while [ $# -gt 0 ]; do
		case $1 in
		-s) echo "$2"; return ;;
		--) break ;;
		esac
		shift
	done
	echo default
}

# grow NAME: a function, a global, a CLOS instance and a package defined
# in session NAME, as grown by hand; $grown_probe shows them, as
# $grown_want.
grown_probe='(list (greet "core") *kept* (point-x *p*) (funcall (find-symbol "ANSWER" "GROWN")))'
grown_want='("hello core" (1 2 3) 42 42)'
grow() {
	timeout 60 "$LISPD" -S "$D" eval -s "$1" \
	    '(defun greet (x) (format nil "hello ~a" x))' \
	    '(defvar *kept* (list 1 2 3))' \
	    '(defclass point () ((x :initarg :x :reader point-x)))' \
	    '(defvar *p* (make-instance (quote point) :x 42))' \
	    '(defpackage :grown (:use :cl) (:export #:answer))' \
	    '(defun grown:answer () 42)' >/dev/null
}

# wait_until TIMEOUT COMMAND...: poll a readiness condition.
wait_until() {
	limit=$1
	shift
	i=0
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -gt $((limit * 20)) ] && return 1
		sleep 0.05
	done
	return 0
}

# A terminal: a tmux pane running sh, where a person types.
term_new() {
	tmux -S "$TMUX_SOCK" -f /dev/null new-session -d -s "$1" -x 80 -y 24 \
	    "env PS1='$ ' TERM=xterm LISPD_DIR='$D' sh"
	# Typed before the shell's first prompt, a line is echoed early and
	# the prompt lands after it: wait for the shell.
	wait_screen "$1" '^\$ ?$'
}

# A terminal that runs one command under a non-interactive sh: no job
# control, and not tmux's direct child (tmux continues a stopped child).
term_run() {
	tmux -S "$TMUX_SOCK" -f /dev/null new-session -d -s "$1" -x 80 -y 24 \
	    "env TERM=xterm $2; :"
}

# The pid of the one command running under the pane's shell (term_run's
# command, or what was typed at term_new's prompt).
term_pid() {
	pgrep -P "$(tmux -S "$TMUX_SOCK" display -p -t "$1" '#{pane_pid}')"
}

# The pane's terminal device, e.g. /dev/pts/3.
term_tty() {
	tmux -S "$TMUX_SOCK" display -p -t "$1" '#{pane_tty}'
}

# holds_tty PID TTY: does the process have the terminal open?
holds_tty() {
	for f in /proc/"$1"/fd/*; do
		[ "$(readlink "$f")" = "$2" ] && return 0
	done
	return 1
}

# Is O_NONBLOCK set on the open file behind PID's fd 0?
nonblocking() {
	flags=$(awk '/^flags:/ { print $2 }' "/proc/$1/fdinfo/0")
	[ $((0$flags & 04000)) -ne 0 ]
}

term_keys() {
	pane=$1
	shift
	tmux -S "$TMUX_SOCK" send-keys -t "$pane" "$@"
}

term_type() {
	tmux -S "$TMUX_SOCK" send-keys -t "$1" -l "$2"
	tmux -S "$TMUX_SOCK" send-keys -t "$1" Enter
}

term_screen() {
	tmux -S "$TMUX_SOCK" capture-pane -p -t "$1"
}

# Check that the terminal of PANE's shell is in canonical mode with echo.
term_canonical() {
	term_type "$1" "stty -a | tr ' ' '\n' | grep -xE -- '-?(icanon|echo)' | tr '\n' ,; echo"
	wait_screen "$1" '^icanon,echo,$'
}

screen_has() {
	term_screen "$1" | grep -Eq -- "$2"
}

# term_afresh PANE COMMAND: a clear screen in PANE, then COMMAND typed,
# its status to follow as "rc=N".
term_afresh() {
	term_type "$1" clear
	term_type "$1" "$2; echo rc=\$?"
}

# term_answers PANE [WHAT]: attached in PANE, (+ 40 2) typed shows 42.
term_answers() {
	term_type "$1" '(+ 40 2)'
	wait_screen "$1" '^42'; ok $? "${2:+$2: }the REPL answers"
}

# term_detach PANE [WHAT]: attached in PANE with "...; echo rc=\$?", C-\
# detaches and attach exits 0.
term_detach() {
	term_keys "$1" 'C-\'
	wait_screen "$1" '^rc=0'; ok $? "${2:+$2: }C-\\ detaches, attach exits 0"
}

# wait_screen PANE PATTERN [TIMEOUT]
wait_screen() {
	if wait_until "${3:-10}" screen_has "$1" "$2"; then
		return 0
	fi
	echo "# timed out waiting for /$2/ on $1; the screen:"
	term_screen "$1" | sed 's/^/#   | /'
	return 1
}

stopped() {
	[ "$(awk '{ print $3 }' "/proc/$1/stat")" = T ]
}

alive() {
	kill -0 "$1" 2>/dev/null
}

dead() {
	! kill -0 "$1" 2>/dev/null
}
