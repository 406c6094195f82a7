#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# A package upgrade never strands a running image. A newer lispd speaks
# an older session's protocol (t/lispd-prev speaks version 1, from before
# the terminal was handed over); a lispd that no longer speaks it runs the
# session's own binary instead, in both directions (t/lispd-next speaks
# version 3 only).
. "${srcdir:-.}/t/lib.sh"
NEXT=$(pwd)/t/lispd-next
PREV=$(pwd)/t/lispd-prev

# Protocol 1: this lispd attaches, relaying, as a version 1 client did.
"$PREV" -S "$D" start -s v1 -- sbcl --noinform && track v1
term_new p
term_type p "$LISPD attach v1; echo rc=\$?"
wait_screen p '^\* ?$'; ok $? "this lispd attaches to a protocol 1 session"
holds_tty "$(server_pid v1)" "$(term_tty p)"
ok $((! $?)) "relaying: a protocol 1 server is not offered the terminal"
term_answers p "protocol 1"
term_detach p "protocol 1"

next() {
	"$NEXT" -S "$D" "$@"
}

"$NEXT" -V | grep -q 'protocol 3'; ok $? "t/lispd-next speaks protocol 3"

# An old session, a new client.
start -s old -- sbcl --noinform
out=$(next send old '(format t "sent-by-~a~%" "next")' 2>&1); rc=$?
is $rc 0 "a newer lispd sends to an older session"
out=$(next ls 2>&1)
like "$out" "^old +- +other .*list it with /proc/[0-9]+/exe ls" \
    "its ls names the session's own binary for listing it"
exe=$(printf '%s\n' "$out" | sed -n 's|^old .*with \(/proc/[0-9]*/exe\) ls.*|\1|p')
out=$("$exe" -S "$D" ls 2>&1)
like "$out" '^old +[0-9]+ running' "which lists it"
term_new a
term_type a "$NEXT attach old; echo rc=\$?"
wait_screen a '^sent-by-next'; ok $? "and attaches to it"
term_answers a "a newer client"
term_detach a "a newer client"
next stop -t 5 old >/dev/null 2>&1; is $? 0 "and stops it"

# A new session, an old client.
next start -s new -- sbcl --noinform
# Its own ls shows its pid (this lispd's lists it as another protocol's).
img=$(next ls | awk '$1 == "new" { print $2 }')
PIDS="$PIDS $img $(parent_pid "$img")"
lispd send new '(format t "sent-by-~a~%" "old")' >/dev/null 2>&1
is $? 0 "an older lispd sends to a newer session"
term_type a "$LISPD attach new; echo rc=\$?"
wait_screen a '^sent-by-old'; ok $? "and attaches to it"
term_keys a 'C-\'
wait_screen a '^rc=0'; ok $? "and detaches"

# stdin is read by the binary that runs, not lost to the one that gave way.
printf '(format t "piped-~a~%%" (* 6 7))\n' | lispd send new - >/dev/null 2>&1
is $? 0 "send - to a newer session"
term_type a "$LISPD attach new; echo rc=\$?"
wait_screen a '^piped-42'; ok $? "and the text piped in arrives whole"
term_keys a 'C-\'
wait_screen a '^rc=0'

# ls meets sessions of two protocols: it lists both and re-runs nothing.
start -s cur -- sbcl --noinform
out=$(lispd ls 2>&1); rc=$?
is $rc 0 "ls with sessions of two protocols exits 0"
like "$out" '^cur +[0-9]+ running' "and lists its own protocol's session"
like "$out" "^new +- +other .*another lispd's protocol: list it with /proc/[0-9]+/exe ls" \
    "and says how to list the other one"

# Nothing to fall back on: one clear line, status 5.
out=$(LISPD_REEXEC=1 "$LISPD" -S "$D" send new x 2>&1); rc=$?
is $rc 5 "when the session's binary did not help either, exit 5"
like "$out" "session new: client protocol version 2 is older .*restart the session" \
    "naming the versions and the fix"
LISPD_REEXEC=1 lispd start -s env -- sh -c "env >$T/env; exec sleep 600" &&
    track env
wait_until 10 test -s "$T/env"
grep -q LISPD_REEXEC "$T/env"; ok $((! $?)) "the variable never reaches an image"

done_testing
