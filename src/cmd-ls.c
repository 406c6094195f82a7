/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * lispd ls: the sessions in the socket directory, a line each, and what
 * is wrong with any of them after the table.
 */

#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lispd.h"

#define LS_WAIT	5	/* seconds a server has to answer ls */

/*
 * The next frame, as client_recv, but a bad or missing one is a reason in
 * why, not an exit: ls goes on with the other sessions. 1, or 0.
 */
static int
session_recv(struct client *c, struct proto_msg *m, char *why, size_t len)
{
	struct pollfd	pfd;
	int		n;

	pfd.fd = c->fd;
	pfd.events = POLLIN;
	for (;;) {
		n = proto_parse(c->buf + c->off, c->len - c->off, m);
		if (n > 0) {
			c->off += n;
			return (1);
		}
		if (n == -1) {
			snprintf(why, len, "its server (pid %ld) sent a frame "
			    "over the %d-byte limit (an older lispd sends a "
			    "long command line whole): restart the session "
			    "with this lispd", (long)c->server_pid,
			    PROTO_MAXLEN);
			return (0);
		}
		if (poll(&pfd, 1, LS_WAIT * 1000) == 0) {
			snprintf(why, len, "its server (pid %ld) did not "
			    "answer within %d s", (long)c->server_pid, LS_WAIT);
			return (0);
		}
		n = client_read(c);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
			snprintf(why, len, "its server (pid %ld) closed the "
			    "connection without an answer",
			    (long)c->server_pid);
			return (0);
		}
	}
}

/*
 * Ask a session for its info; 0, -1 if it is not there to ask, or 1 if it
 * is but its answer cannot be read (why says why).
 */
static int
session_info(const struct dir *d, const char *name, char *buf, size_t len,
    char *why, size_t wlen)
{
	struct client		c;
	struct proto_msg	m;
	int			fd;

	if ((fd = dir_connect(d, name, ".sock")) == -1)
		return (-1);
	close(fd);
	if (client_connect(&c, d, name) == -1) {
		/* Another lispd's session: not a reason to re-run all of ls. */
		snprintf(buf, len, "pid=-\nstate=other\ncommand=(another "
		    "lispd's protocol: list it with /proc/%ld/exe ls)\n",
		    (long)c.server_pid);
		client_close(&c);
		return (0);
	}
	if (client_send(&c, PROTO_LIST, NULL, 0) == -1) {
		client_close(&c);
		return (-1);
	}
	do {
		if (!session_recv(&c, &m, why, wlen)) {
			client_close(&c);
			return (1);
		}
	} while (m.type != PROTO_INFO);	/* unknown types are ignored */
	snprintf(buf, len, "%.*s", (int)m.len, m.data);
	client_close(&c);
	return (0);
}


static void
format_uptime(long secs, char *buf, size_t len)
{
	if (secs < 0)
		secs = 0;
	if (secs < 3600)
		snprintf(buf, len, "%ldm%02lds", secs / 60, secs % 60);
	else if (secs < 86400)
		snprintf(buf, len, "%ldh%02ldm", secs / 3600,
		    (secs % 3600) / 60);
	else
		snprintf(buf, len, "%ldd%02ldh", secs / 86400,
		    (secs % 86400) / 3600);
}

/* Seconds since the epoch as local time, 2026-12-02 14:55:01; "-" stays. */
static void
format_when(const char *s, char *buf, size_t len)
{
	struct tm	tm;
	time_t		t;
	char		*end;

	t = (time_t)strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || localtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, len, "-");
}

/* Bytes as a person reads them: 812K, 41M, 3.2G; "-" stays. */
static void
format_size(const char *s, char *buf, size_t len)
{
	double	b;
	char	*end;

	b = strtod(s, &end);
	if (*s == '\0' || *end != '\0') {
		snprintf(buf, len, "-");
		return;
	}
	if (b < 1024.0 * 1024)
		snprintf(buf, len, "%.0fK", b / 1024);
	else if (b < 1024.0 * 1024 * 1024)
		snprintf(buf, len, "%.0fM", b / (1024 * 1024));
	else
		snprintf(buf, len, "%.1fG", b / (1024 * 1024 * 1024));
}

static int
name_cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

int
cmd_ls(const struct cmd_entry *self, int argc, char **argv)
{
	struct dir	 d;
	DIR		*dp;
	struct dirent	*de;
	char		**names = NULL, info[PROTO_MAXLEN + 1], v[8][256];
	char		 up[32], heap[16], why[256], swank[256];
	char		 *notes = NULL, *line, *host;
	const char	*rname;
	size_t		 n = 0, i, len;

	if (command_getopt(self, argc, argv) != -1)
		usage_error(self->name, "takes no options");
	argc -= optind;
	argv += optind;
	if (argc == 1 && argv[0][0] != '\0' &&
	    argv[0][strlen(argv[0]) - 1] == ':') {
		/* [user@]host: lists the sessions there. */
		remote_split(argv[0], &host, &rname);
		return (command_forward(self, host, NULL, NULL, 0, NULL, 0));
	}
	if (argc > 0)
		usage_error(self->name, "takes no arguments but [user@]host:");
	client_stay();
	dir_open(&d, opt_dir);
	if ((dp = opendir(d.path)) == NULL)
		die(EXIT_DIR, "cannot read %s: %s", d.path, strerror(errno));
	while ((de = readdir(dp)) != NULL) {
		len = strlen(de->d_name);
		if (len <= 5 || strcmp(de->d_name + len - 5, ".sock") != 0)
			continue;
		names = xreallocarray(names, n + 1, sizeof *names);
		names[n] = xstrdup(de->d_name);
		names[n++][len - 5] = '\0';
	}
	closedir(dp);
	if (n == 0) {
		printf("no sessions in %s\n", d.path);
		return (EXIT_OK);
	}
	qsort(names, n, sizeof *names, name_cmp);
	printf("%-16s %7s %-8s %9s %7s %6s %7s %-7s %-18s %s\n", "NAME",
	    "PID", "STATE", "UPTIME", "CLIENTS", "HEAP", "THREADS", "SWANK",
	    "LISP", "COMMAND");
	for (i = 0; i < n; i++) {
		switch (session_info(&d, names[i], info, sizeof info, why,
		    sizeof why)) {
		case -1:
			printf("%-16s %7s %-8s %9s %7s %6s %7s %-7s %-18s %s\n",
			    names[i], "-", "stale", "-", "-", "-", "-", "-", "-",
			    "(server gone: the next start replaces it)");
			free(names[i]);
			continue;
		case 1:
			printf("%-16s %7s %-8s %9s %7s %6s %7s %-7s %-18s %s\n",
			    names[i], "-", "unknown", "-", "-", "-", "-", "-",
			    "-", "(its info cannot be read: see below)");
			xasprintf(&line, "%s%s: its info cannot be read: %s\n",
			    notes != NULL ? notes : "", names[i], why);
			free(notes);
			notes = line;
			free(names[i]);
			continue;
		}
		if (strcmp(client_info_get(info, "started", v[0], sizeof v[0]),
		    "-") == 0)
			snprintf(up, sizeof up, "-");
		else
			format_uptime((long)(time(NULL) - strtoll(v[0], NULL,
			    10)), up, sizeof up);
		client_info_get(info, "state", v[2], sizeof v[2]);
		if (strcmp(v[2], "running") == 0 &&
		    strcmp(client_info_get(info, "ready", v[5], sizeof v[5]), "0") == 0)
			snprintf(v[2], sizeof v[2], "starting");
		format_size(client_info_get(info, "heap", v[5], sizeof v[5]), heap,
		    sizeof heap);
		/* Up, swank says which: the version the editor must match. */
		client_info_get(info, "swank_version", swank, sizeof swank);
		if (strcmp(client_info_get(info, "swank", v[0], sizeof v[0]),
		    "up") != 0 || strcmp(swank, "-") == 0)
			snprintf(swank, sizeof swank, "%s", v[0]);
		printf("%-16s %7s %-8s %9s %7s %6s %7s %-7s %-18s %s\n",
		    names[i], client_info_get(info, "pid", v[1], sizeof v[1]), v[2],
		    up, client_info_get(info, "clients", v[3], sizeof v[3]), heap,
		    client_info_get(info, "threads", v[4], sizeof v[4]), swank,
		    client_info_get(info, "lisp", v[6], sizeof v[6]),
		    client_info_get(info, "command", v[7], sizeof v[7]));
		if (strcmp(client_info_get(info, "restarts", v[5], sizeof v[5]),
		    "-") != 0) {
			xasprintf(&line, "%s%s: restarted %s times; the last "
			    "image %s\n", notes != NULL ? notes : "",
			    names[i], v[5], client_info_get(info, "last", v[6],
			    sizeof v[6]));
			free(notes);
			notes = line;
		}
		if (strcmp(client_info_get(info, "resume", v[6],
		    sizeof v[6]), "-") != 0) {
			xasprintf(&line, "%s%s: %s\n", notes != NULL ?
			    notes : "", names[i], v[6]);
			free(notes);
			notes = line;
		}
		if (strcmp(client_info_get(info, "core", v[6], sizeof v[6]),
		    "-") != 0) {
			format_size(client_info_get(info, "core_size", v[5],
			    sizeof v[5]), heap, sizeof heap);
			format_when(client_info_get(info, "saved", v[5],
			    sizeof v[5]), up, sizeof up);
			xasprintf(&line, "%s%s: saved into %s (%s) at %s\n",
			    notes != NULL ? notes : "", names[i], v[6], heap,
			    up);
			free(notes);
			notes = line;
		}
		if (strcmp(v[2], "ldb") == 0) {
			xasprintf(&line, "%s%s: the image is in LDB, SBCL's "
			    "low-level debugger (the heap exhausted?): Lisp no "
			    "longer runs; 'lispd stop %s' ends it\n",
			    notes != NULL ? notes : "", names[i], names[i]);
			free(notes);
			notes = line;
		}
		if (strcmp(v[0], "up") != 0 && strcmp(client_info_get(info,
		    "swank_why", v[0], sizeof v[0]), "-") != 0) {
			/* Said after the table, a line each. */
			xasprintf(&line, "%s%s: swank is not up: %s\n",
			    notes != NULL ? notes : "", names[i], v[0]);
			free(notes);
			notes = line;
		}
		free(names[i]);
	}
	free(names);
	if (notes != NULL)
		printf("\n%s", notes);
	free(notes);
	return (EXIT_OK);
}
