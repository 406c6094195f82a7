/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * The console log: every byte the image writes, with or without clients,
 * to a file rotated by size (or to stdout, for s6-log or journald), with
 * optional timestamps at line starts. It never blocks the image and never
 * fsyncs: writes are non-blocking and queued within a bound; what does
 * not fit is dropped and said once. A write that fails (a full disk) is
 * reported once, and again only after a write has worked.
 */

#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "lispd.h"

#define CONSOLE_QUEUE_MAX	(4 * 1024 * 1024)
#define CONSOLE_CLOSE_WAIT	1000	/* ms for a slow reader at the end */

static struct {
	const char	*path;		/* NULL: stdout */
	int		 fd;
	off_t		 size;		/* of the file so far */
	off_t		 max;		/* rotate past this; 0: never */
	int		 keep;		/* FILE.1 .. FILE.keep */
	int		 stamps;
	int		 midline;	/* the last byte was not a newline */
	int		 sock;		/* stdout is a socket: send(MSG_DONTWAIT) */
	int		 failing;	/* a write failed: said once */
	off_t		 retry_at;	/* a rotation failed: again here */
	int		 stuck;		/* it failed: said once */
	uint64_t	 dropped;
	struct evbuffer	*queue;
	struct event	*wr;
} console = { .fd = -1 };

static void	console_write_cb(evutil_socket_t, short, void *);
static void	console_flush(void);

static int
console_open_file(void)
{
	struct stat	st;
	int		fd;

	fd = open(console.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
	    O_NONBLOCK, 0600);
	if (fd == -1)
		return (-1);
	console.size = fstat(fd, &st) == 0 ? st.st_size : 0;
	return (fd);
}

/* Start logging to path ("-": stdout). -1 with errno if it cannot open. */
int
console_open(const char *path, off_t max, int keep, int stamps)
{
	struct stat	st;

	console.path = strcmp(path, "-") == 0 ? NULL : path;
	console.max = max;
	console.keep = keep;
	console.stamps = stamps;
	if (console.path == NULL) {
		/*
		 * Never O_NONBLOCK on the open file we share with the
		 * supervisor (and our own stderr, after exec 2>&1): a pipe or
		 * a terminal is opened anew, a socket (journald's) written
		 * with MSG_DONTWAIT.
		 */
		if (fstat(STDOUT_FILENO, &st) == 0 && S_ISSOCK(st.st_mode)) {
			console.fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
			console.sock = 1;
		} else if ((console.fd = open("/proc/self/fd/1", O_WRONLY |
		    O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) == -1)
			console.fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	} else
		console.fd = console_open_file();
	if (console.fd == -1)
		return (-1);
	console.queue = evbuffer_new();
	console.wr = event_new(server.base, console.fd, EV_WRITE,
	    console_write_cb, NULL);
	return (0);
}

/*
 * At the end, a slow reader gets a moment more; what it does not take then
 * is said, as any output not logged is.
 */
void
console_close(void)
{
	struct pollfd	pfd;
	uint64_t	end = server_now() + CONSOLE_CLOSE_WAIT * 1000000ULL, t;

	if (console.fd == -1)
		return;
	console_flush();
	pfd.fd = console.fd;
	pfd.events = POLLOUT;
	while (evbuffer_get_length(console.queue) != 0 && !console.failing &&
	    (t = server_now()) < end) {
		if (poll(&pfd, 1, (end - t) / 1000000 + 1) == -1 &&
		    errno != EINTR)
			break;
		console_flush();
	}
	console.dropped += evbuffer_get_length(console.queue);
	if (console.dropped != 0)
		log_warnx("%s: %llu bytes of console output were not logged: "
		    "the log's reader was too slow", server.name,
		    (unsigned long long)console.dropped);
	console.dropped = 0;
	event_free(console.wr);
	evbuffer_free(console.queue);
	close(console.fd);
	console.fd = -1;
}

/* Write to the file at its path from now on: 0, or -1 (said). */
static int
console_switch(void)
{
	int	fd;

	if ((fd = console_open_file()) == -1) {
		log_warn("%s: cannot open the console log %s", server.name,
		    console.path);
		return (-1);
	}
	event_free(console.wr);
	close(console.fd);
	console.fd = fd;
	console.wr = event_new(server.base, fd, EV_WRITE, console_write_cb,
	    NULL);
	return (0);
}

/* SIGHUP: open the file again, for whoever moved it away. */
void
console_reopen(void)
{
	if (console.fd == -1 || console.path == NULL)
		return;
	console_flush();
	console.retry_at = 0;	/* someone may have made room to rotate */
	console.stuck = 0;
	if (console_switch() == 0)
		log_info("%s: reopened the console log %s", server.name,
		    console.path);
}

/*
 * FILE becomes FILE.1, FILE.1 FILE.2, ..., FILE.keep goes. If FILE cannot
 * be renamed (its directory is not writable), the log grows past the
 * limit: that is said once, and tried again at twice the size or SIGHUP.
 */
static void
console_rotate(void)
{
	char	*from, *to;
	int	 i, err = 0;

	for (i = console.keep; i >= 1; i--) {
		if (i == 1)
			from = xstrdup(console.path);
		else
			xasprintf(&from, "%s.%d", console.path, i - 1);
		xasprintf(&to, "%s.%d", console.path, i);
		if (rename(from, to) == -1 && errno != ENOENT && i == 1)
			err = errno;
		free(from);
		free(to);
	}
	if (err != 0) {
		if (!console.stuck)
			log_warnx("%s: cannot rotate the console log %s: "
			    "rename: %s; it grows past the --log-size limit "
			    "until it can (tried again at twice the size, or "
			    "on SIGHUP)", server.name, console.path,
			    strerror(err));
		console.stuck = 1;
		console.retry_at = console.size * 2;
		return;
	}
	if (console.stuck)
		log_info("%s: the console log rotates again", server.name);
	console.stuck = 0;
	console.retry_at = 0;
	if (console.keep == 0)
		(void)!ftruncate(console.fd, 0);
	(void)console_switch();
}

/* One write of what is queued: bytes written, or -1. */
static int
console_write(void)
{
	size_t	len = evbuffer_get_contiguous_space(console.queue);
	ssize_t	n;
	void	*p;

	if (len > 65536)
		len = 65536;
	p = evbuffer_pullup(console.queue, len);
	if (console.sock)
		n = send(console.fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	else
		n = write(console.fd, p, len);
	if (n > 0)
		evbuffer_drain(console.queue, n);
	return ((int)n);
}

/* Write what is queued, as far as it goes without blocking. */
static void
console_flush(void)
{
	int	n;

	while (evbuffer_get_length(console.queue) != 0) {
		n = console_write();
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR) {
				event_add(console.wr, NULL);
				return;
			}
			if (!console.failing)
				log_warn("%s: the console log %s: output is "
				    "lost until it can be written again",
				    server.name, console.path != NULL ?
				    console.path : "(stdout)");
			console.failing = 1;
			evbuffer_drain(console.queue,
			    evbuffer_get_length(console.queue));
			return;
		}
		if (console.failing)
			log_info("%s: the console log is written again",
			    server.name);
		console.failing = 0;
		console.size += n;
	}
	if (console.dropped != 0) {
		log_warnx("%s: %llu bytes of console output were not logged: "
		    "the log's reader was too slow", server.name,
		    (unsigned long long)console.dropped);
		console.dropped = 0;
	}
	if (console.path != NULL && console.max > 0 &&
	    console.size >= console.max && console.size >= console.retry_at)
		console_rotate();
}

static void
console_write_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd; (void)events; (void)arg;
	console_flush();
}

static void
console_stamp(void)
{
	struct timespec	ts;
	struct tm	tm;
	char		buf[64];
	size_t		n;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(buf + n, sizeof buf - n, ".%03ld ", ts.tv_nsec / 1000000);
	evbuffer_add(console.queue, buf, strlen(buf));
}

/* An image run ended: what it left mid-line ends there. */
void
console_break(void)
{
	if (console.fd == -1 || !console.midline)
		return;
	evbuffer_add(console.queue, "\n", 1);
	console.midline = 0;
	console_flush();
}

/* Console output, as the image wrote it. */
void
console_output(const char *buf, size_t len)
{
	const char	*nl;
	size_t		 n;

	if (console.fd == -1 || len == 0)
		return;
	if (evbuffer_get_length(console.queue) + len > CONSOLE_QUEUE_MAX) {
		console.dropped += len;
		console.midline = buf[len - 1] != '\n';
		return;
	}
	if (!console.stamps) {
		evbuffer_add(console.queue, buf, len);
		console.midline = buf[len - 1] != '\n';
	} else {
		while (len > 0) {
			if (!console.midline)
				console_stamp();
			nl = memchr(buf, '\n', len);
			n = nl != NULL ? (size_t)(nl - buf) + 1 : len;
			evbuffer_add(console.queue, buf, n);
			console.midline = nl == NULL;
			buf += n;
			len -= n;
		}
	}
	if (!event_pending(console.wr, EV_WRITE, NULL))
		console_flush();
}
