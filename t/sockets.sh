#!/bin/sh
# SIGUSR1 makes the sockets again after a tmp cleaner deleted them (tmux
# users meet exactly this): NAME.sock at once; NAME.swank, which the image
# serves, by the image listening at the path anew; the clients connected
# stay; after a restart the server's own NAME.swank again.
. "${srcdir:-.}/t/lib.sh"

start --restart always -s s -- sbcl --noinform
term_new a
term_type a "$LISPD attach s"
wait_screen a '^\* ?$'
srv=$(server_pid s)
rm -f "$D/s.sock" "$D/s.swank"
out=$(lispd eval -s s '(+ 1 2)' 2>&1); is $? 3 "with the sockets deleted the session is out of reach"
kill -USR1 "$srv"
wait_until 10 eval '[ -S "$D/s.sock" ] && [ -S "$D/s.swank" ]'
ok $? "SIGUSR1 makes s.sock and s.swank again"
is "$(stat -c %a "$D/s.sock") $(stat -c %a "$D/s.swank")" "600 600" "both 0600"
is "$(lispd eval -s s '(+ 1 2)')" 3 "eval reaches the session again"
swank_call s "$(rex '(+ 40 2)')"
like "$(cat "$T/out")" '\(:ok \("" "42"\)\)' "and swank"
term_type a '(+ 20 3)'
wait_screen a '^23'; ok $? "the client that was attached never left"

# The image goes; the next one is served on the server's socket again.
lispd eval -s s '(sb-ext:exit :code 1 :abort t)' >/dev/null 2>&1
wait_screen a 'restarting in 1 s'
lispd wait s
track s
swank_call s "$(rex '(+ 1 1)')"
like "$(cat "$T/out")" '\(:ok \("" "2"\)\)' "after a restart swank is served on s.swank"
rm -f "$D/s.swank"
kill -USR1 "$(server_pid s)"
wait_until 10 test -S "$D/s.swank"
swank_call s "$(rex '(+ 2 2)')"
like "$(cat "$T/out")" '\(:ok \("" "4"\)\)' "and SIGUSR1 works again after it"

done_testing
