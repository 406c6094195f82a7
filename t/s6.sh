#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# Under a real s6-svscan: the service is ready only when the image is
# (notification-fd), lispd eval reaches it, kill -9 of the image brings it
# back (s6 restarts lispd run, which exited with the image's status), and
# s6-svc -d stops it gracefully with the image's exit hooks run; its
# image switches to an editor's swank of another version.
. "${srcdir:-.}/t/lib.sh"

if ! command -v s6-svscan >/dev/null; then
	echo "1..0 # SKIP s6 is not installed (sh setup.sh check installs it)"
	exit 0
fi

# The image compiles a second swank into this cache, not the user's.
export HOME="$T/home" XDG_CACHE_HOME="$T/cache"
mkdir -p "$HOME"

mkdir -p "$T/scan/svc"
cat >"$T/scan/svc/run" <<EOT
#!/bin/sh
exec 2>&1
exec $LISPD -S $D run -s svc --notify-fd 3 --stop-timeout 20 -- sbcl --noinform
EOT
chmod +x "$T/scan/svc/run"
echo 3 >"$T/scan/svc/notification-fd"
s6-svscan "$T/scan" >"$T/s6.log" 2>&1 &
scan=$!
PIDS="$scan $PIDS"
wait_until 10 test -p "$T/scan/svc/supervise/control"
sup=$(pgrep -P "$scan" s6-supervise)
PIDS="$sup $PIDS"

s6-svwait -U -t 30000 "$T/scan/svc"; ok $? "the service comes up and says it is ready"
track svc
is "$(lispd eval -s svc '(+ 1 2)')" 3 "lispd eval reaches it at once"
like "$(lispd ls)" "^svc +[0-9]+ running" "and ls shows it running, ready"
like "$(s6-svstat "$T/scan/svc")" "^up .*ready" "s6-svstat says up and ready"
is "$(lispd eval -s svc '(sb-ext:posix-getenv "NOTIFY_SOCKET")')" NIL \
    "the image has no NOTIFY_SOCKET"
ls -l "/proc/$(image_pid svc)/fd" | grep -q 'pipe:'
ok $((! $?)) "nor the notification fd (the image holds no pipe)"

term_new a
term_type a "$LISPD attach svc; echo rc=\$?"
wait_screen a '^\* ?$'; ok $? "lispd attach reaches it"
term_answers a "under s6"
term_detach a "under s6"

# An editor of another swank version (here a copy of Debian's swank that
# says 9.1): the service's image, started with the default swank, serves
# that one instead.
debian=/usr/share/common-lisp/source/slime
if [ -f "$debian/swank-loader.lisp" ]; then
	mkdir -p "$T/swank-b"
	cp -R "$debian"/. "$T/swank-b"
	printf '9.1\n' >"$T/swank-b/slime-version"
	out=$(lispd swank -w "$T/swank-b/swank-loader.lisp" -n svc 2>&1)
	is "$?:$out" 0:9.1 "under s6, the image switches to the editor's swank"
	like "$(lispd ls)" "^svc +[0-9]+ running .* 9\.1 +SBCL" "and ls shows 9.1"
	swank_call svc "$(rex '(+ 1 2)')"
	like "$(cat "$T/out")" '\(:return \(:ok \("" "3"\)\) 1\)' "which serves"
fi

# kill -9 of the image: lispd run exits with its status, s6 starts it again.
old=$(image_pid svc)
kill -KILL "$old"
wait_until 30 eval '[ -n "$(image_pid svc)" ] && [ "$(image_pid svc)" != "$old" ]'
ok $? "kill -9 of the image: s6 brings the session back"
s6-svwait -U -t 30000 "$T/scan/svc"; ok $? "and it is ready again"
track svc
is "$(lispd eval -s svc '(+ 40 2)')" 42 "eval reaches the new image"

# s6-svc -d: a graceful stop, the exit hooks run.
lispd eval -s svc "(push (lambda () (with-open-file (o \"$T/hooked\" :direction :output) (write-line \"ran\" o))) sb-ext:*exit-hooks*)" >/dev/null
s6-svc -d "$T/scan/svc"
s6-svwait -D -t 30000 "$T/scan/svc"; ok $? "s6-svc -d stops the service"
is "$(cat "$T/hooked" 2>/dev/null)" ran "and the image's exit hooks ran"
like "$(cat "$T/s6.log")" "asked the image to exit" "lispd logged how it stopped it"

# With lispd's own policy, lispd restarts the image and s6 sees nothing.
mkdir -p "$T/scan/pol"
cat >"$T/scan/pol/run" <<EOT
#!/bin/sh
exec 2>&1
exec $LISPD -S $D run -s pol --restart on-failure --notify-fd 3 -- sbcl --noinform
EOT
chmod +x "$T/scan/pol/run"
echo 3 >"$T/scan/pol/notification-fd"
s6-svscanctl -a "$T/scan"
wait_until 10 test -p "$T/scan/pol/supervise/control"
PIDS="$(pgrep -f "s6-supervise pol") $PIDS"
s6-svwait -U -t 30000 "$T/scan/pol"; ok $? "a service with --restart on-failure comes up ready"
track pol
run=$(server_pid pol)
old=$(image_pid pol)
kill -KILL "$old"
wait_until 30 eval '[ -n "$(image_pid pol)" ] && [ "$(image_pid pol)" != "$old" ]'
ok $? "kill -9 of the image: lispd's policy brings it back"
is "$(server_pid pol)" "$run" "the same lispd run: s6 saw no exit"
track pol
s6-svc -d "$T/scan/pol"
s6-svwait -D -t 30000 "$T/scan/pol"; ok $? "and s6-svc -d still stops it"

s6-svscanctl -t "$T/scan"
wait_until 10 dead "$scan"

done_testing
