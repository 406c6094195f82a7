#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# The service files in contrib/: the systemd units pass systemd-analyze
# verify (there is no systemd as PID 1 here), and the runit service's way
# of running lispd works under a real runsv: up, eval, kill -9 of the
# image brought back, sv down with the image's exit hooks run. The
# documented keep-across-reboots: the system unit's ExecStart stopped as
# systemd stops it, and contrib's runit script with KEEP=yes under runsv,
# each saving a core on the way down and resuming from it.
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

# The system unit's stop and start with the documented --resume
# --save-on-term, as systemd runs them: ExecStart with the unit's
# environment (%S is /var/lib), SIGTERM to the main process to stop.
unit=$top/contrib/systemd/lispd@.service
grep -qx 'StateDirectory=lispd' "$unit" && grep -qx 'Environment=LISPD_STATE=%S/lispd' "$unit"
ok $? "the unit keeps its cores in its own StateDirectory, never with the sockets"
exec_start() {
	sed -n 's/^ExecStart=//p' "$unit" | sed "s|/usr/local/bin/lispd|$LISPD|; s|%i|unit|g; s| run | run --resume --save-on-term |; s|--dynamic-space-size 2048|--noinform|"
}
unit_run() {
	# shellcheck disable=SC2046
	env LISPD_DIR="$D" LISPD_STATE="$T/var/lib/lispd" $(exec_start) >>"$T/unit.out" 2>&1 &
	unitpid=$!
	PIDS="$PIDS $unitpid"
	wait_until 30 eval 'lispd wait -t 1 unit >/dev/null 2>&1'
	track unit
}
unit_stop() {
	kill -TERM "$unitpid"
	wait_until 60 dead "$unitpid"
}
unit_run
lispd eval -s unit '(defvar *through-a-reboot* :kept)' >/dev/null
unit_stop; ok $? "systemctl stop's SIGTERM ends the session"
[ -x "$T/var/lib/lispd/unit/unit-1.core" ]; ok $? "after saving a core into the StateDirectory"
unit_run
is "$(lispd eval -s unit '*through-a-reboot*')" :KEPT "the next start resumes from it"
like "$(lispd ls)" "unit: resumed from $T/var/lib/lispd/unit/unit-1\.core" "and ls says so"
unit_stop

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

# contrib's own runit run script with KEEP=yes, its paths and user made
# this test's: sv down saves a core, and the next sv up resumes from it.
mkdir -p "$T/sv/keep"
sed "s|/run/lispd|$D|g; s|/var/lib/lispd|$T/keep|g; s|chown lisp:lisp|true|;
    s|^HOME=/var/lib/lisp|HOME=$HOME|; s|^KEEP=no|KEEP=yes|;
    s|exec chpst -u lisp|exec|; s|^    lispd -S|    $LISPD -S|;
    s|--dynamic-space-size 2048|--noinform|" \
    "$top/contrib/runit/lispd/run" >"$T/sv/keep/run"
chmod +x "$T/sv/keep/run"
runsv "$T/sv/keep" >"$T/keep.out" 2>&1 &
runsv=$!
PIDS="$runsv $PIDS"
wait_until 30 eval 'lispd wait -t 1 default >/dev/null 2>&1'; ok $? "contrib's runit service with KEEP=yes runs"
track default
lispd eval -s default '(defvar *kept-by-runit* 42)' >/dev/null
sv down "$T/sv/keep" >/dev/null
wait_until 60 eval 'sv status "$T/sv/keep" | grep -q "^down: "'; ok $? "sv down stops it"
[ -x "$T/keep/default/default-1.core" ]; ok $? "after saving a core into its state directory"
sv up "$T/sv/keep" >/dev/null
wait_until 30 eval 'lispd wait -t 1 default >/dev/null 2>&1'
track default
is "$(lispd eval -s default '*kept-by-runit*')" 42 "sv up resumes from it"
sv exit "$T/sv/keep" >/dev/null
wait_until 60 dead "$runsv"

done_testing
