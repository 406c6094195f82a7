/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * The client side of a connection to a session server: connect, say hello,
 * and exchange frames. Used by every command but start and run.
 */

#include "config.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lispd.h"

#define CLIENT_BUFSIZE	(PROTO_HDRLEN + PROTO_MAXLEN)

static char	**client_argv;	/* this command's, to run as the server's */
static int	  client_reexeced;
static int	  client_stays;	/* never re-run: client_connect fails */

/* Keep argv, untouched by getopt, and whether we are a re-run already. */
void
client_init(int argc, char **argv)
{
	int	i;

	client_argv = xcalloc(argc + 1, sizeof *client_argv);
	for (i = 0; i < argc; i++)
		client_argv[i] = argv[i];
	if (getenv("LISPD_REEXEC") != NULL)
		client_reexeced = 1;
	unsetenv("LISPD_REEXEC");	/* not for the image */
}

/* For a command that meets many sessions (ls): no re-run, just fail. */
void
client_stay(void)
{
	client_stays = 1;
}

/*
 * The server speaks no protocol version we do: run this very command with
 * the server's own binary, which speaks its protocol (a package upgrade
 * must never strand a running image). Once only: the variable stops loops.
 * Returns only after client_stay().
 */
static void
client_reexec(struct client *c, pid_t pid, const char *why)
{
	char	path[64];

	if (client_stays) {
		c->server_pid = pid;
		return;
	}
	if (pid <= 0 || client_argv == NULL || client_reexeced)
		die(EXIT_PROTO, "session %s: %s; restart the session with this "
		    "lispd to upgrade it", c->name, why);
	snprintf(path, sizeof path, "/proc/%ld/exe", (long)pid);
	log_debug("%s: %s: running %s", c->name, why, path);
	setenv("LISPD_REEXEC", "1", 1);
	execv(path, client_argv);
	die(EXIT_PROTO, "session %s: %s, and its server's binary %s cannot be "
	    "run: %s; restart the session with this lispd to upgrade it",
	    c->name, why, path, strerror(errno));
}

/* The server's pid, from the socket: an error frame does not carry it. */
static pid_t
client_peer_pid(int fd)
{
	struct ucred	cred;
	socklen_t	len = sizeof cred;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return (-1);
	return (cred.pid);
}

/*
 * Connect to session name and exchange hellos. Errors are the user's to
 * see: a missing session, a stale socket, a server that speaks no protocol
 * we know (then this command runs as the server's binary, or, after
 * client_stay(), returns -1).
 */
int
client_connect(struct client *c, const struct dir *d, const char *name)
{
	client_open(c, d, name, 0);
	return (client_hello(c));
}

/*
 * Connect and say hello, not waiting for the answer (client_hello); with
 * cork, the hello waits for the frames after it (client_uncork).
 */
void
client_open(struct client *c, const struct dir *d, const char *name, int cork)
{
	struct proto_hello	h = { PROTO_VERSION, 0, 0 };
	uint8_t			hello[16];
	size_t			n;
	pid_t			pid;
	int			saved;

	memset(c, 0, sizeof *c);
	c->name = name;
	c->fd = dir_connect(d, name, ".sock");
	if (c->fd == -1) {
		saved = errno;
		if (saved == ENOENT && (pid = dir_lock_pid(d, name)) > 0)
			die(EXIT_NOSESSION, "session %s has lost its socket "
			    "%s/%s.sock: its server (pid %ld) makes it again "
			    "with 'kill -USR1 %ld'", name, d->path, name,
			    (long)pid, (long)pid);
		errno = saved;
		if (errno == ENOENT || errno == ECONNREFUSED)
			die(EXIT_NOSESSION, "no session %s in %s: start it with "
			    "'lispd start -s %s', or see 'lispd ls'", name,
			    d->path, name);
		die(EXIT_FAIL, "cannot connect to session %s: %s", name,
		    strerror(errno));
	}
	c->buf = xmalloc(CLIENT_BUFSIZE);
	c->corked = cork;
	n = proto_pack_hello(hello, sizeof hello, &h);
	/* A server that refused us at once has said why: client_hello reads it. */
	if (client_send(c, PROTO_HELLO, hello, n) == -1 &&
	    errno != EPIPE && errno != ECONNRESET)
		die(EXIT_FAIL, "session %s: %s", name, strerror(errno));
}

/* The server's hello: 0, or as client_connect. */
int
client_hello(struct client *c)
{
	struct proto_msg	m;
	struct proto_hello	h;
	struct proto_status	e;
	char			why[300];
	const char		*name = c->name;

	if (client_recv(c, &m) != 1)
		die(EXIT_NOSESSION, "session %s closed the connection: its "
		    "server is exiting, or refused us (see the system log)",
		    name);
	if (m.type == PROTO_ERROR) {
		if (proto_unpack_status(&m, &e) != 0) {
			e.status = EXIT_PROTO;
			e.len = 0;
		}
		snprintf(why, sizeof why, "%.*s", (int)e.len, e.text);
		/* Refused (another uid): nothing to run instead. */
		if (e.status != EXIT_PROTO)
			die(e.status, "%s", why);
		/* A newer server that no longer speaks our version. */
		client_reexec(c, client_peer_pid(c->fd), why);
		return (-1);
	}
	if (m.type != PROTO_HELLO || proto_unpack_hello(&m, &h) != 0 ||
	    !h.has_pid)
		die(EXIT_PROTO, "session %s answered %s (%u) to hello: it is "
		    "not a lispd server of a version this one knows", name,
		    proto_name(m.type), m.type);
	c->server_version = h.version;
	c->server_pid = (pid_t)h.pid;
	if (c->server_version < PROTO_VERSION_MIN) {
		snprintf(why, sizeof why, "its server speaks protocol version "
		    "%u, older than this lispd speaks (%d to %d)",
		    c->server_version, PROTO_VERSION_MIN, PROTO_VERSION);
		client_reexec(c, c->server_pid, why);
		return (-1);
	}
	return (0);
}

/*
 * The server's words about session c, text[0..len), in out: led by the
 * session's name ("session NAME: ") unless they name it already.
 */
void
client_named(const struct client *c, const char *text, size_t len,
    char *out, size_t size)
{
	size_t	 n = strlen(c->name);

	if ((len > n && memcmp(text, c->name, n) == 0 && text[n] == ':') ||
	    (len > n + 8 && memcmp(text, "session ", 8) == 0 &&
	    memcmp(text + 8, c->name, n) == 0 &&
	    (text[n + 8] == ' ' || text[n + 8] == ':')))
		snprintf(out, size, "%.*s", (int)len, text);
	else
		snprintf(out, size, "session %s: %.*s", c->name, (int)len,
		    text);
}

/*
 * The frames that end every conversation with a server, read alike by
 * each client loop: ERROR, the server refusing (its status, and its words
 * led by the session's name if they do not name it), and EXIT, the image
 * ended (its wait status, described: "exited with status 3"). 1 and *e
 * filled for either, else 0. A malformed one is an ERROR of EXIT_PROTO.
 */
int
client_ended(const struct client *c, const struct proto_msg *m,
    struct client_end *e)
{
	struct proto_status	s;
	uint32_t		status;

	if (m->type != PROTO_ERROR && m->type != PROTO_EXIT)
		return (0);
	e->exited = 0;
	e->status = EXIT_PROTO;
	if (m->type == PROTO_EXIT && proto_unpack_u32(m, &status) == 0) {
		e->exited = 1;
		e->status = (int)status;
		client_describe_exit(e->status, e->text, sizeof e->text);
	} else if (m->type == PROTO_EXIT || proto_unpack_status(m, &s) != 0) {
		snprintf(e->text, sizeof e->text, "session %s sent a malformed "
		    "%s message (%u bytes)", c->name, proto_name(m->type),
		    m->len);
	} else {
		e->status = s.status;
		client_named(c, s.text, s.len, e->text, sizeof e->text);
	}
	return (1);
}

void
client_close(struct client *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
}

/* Write iov out, the first done bytes of which are written already. */
static int
client_writev(struct client *c, struct iovec *iov, int cnt, size_t done)
{
	struct msghdr	mh;
	ssize_t		n = done;
	int		i = 0;

	for (;;) {
		while (i < cnt && (size_t)n >= iov[i].iov_len)
			n -= iov[i++].iov_len;
		if (i == cnt)
			return (0);
		iov[i].iov_base = (char *)iov[i].iov_base + n;
		iov[i].iov_len -= n;
		/* A server gone is an error here, not SIGPIPE. */
		memset(&mh, 0, sizeof mh);
		mh.msg_iov = iov + i;
		mh.msg_iovlen = cnt - i;
		n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno != EINTR)
				return (-1);
			n = 0;
		}
	}
}

int
client_send(struct client *c, uint32_t type, const void *data, size_t len)
{
	uint8_t		 hdr[PROTO_HDRLEN];
	struct iovec	 iov[2];

	if (c->corked) {
		c->obuf = xreallocarray(c->obuf, 1, c->olen + sizeof hdr + len);
		proto_header(c->obuf + c->olen, type, len);
		if (len != 0)
			memcpy(c->obuf + c->olen + sizeof hdr, data, len);
		c->olen += sizeof hdr + len;
		return (0);
	}
	proto_header(hdr, type, len);
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof hdr;
	iov[1].iov_base = (void *)data;
	iov[1].iov_len = len;
	return (client_writev(c, iov, len != 0 ? 2 : 1, 0));
}

/* Write the frames held since client_open(..., 1), in one write. */
int
client_uncork(struct client *c)
{
	struct iovec	iov;
	int		rc;

	c->corked = 0;
	iov.iov_base = c->obuf;
	iov.iov_len = c->olen;
	rc = c->olen != 0 ? client_writev(c, &iov, 1, 0) : 0;
	free(c->obuf);
	c->obuf = NULL;
	c->olen = 0;
	return (rc);
}

/*
 * One sendmsg(2) of iov[0..iovcnt) on sock, with fd riding along on the
 * first byte (SCM_RIGHTS) unless it is -1: what sendmsg returns.
 */
ssize_t
client_sendmsg_fd(int sock, struct iovec *iov, int iovcnt, int fd, int flags)
{
	struct msghdr	 mh;
	struct cmsghdr	*cm;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof (int))];
	}		 cbuf;

	memset(&mh, 0, sizeof mh);
	mh.msg_iov = iov;
	mh.msg_iovlen = iovcnt;
	if (fd != -1) {
		memset(&cbuf, 0, sizeof cbuf);
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = sizeof cbuf.buf;
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof (int));
		memcpy(CMSG_DATA(cm), &fd, sizeof fd);
	}
	return (sendmsg(sock, &mh, flags));
}

/* A frame, with fd riding along on its first byte (SCM_RIGHTS). */
int
client_send_fd(struct client *c, uint32_t type, const void *data, size_t len,
    int fd)
{
	uint8_t		 hdr[PROTO_HDRLEN];
	struct iovec	 iov[2];
	int		 iovcnt = len != 0 ? 2 : 1;
	ssize_t		 n;

	proto_header(hdr, type, len);
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof hdr;
	iov[1].iov_base = (void *)data;
	iov[1].iov_len = len;
	do
		n = client_sendmsg_fd(c->fd, iov, iovcnt, fd, 0);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return (-1);
	return (client_writev(c, iov, iovcnt, n));
}

/* All of buf to fd, or -1. */
int
client_write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		p += n;
		len -= n;
	}
	return (0);
}

static int	client_sigpipe[2] = { -1, -1 };

static void
client_signal(int sig)
{
	int		saved = errno;
	unsigned char	c = sig;

	(void)!write(client_sigpipe[1], &c, 1);
	errno = saved;
}

/*
 * The signals, each a byte on a pipe whose read end is returned for poll;
 * SIGPIPE ignored, so that a write to a closed peer is an error.
 */
int
client_signals(const int *sigs, size_t n)
{
	struct sigaction	sa;
	size_t			i;

	if (pipe2(client_sigpipe, O_CLOEXEC | O_NONBLOCK) == -1)
		die(EXIT_FAIL, "pipe: %s", strerror(errno));
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = client_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	for (i = 0; i < n; i++)
		sigaction(sigs[i], &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	return (client_sigpipe[0]);
}

/* Read what the socket has. Returns bytes read, 0 at EOF, -1 on error. */
int
client_read(struct client *c)
{
	ssize_t	n;

	if (c->off != 0) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	do
		n = read(c->fd, c->buf + c->len, CLIENT_BUFSIZE - c->len);
	while (n == -1 && errno == EINTR);
	if (n > 0)
		c->len += n;
	return ((int)n);
}

/*
 * The next whole frame already read: 1 with m filled, 0 if none yet. A
 * frame over the size limit means the server is broken: exit.
 */
int
client_next(struct client *c, struct proto_msg *m)
{
	int	n;

	n = proto_parse(c->buf + c->off, c->len - c->off, m);
	if (n == -1)
		die(EXIT_PROTO, "session %s sent a frame over the size limit",
		    c->name);
	if (n == 0)
		return (0);
	c->off += n;
	return (1);
}

/* Block for the next frame: 1, or 0 at EOF. */
int
client_recv(struct client *c, struct proto_msg *m)
{
	int	n;

	while (!client_next(c, m)) {
		n = client_read(c);
		if (n == 0 || (n == -1 && errno != EAGAIN))
			return (0);
	}
	return (1);
}

/* The value of key in "key=value" lines (PROTO_INFO), or "-". */
const char *
client_info_get(const char *info, const char *key, char *out, size_t len)
{
	const char	*p = info;
	size_t		 klen = strlen(key), n;

	while (*p != '\0') {
		n = strcspn(p, "\n");
		if (n > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
			snprintf(out, len, "%.*s", (int)(n - klen - 1),
			    p + klen + 1);
			return (out);
		}
		p += n + (p[n] == '\n');
	}
	snprintf(out, len, "-");
	return (out);
}

/* A wait status as a shell would give it: the code, or 128 + signal. */
int
client_exit_status(int status)
{
	if (WIFEXITED(status))
		return (WEXITSTATUS(status));
	if (WIFSIGNALED(status))
		return (128 + WTERMSIG(status));
	return (EXIT_FAIL);
}

void
client_describe_exit(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "was killed by SIG%s%s",
		    sigabbrev_np(WTERMSIG(status)) != NULL ?
		    sigabbrev_np(WTERMSIG(status)) : "?",
		    WCOREDUMP(status) ? " (core dumped)" : "");
	else
		snprintf(buf, len, "ended with wait status %#x", status);
}
