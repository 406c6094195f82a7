#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# The service files in contrib/: the systemd units pass systemd-analyze
# verify (there is no systemd as PID 1 here), and the runit service's way
# of running lispd works under a real runsv: up, eval, kill -9 of the
# image brought back, sv down with the image's exit hooks run.
. "${srcdir:-.}/t/lib.sh"
top=$(cd "${srcdir:-.}" && pwd)

if command -v systemd-analyze >/dev/null; then
	for unit in lispd@.service user/lispd@.service; do
		sed "s|/usr/local/bin/lispd|$LISPD|" \
		    "$top/contrib/systemd/$unit" >"$T/lispd@demo.service"
		out=$(systemd-analyze verify "$T/lispd@demo.service" 2>&1)
		is "$?:$out" "0:" "systemd-analyze verify contrib/systemd/$unit"
	done
	sed 's/^Type=notify/Type=bogus/' "$T/lispd@demo.service" >"$T/lispd@bad.service"
	out=$(systemd-analyze verify "$T/lispd@bad.service" 2>&1)
	like "$out" "service type" "(and verify does find a bad unit)"
else
	echo "# systemd-analyze is not installed: the units are not verified"
fi

if ! command -v runsv >/dev/null; then
	echo "# runit is not installed: no runsv test"
	done_testing
	exit
fi
mkdir -p "$T/sv/rv"
cat >"$T/sv/rv/run" <<EOT
#!/bin/sh
exec 2>&1
exec $LISPD -S $D run -s rv --log - --stop-timeout 20 -- sbcl --noinform
EOT
chmod +x "$T/sv/rv/run"
runsv "$T/sv/rv" >"$T/rv.out" 2>&1 &
runsv=$!
PIDS="$runsv $PIDS"
wait_until 30 eval 'lispd ls | grep -q "^rv "'
lispd wait rv; is $? 0 "runsv runs the session, and it gets ready"
track rv
is "$(lispd eval -s rv '(+ 1 2)')" 3 "eval reaches it"
like "$(sv status "$T/sv/rv")" "^run: " "sv status says run"
old=$(image_pid rv)
kill -KILL "$old"
back() {	# a new image, then ready: not the old server's last answer
	new=$(image_pid rv)
	[ -n "$new" ] && [ "$new" != "$old" ] && lispd wait rv 2>/dev/null
}
wait_until 30 back; ok $? "kill -9 of the image: runsv brings the session back"
track rv
# Once (in CI, not reproduced since) this eval found no session just after
# the new one was ready: the hook is pushed when the eval answers, so it
# is tried until it does.
hook() {
	lispd eval -s rv "(push (lambda () (with-open-file (o \"$T/hooked\" :direction :output) (write-line \"ran\" o))) sb-ext:*exit-hooks*)" >/dev/null
}
wait_until 10 hook; ok $? "an exit hook is set in the new image"
sv down "$T/sv/rv" >/dev/null
wait_until 30 eval 'sv status "$T/sv/rv" | grep -q "^down: "'
ok $? "sv down stops it"
is "$(cat "$T/hooked" 2>/dev/null)" ran "and the image's exit hooks ran"
sv exit "$T/sv/rv" >/dev/null
wait_until 10 dead "$runsv"

done_testing
