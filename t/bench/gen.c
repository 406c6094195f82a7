/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * gen - text writer for the throughput benchmark
 *
 *	gen bytes
 *
 * Waits for one line on stdin, then writes bytes bytes of 80-column
 * text lines to stdout, then "\n__BENCH_END__\n", then waits for end of
 * file (or hangup) on stdin so the session stays up until the harness
 * has seen the marker.  The text is alphanumeric only, so the marker
 * cannot occur in it.
 */

#define _XOPEN_SOURCE	700

#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchpty.h"

#define LINE	80
#define LINES	819		/* LINE * LINES just under 64 KiB */

static const char	 alnum[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static int
readline(void)
{
	char	 buf[4096];
	ssize_t	 n;

	for (;;) {
		if ((n = read(STDIN_FILENO, buf, sizeof(buf))) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (n == 0)
			return (-1);
		if (memchr(buf, '\n', n) != NULL)
			return (0);
	}
}

int
main(int argc, char *argv[])
{
	static char	 buf[LINE * LINES];
	const char	 end[] = "\n__BENCH_END__\n";
	char		*p, *ep;
	long long	 left;
	size_t		 i, j, k;

	if (argc != 2)
		errx(2, "usage: gen bytes");
	left = strtoll(argv[1], &ep, 10);
	if (*argv[1] == '\0' || *ep != '\0' || left < 0)
		errx(2, "bad size: %s", argv[1]);

	for (i = 0, p = buf; i < LINES; i++) {
		for (j = 0, k = i; j < LINE - 1; j++, k++)
			*p++ = alnum[k % (sizeof(alnum) - 1)];
		*p++ = '\n';
	}

	if (readline() == -1)
		return (1);
	while (left > 0) {
		k = left < (long long)sizeof(buf) ? (size_t)left : sizeof(buf);
		if (writeall(STDOUT_FILENO, buf, k) == -1)
			err(1, "write");
		left -= k;
	}
	if (writeall(STDOUT_FILENO, end, sizeof(end) - 1) == -1)
		err(1, "write");
	while (readline() == 0)
		;
	return (0);
}
