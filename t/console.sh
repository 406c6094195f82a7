#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# --log: every byte the image writes, with or without clients, rotated by
# size, with timestamps if asked; --log - to stdout for run; SIGHUP reopens
# it; a write that fails (a full disk: /dev/full) is said once and the
# image runs on.
. "${srcdir:-.}/t/lib.sh"

start -l "$T/c.log" -s c -- sh
lispd send c 'yes x | head -n 150000; echo done-$((6 * 7))' >/dev/null
wait_until 30 grep -q '^done-42' "$T/c.log"
ok $? "the log gets the console's output with nobody attached"
is "$(grep -c '^x' "$T/c.log")" 150000 "every line of it"

# Rotation: FILE, FILE.1, FILE.2 at most.
start -l "$T/r.log" -z 4K -k 2 -s r -- sh
lispd send r 'yes y | head -n 20000; echo rotated-done' >/dev/null
wait_until 30 grep -q '^rotated-done' "$T/r.log"
[ -s "$T/r.log.1" ] && [ -s "$T/r.log.2" ] && [ ! -e "$T/r.log.3" ]
ok $? "past --log-size the log rotates, keeping --log-keep files"
n=$(cat "$T/r.log" "$T/r.log.1" "$T/r.log.2" | grep -c '^y')
[ "$n" -gt 0 ]; ok $? "the rotated files hold the output ($n lines of it)"

# A rotation that cannot rename (FILE.1 is a directory: EISDIR, even for
# root) is said once and tried again later, not at every write; once the
# way is clear, SIGHUP makes it rotate again.
mkdir "$T/s.log.1"
lispd run -l "$T/s.log" -z 4K -k 1 -s s -- sh 2>"$T/s.err" &
PIDS="$PIDS $!"
wait_until 30 lispd wait s
lispd send s 'yes s | head -n 100000; echo stuck-done' >/dev/null
wait_until 30 grep -q '^stuck-done' "$T/s.log"
is "$(grep -c 'cannot rotate the console log' "$T/s.err")" 1 \
    "a rotation that fails is said once"
like "$(cat "$T/s.err")" "rename: Is a directory; it grows past the --log-size limit" \
    "saying why, and that the limit is not kept"
rmdir "$T/s.log.1"
kill -HUP "$(server_pid s)"
lispd send s 'echo after-hup' >/dev/null
wait_until 10 test -f "$T/s.log.1"; ok $? "after SIGHUP it rotates again"
lispd kill s >/dev/null 2>&1

# Timestamps, and SIGHUP reopening a log moved away.
start -l "$T/t.log" -m -s t -- sh
lispd send t 'echo stamped' >/dev/null
wait_until 10 grep -q 'stamped' "$T/t.log"
like "$(grep stamped "$T/t.log" | tail -1)" '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} ' \
    "--log-time puts a timestamp at each line's start"
mv "$T/t.log" "$T/t.log.old"
kill -HUP "$(server_pid t)"
wait_until 10 test -e "$T/t.log"; ok $? "SIGHUP opens the log again"
lispd send t 'echo after-hup' >/dev/null
wait_until 10 grep -q 'after-hup' "$T/t.log"; ok $? "and output goes to the new file"
alive "$(server_pid t)"; ok $? "the server lives on"

# --log - with run: the console on stdout, for s6-log or journald.
lispd run -l - -s o -- sh -c 'echo to-stdout; exit 0' >"$T/o.out" 2>/dev/null
grep -q '^to-stdout' "$T/o.out"; ok $? "run --log - writes the console to stdout"

{
	lispd run -l - -s p -- sh -c 'echo piped; exit 0' 2>/dev/null
	awk '/^flags:/ { print "flags", $2 }' /proc/self/fdinfo/1
} | cat >"$T/p.out"
grep -q '^piped' "$T/p.out"; ok $? "run --log - into a pipe"
flags=$(sed -n 's/^flags //p' "$T/p.out")
[ $((0$flags & 04000)) -eq 0 ]
ok $? "leaves the pipe it shares with its parent blocking (flags $flags)"

# --log - into a stalled reader: what it has not taken at the end is said.
{
	lispd run -l - -s q -- sh -c 'head -c 3000000 /dev/zero | tr "\\0" q; exit 0' \
	    2>"$T/q.err"
	touch "$T/q.ran"
} | {
	wait_until 60 test -e "$T/q.ran"
	wc -c
} >"$T/q.out"
lost=$(sed -n 's/.* \([0-9][0-9]*\) bytes of console output were not logged.*/\1/p' "$T/q.err")
[ -n "$lost" ]; ok $? "at the end, output a stalled reader did not take is said ($lost bytes)"
is "$(($(cat "$T/q.out") + ${lost:-0}))" 3000000 "to the byte"

# A full disk: said once, the image goes on.
lispd run -l /dev/full -s f -- sh -c 'for i in 1 2 3 4 5; do echo line-$i; sleep 0.1; done; exit 5' \
    >/dev/null 2>"$T/f.err"
is $? 5 "with the log failing, the image runs to its end"
is "$(grep -c 'output is lost until it can be written again' "$T/f.err")" 1 \
    "and the failure is said once"

out=$(lispd start -l /nonexistent/dir/x.log -s bad 2>&1); rc=$?
is $rc 1 "a log that cannot be opened is an error"
like "$out" "cannot open the console log /nonexistent/dir/x.log" "naming it"
out=$(lispd start -z 12 -s bad 2>&1); is $? 2 "a log size under 1024 bytes exits 2"

done_testing
