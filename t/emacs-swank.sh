#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# The session serves the connecting SLIME's own swank (contrib/emacs/
# lispd.el, lispd swank -w): a second SLIME, Debian's 2.27 copied as
# 2.27.99, connects to a session that serves 2.27 with no "Versions
# differ" prompt, and the same image serves 2.27.99; while it is
# connected, Debian's SLIME is refused with one message naming both
# versions; once it is gone, Debian's SLIME gets 2.27 back; a session
# lispd-connect starts serves the editor's swank from the start; an image
# restarted with its default swank serves the editor's again when SLIME
# reconnects; and through ssh, the sources sent to the host's cache once.
. "${srcdir:-.}/t/lib.sh"

slime=$(ls -d /usr/share/emacs/site-lisp/elpa/slime-* 2>/dev/null | head -1)
slime_src=/usr/share/emacs/site-lisp/elpa-src/slime-2.27
swank_src=/usr/share/common-lisp/source/slime
if ! command -v emacs >/dev/null || [ -z "$slime" ] || [ ! -d "$slime_src" ] ||
    [ ! -f "$swank_src/swank-loader.lisp" ]; then
	echo "1..0 # SKIP emacs or Debian's slime 2.27 and cl-swank are not installed (sh setup.sh check installs them)"
	exit 0
fi
lispd_el=$(cd "${srcdir:-.}" && pwd)/contrib/emacs/lispd.el
emacs_lib=$(cd "${srcdir:-.}" && pwd)/t/emacs-lib.el

# SLIME B, of another version: Debian's, its .el and its swank in one
# directory, as a git or MELPA SLIME is, versioned 2.27.99 where each
# side reads its version.
b=$T/slime-b
mkdir -p "$b"
cp -R "$slime_src"/. "$swank_src"/. "$b"/
sed -i 's/^;; Version: 2\.27$/;; Version: 2.27.99/' "$b/slime.el"
printf '2.27.99\n' >"$b/slime-version"
grep -q '^;; Version: 2\.27\.99$' "$b/slime.el"
ok $? "a copy of SLIME versioned 2.27.99"

# A private HOME and cache, where swank 2.27.99 compiles its fasls
# (~/.slime/fasl, or ASDF's cache as Debian's swank-loader has it):
# nothing is left in the user's, and each run compiles afresh.
HOME=$T/home
XDG_CACHE_HOME=$T/home/.cache
export HOME XDG_CACHE_HOME
mkdir -p "$HOME"

start -s s -- sbcl --noinform
pid=$(image_pid s)
like "$(lispd ls)" "^s +$pid +running .* 2\.27 +SBCL" "ls shows s serving Debian's swank 2.27"

# What every Emacs run does first. A prompt is recorded, and refused.
cat >"$T/common.el" <<EOT
(setq lispd-program "$LISPD" lispd-directory "$D")
(load "$lispd_el")
(slime-setup '(slime-repl))
(setq slime-kill-without-query-p t print-escape-newlines t)
(load "$emacs_lib")
(defvar prompts nil)
(defun y-or-n-p (prompt) (push prompt prompts) (say "prompted" prompt) nil)
(defun yes-or-no-p (prompt) (push prompt prompts) (say "prompted" prompt) nil)
(defun served ()
  (slime-eval '(cl:symbol-value
                (cl:find-symbol "*SWANK-WIRE-PROTOCOL-VERSION*" "SWANK"))))
(with-temp-file "$T/emacs.pids" (insert (format "%d\n" (emacs-pid))))
EOT
# emacs_b SECONDS NAME: run $T/NAME.el in the Emacs of SLIME 2.27.99
# (slime-path is the copy), what it says in $T/NAME.out; emacs_debian:
# in Debian's.
emacs_b() {
	OUT=$T/$2.out timeout "$1" emacs --batch -Q -L "$b" -l "$T/common.el" \
	    --eval '(setq slime-backend "swank-loader.lisp")' -l "$T/$2.el" \
	    >"$T/$2.err" 2>&1
}
emacs_debian() {
	OUT=$T/$2.out timeout "$1" emacs --batch -Q -L "$slime" \
	    -l "$T/common.el" -l "$T/$2.el" >"$T/$2.err" 2>&1
}
pids() {
	PIDS="$PIDS $(cat "$T/emacs.pids" 2>/dev/null)"
}
get() {
	sed -n "s/^$2=//p" "$1" 2>/dev/null
}
# served_well NAME VERSION [PID]: what Emacs NAME said of its connection:
# the session serves swank VERSION, completion works, it is the image PID,
# and Emacs was never prompted.
served_well() {
	is "$(get "$T/$1.out" served)" "\"$2\"" "$1: the session serves $2"
	is "$(get "$T/$1.out" complete)" '("mapcan" "mapcar")' "$1: completion"
	[ -z "$3" ] || is "$(get "$T/$1.out" pid)" "$3" "$1: in the same image"
	is "$(get "$T/$1.out" prompts)" nil "$1: no prompt"
}

# A, with SLIME 2.27.99, connects and stays until told to go.
cat >"$T/a.el" <<EOT
(say "protocol" slime-protocol-version)
(say "connected" (connect "s"))
(say "served" (served))
(say "complete" (complete))
(say "repl" (repl))
(say "pid" (image))
(write-region "" nil "$T/a.ready")
(say "told" (wait-for (lambda () (file-exists-p "$T/a.go")) 120))
(say "still" (served))
(say "disconnected" (disconnect))
(say "prompts" prompts)
EOT
emacs_b 180 a &
a=$!
wait_until 150 sh -c "[ -f '$T/a.ready' ] || ! kill -0 $a"
pids
[ -f "$T/a.ready" ]; ok $? "Emacs A, with SLIME 2.27.99, is connected (see $T/a.err)"
[ -f "$T/a.ready" ] || grep -Ev "^ |^$" "$T/a.err" | tail -3 | sed 's/^/#   /'
is "$(get "$T/a.out" protocol)" '"2.27.99"' "its slime-protocol-version is 2.27.99"
is "$(get "$T/a.out" connected)" t "lispd-connect connects it to s"
is "$(get "$T/a.out" prompted)" "" "with no prompt (no Versions differ)"
is "$(get "$T/a.out" served)" '"2.27.99"' "swank now says 2.27.99"
is "$(get "$T/a.out" complete)" '("mapcan" "mapcar")' "completion"
is "$(get "$T/a.out" repl)" t "a REPL round trip"
is "$(get "$T/a.out" pid)" "$pid" "in the same image"
is "$(image_pid s)" "$pid" "which runs on"
like "$(lispd ls)" "^s +$pid +running .* 2\.27\.99 +SBCL" "ls shows s serving 2.27.99"
# ASDF loaded s's first swank, Debian's: a session that had no other
# swank before the editor's says NIL here.
asdf_swank='(and (find-package "ASDF") (funcall (find-symbol "COMPONENT-LOADED-P" "ASDF") "swank") t)'
is "$(lispd eval -s s "$asdf_swank")" T "s had Debian's swank before, from ASDF"

# B, Debian's SLIME 2.27, while A is connected: refused, one message.
cat >"$T/b1.el" <<EOT
(say "protocol" slime-protocol-version)
(say "refused" (condition-case e (progn (lispd-connect "s") 'connected)
                 (user-error (cadr e))
                 (error (list 'not-a-user-error e))))
(say "procs" slime-net-processes)
(say "prompts" prompts)
EOT
emacs_debian 60 b1
is $? 0 "Emacs B, with Debian's SLIME, ran (see $T/b1.err)"
pids
is "$(get "$T/b1.out" protocol)" '"2.27"' "its slime-protocol-version is 2.27"
refused=$(get "$T/b1.out" refused)
like "$refused" '^"[^"]*2\.27\.99[^"]*"$' \
    "while A is connected, B gets a user-error naming 2.27.99"
like "$(printf '%s' "$refused" | sed 's/2\.27\.99//g')" '2\.27' "and 2.27"
like "$refused" '^"lispd[^\]*"$' "lispd's one line"
is "$(get "$T/b1.out" procs)" nil "and no connection"
is "$(get "$T/b1.out" prompts)" nil "no prompt"
like "$(lispd ls)" "^s +$pid +running .* 2\.27\.99 +SBCL" "s still serves 2.27.99"
touch "$T/a.go"
wait "$a"
is $? 0 "Emacs A ran through (see $T/a.err)"
is "$(get "$T/a.out" told)" t "A was still connected after B"
is "$(get "$T/a.out" still)" '"2.27.99"' "and served 2.27.99"
is "$(get "$T/a.out" disconnected)" t "then disconnected"
is "$(get "$T/a.out" prompts)" nil "A was never prompted"

# Once A is gone (the image has seen it go), B gets 2.27 back.
no_clients() {
	[ "$(lispd eval -s s '(length (symbol-value (find-symbol "*CONNECTIONS*" "SWANK")))')" = 0 ]
}
wait_until 10 no_clients; ok $? "the image has no swank client left"
if ! no_clients; then
	# What the image was doing: its threads and the console's last lines.
	lispd eval -s s '(format nil "~{~a~^, ~}" (mapcar (function sb-thread:thread-name) (sb-thread:list-all-threads)))' | sed 's/^/#   threads: /'
	backtraces s
	lispd log -n 40 s | sed 's/^/#   | /'
fi
cat >"$T/b2.el" <<EOT
(say "connected" (connect "s"))
(say "served" (served))
(say "complete" (complete))
(say "repl" (repl))
(say "pid" (image))
(say "disconnected" (disconnect))
(say "prompts" prompts)
EOT
emacs_debian 120 b2
is $? 0 "Emacs B ran again (see $T/b2.err)"
pids
is "$(get "$T/b2.out" connected)" t "B connects once A is gone"
served_well b2 2.27 "$pid"
is "$(get "$T/b2.out" repl)" t "a REPL round trip"
like "$(lispd ls)" "^s +$pid +running .* 2\.27 +SBCL" "ls shows s serving 2.27"

# A session lispd-connect starts, from SLIME 2.27.99: its swank from the
# start.
cat >"$T/c.el" <<EOT
(say "connected" (connect "fresh"))
(say "served" (served))
(say "complete" (complete))
(say "disconnected" (disconnect))
(say "prompts" prompts)
EOT
emacs_b 120 c
rc=$?
track fresh
pids
is $rc 0 "Emacs C, with SLIME 2.27.99, ran (see $T/c.err)"
is "$(get "$T/c.out" connected)" t "lispd-connect starts session fresh and connects"
served_well c 2.27.99
like "$(lispd ls)" "^fresh +[0-9]+ +running .* 2\.27\.99 +SBCL" "ls shows fresh serving 2.27.99"
is "$(lispd eval -s fresh "$asdf_swank")" NIL "and never had Debian's swank to switch from"
is "$(lispd eval -s fresh '(namestring swank-loader:*source-directory*)')" "\"$b/\"" \
    "its swank is the copy's"

# An image restarted under --restart on-failure loads its default swank
# (Debian's 2.27) again: lispd.el, reconnecting SLIME 2.27.99 by itself,
# has it serve 2.27.99 again first, with no prompt.
start -s rs --restart on-failure -- sbcl --noinform
cat >"$T/e.el" <<EOT
(say "connected" (connect "rs"))
(say "served" (served))
(write-region (format "%d\n" (image)) nil "$T/e.kill")
(say "lost" (wait-for (lambda () (null slime-net-processes)) 30))
(say "reconnected" (wait-for (lambda () (= connections 2)) 60))
(say "served-again" (served))
(say "complete" (complete))
(say "pid" (image))
(say "disconnected" (disconnect))
(say "prompts" prompts)
EOT
emacs_b 180 e &
e=$!
wait_until 120 sh -c "[ -s '$T/e.kill' ] || ! kill -0 $e"
[ -s "$T/e.kill" ] && kill -9 "$(cat "$T/e.kill")"
wait "$e"
is $? 0 "Emacs E, with SLIME 2.27.99, ran (see $T/e.err)"
pids
track rs
is "$(get "$T/e.out" served)" '"2.27.99"' "E: rs serves 2.27.99"
is "$(get "$T/e.out" lost)" t "E: kill -9 of the image closes the connection"
is "$(get "$T/e.out" reconnected)" t "E: lispd.el reconnects to the restarted image"
is "$(get "$T/e.out" served-again)" '"2.27.99"' "E: which serves 2.27.99 again"
is "$(get "$T/e.out" complete)" '("mapcan" "mapcar")' "E: completion"
is "$(get "$T/e.out" prompts)" nil "E: no prompt"
is "$(get "$T/e.out" pid)" "$(image_pid rs)" "E: in the new image"
[ "$(image_pid rs)" != "$(cat "$T/e.kill")" ]; ok $? "E: not the one killed"

# Through ssh (the real sshd on 127.0.0.1), SLIME 2.27.99 to a session
# serving 2.27: its swank's sources are sent to the host's cache (here
# $T/rcache: sshd passes no environment, the remote lispd is told, as
# LISPD_REMOTE tells it the sanitizers' options) once,
# and the session serves them.
if sshd_usable >/dev/null && sshd_start; then
	start -s r -- sbcl --noinform
	rpid=$(image_pid r)
	cat >"$T/d.el" <<EOT
(setq lispd-ssh-program (getenv "LISPD_SSH")
      lispd-program "env XDG_CACHE_HOME=$T/rcache $LISPD_REMOTE"
      lispd-directory nil)
(say "connected" (connect "$host:r"))
(say "served" (served))
(say "complete" (complete))
(say "pid" (image))
(say "disconnected" (disconnect))
(say "again" (connect "$host:r"))
(say "served-again" (served))
(say "disconnected-again" (disconnect))
(say "started" (connect "$host:rf"))
(say "served-rf" (served))
(say "disconnected-rf" (disconnect))
(say "sent" (with-current-buffer "*Messages*"
              (how-many "lispd: sending swank 2\\.27\\.99" (point-min) (point-max))))
(say "prompts" prompts)
EOT
	emacs_b 180 d
	is $? 0 "Emacs D, with SLIME 2.27.99, ran through ssh (see $T/d.err)"
	pids
	is "$(get "$T/d.out" connected)" t "lispd-connect host:r connects through ssh"
	served_well d 2.27.99 "$rpid"
	[ -f "$T/rcache/lispd/swank/2.27.99/swank-loader.lisp" ]
	ok $? "the sources are in the host's cache, by version"
	is "$(get "$T/d.out" again)" t "a second connection"
	is "$(get "$T/d.out" served-again)" '"2.27.99"' "serves 2.27.99"
	is "$(get "$T/d.out" sent)" 1 "and the sources were sent once"
	like "$(lispd ls)" "^r +$rpid +running .* 2\.27\.99 +SBCL" "ls shows r serving 2.27.99"
	track rf
	is "$(get "$T/d.out" started)" t "lispd-connect host:rf starts session rf there and connects"
	is "$(get "$T/d.out" served-rf)" '"2.27.99"' "rf serves 2.27.99, from the host's cache"
	like "$(lispd ls)" "^rf +[0-9]+ +running .* 2\.27\.99 +SBCL" "ls shows rf serving 2.27.99"
else
	ok 0 "# SKIP no sshd for the ssh part"
fi

done_testing
