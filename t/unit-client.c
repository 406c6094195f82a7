/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * Unit tests for reading the frames that end a conversation with a server
 * (client_ended in src/client.c), which every client loop shares.
 */

#include "config.h"

#include <sys/wait.h>

#include <stdlib.h>
#include <string.h>

#include "lispd.h"
#include "tap.h"

#define S(lit)	lit, sizeof lit - 1	/* a literal and its length */

static int
ended(uint32_t type, const void *data, size_t len, struct client_end *e)
{
	struct client		c;
	struct proto_msg	m;

	memset(&c, 0, sizeof c);
	c.name = "s";
	m.type = type;
	m.len = len;
	m.data = data;
	memset(e, 0x55, sizeof *e);
	return (client_ended(&c, &m, e));
}

int
main(void)
{
	struct client_end	e;

	ok(ended(PROTO_OUTPUT, "hi", 2, &e) == 0, "output does not end it");
	ok(ended(PROTO_OK, "", 0, &e) == 0, "nor does ok");
	ok(ended(PROTO_EXIT, "\0\0\3\0", 4, &e) == 1 && e.exited &&
	    WEXITSTATUS(e.status) == 3 &&
	    strcmp(e.text, "exited with status 3") == 0,
	    "exit: the image's status, described");
	ok(ended(PROTO_EXIT, "\0\0\0\11", 4, &e) == 1 && e.exited &&
	    strcmp(e.text, "was killed by SIGKILL") == 0,
	    "exit: killed by a signal");
	ok(ended(PROTO_EXIT, "\0\3", 2, &e) == 1 && !e.exited &&
	    e.status == EXIT_PROTO &&
	    strcmp(e.text, "session s sent a malformed exit message "
	    "(2 bytes)") == 0, "a short exit is a protocol error, named");
	ok(ended(PROTO_ERROR, S("\0\0\0\1s: the image has exited"), &e) == 1 &&
	    !e.exited && e.status == 1 &&
	    strcmp(e.text, "s: the image has exited") == 0,
	    "error: its status, and words that name the session as they are");
	ok(ended(PROTO_ERROR, S("\0\0\0\4session s refuses"), &e) == 1 &&
	    e.status == 4 && strcmp(e.text, "session s refuses") == 0,
	    "so are words that begin 'session NAME'");
	ok(ended(PROTO_ERROR, S("\0\0\0\11bad frame"), &e) == 1 &&
	    e.status == 9 && strcmp(e.text, "session s: bad frame") == 0,
	    "words that do not name it are led by its name");
	ok(ended(PROTO_ERROR, S("\0\0\0\1sx: no"), &e) == 1 &&
	    strcmp(e.text, "session s: sx: no") == 0,
	    "another name that begins with it is not its name");
	ok(ended(PROTO_ERROR, "\0\0", 2, &e) == 1 && !e.exited &&
	    e.status == EXIT_PROTO &&
	    strcmp(e.text, "session s sent a malformed error message "
	    "(2 bytes)") == 0, "a short error is a protocol error, named");
	return (tap_done());
}
