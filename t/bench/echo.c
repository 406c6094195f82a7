/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * echo - keystroke echo latency through an attach client
 *
 *	echo [-l linelen] [-n count] [-t timeout_ms] [-w ready_ms] --
 *	    command [arg ...]
 *
 * Runs command (an attach client such as "dtach -a SOCK") on a pty that
 * plays the user's terminal.  The session behind it must run a program
 * that reads its tty in canonical mode and prints nothing itself (e.g.
 * "cat >/dev/null"), so every echo is done by the inner tty's line
 * discipline.  Once a probe keystroke comes back, count keystrokes
 * a, b, ..., z, a, ... are written one at a time and the time until
 * each shows up in the client's output is taken.  Escape sequences in
 * the output are skipped and a keystroke counts as echoed once it is
 * the last graphic character read so far, so redrawing clients (tmux)
 * can be measured too: a repaint may repeat older keystrokes, but it
 * ends at the cursor.  Every linelen keystrokes an untimed "\r#" keeps
 * the canonical line short.
 *
 * Prints one line:
 *	echo: n=N min_us=.. p50_us=.. p99_us=.. max_us=.. mean_us=..
 */

#define _XOPEN_SOURCE	700

#include <sys/types.h>

#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "benchpty.h"

static void
usage(void)
{
	fprintf(stderr, "usage: echo [-l linelen] [-n count] [-t timeout_ms] "
	    "[-w ready_ms] -- command [arg ...]\n");
	exit(2);
}

static int
cmp(const void *a, const void *b)
{
	uint64_t	 x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return ((x > y) - (x < y));
}

/* Nearest-rank percentile of sorted v[n]. */
static double
pct(const uint64_t *v, size_t n, double p)
{
	size_t	 i;

	i = (size_t)(p / 100.0 * n + 0.999999);
	if (i > 0)
		i--;
	if (i >= n)
		i = n - 1;
	return (v[i] / 1000.0);
}

int
main(int argc, char *argv[])
{
	struct client	 c;
	uint64_t	*v, t0, sum = 0;
	size_t		 i, n = 2000, linelen = 64;
	int		 ch, ms = 5000, readyms = 10000;
	char		 key[2] = { 0, 0 };

	while ((ch = getopt(argc, argv, "l:n:t:w:")) != -1) {
		switch (ch) {
		case 'l':
			linelen = number(optarg, 1, 4000);
			break;
		case 'n':
			n = number(optarg, 1, 10000000);
			break;
		default:
			if (!bench_timeopt(ch, optarg, &ms, &readyms))
				usage();
		}
	}
	argv = bench_command(argc, argv, usage);
	if ((v = calloc(n, sizeof(*v))) == NULL)
		err(1, NULL);

	client_start(&c, argv);
	client_ready(&c, readyms);
	client_put(&c, "\r#");
	client_wait(&c, '#', ms);

	for (i = 0; i < n; i++) {
		if (i > 0 && i % linelen == 0) {
			client_put(&c, "\r#");
			client_wait(&c, '#', ms);
		}
		client_drain(&c);
		key[0] = 'a' + i % 26;
		t0 = now_ns();
		client_put(&c, key);
		client_wait(&c, key[0], ms);
		v[i] = now_ns() - t0;
		sum += v[i];
	}
	client_stop(&c);

	qsort(v, n, sizeof(*v), cmp);
	printf("echo: n=%zu min_us=%.1f p50_us=%.1f p99_us=%.1f max_us=%.1f "
	    "mean_us=%.1f\n", n, v[0] / 1000.0, pct(v, n, 50), pct(v, n, 99),
	    v[n - 1] / 1000.0, sum / 1000.0 / n);
	free(v);
	return (0);
}
