/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * The scrollback ring: the last bytes the image wrote, replayed to a client
 * when it attaches, cut at a line start.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lispd.h"

void
ring_init(struct ring *r, size_t size)
{
	r->buf = xmalloc(size);
	r->size = size;
	r->used = 0;
	r->head = 0;
}

void
ring_free(struct ring *r)
{
	free(r->buf);
	r->buf = NULL;
}

void
ring_add(struct ring *r, const void *data, size_t len)
{
	const char	*p = data;
	size_t		 n;

	if (len >= r->size) {
		p += len - r->size;
		len = r->size;
	}
	while (len > 0) {
		n = r->size - r->head;
		if (n > len)
			n = len;
		memcpy(r->buf + r->head, p, n);
		r->head = (r->head + n) % r->size;
		p += n;
		len -= n;
		r->used = r->used + n > r->size ? r->size : r->used + n;
	}
}

static char
ring_at(const struct ring *r, size_t i)
{
	return (r->buf[(r->head + r->size - r->used + i) % r->size]);
}

/*
 * Find the last `lines` lines (the unfinished line at the end counts as
 * one) and return them as up to two segments, with their total length. A
 * full ring starts mid-line, so its first partial line is never returned.
 */
size_t
ring_tail(const struct ring *r, u_int lines, const char **p1, size_t *l1,
    const char **p2, size_t *l2)
{
	size_t	 start, i, first, n, count = 0;
	int	 found = 0;

	*p1 = *p2 = NULL;
	*l1 = *l2 = 0;
	if (lines == 0 || r->used == 0)
		return (0);

	start = 0;
	for (i = r->used - 1; i > 0; i--) {
		if (ring_at(r, i - 1) == '\n' && ++count == lines) {
			start = i;
			found = 1;
			break;
		}
	}
	if (!found && r->used == r->size) {
		for (i = 0; i < r->used && ring_at(r, i) != '\n'; i++)
			;
		start = i < r->used ? i + 1 : r->used;
	}
	n = r->used - start;
	if (n == 0)
		return (0);

	first = (r->head + r->size - r->used + start) % r->size;
	*p1 = r->buf + first;
	*l1 = (first + n <= r->size) ? n : r->size - first;
	if (*l1 < n) {
		*p2 = r->buf;
		*l2 = n - *l1;
	}
	return (n);
}
