#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# attach through a real terminal (tmux): the REPL, detach, reattach with
# history, read-only, several clients, resize, the image's exit. The
# terminal is handed to the server; t/attach-relay.sh runs all of this
# again with ATTACH="attach -R", the client relaying.
. "${srcdir:-.}/t/lib.sh"
: "${ATTACH:=attach}"

start -s web -- sbcl --noinform
term_new a
term_type a "$LISPD $ATTACH web; echo rc=\$?"
wait_screen a '^\* ?$'; ok $? "attach shows the SBCL prompt"
if [ "$ATTACH" = attach ]; then
	holds_tty "$(server_pid web)" "$(term_tty a)"
	ok $? "the server holds the terminal handed to it"
else
	holds_tty "$(server_pid web)" "$(term_tty a)"
	ok $((! $?)) "with -R the server never has the terminal"
fi
term_type a '(format t "hello-~a~%" (* 6 7))'
wait_screen a '^hello-42'; ok $? "a form typed in the terminal is evaluated"

term_keys a 'C-\'
wait_screen a 'detached from web'; ok $? "C-\\ detaches"
wait_screen a '^rc=0'; ok $? "and attach exits 0"
term_canonical a; ok $? "the terminal is back in canonical mode with echo"
holds_tty "$(server_pid web)" "$(term_tty a)"
ok $((! $?)) "the server has let go of the terminal"
pane_sh=$(tmux -S "$TMUX_SOCK" display -p -t a '#{pane_pid}')
nonblocking "$pane_sh"; ok $((! $?)) "the shell's terminal is not left non-blocking"
alive "$(image_pid web)"; ok $? "the image runs on after the detach"

term_afresh a "$LISPD $ATTACH -e 'C-]' web"
wait_screen a '^hello-42'; ok $? "reattach replays the recent history"
term_type a '(+ 100 23)'
wait_screen a '^123'; ok $? "and the REPL goes on"
term_type a '(loop)'
term_keys a C-c
wait_screen a 'Interactive interrupt'; ok $? "C-c interrupts a busy Lisp"
wait_screen a '^0\] ?$'
term_type a '(sb-ext:process-p (sb-ext:run-program "/bin/true" nil))'
wait_screen a '^T$'; ok $? "into the debugger, which evaluates forms"
term_type a 1
wait_screen a '^\* ?$'; ok $? "and restart 1 (abort) is back at the top level"
term_type a '(char-code (read-char))'
term_keys a 'C-\'
term_keys a Enter
wait_screen a '^28$'; ok $? "with -e C-], C-\\ is just a byte for the image"
term_keys a 'C-]'
wait_screen a '^rc=0'; ok $? "and C-] detaches"

# A key of two bytes: a lone first byte still reaches the image.
term_afresh a "$LISPD $ATTACH -e M-d web"
wait_screen a '^28$'	# the replayed history
term_type a '(char-code (read-char))'
term_keys a Escape
sleep 0.2	# longer than the 50 ms a part of the key is held
term_keys a Enter
wait_screen a '^27$'; ok $? "with -e M-d, a lone ESC is typed after a moment"
term_keys a M-d
wait_screen a '^rc=0'; ok $? "and M-d detaches"

out=$(script -qec "$LISPD -S $D $ATTACH -e 'C-x-y' web" /dev/null 2>&1); rc=$?
is $rc 2 "a detach key that does not parse exits 2"
like "$out" "bad detach key 'C-x-y'" "and names it"

# Two clients, one read-only: output reaches both, input only from one.
term_new b
term_afresh a "$LISPD $ATTACH web"
term_type b "$LISPD $ATTACH -r web; echo rc=\$?"
wait_screen b '^\* ?$'; ok $? "a read-only client attaches"
term_type a '(format t "from-a~%")'
wait_screen b '^from-a'; ok $? "output reaches the read-only client"
term_type b '(format t "from-~a~%" "b")'
wait_screen b 'read-only: input ignored'; ok $? "the server tells the read-only client"
term_type a '(format t "marker-~a~%" 1)'
wait_screen a '^marker-1'
screen_has a '^from-b'; ok $((! $?)) "input from the read-only client never reaches the image"

# The pty follows the size of the most recently active read-write client.
term_type a '(sb-ext:run-program "/bin/stty" (list "size") :input t :output t)'
wait_screen a '^24 80'; ok $? "the pty has the attached terminal's size"
tmux -S "$TMUX_SOCK" resize-window -t b -x 100 -y 30
tmux -S "$TMUX_SOCK" resize-window -t a -x 120 -y 40
term_type a '(sb-ext:run-program "/bin/stty" (list "size") :input t :output t)'
wait_screen a '^40 120'; ok $? "it follows the read-write client's resize"
term_keys b 'C-\'
wait_screen b '^rc=0'
term_keys a 'C-\'
wait_screen a '^rc=0'
# A clear screen: the replay below is then all there is to wait for, and
# once it is there, attach has the terminal in raw mode (a paste into a
# canonical one would be cut at 4095 bytes before it reached lispd).
term_type a 'clear'
wait_until 10 eval '! screen_has a "^40 120"'
term_type a "$LISPD send web '(sb-ext:run-program \"/bin/stty\" (list \"size\") :input t :output t)'"
term_type a "$LISPD $ATTACH -n 3 web; echo rc=\$?"
wait_screen a '40 120$'; ok $? "with nobody attached the size stays"

# A pasted line longer than the 4095 bytes a canonical tty keeps of a line
# arrives whole, and the REPL goes on.
paste_is() { [ "$(lispd eval -s web '(length *paste*)' 2>/dev/null)" = "$1" ]; }
for size in 15000 200000; do
	printf '(defparameter *paste* "%s")' \
	    "$(head -c $size /dev/zero | tr '\0' x)" >"$T/paste"
	tmux -S "$TMUX_SOCK" load-buffer -b paste "$T/paste"
	tmux -S "$TMUX_SOCK" paste-buffer -d -b paste -t a
	term_keys a Enter
	wait_until 30 paste_is $size
	ok $? "a pasted line of $size bytes arrives whole"
done
term_type a '(format t "after-~a~%" (* 6 7))'
wait_screen a '^after-42'; ok $? "and the next line typed is evaluated"
# C-c is not held behind a long line that a busy image has not read.
term_type a '(sleep 600)'
tmux -S "$TMUX_SOCK" load-buffer -b paste "$T/paste"
tmux -S "$TMUX_SOCK" paste-buffer -d -b paste -t a
term_keys a C-c
wait_screen a 'Interactive interrupt'; ok $? "C-c behind a waiting paste interrupts"
wait_screen a '^0\] ?$'
term_type a 1
wait_screen a '^\* ?$'; ok $? "and the REPL is back, the paste dropped"

# A client stopped from outside leaves the terminal to its shell: SIGTSTP
# is caught (the server lets go, as on detach), SIGSTOP is seen by the
# server; neither the image's output nor type-ahead crosses, and fg
# attaches again.
term_new c
for sig in TSTP STOP; do
	term_type c "$LISPD $ATTACH web"
	wait_screen c '^\* ?$'
	apid=$(term_pid c)
	kill -$sig "$apid"
	wait_until 10 stopped "$apid"; ok $? "SIG$sig stops the attach client"
	wait_screen c 'Stopped'
	lispd eval -s web "(progn (format *terminal-io* \"~%IMAGE-~a-$sig~%\" \
	    'output) (finish-output *terminal-io*))" >/dev/null
	if [ $sig = STOP ]; then
		# Nobody could restore the terminal: it is raw, without ICRNL.
		term_keys c -l 'stty sane'
		term_keys c C-j
		# Typed before stty ran, Enter would stay a CR (no ICRNL).
		wait_until 10 eval 'stty -F "$(term_tty c)" -a |
		    tr " " "\n" | grep -qx icrnl'
	fi
	term_type c "echo typed-ahead-secret-$sig"
	wait_screen c "^typed-ahead-secret-$sig"
	ok $? "after SIG$sig, type-ahead reaches the shell"
	lispd log -n 100 web | grep -q "secret-$sig"
	ok $((! $?)) "and not the image"
	screen_has c "IMAGE-OUTPUT-$sig"
	ok $((! $?)) "the image's output does not reach the shell"
	term_type c fg
	wait_screen c "^IMAGE-OUTPUT-$sig"; ok $? "fg attaches again"
	term_type c '(format t "back-~a~%" (* 6 7))'
	wait_screen c '^back-42'; ok $? "and the REPL goes on"
	term_keys c 'C-\'
	wait_screen c 'detached from web'
	term_canonical c; ok $? "and a detach restores the terminal"
	term_type c clear
	wait_screen c '^\$ ?$'
done

# Modes the image set are off again after a detach: the alternate screen,
# mouse reporting, bracketed paste, the keypad, no autowrap, a scroll region.
# A session of its own: its replay would set them in other terminals.
start -s modes -- sbcl --noinform
term_new d
modes() {
	tmux -S "$TMUX_SOCK" display -p -t d '#{alternate_on} #{mouse_any_flag} #{mouse_sgr_flag} #{keypad_cursor_flag} #{keypad_flag} #{wrap_flag} #{scroll_region_upper} #{scroll_region_lower}'
}
modes_are() { [ "$(modes)" = "$1" ]; }
term_type d "$LISPD $ATTACH modes"
wait_screen d '^\* ?$'
lispd eval -s modes '(let ((e (code-char 27))) (format *terminal-io* "~a[?1049h~a[?1000h~a[?1006h~a[?2004h~a[?1h~a=~a[?7l~a[3;10r" e e e e e e e e) (finish-output *terminal-io*))' >/dev/null
wait_until 10 modes_are "1 1 1 1 1 0 2 9"
ok $? "the image sets terminal modes ($(modes))"
term_keys d 'C-\'
wait_screen d 'detached from modes'
is "$(modes)" "0 0 0 0 0 1 0 23" "a detach sets them back"
printf 'echo bp-$((6*7))' >"$T/bp"
tmux -S "$TMUX_SOCK" load-buffer -b bp "$T/bp"
tmux -S "$TMUX_SOCK" paste-buffer -p -d -b bp -t d
term_keys d Enter
wait_screen d '^bp-42'; ok $? "bracketed paste is off: a paste reaches the shell as typed"

# A signal to the client restores the terminal too.
term_afresh b "$LISPD $ATTACH web"
wait_screen b '^\* ?$'
kill -TERM "$(term_pid b)"
wait_screen b 'detached from web by SIGTERM'; ok $? "SIGTERM detaches and says so"
wait_screen b '^rc=143'; ok $? "with status 128+15"
term_canonical b; ok $? "and the terminal is restored"

# The image's exit reaches every client, and attach exits with its status.
# b's screen still shows its last attach's prompt: wait for the server
# to count the new client instead.
clients() { lispd ls | awk -v n="$1" '$1 == n { print $5 }'; }
clients_are() { [ "$(clients "$1")" = "$2" ]; }
# b's status goes to a file too: its attach leaves the terminal with
# rmcup, which restores a cursor saved long before, and twice in CI its
# "rc=3" was not where the screen was looked at.
n=$(clients web)
term_type b "$LISPD $ATTACH web; echo rc=\$? | tee '$T/b.rc'"
wait_until 10 clients_are web $((n + 1))
ok $? "b attaches to web again"
term_type a '(sb-ext:exit :code 3 :abort t)'
wait_screen a 'the image exited with status 3'; ok $? "the client is told the exit status"
wait_screen a '^rc=3'; ok $? "attach exits with the image's status"
wait_until 30 eval 'grep -q "^rc=" "$T/b.rc" 2>/dev/null'
is "$(cat "$T/b.rc" 2>/dev/null)" rc=3 "so does the other client"

# Attaching from inside the session's own image is refused: by the client
# (a descendant of the image, on its pty), and by the server (anyone who
# hands it the image's pty), not left to loop on its own output.
start -s nest -- sbcl --noinform
out=$(lispd eval --timeout 20 -s nest "(sb-ext:process-exit-code (sb-ext:run-program \"$LISPD\" (list \"-S\" \"$D\" \"attach\" \"nest\") :input t :output t :error t))" 2>&1)
is "$out" 2 "attach from inside the image exits 2"
wait_until 10 eval 'lispd log nest | grep -q "own console: from inside its image"'
ok $? "saying why on the console"
pts=$(readlink /proc/"$(image_pid nest)"/fd/0)
timeout 20 "$LISPD" -S "$D" attach nest <"$pts" >"$pts" 2>"$T/nest.err"; rc=$?
is $rc 2 "the server refuses the session's own pty from anyone"
like "$(cat "$T/nest.err")" "session nest: this terminal is the session's own console \($pts\): attach from another terminal" \
    "saying why"
is "$(lispd eval -s nest '(+ 1 2)')" 3 "and the session goes on"

done_testing
