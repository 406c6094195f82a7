#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# lispd quick start on Debian 12.
#   sh setup.sh          install what lispd needs, build it, attach to a
#                        live SBCL in session "default" (C-\ detaches)
#   sh setup.sh check    the same setup, then the whole test suite
set -e
cd "$(dirname "$0")"

PACKAGES="build-essential autoconf automake pkg-config libevent-dev
libtermkey-dev libunibilium-dev libncurses-dev sbcl cl-swank"
TEST_PACKAGES="tmux dtach clang libclang-rt-14-dev util-linux iproute2
procps mandoc emacs-nox slime openssh-server s6 runit systemd"

mode=${1:-run}
case $mode in
run) want=$PACKAGES ;;
check) want="$PACKAGES $TEST_PACKAGES" ;;
*) echo "usage: sh setup.sh [check]" >&2; exit 2 ;;
esac

missing=
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
	    missing="$missing $p"
done
if [ -n "$missing" ]; then
	sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing
fi

[ -x configure ] || autoreconf -fi
if [ "$mode" = check ]; then
	exec sh t/ci.sh
fi
# Built out of the tree, in _build/run, so the tests' builds can sit beside it.
mkdir -p _build/run
cd _build/run
[ -f Makefile ] || ../../configure --quiet
make -s -j"$(nproc)"
exec ./src/lispd
