#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# The rules the server keeps: it always reads the pty, bounds what a stalled
# client holds, drops a vanished client, queues input within a bound, makes
# no wakeups when idle, and the pty's termios spares the image ^\ and ^Z.
. "${srcdir:-.}/t/lib.sh"

# termios, read by stty run from inside SBCL on the image's own terminal.
start -s lisp -- sbcl --noinform
term_new a
term_type a "$LISPD attach lisp"
wait_screen a '^\* ?$'
term_type a '(sb-ext:run-program "/bin/stty" (list "-a") :input t :output t)'
wait_screen a 'PROCESS :EXITED'
scr=$(term_screen a)
like "$scr" 'quit = <undef>' "VQUIT is disabled: ^\\ cannot kill SBCL"
like "$scr" 'susp = <undef>' "VSUSP is disabled: ^Z cannot stop it"
like "$scr" 'intr = \^C' "VINTR stays: C-c interrupts"
term_keys a 'C-\'

big='yes 0123456789012345678901234567890123456789012345678901234567890123456789 | head -c 30000000'

# No client at all: the image writes 30 MB at full speed.
start -s busy -- sh
lispd send busy "$big >/dev/tty; touch $T/done1" >/dev/null
wait_until 60 test -e "$T/done1"; ok $? "with no client the image writes 30 MB and goes on"

# A stalled relaying client (SIGSTOP): the image goes on, the backlog is
# bounded.
term_run c "$LISPD -S $D attach -R busy"
wait_screen c '# ?$'
cpid=$(term_pid c)
kill -STOP "$cpid"
wait_until 10 stopped "$cpid"; ok $? "the client (pid $cpid) is stopped"
lispd send busy "$big >/dev/tty; echo flood-\"\"2-over; touch $T/done2" >/dev/null
wait_until 60 test -e "$T/done2"; ok $? "a SIGSTOPped client does not stop the image"
memory_ok "$(server_pid busy)" VmRSS 20000 "the server holds a bounded backlog"
kill -CONT "$cpid"
wait_screen c '[0-9]+ bytes of output were dropped'
ok $? "the client is told how many bytes it missed when it resumes"
wait_screen c 'flood-2-over'
ok $? "and is sent the newest lines again: the end of the flood"

# A client that vanishes mid-write is dropped; the image and others go on.
term_run d "$LISPD -S $D attach -R busy"
wait_screen d '# ?$'
dpid=$(term_pid d)
kill -STOP "$dpid"
lispd send busy "$big >/dev/tty; touch $T/done3" >/dev/null
wait_until 60 test -e "$T/done3"
kill -KILL "$dpid"
# Let the other client catch up (its own backlog may have overflowed too).
settled() {
	term_screen c | grep -v '^$' | tail -1 | grep -Eq '(# ?|\]|g\])$'
}
wait_until 30 settled
lispd send busy "echo after-the-vanished-client" >/dev/null
ok $? "send still works after a client vanished mid-write"
wait_screen c '^after-the-vanished-client'; ok $? "and the other client sees the output"
alive "$(server_pid busy)"; ok $? "the server lives on"

# A handed-over terminal nobody reads: its own tmux server, stopped.
T2=$T/tmux2.sock
tmux -S "$T2" -f /dev/null new-session -d -s e -x 80 -y 24 \
    "env TERM=xterm $LISPD -S $D attach busy; :"
t2pid=$(tmux -S "$T2" display -p '#{pid}')
PIDS="$PIDS $t2pid"
t2tty=$(tmux -S "$T2" display -p -t e '#{pane_tty}')
wait_until 10 holds_tty "$(server_pid busy)" "$t2tty"
ok $? "the server has the terminal of the second tmux"
kill -STOP "$t2pid"
lispd send busy "$big >/dev/tty; echo flood-\"\"4-over; touch $T/done4" >/dev/null
wait_until 60 test -e "$T/done4"; ok $? "a terminal nobody reads does not stop the image"
memory_ok "$(server_pid busy)" VmRSS 20000 "the server holds a bounded backlog for it"
kill -CONT "$t2pid"
t2_dropped() {
	tmux -S "$T2" capture-pane -p -t e | grep -Eq 'bytes of output were dropped'
}
wait_until 30 t2_dropped; ok $? "the terminal is told how many bytes it missed"
t2_over() {
	tmux -S "$T2" capture-pane -p -t e | grep -q 'flood-4-over'
}
wait_until 30 t2_over; ok $? "and shows the newest lines: the end of the flood"

# The terminal hangs up while the server has output queued for it.
kill -STOP "$t2pid"
lispd send busy "$big >/dev/tty; touch $T/done5" >/dev/null
wait_until 60 test -e "$T/done5"
kill -KILL "$t2pid"
wait_until 10 dead "$t2pid"
wait_until 10 eval '! holds_tty "$(server_pid busy)" "$t2tty"'
ok $? "a terminal that hangs up is let go"
wait_until 30 settled
lispd send busy "echo after-the-hangup" >/dev/null
ok $? "send still works after it"
wait_screen c '^after-the-hangup'; ok $? "and the other client sees the output"

# Many readers in a flood: the server writes to them only in its share of
# the time, and one that falls behind loses output. Each ends with the
# image's last line, and what each got plus what it was told it missed is
# the same whole: nothing is lost unsaid.
start -s flood -- sh
i=0
while [ $i -lt 20 ]; do
	"$LISPD" -S "$D" log -f -n 0 flood >"$T/fl.$i" 2>"$T/fle.$i" &
	PIDS="$PIDS $!"
	i=$((i + 1))
done
readers_in() {
	lispd send flood 'echo in-""here' >/dev/null
	for f in "$T"/fl.*; do
		grep -q '^in-here' "$f" || return 1
	done
}
wait_until 10 readers_in; ok $? "20 log readers are connected"
lispd send flood "echo begin-\"\"flood; $big; echo flood-\"\"over" >/dev/null
all_over() {
	for f in "$T"/fl.*; do
		tail -n 2 "$f" | grep -q 'flood-over' || return 1	# then the prompt
	done
}
wait_until 60 all_over; ok $? "every reader ends with the image's last line"
wholes=$(for i in $(seq 0 19); do
	size=$(wc -c <"$T/fl.$i")
	at=$(grep -a -b -m 1 '^begin-flood' "$T/fl.$i" | cut -d: -f1)
	told=$(sed -n 's/.*: \([0-9]*\) bytes of output were dropped.*/\1/p' \
	    "$T/fle.$i" | awk '{ s += $1 } END { print s + 0 }')
	echo $((size - at + told))
done | sort -u)
is "$(echo "$wholes" | wc -l)" 1 "got plus told is the same for every reader ($(echo $wholes))"
lispd kill flood >/dev/null 2>&1

# Input for an image that is not reading is queued up to a bound.
lispd send busy "sleep 600" >/dev/null
line=$(printf '%01000d\n' 0 | tr 0 x)
chunk=$(for i in $(seq 60); do printf '%s\n' "$line"; done)
i=0
while [ $i -lt 100 ]; do
	printf '%s\n' "$chunk" | lispd send busy - 2>"$T/err" || break
	i=$((i + 1))
done
[ $i -lt 100 ]; ok $? "send fails once the input queue is full (after $i sends)"
like "$(cat "$T/err")" "not reading its input .* nothing sent" "and says why"
alive "$(image_pid busy)"; ok $? "the image is unharmed"

# A line longer than the terminal's canonical limit arrives whole.
sent_is() { [ "$(lispd eval -s lisp '(length *sent*)' 2>/dev/null)" = "$1" ]; }
for size in 15000 60000; do
	lispd send lisp "(defparameter *sent* \"$(head -c $size /dev/zero |
	    tr '\0' x)\")"
	ok $? "a line of $size bytes is sent"
	wait_until 30 sent_is $size; ok $? "and arrives whole"
done
lispd send lisp '(defparameter *sent* 42)'
wait_until 10 sent_is 42 2>/dev/null
lispd eval -s lisp '*sent*' >"$T/out" 2>&1
is "$(cat "$T/out")" 42 "and the next line sent is evaluated"

# A client that asks (200 MB of PROTO_WAIT) and never reads its answers is
# not read either once they pass a bound: the server's memory stays bounded.
./t/rawclient -n 25000000 "$D/lisp.sock" 000000010000000400000002 \
    0000000e00000000 >"$T/flood" &
flood=$!
PIDS="$PIDS $flood"
wait_until 60 grep -q wrote "$T/flood"; ok $? "the asking client stalls ($(cat "$T/flood"))"
memory_ok "$(server_pid lisp)" VmHWM 20000 "the server's memory stayed bounded"
lispd eval -s lisp '(+ 1 2)' >"$T/out" 2>&1
is "$(cat "$T/out")" 3 "and it serves the others"
kill "$flood"
wait "$flood" 2>/dev/null

# Idle: no wakeups in the server at all.
srv=$(server_pid lisp)
before=$(grep ctxt_switches "/proc/$srv/status" | awk '{ s += $2 } END { print s }')
sleep 1	# the window measured, not a wait for readiness
after=$(grep ctxt_switches "/proc/$srv/status" | awk '{ s += $2 } END { print s }')
is "$after" "$before" "an idle server makes no wakeups in a second"

done_testing
