/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * throughput - console output throughput through an attach client
 *
 *	throughput -b bytes [-t idle_ms] [-w ready_ms] -- command [arg ...]
 *
 * Runs command (an attach client) on a pty that plays the user's
 * terminal and reads that pty as fast as it can.  The session behind
 * the client must run "gen bytes".  Once a probe keystroke comes back,
 * a newline starts gen, and the clock runs until the end marker
 * "__BENCH_END__" shows up in the client's output (escape sequences
 * skipped, so a redrawing client such as tmux works too).
 *
 * Prints one line:
 *	throughput: bytes=.. secs=.. mbps=.. read=..
 * where mbps is 10^6 bytes of gen's payload per second and read is the
 * number of bytes the client wrote to the terminal in that time.
 */

#define _XOPEN_SOURCE	700

#include <sys/types.h>

#include <err.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchpty.h"

static void
usage(void)
{
	fprintf(stderr, "usage: throughput -b bytes [-t idle_ms] "
	    "[-w ready_ms] -- command [arg ...]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct client	 c;
	long long	 bytes = -1, got;
	uint64_t	 t0, t1;
	double		 secs;
	int		 ch, ms = 30000, readyms = 10000;

	while ((ch = getopt(argc, argv, "b:t:w:")) != -1) {
		switch (ch) {
		case 'b':
			bytes = number(optarg, 0, LLONG_MAX);
			break;
		default:
			if (!bench_timeopt(ch, optarg, &ms, &readyms))
				usage();
		}
	}
	argv = bench_command(argc, argv, usage);
	if (bytes < 0)
		usage();

	client_start(&c, argv);
	client_ready(&c, readyms);
	client_drain(&c);

	t0 = now_ns();
	client_put(&c, "\r");
	got = client_until(&c, "__BENCH_END__", ms);
	t1 = now_ns();
	client_stop(&c);

	secs = (t1 - t0) / 1e9;
	printf("throughput: bytes=%lld secs=%.4f mbps=%.1f read=%lld\n",
	    bytes, secs, bytes / 1e6 / secs, got);
	return (0);
}
