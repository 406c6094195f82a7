#!/bin/sh
# At the fd limit the server pauses accepting (a level-triggered listen
# event would spin), says so once, and serves everyone once fds are free:
# on NAME.sock, and on NAME.swank, which it answers itself with -N.
. "${srcdir:-.}/t/lib.sh"

(ulimit -n 64; exec "$LISPD" -S "$D" run -N -s lim -- sbcl --noinform) \
    >"$T/lim.log" 2>&1 &
srv=$!
PIDS="$PIDS $srv"
wait_until 30 lispd wait lim; ok $? "a session runs with ulimit -n 64"
track lim

# More clients than fds, each said hello, held 4 s.
cat >"$T/hold.py" <<'EOF'
import socket, sys, time
socks = []
for i in range(80):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    s.sendall(bytes.fromhex("000000010000000400000002"))
    socks.append(s)
open(sys.argv[2], "w").close()
time.sleep(4)
EOF
python3 "$T/hold.py" "$D/lim.sock" "$T/held" &
hold=$!
PIDS="$PIDS $hold"
wait_until 20 test -e "$T/held"; ok $? "80 clients connect"
cpu() {
	awk '{ print $14 + $15 }' "/proc/$srv/stat"
}
t0=$(cpu)
lispd eval -s lim '(+ 1 2)' >"$T/eval.out" 2>&1 &
ev=$!
PIDS="$PIDS $ev"
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(20)
print("closed" if s.recv(1) == b"" else "data")' "$D/lim.swank" >"$T/swank.out" 2>&1 &
sw=$!
PIDS="$PIDS $sw"
wait "$hold"
t1=$(cpu)
ticks=$(getconf CLK_TCK)
# 5% of the 4 s held.
[ $((t1 - t0)) -le $((ticks / 5)) ]; ok $? "the server idles at the limit ($((t1 - t0)) ticks of CPU in 4 s)"
wait "$ev"; is $? 0 "a client that waited is served once fds are free"
is "$(cat "$T/eval.out")" 3 "with its answer"
wait "$sw"
is "$(cat "$T/swank.out")" closed "and NAME.swank is answered too"
n=$(grep -c 'accept' "$T/lim.log")
[ "$n" -ge 1 ] && [ "$n" -le 4 ]; ok $? "the limit is logged, a bounded number of times ($n lines)"
like "$(grep accept "$T/lim.log" | head -1)" "lim: (clients|swank): at the limit of open files \(ulimit -n 64\) with [0-9]+ clients: not accepting for 1 s at a time; raise ulimit -n" \
    "naming the limit and the clients"
is "$(lispd eval -s lim '(+ 2 3)')" 5 "the session goes on"

done_testing
