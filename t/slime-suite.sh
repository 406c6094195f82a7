#!/bin/sh
# SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors
# SLIME's own ERT suite (Debian's slime-tests.el), in batch Emacs, three
# times in one run: against SLIME's own inferior sbcl, through lispd.el to
# a local session, and through lispd.el and the real sshd on 127.0.0.1,
# at a first contact, with a login banner. Every test that passes against
# the inferior sbcl passes through lispd, but those that need
# slime-inferior-process, and through ssh those that compile a file of
# Emacs's host: named below, with why.
. "${srcdir:-.}/t/lib.sh"

slime=$(ls -d /usr/share/emacs/site-lisp/elpa/slime-* 2>/dev/null | head -1)
if ! command -v emacs >/dev/null || [ -z "$slime" ] ||
    [ ! -f /usr/share/emacs/site-lisp/elpa-src/slime-2.27/slime-tests.el ]; then
	echo "1..0 # SKIP emacs or Debian's slime is not installed (sh setup.sh check installs them)"
	exit 0
fi
sshd_usable || exit 0
lispd_el=$(cd "${srcdir:-.}" && pwd)/contrib/emacs/lispd.el
# It restarts the inferior Lisp that SLIME started (slime-inferior-process,
# nil for any connection SLIME did not start itself).
needs_inferior='disconnect-and-reconnect-1'
# Through ssh, these two compile a file Emacs made in its own /tmp, which a
# Lisp on another host cannot read: lispd.el has SLIME name files to such
# a Lisp through TRAMP (M-. and C-c C-k on that host's files), and a local
# name is refused ("Not a Tramp file name"), not sent to be misread there.
local_files='slime-recompile-all-xrefs-1
utf-8-source-1'
# With the copy, these two start an Emacs of their own that runs M-x slime
# (an inferior Lisp, lispd has no part in it), whose swank Debian's site
# setup names: Debian's 2.27, which the copy's 2.27.99 asks about.
own_inferior='readme-recipe
traditional-recipe'

mkdir -p "$T/home"
# SLIME's fasls, ASDF's (Debian's swank-loader compiles there) and Emacs's
# files: here, not the user's.
export HOME="$T/home" XDG_CACHE_HOME="$T/cache"
# SLIME's tests make files in the temporary directory: ours. Two of them
# name /tmp/slime-tmp-file.lisp outright, and the Lisp leaves its fasl
# there: each SLIME loads a copy of the tests that names ours.
mkdir -p "$T/tmp" "$T/tests"
export TMPDIR="$T/tmp"
sed "s|/tmp/slime-tmp-file|$T/tmp/slime-tmp-file|g" \
    /usr/share/emacs/site-lisp/elpa-src/slime-2.27/slime-tests.el \
    >"$T/tests/slime-tests.el"
# A second SLIME, Debian's versioned 2.27.99 (its .el and its swank in one
# directory, as a git or MELPA SLIME has them): the session switches to
# its swank, and the suite runs as well through it.
b=$T/slime-b
mkdir -p "$b"
cp -R /usr/share/emacs/site-lisp/elpa-src/slime-2.27/. \
    /usr/share/common-lisp/source/slime/. "$b"/ 2>/dev/null
sed -i 's/^;; Version: 2\.27$/;; Version: 2.27.99/' "$b/slime.el"
printf '2.27.99\n' >"$b/slime-version"
# Compiled, as package.el or SLIME's make leaves it (and the tests, as
# Debian's are): interpreted, the copy's process filter fell behind a
# chatty Lisp, and interrupt-bubbling-idiot waited 30 s in vain for the
# debugger behind the output (seen once in CI).
(cd "$b" && emacs --batch -Q -L "$b" -L "$b/contrib" -f batch-byte-compile \
    slime.el contrib/*.el) >"$T/compile-b.log" 2>&1
ok $? "the copy of SLIME byte-compiles"
emacs --batch -Q -L "$slime" -L "$slime/contrib" -f batch-byte-compile \
    "$T/tests/slime-tests.el" >"$T/compile-tests.log" 2>&1
ok $? "and so do SLIME's tests"
start -s s -- sbcl --noinform
# A login banner, written by ssh on stderr at each connection: the swank
# one's too.
printf '%s\n' "Authorized uses only." "lispd-suite-banner" >"$T/banner"
sshd_banner=$T/banner
sshd_start || exit 1

# suite HOW RUN [TESTS]: run it (those TESTS only, if given) into
# $T/suite.RUN; HOW is inferior or a lispd-connect target.
suite() {
	sel=t
	[ -z "${3:-}" ] ||
	    sel="'(satisfies (lambda (test) (memq (ert-test-name test) '($3))))"
	cat >"$T/suite.el" <<EOT
(require 'slime)
(load "$T/tests/slime-tests")
(slime-setup '(slime-fancy))
(setq inferior-lisp-program "sbcl --noinform" slime-kill-without-query-p t)
(setq lispd-program "$LISPD" lispd-directory "$D")
(load "$lispd_el")
(when (string-match ":" "$1")
  ;; sshd passes no environment: the host's cache of swank sources is ours.
  (setq lispd-directory nil
        lispd-program (concat "env XDG_CACHE_HOME=$T/cache " (getenv "LISPD_REMOTE"))
        lispd-ssh-program
        (concat (getenv "LISPD_SSH_FIRST") " -o UserKnownHostsFile=$T/known_hosts")))
(let ((ert-debug-on-error nil)
      (slime-background-message-function #'ignore)
      (end (+ (float-time) 60)))
  (if (string= "$1" "inferior") (slime) (lispd-connect "$1"))
  (while (and (not (slime-connected-p)) (< (float-time) end))
    (accept-process-output nil 0.1))
  (slime-sync-to-top-level 5)
  (ert-run-tests-batch $sel)
  (kill-emacs 0))
EOT
	if [ "${2%-again}" = other ]; then
		timeout 600 emacs --batch -Q -L "$b" -L "$b/contrib" --eval \
		    '(setq slime-backend "swank-loader.lisp")' \
		    -l "$T/suite.el" >"$T/suite.$2" 2>&1
	else
		timeout 600 emacs --batch -Q -L "$slime" -L "$slime/contrib" \
		    -l "$T/suite.el" >"$T/suite.$2" 2>&1
	fi
}
passed() {	# passed RUN: the names of the tests that passed
	sed -n 's/^ *passed  *[0-9]*\/[0-9]*  \([^ ]*\) .*/\1/p' "$T/suite.$1" | sort
}

# again HOW RUN MISSING: the tests that did not pass run once more, alone
# in a fresh Emacs (SLIME's interrupt tests wait 30 s for a flood of output
# to drain, which a loaded machine may miss; one left hanging fails all
# after it): those that fail again, and a comment for those that pass.
again() {
	[ -n "$3" ] || return 0
	suite "$1" "$2-again" "$(printf '%s\n' "$3" | tr '\n' ' ')"
	passed "$2-again" >"$T/p.$2-again"
	printf '%s\n' "$3" | grep -vxF -f "$T/p.$2-again"
	printf '%s\n' "$3" | grep -xF -f "$T/p.$2-again" |
	    sed 's/^/# passed on a second run: /' >&2
}

why() {	# why RUN TESTS: what ERT said of each
	for t in $2; do
		sed -n "/^Test $t condition:/,/^ *FAILED/p" "$T/suite.$1" |
		    grep -v 'waiting for condition' | head -15 | sed 's/^/#   /'
	done
}
suite inferior inferior; is $? 0 "SLIME's suite ran against its own inferior sbcl"
[ -f "$T/tmp/slime-tmp-file.fasl" ]; ok $? "its files are made in the test's own directory"
n=$(passed inferior | wc -l)
[ "$n" -gt 150 ]; ok $? "where $n of its tests pass"
suite s local; is $? 0 "SLIME's suite ran through lispd.el"
missing=$(passed inferior | grep -vxF "$needs_inferior" | comm -23 - "$(passed local >"$T/p.local"; echo "$T/p.local")")
missing=$(again s local "$missing")
is "$missing" "" "every one of them passes through lispd but $needs_inferior"
why local "$missing"
suite s other; is $? 0 "SLIME's suite ran through lispd.el with SLIME 2.27.99"
like "$(lispd ls)" "^s +[0-9]+ running .* 2\.27\.99 +SBCL" "for the session switched to its swank"
missing=$(passed inferior | grep -vxF "$needs_inferior" | grep -vxF "$own_inferior" |
    comm -23 - "$(passed other >"$T/p.other"; echo "$T/p.other")")
missing=$(again s other "$missing")
is "$missing" "" "and every test passes through it as well, but those"
why other "$missing"
# ssh at its default LogLevel, at a first contact: a warning on stderr.
export LISPD_SSH_FIRST="ssh -F /dev/null -i $T/ssh/id -p $port -o BatchMode=yes -o StrictHostKeyChecking=accept-new"
suite "$host:s" ssh; is $? 0 "SLIME's suite ran through lispd.el and ssh"
[ -s "$T/known_hosts" ]; ok $? "at a first contact with the host (its key added)"
$LISPD_SSH_FIRST -o UserKnownHostsFile="$T/known_hosts" "$host" true 2>&1 |
    grep -q lispd-suite-banner
ok $? "with a banner on every ssh's stderr"
missing=$(passed inferior | grep -vxF "$needs_inferior" | grep -vxF "$local_files" |
    comm -23 - "$(passed ssh >"$T/p.ssh"; echo "$T/p.ssh")")
missing=$(again "$host:s" ssh "$missing")
is "$missing" "" "every one of them passes through ssh too, but those that compile a local file"
why ssh "$missing"
alive "$(image_pid s)"; ok $? "and the session's image lives on"

done_testing
