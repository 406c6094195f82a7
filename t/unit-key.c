/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/* Unit tests for the detach key: parsing (libtermkey) and matching. */

#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "lispd.h"
#include "tap.h"

static int
scan(struct key *k, const char *in, char *out, size_t *outlen)
{
	int	n;

	n = key_scan(k, (const uint8_t *)in, strlen(in), (uint8_t *)out,
	    outlen);
	out[*outlen] = '\0';
	return (n);
}

int
main(void)
{
	struct key	k;
	char		out[64];
	size_t		outlen;

	ok(key_parse(&k, "C-\\", "xterm") == 0 && k.len == 1 &&
	    k.seq[0] == 0x1c, "C-\\ is 0x1c");
	ok(key_parse(&k, "C-]", "xterm") == 0 && k.len == 1 &&
	    k.seq[0] == 0x1d, "C-] is 0x1d");
	ok(key_parse(&k, "C-a", "xterm") == 0 && k.len == 1 &&
	    k.seq[0] == 0x01, "C-a is 0x01");
	ok(key_parse(&k, "M-d", "xterm") == 0 && k.len == 2 &&
	    k.seq[0] == 0x1b && k.seq[1] == 'd', "M-d is ESC d");
	ok(key_parse(&k, "F12", "xterm") == 0 && k.len > 1 &&
	    k.seq[0] == 0x1b, "F12 comes from terminfo");
	ok(key_parse(&k, "C-\\", "no-such-terminal") == 0 && k.len == 1,
	    "an unknown TERM still parses control keys");
	ok(key_parse(&k, "", "xterm") == -1, "empty spec refused");
	ok(key_parse(&k, "C-", "xterm") == -1, "C- alone refused");
	ok(key_parse(&k, "Ctrl-x-y", "xterm") == -1, "garbage refused");
	ok(key_parse(&k, "C-\\x", "xterm") == -1, "trailing text refused");
	ok(key_parse(&k, "C-1", "xterm") == -1,
	    "a control key no terminal sends is refused");

	key_parse(&k, "C-\\", "xterm");
	is_int(scan(&k, "(+ 1 2)\r", out, &outlen), 0, "no key: not found");
	ok(strcmp(out, "(+ 1 2)\r") == 0, "everything passes through");
	is_int(scan(&k, "ab\x1c" "cd", out, &outlen), 3,
	    "key found after two bytes");
	ok(strcmp(out, "ab") == 0, "bytes before the key pass, after it not");
	is_int(k.nheld, 0, "a one-byte key never holds bytes");

	key_parse(&k, "M-d", "xterm");
	is_int(scan(&k, "x\x1b", out, &outlen), 0, "ESC could begin M-d");
	ok(strcmp(out, "x") == 0 && k.nheld == 1, "so ESC alone is held");
	is_int(scan(&k, "d", out, &outlen), 1, "M-d across two reads");
	ok(outlen == 0, "the key itself is not passed on");
	is_int(scan(&k, "\x1b[A", out, &outlen), 0, "an arrow key");
	ok(strcmp(out, "\x1b[A") == 0 && k.nheld == 0,
	    "is not the key and passes whole");
	is_int(scan(&k, "\x1b\x1b" "d", out, &outlen), 3,
	    "ESC ESC d: the second ESC starts the key");
	ok(strcmp(out, "\x1b") == 0, "the first ESC passes");
	scan(&k, "\x1b", out, &outlen);
	is_int(key_flush(&k, (uint8_t *)out), 1, "a held ESC is flushed");
	ok(out[0] == 0x1b && k.nheld == 0, "as itself, and nothing is held");
	return (tap_done());
}
