/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * replay - the time an attach takes to show what the session printed
 *
 *	replay [-t ms] -- command [arg ...]
 *
 * Starts command (an attach client) on a fresh pty that plays the
 * user's terminal and reads it until the end marker "__BENCH_END__",
 * which the session printed last, has been drawn.  The clock runs from
 * just before the fork to the marker, so it is the whole attach: the
 * process, the connection and the replay.
 *
 * Prints one line:
 *	replay: us=.. read=..
 */

#define _XOPEN_SOURCE	700

#include <sys/types.h>

#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchpty.h"

static void
usage(void)
{
	fprintf(stderr, "usage: replay [-t ms] -- command [arg ...]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct client	 c;
	long long	 got;
	uint64_t	 t0, t1;
	int		 ch, ms = 10000;

	while ((ch = getopt(argc, argv, "t:")) != -1)
		if (!bench_timeopt(ch, optarg, &ms, NULL))
			usage();
	argv = bench_command(argc, argv, usage);

	t0 = now_ns();
	client_start(&c, argv);
	got = client_until(&c, "__BENCH_END__", ms);
	t1 = now_ns();
	client_stop(&c);
	printf("replay: us=%.1f read=%lld\n", (t1 - t0) / 1e3, got);
	return (0);
}
