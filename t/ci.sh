#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# The whole suite, as CI runs it: a -Wall -Wextra -Werror build, the tests,
# again under AddressSanitizer and UndefinedBehaviorSanitizer, the fuzzer
# for a bounded time, and make distcheck. Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
top=$(pwd)
passed=0
failed=0

count() {	# count LOGDIR
	for trs in $(find "$1" -name '*.trs'); do
		p=$(grep -c '^:test-result: PASS' "$trs")
		f=$(grep -c '^:test-result: \(FAIL\|ERROR\|XPASS\)' "$trs")
		passed=$((passed + p))
		failed=$((failed + f))
	done
}

run_build() {	# run_build NAME CFLAGS LDFLAGS
	b=$top/_build/$1
	rm -rf "$b"
	mkdir -p "$b"
	echo "=== $1: CFLAGS=$2"
	(cd "$b" && "$top/configure" --quiet CFLAGS="$2" LDFLAGS="$3" &&
	    make -s -j"$(nproc)" && make -s check) || status=1
	count "$b/t"
	cat "$b"/t/*.log 2>/dev/null | grep -E '^(not ok|# )' | head -50
}

status=0
run_build strict "-O2 -g -Wall -Wextra -Werror" ""
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
# ASan's allocator holds freed blocks (a quarantine, size-class caches): the
# server's memory bounds are weighed in the plain build, skipped here.
export LISPD_TEST_MEMORY=skip
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
run_build sanitize "-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
    "-fsanitize=address,undefined"
unset LISPD_TEST_MEMORY

echo "=== fuzz: the frame parser 30 s, the server's clients and channel 60 s"
fb=$top/_build/fuzz
rm -rf "$fb"; mkdir -p "$fb"
(cd "$fb" && "$top/configure" --quiet CC=clang \
    CFLAGS="-O1 -g -fsanitize=address,undefined" &&
    make -s t/fuzz-proto t/fuzz-server) >"$fb/build.log" 2>&1 || cat "$fb/build.log"
# Each bounded twice: libFuzzer's clock, and timeout(1) for a unit that hangs.
# Quick inputs come first: a few fill the server's queues and take 100 ms.
fuzz() {	# fuzz NAME SECONDS [SEEDS]
	mkdir -p "$fb/$1.corpus"
	if [ -x "$fb/t/$1" ] && (cd "$fb" && timeout $(($2 + 30)) ./t/$1 \
	    -max_total_time=$2 -timeout=10 -rss_limit_mb=1024 \
	    -entropic_scale_per_exec_time=1 \
	    "$1.corpus" ${3:+"$3"} >$1.log 2>&1); then
		echo "ok - $1: no crash in $2 s ($(grep -c . "$fb/$1.log") lines of log)"
		passed=$((passed + 1))
	else
		echo "not ok - $1"; tail -30 "$fb/$1.log" 2>/dev/null
		failed=$((failed + 1)); status=1
	fi
}
fuzz fuzz-proto 30 "$top/t/fuzz-corpus/proto"	# with what it found once
fuzz fuzz-server 60 "$top/t/fuzz-corpus/server"

echo "=== distcheck"
db=$top/_build/dist
rm -rf "$db"; mkdir -p "$db"
if (cd "$db" && "$top/configure" --quiet && make -s distcheck >distcheck.log 2>&1); then
	echo "ok - make distcheck"
	passed=$((passed + 1))
else
	echo "not ok - make distcheck"; tail -40 "$db/distcheck.log"
	failed=$((failed + 1)); status=1
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
