#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# The socket directory, peer credentials, bad frames, no TCP.
. "${srcdir:-.}/t/lib.sh"

mkdir -m 755 "$T/open"
out=$("$LISPD" -S "$T/open" ls 2>&1); rc=$?
is $rc 6 "a group/world-readable directory is refused with 6"
like "$out" "open to group or others \(mode 0755\): chmod 700" "naming the fix"
mkdir -m 700 "$T/theirs"; chown nobody "$T/theirs"
out=$("$LISPD" -S "$T/theirs" ls 2>&1); rc=$?
is $rc 6 "a directory of another user is refused with 6"
like "$out" "belongs to uid [0-9]+, not to you" "and says whose it is"
: > "$T/file"
out=$("$LISPD" -S "$T/file" ls 2>&1); is $? 6 "a file is not a socket directory"
out=$(LISPD_DIR="$T/env" "$LISPD" ls 2>&1)
[ -d "$T/env" ] && [ "$(stat -c %a "$T/env")" = 700 ]; ok $? "LISPD_DIR is created 0700"

start -s sec -- sbcl --noinform
hello=000000010000000400000001
out=$(./t/rawclient "$D/sec.sock" "$hello")
like "$out" "^1 8 " "the owner gets a hello"

# Loosen everything, then connect as nobody: SO_PEERCRED still refuses.
chmod 755 "$T"; chmod 777 "$D"; chmod 666 "$D/sec.sock"
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups ./t/rawclient "$D/sec.sock" "$hello" 2>&1)
like "$out" "^19 [0-9]+ .*session sec refuses uid $(id -u nobody): only its owner \(uid $(id -u)\) and root may connect" \
    "another uid is refused by the server even with the socket open, and told why"
is "$(echo "$out" | tail -1)" closed "then the connection is closed"
# The lispd client of that uid, through a directory of its own (a link to
# the socket), prints the refusal.
mkdir -m 700 "$T/nobody"; chown nobody "$T/nobody"; ln "$D/sec.sock" "$T/nobody/sec.sock"
for cmd in "log sec" "eval -s sec 1"; do
	out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$LISPD" -S "$T/nobody" $cmd 2>&1); rc=$?
	is $rc 1 "lispd $cmd of another uid exits 1"
	like "$out" "^lispd: session sec refuses uid $(id -u nobody): only its owner \(uid $(id -u)\) and root may connect$" \
	    "printing the server's reason"
done
rm -f "$T/nobody/sec.sock"
chmod 700 "$T" "$D"; chmod 600 "$D/sec.sock"

out=$(./t/rawclient "$D/sec.sock" 0000000100100000)
like "$out" "over the limit" "an oversized frame gets an error"
like "$out" "closed" "and the connection is closed"
out=$(./t/rawclient "$D/sec.sock" 000000010000000400000000)
like "$out" "protocol version 0 is older" "a wrong protocol version gets an error"
out=$(./t/rawclient "$D/sec.sock" 0000000500000000)
like "$out" "expected a hello message first" "a frame before hello gets an error"
out=$(./t/rawclient "$D/sec.sock" "${hello}000000020000000100")
like "$out" "malformed attach" "a short attach gets an error"
out=$(./t/rawclient "$D/sec.sock" "${hello}0000fff000000000")
is "$(echo "$out" | tail -1)" "timeout" "an unknown type is ignored: no error, no close"
./t/rawclient "$D/sec.sock" "deadbeefdeadbeef0123" >/dev/null
lispd send sec '(+ 1 2)' >/dev/null; ok $? "after all that the session still answers"
alive "$(image_pid sec)"; ok $? "and the image lives"

pids="$(server_pid sec) $(image_pid sec)"
tcp=$(ss -Hltunp 2>/dev/null | grep -E "pid=($(echo $pids | tr ' ' '|'))," || true)
is "$tcp" "" "neither the server nor the image listens on TCP or UDP"

done_testing
