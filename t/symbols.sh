#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# No global symbol is defined twice in lispd's objects. The static link
# passes -Wl,--no-warnings (glibc's NSS warnings for libevent's resolver),
# and with it ld 2.40 links a symbol defined in two files without a word.
. "${srcdir:-.}/t/lib.sh"

objs=$(ls src/main.o src/cmd*.o src/liblispd_a-*.o 2>/dev/null)
if [ -z "$objs" ] || ! command -v nm >/dev/null; then
	echo "1..0 # SKIP no objects in src/ (run from the build directory) or no nm"
	exit 0
fi
n=$(echo $objs | wc -w)
[ "$n" -gt 20 ]; ok $? "lispd's objects are here ($n)"
twice=$(nm -g --defined-only $objs | awk 'NF == 3 && $2 ~ /^[TDBRVW]$/ { print $3 }' |
    sort | uniq -d | tr '\n' ' ')
is "$twice" "" "no global symbol is defined in two of them"
done_testing
