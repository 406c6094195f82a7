#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# NAME.swank: real swank (Debian's cl-swank) served by the bootstrap on a
# UNIX socket, reached with lispd swank; garbled, silent and wrong-secret
# clients followed by good ones; --no-swank; no TCP port anywhere.
. "${srcdir:-.}/t/lib.sh"

start -s s -- sbcl --noinform
like "$(lispd ls)" "^s +[0-9]+ running .* $swank_up +SBCL" "ls shows swank up (its version) once start returns"
[ -S "$D/s.swank" ] && [ "$(stat -c %a "$D/s.swank")" = 600 ]
ok $? "s.swank is a socket of mode 0600 beside s.sock"
lispd log s | grep -q WARNING
is $? 1 "the bootstrap and swank load with no warning on the console"
swank_call s "$(frame '(:emacs-rex (swank:connection-info) "COMMON-LISP-USER" t 1)')"
like "$(cat "$T/out")" "^[0-9a-fA-F]{6}\(:return \(:ok \(:pid $(image_pid s) " \
    "connection-info through lispd swank answers with the image's pid"
swank_call s "$(rex '(progn (princ 42) (* 6 7))')"
like "$(cat "$T/out")" '\(:return \(:ok \("42" "42"\)\) 1\)' "a form evaluated through swank"

# Through a pipe: stdin ends at once, and the answers still come back;
# lispd swank leaves once swank has been silent for 2 s.
ping=$(frame '(:emacs-rex (swank:ping 42) "COMMON-LISP-USER" t 1)')
t0=$(date +%s)
out=$(printf '%s' "$ping" | timeout 20 "$LISPD" -S "$D" swank s 2>&1); rc=$?
t1=$(date +%s)
is "$(printf '%s' "$out" | grep -o '(:return (:ok [^)]*) 1)')" '(:return (:ok 42) 1)' \
    "a ping piped into lispd swank gets its answer"
is $rc 0 "and it exits 0"
[ $((t1 - t0)) -le 6 ]; ok $? "soon after swank falls silent ($((t1 - t0)) s)"
out=$(printf '%s' "$ping$(rex '(progn (sleep 1) (* 6 7))')" |
    timeout 20 "$LISPD" -S "$D" swank s 2>&1)
is "$(printf '%s' "$out" | grep -o '(:return (:ok ("" "42")) 1)')" \
    '(:return (:ok ("" "42")) 1)' \
    "an answer that takes a second after stdin ends arrives too"
out=$(printf '%s' "$(rex '(progn (sleep 3) (* 6 7))')" |
    timeout 20 "$LISPD" -S "$D" swank s 2>&1)
is "$(printf '%s' "$out" | grep -o '(:return (:ok ("" "42")) 1)')" \
    '(:return (:ok ("" "42")) 1)' \
    "a request whose answer takes longer than the idle time still gets it"

# A garbled client is dropped; the next one is served.
out=$(printf 'zzzzzzzz-not-swank' | lispd swank s 2>&1); rc=$?
is $rc 0 "a garbled client is disconnected, not left hanging"
swank_call s "$(rex '(+ 1 2)')"
like "$(cat "$T/out")" '\(:return \(:ok \("" "3"\)\) 1\)' "and the next client is served"

# With a secret: a wrong one, then a silent client, then the right one.
mkdir -p "$T/home"
printf 'sekrit\n' >"$T/home/.slime-secret"
HOME=$T/home XDG_CACHE_HOME=${XDG_CACHE_HOME:-$HOME/.cache} \
    lispd start -s sec -- sbcl --noinform && track sec
swank_call sec "$(frame wrong)" "$(rex '(+ 1 2)')"
case $(cat "$T/out") in
*':return'*)	ok 1 "a wrong secret is refused" ;;
*)		ok 0 "a wrong secret is refused" ;;
esac
mkfifo "$T/silent"
lispd swank sec <"$T/silent" >/dev/null 2>&1 &
silent=$!
exec 9>"$T/silent"	# held open, never written: a silent client
swank_call sec "$(frame sekrit)" "$(rex '(+ 20 22)')"
like "$(cat "$T/out")" '\(:return \(:ok \("" "42"\)\) 1\)' \
    "the right secret is served while a silent client waits"
exec 9>&-
wait "$silent"
# One that stops halfway through its secret: swank reads it for up to 20 s,
# and nobody else may wait on that (it held the bootstrap's swank lock).
mkfifo "$T/half"
lispd swank sec <"$T/half" >/dev/null 2>&1 &
half=$!
exec 9>"$T/half"
printf '000010(:emacs' >&9
half_read() { lispd eval -s sec '(let ((n 0)) (dolist (th (sb-thread:list-all-threads) n) (when (equal (sb-thread:thread-name th) "lispd swank client") (incf n))))' | grep -qx 1; }
wait_until 10 half_read; ok $? "a client that stops halfway through its secret is being read"
swank_call sec "$(frame sekrit)" "$(rex '(+ 20 22)')"
like "$(cat "$T/out")" '\(:return \(:ok \("" "42"\)\) 1\)' \
    "the right secret is served meanwhile"
exec 9>&-
kill "$half" 2>/dev/null
wait "$half"

# --no-swank: the socket is there, answered and closed by the server.
lispd start -N -s ns -- sbcl --noinform && track ns
like "$(lispd ls)" "^ns +[0-9]+ running .* off +SBCL" "ls shows swank off with --no-swank"
like "$(lispd ls)" "^ns: swank is not up: started with --no-swank$" "and, below the table, why"
out=$(./t/rawclient "$D/ns.swank" 00 2>&1); rc=$?
is "$out" closed "a connection to ns.swank is closed at once, not left hanging"
out=$(lispd swank ns 2>&1); rc=$?
is $rc 1 "lispd swank to it exits 1"
like "$out" "swank is not up: started with --no-swank" "and says why"
start -s plain -- cat
out=$(lispd swank plain 2>&1)
like "$out" "swank is not up: the image has no lispd bootstrap" \
    "an image without the bootstrap: the same, with its reason"

# --swank names the swank to load: a swank-loader.lisp that does not load
# is reported, in ls and by lispd swank, and the image runs on.
printf '(error "this swank is broken")\n' >"$T/swank-loader.lisp"
lispd start -w "$T/swank-loader.lisp" -s broken -- sbcl --noinform && track broken
like "$(lispd ls)" "^broken: swank is not up: swank did not load: this swank is broken" \
    "start --swank PATH loads that swank; its failure is said in ls"
out=$(lispd swank broken 2>&1)
like "$out" "swank did not load" "and by lispd swank"
is "$(lispd eval -s broken '(+ 1 2)')" 3 "and the image runs on"

# Before it is authenticated, a client's first frame may not announce
# more than 1 MiB: seventy clients announcing 16 MB each are closed at
# once, and the heap never holds their buffers.
hexof() {
	printf '%s' "$1" | od -An -tx1 | tr -d ' \n'
}
big=$(hexof 'ffffff(:emacs-rex')
heap0=$(lispd eval -s s '(progn (sb-ext:gc :full t) (sb-kernel:dynamic-usage))')
bigpids=
for i in $(seq 70); do
	./t/rawclient "$D/s.swank" "$big" >"$T/big.$i" 2>&1 &
	bigpids="$bigpids $!"
done
wait $bigpids
is "$(cat "$T"/big.* | grep -c '^closed$')" 70 \
    "70 clients announcing 16 MB first frames are closed at once"
heap1=$(lispd eval -s s '(sb-kernel:dynamic-usage)')
[ $((heap1 - heap0)) -lt 100000000 ]
ok $? "and the heap grew by less than 100 MB ($(( (heap1 - heap0) / 1000000 )) MB)"
like "$(lispd log -n 20 s)" "first frame would be 16777215 bytes" \
    "the console says why they were closed"
swank_call s "$(rex '(+ 1 2)')"
like "$(cat "$T/out")" '\(:return \(:ok \("" "3"\)\) 1\)' "and a good client is served"

# At most 32 connections may wait to send their first frame (swank would
# give each 20 s): the 33rd is closed at once, the console says so once,
# and once they have gone a good client is served.
pending() {
	[ "$(lispd eval -s s 'lispd::*swank-pending*')" = "$1" ]
}
./t/rawclient -k 32 60 "$D/s.swank" "" >"$T/held32" 2>&1 &
hold=$!
PIDS="$PIDS $hold"
wait_until 10 grep -q held "$T/held32"
wait_until 10 pending 32; ok $? "32 silent connections wait for their first frame"
for i in 1 2 3; do
	out=$(./t/rawclient "$D/s.swank" "$(hexof "$(rex '(+ 1 2)')")" 2>&1)
	is "$out" closed "a connection past them is closed at once ($i)"
done
is "$(lispd log -n 40 s | grep -c 'closing new swank connections: 32 wait')" 1 \
    "the console says why, once"
kill "$hold"
wait "$hold" 2>/dev/null
wait_until 10 pending 0; ok $? "the silent ones gone, none waits"
swank_call s "$(rex '(+ 1 2)')"
like "$(cat "$T/out")" '\(:return \(:ok \("" "3"\)\) 1\)' "and a good client is served"

# NAME.swank checks its peer as NAME.sock does: with every mode loosened,
# another uid is refused by the image, and the console says so.
chmod 755 "$T"; chmod 777 "$D"; chmod 666 "$D/s.swank"
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups ./t/rawclient \
    "$D/s.swank" "$(hexof "$(rex '(+ 1 2)')")" 2>&1)
chmod 700 "$T" "$D"; chmod 600 "$D/s.swank"
is "$out" closed "another uid is refused on NAME.swank even with the socket open"
like "$(lispd log -n 20 s)" "refused a swank connection from uid [0-9]+: only uid 0 and root" \
    "and the console names the uid"

# An editor that goes while swank holds output for it, not yet sent: swank
# lets the connection go (closing its socket with that output, it took the
# broken pipe into its debugger, which waited on the gone editor for ever,
# and the image counted the connection, refusing lispd swank -w).
conns='(length (symbol-value (find-symbol "*CONNECTIONS*" "SWANK")))'
no_conns() { [ "$(lispd eval -s s "$conns")" = 0 ]; }
wait_until 10 no_conns; ok $? "s has no swank connection"
mkfifo "$T/gone.in"
"$LISPD" -S "$D" swank s <"$T/gone.in" >"$T/gone.out" 2>&1 &
bridge=$!
exec 8>"$T/gone.in"
frame '(:emacs-rex (swank:interactive-eval "(progn (write-byte 32 (swank::connection.socket-io swank::*emacs-connection*)) (defparameter cl-user::*held* t) (sleep 20))") "COMMON-LISP-USER" t 1)' >&8
held() { [ "$(lispd eval -s s '(and (boundp (quote cl-user::*held*)) cl-user::*held*)')" = T ]; }
wait_until 10 held; ok $? "swank holds output for a client"
held || sed 's/^/#   /' "$T/gone.out"
kill -KILL "$bridge"
wait "$bridge" 2>/dev/null
exec 8>&-
wait_until 10 no_conns; ok $? "which goes: swank lets its connection go"
no_conns || lispd eval -s s '(mapcar (function sb-thread:thread-name) (sb-thread:list-all-threads))' "$conns" | sed 's/^/#   /'
like "$(lispd eval -s s '(mapcar (function sb-thread:thread-name) (sb-thread:list-all-threads))')" '^\(' \
    "and the image answers"
[ "$(lispd eval -s s '(count "reader-thread" (sb-thread:list-all-threads) :key (function sb-thread:thread-name) :test (function equal))')" = 0 ]
ok $? "with no swank reader thread left"

# Images that start at once with no compiled swank yet (a new machine, a
# new cl-swank, a supervisor starting several): each gets swank, none
# loads a fasl another is still writing ("an empty FASL file").
mkdir "$T/cache"
for n in c1 c2 c3; do
	XDG_CACHE_HOME=$T/cache "$LISPD" -S "$D" start -s $n -- sbcl --noinform \
	    >"$T/$n.start" 2>&1 &
done
wait
for n in c1 c2 c3; do
	track $n
done
ls -d "$T"/cache/common-lisp/*/ >/dev/null 2>&1
ok $? "three images started at once compiled swank into the cache given"
up=$(lispd ls | grep -cE "^c[123] .* $swank_up +SBCL")
is "$up" 3 "and all three serve swank"
[ "$up" = 3 ] || { lispd ls; cat "$T"/c?.start; } 2>&1 | sed 's/^/#   /'
for n in c1 c2 c3; do
	lispd kill $n >/dev/null 2>&1
done

pids="$(server_pid s) $(image_pid s) $(server_pid sec) $(image_pid sec)"
tcp=$(ss -Hltunp 2>/dev/null | grep -E "pid=($(echo $pids | tr ' ' '|'))," || true)
is "$tcp" "" "with swank up, no TCP or UDP socket listens in server or image"

done_testing
