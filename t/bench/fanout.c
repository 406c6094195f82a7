/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * fanout - what many attached clients cost the image
 *
 *	fanout -n clients [-s stalled] -g gofile -f donefile
 *	    [-t idle_ms] [-w ready_ms] -- command [arg ...]
 *
 * Starts clients copies of command (an attach client), each on its own
 * pty that plays a user's terminal, and reads all of those terminals in
 * one process as fast as it can.  The last stalled clients are stopped
 * with SIGSTOP once attached and their terminals are never read.  The
 * session behind the clients must wait for gofile to exist, then write
 * its output, time itself into donefile (nanoseconds), and print the
 * end marker "__BENCH_END__".  fanout makes gofile once every client is
 * attached; reading ends once every reading client has shown the
 * marker, or once donefile exists and no terminal has had anything for
 * a second (lispd drops the marker with the rest of what a client could
 * not take, and says so).  With no client reading (-n 0, or all of them
 * stalled), it waits for donefile instead.
 *
 * Prints one line:
 *	fanout: n=.. stalled=.. image_ns=.. min=.. med=.. max=.. dropped=.. nomark=..
 * or, if no client reads and the image has not finished in idle_ms:
 *	fanout: n=.. stalled=.. image_ns=0 blocked=1
 * where image_ns is what the session measured, min, med and max are the
 * bytes the reading terminals got, dropped is the sum of the bytes lispd
 * said it dropped ("[lispd: N bytes of output were dropped"), and
 * nomark the number of reading terminals that never showed the marker.
 */

#define _XOPEN_SOURCE	700

#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchpty.h"

#define FANOUT_MAX	200
#define QUIET_MS	1000

struct reader {
	struct client	 c;
	struct match	 m;		/* the end marker */
	struct match	 notice;	/* "[lispd: " */
	int		 innum;		/* reading the number after it */
	unsigned long long num;
	long long	 got;
	unsigned long long dropped;
};

static void
usage(void)
{
	fprintf(stderr, "usage: fanout -n clients [-s stalled] -g gofile "
	    "-f donefile [-t idle_ms] [-w ready_ms] -- command ...\n");
	exit(2);
}

/*
 * A scan_fn: the end marker, and lispd's notices of dropped output, the
 * number after "[lispd: " (no other notice starts with a digit). Cheap
 * where neither is near: the harness shares the CPUs with the server.
 */
static void
reader_fn(const char *p, size_t len, void *arg)
{
	struct reader	*r = arg;
	const char	*end = p + len;

	match_fn(p, len, &r->m);
	while (p < end) {
		if (r->innum) {
			if (*p >= '0' && *p <= '9') {
				r->num = r->num * 10 + (*p++ - '0');
				continue;
			}
			r->dropped += r->num;
			r->innum = 0;
		}
		r->notice.done = 0;
		p += match_feed(&r->notice, p, end - p);
		if (!r->notice.done)
			return;
		r->notice.idx = 0;
		r->innum = 1;
		r->num = 0;
	}
}

static int
cmp(const void *a, const void *b)
{
	long long	 x = *(const long long *)a, y = *(const long long *)b;

	return ((x > y) - (x < y));
}

int
main(int argc, char *argv[])
{
	static struct reader	 r[FANOUT_MAX];
	static struct pollfd	 pfd[FANOUT_MAX];
	static char		 buf[65536];
	long long		 got[FANOUT_MAX], image_ns;
	unsigned long long	 dropped = 0;
	const char		*donefile = NULL, *gofile = NULL;
	uint64_t		 t0;
	int			 fd;
	FILE			*f;
	ssize_t			 n;
	int			 ch, i, nc = -1, ns = 0, reading, left;
	int			 ms = 60000, readyms = 10000, quiet = 0, nomark = 0;

	while ((ch = getopt(argc, argv, "f:g:n:s:t:w:")) != -1) {
		switch (ch) {
		case 'f':
			donefile = optarg;
			break;
		case 'g':
			gofile = optarg;
			break;
		case 'n':
			nc = number(optarg, 0, FANOUT_MAX);
			break;
		case 's':
			ns = number(optarg, 0, FANOUT_MAX);
			break;
		default:
			if (!bench_timeopt(ch, optarg, &ms, &readyms))
				usage();
		}
	}
	argv = bench_command(argc, argv, usage);
	if (nc < 0 || donefile == NULL || gofile == NULL || ns > nc)
		usage();
	reading = nc - ns;

	for (i = 0; i < nc; i++) {
		client_start(&r[i].c, argv);
		client_ready(&r[i].c, readyms);
		r[i].m.marker = "__BENCH_END__";
		r[i].notice.marker = "[lispd: ";
	}
	for (i = 0; i < nc; i++)
		client_drain(&r[i].c);
	for (i = reading; i < nc; i++)
		if (kill(r[i].c.pid, SIGSTOP) == -1)
			err(1, "kill");

	if ((fd = open(gofile, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1)
		err(1, "%s", gofile);
	close(fd);
	t0 = now_ns();
	while (reading == 0 && access(donefile, F_OK) == -1) {
		if (now_ns() - t0 > (uint64_t)ms * 1000000) {
			/* dtach: a stalled client stops the image. */
			printf("fanout: n=%d stalled=%d image_ns=0 blocked=1\n",
			    nc, ns);
			for (i = 0; i < nc; i++)
				kill(r[i].c.pid, SIGKILL);
			return (0);
		}
		poll(NULL, 0, 10);
	}
	left = reading;
	while (left > 0) {
		for (i = 0; i < reading; i++) {
			pfd[i].fd = r[i].m.done ? -1 : r[i].c.fd;
			pfd[i].events = POLLIN;
		}
		switch (poll(pfd, reading, QUIET_MS)) {
		case -1:
			if (errno == EINTR)
				continue;
			err(1, "poll");
		case 0:
			/*
			 * Quiet: lispd may have dropped the marker with the
			 * rest of what a client could not take, and said so.
			 */
			if (access(donefile, F_OK) == 0) {
				left = 0;
				break;
			}
			if ((quiet += QUIET_MS) < ms)
				break;
			for (i = 0; i < reading; i++)
				if (!r[i].m.done)
					warnx("client %d: %lld bytes, %llu "
					    "dropped, no end marker", i,
					    r[i].got, r[i].dropped);
			errx(1, "no output for %d ms; %d clients still reading",
			    ms, left);
		}
		for (i = 0; i < reading; i++) {
			if (pfd[i].revents == 0)
				continue;
			n = read(r[i].c.fd, buf, sizeof buf);
			if (n == -1 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0)
				errx(1, "client %d went away", i);
			quiet = 0;
			r[i].got += n;
			scan_feed(&r[i].c.sc, buf, n, reader_fn, &r[i]);
			if (r[i].m.done)
				left--;
		}
	}

	for (i = reading; i < nc; i++)
		kill(r[i].c.pid, SIGCONT);
	for (i = 0; i < nc; i++)
		client_stop(&r[i].c);
	if ((f = fopen(donefile, "r")) == NULL)
		err(1, "%s", donefile);
	if (fscanf(f, "%lld", &image_ns) != 1 || image_ns <= 0)
		errx(1, "%s: no time in it", donefile);
	fclose(f);
	for (i = 0; i < reading; i++) {
		got[i] = r[i].got;
		dropped += r[i].dropped;
		nomark += !r[i].m.done;
	}
	if (reading == 0) {
		got[0] = 0;
		reading = 1;	/* one reading of nothing */
	}
	qsort(got, reading, sizeof got[0], cmp);
	printf("fanout: n=%d stalled=%d image_ns=%lld min=%lld med=%lld "
	    "max=%lld dropped=%llu nomark=%d\n", nc, ns, image_ns, got[0],
	    got[reading / 2], got[reading - 1], dropped, nomark);
	return (0);
}
