/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * lispd ping: is the image answering, not just alive? A round trip
 * through the server and the control channel to the bootstrap's reader,
 * which answers whatever the evaluations do; a stopped or wedged image
 * does not, and ping gives up after -t seconds.
 */

#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lispd.h"

#define PING_TIMEOUT	5	/* seconds, without -t */

static long
ping_ms_since(const struct timespec *t0)
{
	struct timespec	t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return ((t.tv_sec - t0->tv_sec) * 1000 +
	    (t.tv_nsec - t0->tv_nsec) / 1000000);
}

static int
ping_session(const struct dir *d, const char *name, long timeout, int verbose)
{
	struct client		 c;
	struct proto_msg	 m;
	struct client_end	 end;
	struct pollfd		 pfd;
	struct timespec		 t0;
	uint64_t		 us;
	long			 left;
	int			 n;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	client_connect(&c, d, name);
	if (client_send(&c, PROTO_PING, NULL, 0) == -1)
		die(EXIT_FAIL, "ping: lost session %s: %s", name,
		    strerror(errno));
	pfd.fd = c.fd;
	pfd.events = POLLIN;
	for (;;) {
		while (client_next(&c, &m)) {
			if (client_ended(&c, &m, &end)) {
				if (end.exited)
					die(EXIT_FAIL, "session %s: the image "
					    "%s", name, end.text);
				die(end.status, "%s", end.text);
			}
			if (m.type != PROTO_PONG)
				continue;
			if (proto_unpack_u64(&m, &us) != 0)
				die(EXIT_PROTO, "session %s sent a malformed "
				    "pong (%u bytes)", name, m.len);
			if (verbose)
				printf("%llu us\n", (unsigned long long)us);
			client_close(&c);
			return (EXIT_OK);
		}
		if ((left = timeout * 1000 - ping_ms_since(&t0)) <= 0)
			die(EXIT_FAIL, "session %s: the image did not answer "
			    "in %ld s: it is stopped, or its bootstrap's "
			    "reader cannot run (see 'lispd attach %s')", name,
			    timeout, name);
		n = poll(&pfd, 1, (int)left);
		if (n == -1 && errno != EINTR)
			die(EXIT_FAIL, "poll: %s", strerror(errno));
		if (n <= 0)
			continue;
		n = client_read(&c);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
			die(EXIT_FAIL, "session %s: its server went away",
			    name);
	}
}

int
cmd_ping(const struct cmd_entry *self, int argc, char **argv)
{
	struct dir	 d;
	struct command_args a = { .n = 0 };
	const char	*name, *rname;
	char		*host;
	long		 timeout = PING_TIMEOUT;
	int		 ch, verbose = 0, timeset = 0;

	while ((ch = command_getopt(self, argc, argv)) != -1) {
		if (ch == 't') {
			timeout = number(self->name, "--timeout", optarg, 1,
			    3600);
			timeset = 1;
		} else if (ch == 'v')
			verbose = 1;
	}
	name = command_only_name(self, argc, argv);
	if ((host = command_remote(self, name, &rname)) != NULL) {
		if (timeset)
			command_arg_number(&a, "-t", timeout);
		if (verbose)
			command_arg(&a, "-v");
		return (command_forward(self, host, rname, &a, 0, NULL, 0));
	}
	dir_open(&d, opt_dir);
	dir_check_name(&d, name);
	return (ping_session(&d, name, timeout, verbose));
}
