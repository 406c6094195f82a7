/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/* Unit tests for the scrollback ring (src/ring.c). */

#include "config.h"

#include <stdlib.h>

#include "lispd.h"
#include "tap.h"

static char	got[4096];

static size_t
tail(struct ring *r, u_int lines)
{
	const char	*p1, *p2;
	size_t		 l1, l2, n;

	n = ring_tail(r, lines, &p1, &l1, &p2, &l2);
	memcpy(got, p1 != NULL ? p1 : "", l1);
	memcpy(got + l1, p2 != NULL ? p2 : "", l2);
	got[l1 + l2] = '\0';
	return (n);
}

int
main(void)
{
	struct ring	r;
	char		big[100];
	int		i;

	ring_init(&r, 32);
	is_int(tail(&r, 5), 0, "empty ring has no tail");
	ring_add(&r, "one\ntwo\nthree\n* ", 16);
	tail(&r, 1);
	ok(strcmp(got, "* ") == 0, "one line: the prompt being written");
	tail(&r, 2);
	ok(strcmp(got, "three\n* ") == 0, "two lines");
	tail(&r, 10);
	ok(strcmp(got, "one\ntwo\nthree\n* ") == 0,
	    "more lines than there are: everything");
	is_int(tail(&r, 0), 0, "zero lines: nothing");

	ring_add(&r, "four\nfive\nsix\nseven!\n", 21);
	tail(&r, 100);
	ok(strcmp(got, "three\n* four\nfive\nsix\nseven!\n") == 0,
	    "a full ring starts at a line start, not mid-line");
	tail(&r, 2);
	ok(strcmp(got, "six\nseven!\n") == 0, "lines across the wrap");

	for (i = 0; i < 100; i++)
		big[i] = 'a' + i % 26;
	ring_add(&r, big, sizeof big);
	is_int(r.used, 32, "a write larger than the ring keeps its end");
	is_int(tail(&r, 3), 0, "one long unfinished line with no start: none");

	ring_add(&r, "\nok", 3);
	tail(&r, 1);
	ok(strcmp(got, "ok") == 0, "after a newline the line is whole again");
	ring_free(&r);
	return (tap_done());
}
