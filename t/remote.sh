#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# Every command against [user@]host:NAME, through a real sshd on 127.0.0.1
# (a throwaway host key and client key, a private port, the authorized
# keys in the test directory): ls, eval of forms full of shell syntax,
# errors, send, swank through the bridge, attach and detach in a terminal,
# C-c during a remote eval, stop, and a target that is not a host.
. "${srcdir:-.}/t/lib.sh"

sshd_usable || exit 0

sshd_start
$LISPD_SSH "$host" true; ok $? "sshd on 127.0.0.1:$port takes our key"

start -s r -- sbcl --noinform
like "$("$LISPD" ls "$host:")" "^r +[0-9]+ running" "ls host: lists the sessions there"

# Forms go on stdin: quotes, \$(...), ; and newlines reach the image intact.
form='(format nil "it'"'"'s $(echo no); `no` ~a;
next line" (+ 1 2))'
out=$("$LISPD" eval -s "$host:r" "$form"); rc=$?
is "$out" '"it'"'"'s $(echo no); `no` 3;
next line"' "eval host:NAME of a form full of shell syntax"
is $rc 0 "exits 0"
out=$("$LISPD" eval -s "$host:r" '(error "far ~a" "away")' 2>&1); rc=$?
is $rc 1 "a remote error exits 1"
like "$out" "error: far away" "with the condition on stderr"
printf '(* 6 7)\n' | "$LISPD" eval -s "$host:r" - >"$T/out"
is "$(cat "$T/out")" 42 "eval host:NAME - reads the forms from stdin"
"$LISPD" send "$host:r" '(defvar *sent* "it'"'"'s; $(x)")' >/dev/null
is $? 0 "send host:NAME"
sent() {
	[ "$(lispd eval -s r '*sent*' 2>/dev/null)" = '"it'"'"'s; $(x)"' ]
}
wait_until 10 sent; ok $? "the text arrives intact, and the REPL evaluates it"

lispd send r '(format t "for-the-log-~a~%" (* 6 7))' >/dev/null
wait_until 10 eval '"$LISPD" log "$host:r" | grep -q "^for-the-log-42"'
ok $? "log host:NAME prints the console there"
like "$("$LISPD" ping -v -t 10 "$host:r")" '^[0-9]+ us$' "ping -v host:NAME answers through ssh"

# swank through the bridge, over ssh.
swank_call "$host:r" "$(rex '(+ 1 2)')"
like "$(cat "$T/out")" '\(:return \(:ok \("" "3"\)\) 1\)' "swank host:NAME carries swank over ssh"

# attach and detach through a terminal, with ssh -t.
term_new a
term_type a "export LISPD_SSH='$LISPD_SSH' LISPD_REMOTE='$LISPD_REMOTE'"
term_type a "$LISPD attach $host:r; echo rc=\$?"
wait_screen a '^\* ?$' 20; ok $? "attach host:NAME shows the REPL"
term_type a '(+ 100 23)'
wait_screen a '^123'; ok $? "and evaluates what is typed"
term_keys a 'C-\'
wait_screen a 'detached from r'; ok $? "C-\\ detaches"
wait_screen a '^rc=0'; ok $? "and attach exits 0"

# C-c during a remote eval interrupts it in the image.
others() {	# evaluations running in the image besides the one asking
	lispd eval -s r '(1- (hash-table-count lispd::*jobs*))'
}
term_afresh a "$LISPD eval -s $host:r '(progn (format t \"started~%\") (finish-output) (sleep 600))'"
wait_screen a '^started$' 20	# not the typed line, wrapped
is "$(others)" 1 "a remote evaluation runs in the image"
term_keys a C-c
wait_screen a 'rc=130$'; ok $? "C-c during a remote eval exits 130"
wait_until 20 eval '[ "$(others)" = 0 ]'
ok $? "and it was interrupted in the image: no evaluation is left running"

out=$("$LISPD" stop "$host:r" 2>&1); rc=$?
is $rc 0 "stop host:NAME"
like "$out" "the image exited" "and says how the image ended"
out=$("$LISPD" eval -s "-oProxyCommand=x:r" 1 2>&1); rc=$?
is $rc 2 "a host that could pass for an ssh option is refused"
# ssh joins its words with spaces: an empty one would vanish, and the
# next take its place (-w '' r: r as the loader, on session "default").
out=$("$LISPD" swank -w '' "$host:r" 2>&1); rc=$?
is "$rc $out" "2 lispd: swank: an empty argument after -w cannot reach $host (ssh would drop it): give it a value" \
    "an empty option value for another host: exit 2, saying so"
out=$("$LISPD" attach -e '' "$host:r" 2>&1); rc=$?
is $rc 2 "attach -e '' host:NAME too"

done_testing
