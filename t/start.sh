#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# start, run, ls, stop, kill and their errors, with real SBCL.
. "${srcdir:-.}/t/lib.sh"

start -s one -- sbcl --noinform
ok $? "start returns 0 once the image runs"
pid=$(image_pid one)
alive "$pid"; ok $? "the image (pid $pid) is running"
st=$(stat -c %a "$D"); is "$st" 700 "the socket directory is 0700"
st=$(stat -c %a "$D/one.sock"); is "$st" 600 "the socket is 0600"

out=$(lispd ls)
like "$out" "^one +$pid +running +[0-9]+m[0-9]+s +0 +[0-9]+M +[0-9]+ +$swank_up +SBCL [^ ]+ +sbcl --noinform" \
    "ls shows name, pid, state, uptime, clients, heap, threads, swank, Lisp, command"

out=$(lispd start -s one -- sbcl 2>&1); rc=$?
is $rc 4 "starting a running session exits 4"
like "$out" "session one is already running" "and says so"

out=$(lispd start -s two -- no-such-command-here 2>&1); rc=$?
is $rc 127 "a command that does not exist exits 127"
like "$out" "command not found: no-such-command-here" "and names it"
[ ! -e "$D/two.sock" ]; ok $? "and leaves no socket behind"

: > "$T/noexec"
out=$(lispd start -s three -- "$T/noexec" 2>&1); rc=$?
is $rc 126 "a file that cannot be executed exits 126"
like "$out" "cannot execute .*noexec: Permission denied" "and says why"

# Two starts racing for one name make one session.
lispd start -s race -- sbcl --noinform 2>"$T/r1" & a=$!
lispd start -s race -- sbcl --noinform 2>"$T/r2" & b=$!
wait $a; ra=$?; wait $b; rb=$?
track race
is "$(echo $ra $rb | tr ' ' '\n' | sort | tr '\n' ' ')" "0 4 " \
    "two racing starts: one starts, the other exits 4"
n=$(lispd ls | grep -c '^race ')
is "$n" 1 "and ls shows one session"

# A 72 KB command line: INFO is cut to fit a frame, and ls reads it.
long=$(head -c 72000 /dev/zero | tr '\0' x)
start -s longcmd -- sbcl --noinform --eval "(defparameter *long* \"$long\")"
out=$(lispd ls 2>&1); rc=$?
is $rc 0 "ls of a session with a 72 KB command line exits 0"
like "$out" "^longcmd +[0-9]+ running .* sbcl --noinform --eval \(defparameter \*long\* \"xxx" \
    "and shows its command"
like "$out" "^race +[0-9]+ running" "and the sessions after it"
out=$(./t/rawclient "$D/longcmd.sock" 0000000100000004000000020000000500000000)
like "$out" "^command=sbcl --noinform --eval .*x\.\.\. \([0-9]+ bytes cut\)$" \
    "the server says the command was cut"
swank_call longcmd "$(frame '(:emacs-rex (swank:ping 42) "COMMON-LISP-USER" t 1)')"
like "$(cat "$T/out")" '\(:return \(:ok 42\) 1\)' "lispd swank reaches it"
lispd stop longcmd >/dev/null

# A server that sends a frame over the limit (an older lispd did, for such
# a command line): ls marks it and goes on.
perl -MIO::Socket::UNIX -e '
	$SIG{PIPE} = "IGNORE";
	my $s = IO::Socket::UNIX->new(Local => $ARGV[0], Listen => 5) or die;
	open(my $f, ">", $ARGV[1]); close($f);
	while (my $c = $s->accept) {
		next unless sysread($c, my $b, 12);	# the probe says nothing
		syswrite($c, pack("NNNN", 1, 8, 2, $$));
		sysread($c, $b, 8);
		my $info = "command=" . ("x" x 70000) . "\n";
		syswrite($c, pack("NN", 21, length $info) . $info);
		close($c);
	}' "$D/big.sock" "$T/big.ready" &
fake=$!
PIDS="$PIDS $fake"
wait_until 10 test -e "$T/big.ready"
out=$(lispd ls 2>&1); rc=$?
is $rc 0 "ls with a session it cannot read exits 0"
like "$out" "^big +- +unknown .*\(its info cannot be read: see below\)" "and marks it"
like "$out" "^race +[0-9]+ running" "and lists the sessions after it"
like "$out" "^big: its info cannot be read: its server \(pid $fake\) sent a frame over the 65536-byte limit" \
    "and says why, in one line"
kill "$fake"; wait "$fake" 2>/dev/null
rm -f "$D/big.sock"

for bad in 'a b' 'x/y' '..' 'semi;colon' "$(printf 'nl\nx')"; do
	out=$(lispd start -s "$bad" -- true 2>&1); rc=$?
	is $rc 2 "bad name '$(printf %s "$bad" | tr '\n' '?')' exits 2"
done
like "$out" "bad session name .*A-Z a-z 0-9" "and names the allowed characters"
for bad in -x - --; do
	out=$(lispd start -s "$bad" -- true 2>&1); rc=$?
	is $rc 2 "a name beginning with - ('$bad') exits 2"
done
like "$out" "bad session name '--': names are \[A-Za-z0-9._-\]\+, not beginning with -" \
    "and says the rule"
[ ! -e "$D/-x.lock" ] && [ ! -e "$D/-.sock" ]; ok $? "and makes no files for it"

# [user@]host:NAME: ssh is a script that records its arguments.
printf '#!/bin/sh\nprintf "%%s\\n" "$@" >"%s"\n' "$T/ssh.args" >"$T/fakessh"
chmod +x "$T/fakessh"
LISPD_SSH=$T/fakessh "$LISPD" attach 'me@far:web' </dev/null >/dev/null 2>&1
like "$(tr '\n' ' ' <"$T/ssh.args" 2>/dev/null)" "^-t me@far lispd attach web $" \
    "the fake ssh gets a remote attach's command line"
for bad in 'far:-S/tmp/x' 'me@far:-x' 'me@-oProxyCommand=x:web' '-far:web'; do
	rm -f "$T/ssh.args"
	out=$(LISPD_SSH=$T/fakessh "$LISPD" attach -s "$bad" </dev/null 2>&1); rc=$?
	[ $rc = 2 ] && [ ! -e "$T/ssh.args" ]
	ok $? "attach $bad exits 2 and runs no ssh ($rc: $out)"
done
like "$out" "^lispd: bad host in '-far:web'" "the host is named as the problem"
out=$(LISPD_SSH=$T/fakessh "$LISPD" attach 'far:-S/tmp/x' </dev/null 2>&1)
like "$out" "^lispd: bad session name in 'far:-S/tmp/x': names are \[A-Za-z0-9._-\]\+, not beginning with -$" \
    "a remote name beginning with - is refused with the rule"
rm -f "$T/ssh.args"
out=$(LISPD_SSH=$T/fakessh "$LISPD" ls 'me@-oProxyCommand=x:' 2>&1); rc=$?
[ $rc = 2 ] && [ ! -e "$T/ssh.args" ]
ok $? "ls with a host beginning with - exits 2 and runs no ssh ($rc: $out)"

long=$(printf '%0120d' 0)
out=$(lispd start -s "$long" -- true 2>&1); rc=$?
is $rc 2 "a name too long for a socket path exits 2"
like "$out" "too long for a socket" "and says so"

out=$(lispd attach nosuch 2>&1 </dev/null); rc=$?
is $rc 3 "attach to a missing session exits 3"
like "$out" "no session nosuch" "and names it"
out=$(lispd send nosuch hello 2>&1); is $? 3 "send to a missing session exits 3"
out=$(lispd stop nosuch 2>&1); is $? 3 "stop of a missing session exits 3"
out=$(lispd frobnicate 2>&1); is $? 2 "an unknown command exits 2"
is "$out" "lispd: unknown command 'frobnicate': see 'lispd --help'" \
    "and says so with one lispd: prefix"
out=$(lispd stop -t x one 2>&1); is $? 2 "a bad number exits 2"

# A server killed with SIGKILL leaves a stale socket: the next start replaces it.
srv=$(server_pid one)
kill -KILL "$srv"
wait_until 10 dead "$pid"; ok $? "killing the server hangs up the pty: the image dies"
[ -S "$D/one.sock" ]; ok $? "the killed server's socket is left behind"
out=$(lispd ls); like "$out" "^one +- +stale" "ls shows it as stale"
start -s one -- sbcl --noinform
ok $? "start replaces the stale socket"
lispd send one '(+ 1 2)' >/dev/null; ok $? "and the new session answers"

# stop: the image is asked through its channel and its exit hooks run;
# SIGTERM and SIGKILL follow if it does not go. kill: SIGKILL at once.
pid=$(image_pid one)
lispd eval -s one "(push (lambda () (with-open-file (o \"$T/hooked\" :direction :output) (write-line \"ran\" o))) sb-ext:*exit-hooks*)" >/dev/null
out=$(lispd stop one 2>&1); rc=$?
is $rc 0 "stop exits 0"
like "$out" "asked the image to exit" "stop asks the image to exit through its channel"
is "$(cat "$T/hooked" 2>/dev/null)" ran "and the image's exit hooks run"
like "$out" "the image exited with status 0" "and the image's status"
dead "$pid"; ok $? "the image is gone"
wait_until 10 eval '[ ! -e "$D/one.sock" ] && [ ! -e "$D/one.lock" ] && [ ! -e "$D/one.swank" ]'
ok $? "its sockets and lock are removed as its server ends"

# A Lisp that does not exit when asked gets SIGTERM at half the timeout.
start -s hang -- sbcl --noinform
lispd eval -s hang '(push (lambda () (sleep 600)) sb-ext:*exit-hooks*)' >/dev/null
out=$(lispd stop -t 2 hang 2>&1)
like "$out" "did not exit when asked: sent SIGTERM to pid [0-9]+, SIGKILL in 1 s" \
    "an image that does not exit when asked gets SIGTERM"
like "$out" "did not exit in time: sent SIGKILL" "then SIGKILL"

# An image that ignores SIGTERM gets SIGKILL after the timeout.
start -s stubborn -- sh -c 'trap "" TERM; echo ready; while :; do sleep 1; done'
lispd stop -t 2 stubborn >"$T/stop.out" 2>&1 &
stop_pid=$!
wait_until 10 eval 'lispd ls | grep -Eq "^stubborn +[0-9]+ stopping"'
ok $? "ls shows the session as stopping meanwhile"
out=$(lispd stop stubborn 2>&1)
like "$out" "already stopping" "a second stop says it is under way"
wait "$stop_pid"
out=$(cat "$T/stop.out")
like "$out" "did not exit in time: sent SIGKILL" "stop reports the SIGKILL after -t"
like "$out" "killed by SIGKILL" "and the status"

pid=$(image_pid race)
out=$(lispd kill race 2>&1); rc=$?
is $rc 0 "kill exits 0"
like "$out" "killed by SIGKILL" "kill reports the status"

# run: in the foreground, with the image's status.
lispd run -s fg -- sh -c 'exit 7'; is $? 7 "run exits with the image's status"
lispd run -s fg -- sh -c 'kill -TERM $$'; is $? 143 "a signal N gives 128+N"
out=$(lispd run -s fg -- no-such-command-here 2>&1); is $? 127 "run of a missing command exits 127"

# The daemon keeps none of its caller's fds, and no hold on its directory;
# the image starts in the caller's directory, relative paths still work.
mkdir "$T/work"
(exec 9>"$T/job.lock"; flock -n 9; cd "$T/work" &&
    "$LISPD" -S ../sock start -l con.log -s j -- sbcl --noinform); rc=$?
is $rc 0 "start with a lock held on fd 9, a relative -S and -l"
track j
flock -n "$T/job.lock" true; ok $? "the caller's lock is free again: fd 9 did not reach the daemon"
srv=$(server_pid j)
is "$(readlink /proc/"$srv"/cwd)" / "the server's directory is /"
is "$(readlink /proc/"$(image_pid j)"/cwd)" "$T/work" "the image's is the caller's"
is "$(lispd eval -s j '(progn (require :sb-posix) (sb-posix:getcwd))')" "\"$T/work\"" \
    "as the image says"
lispd send j '(format t "in-the-log~%")' >/dev/null
wait_until 10 grep -q in-the-log "$T/work/con.log"; ok $? "the relative console log is the caller's"
extra=$(ls /proc/"$srv"/fd | awk '$1 > 2' | while read -r f; do readlink /proc/"$srv"/fd/"$f"; done | grep -v -e '^socket:' -e '^anon_inode:' -e '^/dev/ptmx' -e '^/dev/pts/ptmx' -e "^$D/j.lock" -e "^$T/work/con.log" -e '^pipe:')
is "$extra" "" "the server holds nothing else of the caller's"
(out=$(lispd start -s c -- cat 5>&1 >/dev/null 2>&1); echo "$out" >"$T/c.done") &
PIDS="$PIDS $!"
wait_until 20 test -e "$T/c.done"; ok $? "a start in \$(...) returns with the session running"
track c
lispd stop j >/dev/null
# stop returns with the image's exit; the server removes its files after.
wait_until 10 eval '[ ! -e "$D/j.sock" ] && [ ! -e "$D/j.lock" ]'
ok $? "and a relative -S is cleaned up at the end"

done_testing
