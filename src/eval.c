/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * lispd eval: forms to the image through the server and the control
 * channel; what they print streams back to stdout and stderr as it is
 * printed, then the values. C-c or --timeout interrupts the evaluation in
 * the image.
 */

#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lispd.h"

#define EVAL_GRACE	5000	/* ms for the image to end an interrupted one */


static void
eval_write(int fd, const void *buf, size_t len)
{
	/* A closed pipe: the reader went; so do we. */
	if (client_write_all(fd, buf, len) == -1)
		die(EXIT_FAIL, "eval: cannot write %s: %s",
		    fd == STDOUT_FILENO ? "stdout" : "stderr", strerror(errno));
}

static int	eval_unsent;	/* the server stopped reading: it answered */
static int	eval_out_fd = STDOUT_FILENO;

/*
 * A failed send is not the end: a server that answers early (no image to
 * evaluate in) closes its side, and its answer is there to be read.
 */
static void
eval_send(struct client *c, uint32_t type, const void *data, size_t len)
{
	if (eval_unsent)
		return;
	if (client_send(c, type, data, len) == -1) {
		if (errno != EPIPE && errno != ECONNRESET)
			die(EXIT_FAIL, "eval: lost session %s: %s", c->name,
			    strerror(errno));
		eval_unsent = 1;
	}
}

/* A signal while the forms are sent: leave; the server drops them. */
static void
eval_signalled(int sigfd)
{
	uint8_t	sig;

	if (read(sigfd, &sig, 1) == 1)
		die(sig == SIGINT ? EVAL_INTERRUPTED : 128 + sig, "eval: %s "
		    "while the forms were read from stdin: nothing was "
		    "evaluated", sig == SIGINT ? "interrupted" :
		    sig == SIGTERM ? "SIGTERM" : "SIGHUP");
}

/*
 * Forms from stdin to the server, which reads them no faster than the
 * image takes them: the wait for room is a poll that a signal ends.
 */
static void
eval_send_stdin(struct client *c, const void *data, size_t len, int sigfd)
{
	uint8_t		 hdr[PROTO_HDRLEN];
	struct iovec	 iov[2];
	struct msghdr	 mh;
	struct pollfd	 pfd[2];
	size_t		 done = 0, total = sizeof hdr + len, skip;
	ssize_t		 n;
	int		 i;

	proto_header(hdr, PROTO_TEXT, len);
	pfd[0].fd = c->fd;
	pfd[0].events = POLLOUT;
	pfd[1].fd = sigfd;
	pfd[1].events = POLLIN;
	while (done < total && !eval_unsent) {
		iov[0].iov_base = hdr;
		iov[0].iov_len = sizeof hdr;
		iov[1].iov_base = (void *)data;
		iov[1].iov_len = len;
		for (i = 0, skip = done; skip >= iov[i].iov_len; i++)
			skip -= iov[i].iov_len;
		iov[i].iov_base = (char *)iov[i].iov_base + skip;
		iov[i].iov_len -= skip;
		memset(&mh, 0, sizeof mh);
		mh.msg_iov = iov + i;
		mh.msg_iovlen = 2 - i;
		n = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0) {
			done += n;
			continue;
		}
		if (errno == EPIPE || errno == ECONNRESET) {
			eval_unsent = 1;	/* it answered: read that */
			return;
		}
		if (errno != EAGAIN && errno != EINTR)
			die(EXIT_FAIL, "eval: lost session %s: %s", c->name,
			    strerror(errno));
		if (poll(pfd, 2, -1) == -1 && errno != EINTR)
			die(EXIT_FAIL, "eval: poll: %s", strerror(errno));
		if (pfd[1].revents & POLLIN)
			eval_signalled(sigfd);
	}
}

/*
 * The forms: the arguments, a line each, or stdin as it comes. A signal
 * while stdin is read ends us at once, as it would after "go": closing the
 * connection, the server drops the evaluation, which never ran.
 */
static void
eval_forms(struct client *c, char **forms, int nforms, int sigfd)
{
	char		buf[PROTO_MAXLEN];
	struct pollfd	pfd[2];
	size_t		len;
	ssize_t		n;
	int		i;

	if (nforms == 1 && strcmp(forms[0], "-") == 0) {
		pfd[0].fd = STDIN_FILENO;
		pfd[0].events = POLLIN;
		pfd[1].fd = sigfd;
		pfd[1].events = POLLIN;
		for (;;) {
			if (poll(pfd, 2, -1) == -1) {
				if (errno == EINTR)
					continue;
				die(EXIT_FAIL, "eval: poll: %s",
				    strerror(errno));
			}
			if (pfd[1].revents & POLLIN)
				eval_signalled(sigfd);
			if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR |
			    POLLNVAL)))
				continue;
			n = read(STDIN_FILENO, buf, sizeof buf);
			if (n == -1 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n == -1)
				die(EXIT_FAIL, "eval: reading stdin: %s",
				    strerror(errno));
			if (n == 0 || eval_unsent)
				break;
			eval_send_stdin(c, buf, n, sigfd);
		}
		return;
	}
	for (i = 0; i < nforms; i++) {
		len = strlen(forms[i]);
		while (len > 0) {
			n = len > sizeof buf - 1 ? sizeof buf - 1 : len;
			eval_send(c, PROTO_TEXT, forms[i], n);
			forms[i] += n;
			len -= n;
		}
		eval_send(c, PROTO_TEXT, "\n", 1);
	}
}

/* A frame from the server: -1 to go on, or the exit status. */
static int
eval_frame(struct client *c, const struct proto_msg *m)
{
	struct proto_out	o;
	struct proto_status	s;
	struct client_end	end;
	char			why[NOTICE_MAX];

	switch (m->type) {
	case PROTO_EVAL_OUT:
		if (proto_unpack_out(m, &o) == 0)
			eval_write(o.stream == 2 ? STDERR_FILENO :
			    eval_out_fd, o.data, o.len);
		return (-1);
	case PROTO_EVAL_DONE:
		if (proto_unpack_status(m, &s) != 0)
			die(EXIT_PROTO, "eval: malformed answer from session %s",
			    c->name);
		if (s.status == EVAL_NOIMAGE) {
			/* The server's words (the image never says 3). */
			client_named(c, s.text, s.len, why, sizeof why);
			die(EVAL_NOIMAGE, "%s", why);
		}
		if (s.len > 0) {
			eval_write(STDERR_FILENO, s.text, s.len);
			if (s.text[s.len - 1] != '\n')
				eval_write(STDERR_FILENO, "\n", 1);
		}
		client_close(c);
		return ((int)s.status);
	}
	if (client_ended(c, m, &end)) {
		if (end.exited)
			die(EVAL_NOIMAGE, "eval: session %s: the image %s",
			    c->name, end.text);
		die(end.status, "%s", end.text);
	}
	return (-1);
}

static long
eval_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

int
eval_main(const struct dir *d, const char *name, const struct eval_opts *o,
    char **forms, int nforms)
{
	struct client	 c;
	struct proto_msg m;
	struct proto_eval e;
	struct pollfd	 pfd[3];
	uint8_t		 msg[512], sig;
	size_t		 plen, len;
	long		 deadline = -1, left;
	int		 n, stopping = 0, rc, sigfd, stdin_forms, st;
	const int	 sigs[] = { SIGINT, SIGTERM, SIGHUP };

	if (o->out_fd != 0)
		eval_out_fd = o->out_fd;
	plen = strlen(o->package);
	if (plen > 255)
		die(EXIT_USAGE, "eval: a package name of %zu characters: at "
		    "most 255", plen);
	/*
	 * Forms given as arguments go with the hello, saving a round trip;
	 * stdin is read only once the server answered, so that a run of the
	 * server's own binary (client_reexec) still finds it unread.
	 */
	stdin_forms = nforms == 1 && strcmp(forms[0], "-") == 0;
	if (stdin_forms)
		client_connect(&c, d, name);
	else
		client_open(&c, d, name, 1);	/* all in one write */

	sigfd = client_signals(sigs, nitems(sigs));

	memset(&e, 0, sizeof e);
	e.flags = o->verbose ? PROTO_EVAL_VERBOSE : 0;
	e.package = o->package;
	e.len = plen;
	len = proto_pack_eval(msg, sizeof msg, &e);
	eval_send(&c, PROTO_EVAL, msg, len);
	eval_forms(&c, forms, nforms, sigfd);
	eval_send(&c, PROTO_GO, NULL, 0);
	if (!stdin_forms && client_uncork(&c) == -1) {
		if (errno != EPIPE && errno != ECONNRESET)
			die(EXIT_FAIL, "eval: lost session %s: %s", name,
			    strerror(errno));
		eval_unsent = 1;
	}
	if (!stdin_forms)
		client_hello(&c);
	if (c.server_version < PROTO_VERSION_TTY)
		die(EVAL_NOIMAGE, "eval: session %s runs a lispd of protocol %u, "
		    "which has no eval: restart the session with this lispd",
		    name, c.server_version);
	if (o->timeout > 0)
		deadline = eval_now() + o->timeout * 1000L;

	pfd[0].fd = c.fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = sigfd;
	pfd[1].events = POLLIN;
	pfd[2].fd = STDOUT_FILENO;	/* only to hear that its reader left */
	pfd[2].events = 0;
	for (;;) {
		/* Frames read with the hello come first. */
		while (client_next(&c, &m)) {
			if ((st = eval_frame(&c, &m)) != -1)
				return (st);
		}
		left = deadline == -1 ? -1 : deadline - eval_now();
		if (deadline != -1 && left <= 0) {
			if (stopping)
				die(stopping, "eval: the image did not end "
				    "the evaluation");
			/* Timed out: the image ends it, with 124. */
			stopping = EVAL_TIMEOUT;
			len = proto_pack_u32(msg, sizeof msg, EVAL_TIMEOUT);
			eval_send(&c, PROTO_INTERRUPT, msg, len);
			deadline = eval_now() + EVAL_GRACE;
			continue;
		}
		rc = poll(pfd, 3, (int)left);
		if (rc == -1 && errno != EINTR)
			die(EXIT_FAIL, "eval: poll: %s", strerror(errno));
		if (rc <= 0)
			continue;
		if (pfd[2].revents & POLLNVAL)
			pfd[2].fd = -1;
		else if (pfd[2].revents & (POLLHUP | POLLERR)) {
			/*
			 * Whoever reads our output is gone (an ssh that was
			 * interrupted, a closed pipe): leaving is enough, the
			 * server interrupts the evaluation in the image.
			 */
			exit(EVAL_INTERRUPTED);
		}
		if (pfd[1].revents & POLLIN) {
			while (read(sigfd, &sig, 1) == 1) {
				if (stopping) {
					/* Twice: leave; the server ends it. */
					exit(stopping);
				}
				stopping = sig == SIGINT ? EVAL_INTERRUPTED :
				    128 + sig;
				len = proto_pack_u32(msg, sizeof msg,
				    stopping);
				eval_send(&c, PROTO_INTERRUPT, msg, len);
				deadline = eval_now() + EVAL_GRACE;
			}
		}
		if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = client_read(&c);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
			die(EXIT_FAIL, "eval: lost session %s: its server went "
			    "away", name);
		while (client_next(&c, &m)) {
			if ((st = eval_frame(&c, &m)) != -1)
				return (st);
		}
	}
}
