/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * Unit tests for decoding the control channel's messages from the image
 * (control_decode in src/control.c).
 */

#include "config.h"

#include <stdlib.h>

#include "lispd.h"
#include "tap.h"

static int
decode(uint32_t type, const void *data, size_t len, struct control_msg *cm)
{
	struct proto_msg	m;

	m.type = type;
	m.len = len;
	m.data = data;
	return (control_decode(&m, cm));
}

int
main(void)
{
	struct control_msg	cm;

	ok(decode(CTL_HELLO, "\0\0\0\1SBCL", 8, &cm) == 0 &&
	    cm.version == 1 && cm.len == 4 && memcmp(cm.text, "SBCL", 4) == 0,
	    "hello: version and name");
	ok(decode(CTL_HELLO, "\0\0\1", 3, &cm) == -1, "a short hello");
	ok(decode(CTL_OUT, "\0\0\0\7\1hi", 7, &cm) == 0 && cm.id == 7 &&
	    cm.stream == 1 && cm.len == 2, "output: id, stream, bytes");
	ok(decode(CTL_OUT, "\0\0\0\7\3hi", 7, &cm) == -1,
	    "output to a stream that is not 1 or 2");
	ok(decode(CTL_OUT, "\0\0\0\7", 4, &cm) == -1, "output without a stream");
	ok(decode(CTL_DONE, "\0\0\0\2\0\0\0\1oops", 12, &cm) == 0 &&
	    cm.id == 2 && cm.status == 1 && cm.len == 4, "done: id, status");
	ok(decode(CTL_DONE, "\0\0\0\2\0\0\1\0", 8, &cm) == -1,
	    "a status over 255");
	ok(decode(CTL_SWANK, "\0\0\0\0" "2.31", 8, &cm) == 0 &&
	    cm.status == 0 && cm.len == 4 && memcmp(cm.text, "2.31", 4) == 0,
	    "swank: up, and its version");
	ok(decode(CTL_SWANK, "\0\0\0\2", 4, &cm) == -1,
	    "swank: a status that is neither up nor down");
	ok(decode(CTL_INFO, "heap=1\n", 7, &cm) == 0 && cm.len == 7,
	    "info: the lines");
	ok(decode(CTL_READY, "", 0, &cm) == 0, "ready");
	ok(decode(CTL_WELCOME, "\0\0\0\1", 4, &cm) == -1,
	    "a server's message from the image");
	ok(decode(999, "", 0, &cm) == -1, "an unknown type");
	return (tap_done());
}
