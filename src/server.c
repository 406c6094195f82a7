/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * The session server: holds the image on its pty, reads the pty all the
 * time (a console nobody reads must never stop the image), keeps the
 * scrollback and serves clients on NAME.sock.
 */

#include "config.h"

#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "lispd.h"

#define SERVER_READ_SIZE	65536
#define SERVER_LINGER		2	/* seconds to hand out the exit status */
#define SERVER_INFO_WAIT	500000	/* us for the image's part of ls */
#define SERVER_STABLE		60	/* s a run takes to reset the backoff */
#define SERVER_BACKOFF_MAX	60	/* s between restarts, at most */
#define SERVER_TOUCH		3600	/* s between touches of the files */
#define SERVER_LDB		"Welcome to LDB, a low-level debugger"
#define SERVER_WRITE_SIZE	65536	/* of input to the pty, at most */
#define SERVER_PTY_PIECE	4000	/* of a long line, then VEOF */
#define SERVER_PTY_WAIT_MIN	100	/* us, then twice as long each time */
#define SERVER_PTY_WAIT_MAX	250000	/* us between looks at a piece read */

struct server	 server;
static struct event	*server_touch_ev;

/* The image's own lines for the info, while a client waits for them. */
static struct {
	int	 asked;		/* the image was asked, not yet answered */
	char	*text;
} image_info;

static void	 server_pty_drain(void);
static void	 server_pty_read_cb(evutil_socket_t, short, void *);
static void	 server_pty_write_cb(evutil_socket_t, short, void *);
static void	 server_pty_flush(void);
static void	 server_exited(int);
static void	 server_finish(int);
static void	 server_pty_close(void);
static void	 server_accept_cb(evutil_socket_t, short, void *);
static u_int	 server_clients_max(void);
static int	 server_ldb(const char *, size_t);
static void	 server_clients_full(void);
static void	 server_info(struct evbuffer *);

void
server_reap(void)
{
	event_active(server.reap_ev, 0, 0);
}

static void
server_reap_cb(evutil_socket_t fd, short events, void *arg)
{
	struct server_client	*c, *next;

	(void)fd; (void)events; (void)arg;
	TAILQ_FOREACH_SAFE(c, &server.clients, entry, next) {
		if (c->flags & SC_DEAD) {
			TAILQ_REMOVE(&server.clients, c, entry);
			server_client_free(c);
			server.nclients--;
			/* An fd is free: the next client need not wait. */
			if (evtimer_pending(server.accept_ev, NULL)) {
				evtimer_del(server.accept_ev);
				event_add(server.listen_ev, NULL);
			}
		}
	}
	if (server.state == SERVER_EXITED && TAILQ_EMPTY(&server.clients))
		event_base_loopexit(server.base, NULL);
}

uint64_t
server_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

/*
 * The fan-out clock (FANOUT_SHARE): reading the image earns the clients
 * their writing time, writing to them spends it. It is reached only
 * through server_fanout_*(): asked by server_client_output,
 * server_client_held and server_cork_cb, charged by server_client_drain
 * and kept by server_pty_read.
 */
static struct {
	uint64_t	flood_at;	/* ns: more waited after a read */
	int64_t		credit;		/* ns clients may be written */
	int		in_output;	/* handing out a read */
} fanout;

/* May clients be written now? Always, but in a flood only on credit. */
int
server_fanout_ok(void)
{
	return (fanout.credit > 0 ||
	    server_now() - fanout.flood_at >= CORK_WAIT * 1000ULL);
}

/* Writing to a client took the time since t0. */
void
server_fanout_spent(uint64_t t0)
{
	if (!fanout.in_output)
		fanout.credit -= (int64_t)(server_now() - t0);
}

/* Reading the image took ns: the clients earn their share of it. */
static void
server_fanout_earn(uint64_t ns)
{
	fanout.credit += FANOUT_SHARE * (int64_t)ns;
	if (fanout.credit > FANOUT_CREDIT_MAX)
		fanout.credit = FANOUT_CREDIT_MAX;
}

/* A read is being handed out: its writes count as one, at the end. */
static void
server_fanout_begin(void)
{
	fanout.in_output = 1;
}

/* The read was handed out: what it took is spent; the time now. */
static uint64_t
server_fanout_end(uint64_t t1)
{
	uint64_t	t2;

	fanout.in_output = 0;
	t2 = server_now();
	fanout.credit -= (int64_t)(t2 - t1);
	return (t2);
}

/* A flood at t2; a new one starts without the last one's debt. */
static void
server_fanout_flood(uint64_t t2)
{
	if (t2 - fanout.flood_at >= CORK_WAIT * 1000ULL && fanout.credit < 0)
		fanout.credit = 0;
	fanout.flood_at = t2;
}

/* Held output is written CORK_WAIT from now, if not before. */
void
server_cork(void)
{
	struct timeval	tv = { 0, CORK_WAIT };

	if (!evtimer_pending(server.cork_ev, NULL))
		evtimer_add(server.cork_ev, &tv);
}

/* Console output: into the scrollback and to every attached client. */
static void
server_output(const char *buf, size_t len)
{
	struct server_client	*c;
	int			 bulk = (len >= BULK_MIN);

	ring_add(&server.ring, buf, len);
	console_output(buf, len);
	TAILQ_FOREACH(c, &server.clients, entry) {
		if ((c->flags & (SC_ATTACHED | SC_DEAD)) == SC_ATTACHED)
			server_client_output(c, buf, len, bulk);
	}
}

/*
 * Write what is held, as far as the credit goes, taking the clients in
 * turn: the one served goes to the back of the line.
 */
static void
server_cork_cb(evutil_socket_t fd, short events, void *arg)
{
	struct server_client	*c;
	u_int			 n = 0;

	(void)fd; (void)events; (void)arg;
	TAILQ_FOREACH(c, &server.clients, entry)
		n++;
	while (n-- > 0 && server_fanout_ok()) {
		c = TAILQ_FIRST(&server.clients);
		TAILQ_REMOVE(&server.clients, c, entry);
		TAILQ_INSERT_TAIL(&server.clients, c, entry);
		server_client_uncork(c);
	}
	TAILQ_FOREACH(c, &server.clients, entry) {
		if ((c->flags & (SC_CORKED | SC_DEAD)) == SC_CORKED) {
			server_cork();
			break;
		}
	}
}

/* Returns 0 while the pty may have more, -1 at EOF, EIO or EAGAIN. */
static int
server_pty_read(void)
{
	char		buf[SERVER_READ_SIZE];
	ssize_t		n;
	uint64_t	t0 = server_now(), t1, t2;
	int		waiting;

	n = read(server.ptyfd, buf, sizeof buf);
	if (n > 0) {
		/*
		 * Reading the image earns the clients their writing time;
		 * handing the output out is part of what they spend.
		 */
		t1 = server_now();
		server_fanout_earn(t1 - t0);
		/* SBCL says this once, in one write, as Lisp stops for good. */
		if (!server.ldb && server_ldb(buf, n)) {
			server.ldb = 1;
			log_warnx("%s: the image is in LDB, SBCL's low-level "
			    "debugger (heap exhausted?): Lisp no longer runs; "
			    "lispd stop ends it", server.name);
		}
		server_fanout_begin();
		server_output(buf, n);
		t2 = server_fanout_end(t1);
		/* A flood: more is waiting already, the image is ahead of us. */
		if (n >= BULK_MIN &&
		    ioctl(server.ptyfd, FIONREAD, &waiting) == 0 &&
		    waiting > 0)
			server_fanout_flood(t2);
		return (0);
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return (-1);
	/* EIO: no slave is open; reading again would spin. */
	event_del(server.pty_rd);
	return (-1);
}

static void
server_pty_read_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd; (void)events; (void)arg;
	server_pty_read();
}

static void
server_pty_drain(void)
{
	while (server_pty_read() == 0)
		;
}

/* Is this LDB's banner, at the start of a line? */
static int
server_ldb(const char *buf, size_t n)
{
	const char	*p = buf, *end = buf + n;
	size_t		 len = strlen(SERVER_LDB);

	while ((p = memmem(p, end - p, SERVER_LDB, len)) != NULL) {
		if (p == buf || p[-1] == '\n')
			return (1);
		p += len;
	}
	return (0);
}

/*
 * How much of the next n bytes of input the pty gets now: all of them, or
 * up to a line end, or (in canonical mode, of a line longer than a piece)
 * a piece, to be ended by *eof, VEOF; else *eof is -1. *raw: the line
 * discipline keeps no lines now.
 */
static size_t
server_pty_cut(size_t n, int *eof, int *raw)
{
	const u_char	*p;
	size_t		 room, i;

	*eof = -1;
	*raw = 0;
	room = server.pty_line < SERVER_PTY_PIECE ?
	    SERVER_PTY_PIECE - server.pty_line : 0;
	if (n <= room)
		return (n);
	p = evbuffer_pullup(server.pty_in, room + 1);
	for (i = room + 1; i > 0; i--) {
		if (p[i - 1] == '\n' || p[i - 1] == '\r')
			return (i);
	}
	if ((*eof = pty_eof(server.ptyfd)) == -1) {
		*raw = 1;
		return (n);
	}
	/* Not inside a UTF-8 character: the reader decodes each piece. */
	for (i = room; i > 0 && room - i < 3 && (p[i] & 0xc0) == 0x80; i--)
		;
	return ((p[i] & 0xc0) == 0x80 ? room : i);
}

/* Is the piece written still in the line discipline, unread? */
static void
server_pty_taken_cb(evutil_socket_t fd, short events, void *arg)
{
	struct pollfd	pfd;
	struct timeval	tv = { 0, 0 };

	(void)fd; (void)events; (void)arg;
	pfd.fd = server.pty_peer;
	pfd.events = POLLIN;
	/* poll() first runs the line discipline over what was written. */
	if (poll(&pfd, 1, 0) == 1 && pfd.revents == POLLIN) {
		server.pty_taken_us *= 2;
		if (server.pty_taken_us > SERVER_PTY_WAIT_MAX)
			server.pty_taken_us = SERVER_PTY_WAIT_MAX;
		tv.tv_usec = server.pty_taken_us;
		evtimer_add(server.pty_taken_ev, &tv);
		return;
	}
	server_pty_flush();
}

/*
 * Write the image's input. A canonical tty keeps 4095 bytes of a line
 * and drops the rest, so a longer line (a paste) goes in pieces, each
 * ended by VEOF, which hands a non-empty line to the reader without a
 * newline; the next is written once the image has read the last, for the
 * discipline drops what comes early too, and the mode may change.
 */
static void
server_pty_flush(void)
{
	struct timeval	 tv = { 0, SERVER_PTY_WAIT_MIN };
	u_char		 piece[SERVER_PTY_PIECE + 1], *p;
	size_t		 len, n, i;
	ssize_t		 w;
	int		 eof, raw;

	while ((len = evbuffer_get_length(server.pty_in)) != 0) {
		if (evtimer_pending(server.pty_taken_ev, NULL))
			break;	/* a piece is not read yet */
		if (len > SERVER_WRITE_SIZE)
			len = SERVER_WRITE_SIZE;
		n = server_pty_cut(len, &eof, &raw);
		if (eof != -1 && server.pty_peer == -1 &&
		    (server.pty_peer = pty_peer(server.ptyfd)) == -1) {
			log_warn("%s: cannot see the image read its input, so "
			    "a line over %d bytes is cut", __func__,
			    TTY_LINE_MAX);
			eof = -1;
			n = len;
		}
		p = n != 0 ? evbuffer_pullup(server.pty_in, n) : NULL;
		if (eof != -1) {
			if (n != 0)
				memcpy(piece, p, n);
			piece[n] = eof;
			w = write(server.ptyfd, piece, n + 1);
		} else
			w = write(server.ptyfd, p, n);
		if (w == -1) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			evbuffer_drain(server.pty_in,
			    evbuffer_get_length(server.pty_in));
			break;
		}
		if (eof != -1 && (size_t)w == n + 1) {
			evbuffer_drain(server.pty_in, n);
			server.pty_line = 0;
			server.pty_taken_us = SERVER_PTY_WAIT_MIN;
			evtimer_add(server.pty_taken_ev, &tv);
			continue;
		}
		/*
		 * What the line holds now. Besides a line end, the usual
		 * C-c, C-d and C-u empty it (the count only chooses where a
		 * long line is cut: a VEOF on a line the count thinks full
		 * but the discipline emptied would read as end of file).
		 */
		for (i = w; i > 0; i--) {
			if (p[i - 1] == '\n' || p[i - 1] == '\r' ||
			    p[i - 1] == 0x03 || p[i - 1] == 0x04 ||
			    p[i - 1] == 0x15)
				break;
		}
		server.pty_line = raw ? 0 : i > 0 ? (size_t)w - i :
		    server.pty_line + w;
		evbuffer_drain(server.pty_in, w);
	}
	if (evbuffer_get_length(server.pty_in) != 0 &&
	    !evtimer_pending(server.pty_taken_ev, NULL))
		event_add(server.pty_wr, NULL);
	else
		event_del(server.pty_wr);
	if (evbuffer_get_length(server.pty_in) == 0 && server.pty_peer != -1 &&
	    !evtimer_pending(server.pty_taken_ev, NULL)) {
		close(server.pty_peer);
		server.pty_peer = -1;
	}
}

static void
server_pty_write_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd; (void)events; (void)arg;
	server_pty_flush();
}

/* Can len more bytes of input be queued for the image? */
int
server_input_room(size_t len)
{
	return (server.ptyfd != -1 && (server.state == SERVER_RUNNING ||
	    server.state == SERVER_STOPPING) &&
	    evbuffer_get_length(server.pty_in) + len <= INPUT_QUEUE_MAX);
}

/* Input for the image; the caller checked the room. */
void
server_input(struct server_client *c, const void *data, size_t len)
{
	struct termios	 tio;
	const char	*intr;

	(void)c;
	if (server.ptyfd == -1 || len == 0)
		return;
	/*
	 * VINTR behind a long line waiting to be read: as the tty drops its
	 * input at an interrupt, what waits goes, and the interrupt at once.
	 */
	if (evtimer_pending(server.pty_taken_ev, NULL) &&
	    tcgetattr(server.ptyfd, &tio) == 0 && (tio.c_lflag & ISIG) &&
	    tio.c_cc[VINTR] != _POSIX_VDISABLE &&
	    (intr = memrchr(data, tio.c_cc[VINTR], len)) != NULL) {
		evbuffer_drain(server.pty_in, evbuffer_get_length(server.pty_in));
		evtimer_del(server.pty_taken_ev);
		server.pty_line = 0;
		len -= intr - (const char *)data;
		data = intr;
	}
	evbuffer_add(server.pty_in, data, len);
	if (!event_pending(server.pty_wr, EV_WRITE, NULL))
		server_pty_flush();
}

/* The pty follows the size of the most recently active read-write client. */
void
server_resize(struct server_client *c)
{
	if (c->flags & SC_READONLY || c->rows == 0 || c->cols == 0)
		return;
	server.active = c;
	if (c->rows == server.rows && c->cols == server.cols)
		return;
	if (server.ptyfd != -1 &&
	    pty_resize(server.ptyfd, c->rows, c->cols) == -1) {
		log_warn("%s: TIOCSWINSZ", __func__);
		return;
	}
	server.rows = c->rows;
	server.cols = c->cols;
}

/* A datagram to $NOTIFY_SOCKET (systemd), if there is one: 0, or -1. */
int
server_notify_send(const char *msg)
{
	struct sockaddr_un	sun;
	socklen_t		len;
	int			fd, rv = 0;

	if (server.notify_socket == NULL)
		return (-1);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", server.notify_socket);
	len = offsetof(struct sockaddr_un, sun_path) +
	    strlen(server.notify_socket);
	if (sun.sun_path[0] == '@')
		sun.sun_path[0] = '\0';	/* an abstract socket */
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sun,
	    len) == -1) {
		log_warn("%s: %s to %s", server.name, msg,
		    server.notify_socket);
		rv = -1;
	}
	if (fd != -1)
		close(fd);
	return (rv);
}

/*
 * Tell a supervisor the image is ready: a newline on the notification fd,
 * then close it (s6); READY=1 to $NOTIFY_SOCKET (systemd), whose watchdog
 * then starts.
 */
static void
server_notify(void)
{
	if (server.notify_fd != -1) {
		(void)!write(server.notify_fd, "\n", 1);
		close(server.notify_fd);
		server.notify_fd = -1;
	}
	if (server_notify_send("READY=1") == 0)
		watchdog_start();
}

/* The image is ready: tell whoever waits for it. */
void
server_ready(void)
{
	struct server_client	*c;

	if (server.ready)
		return;
	server.ready = 1;
	log_info("%s: ready", server.name);
	save_resume_ready();
	server_notify();
	TAILQ_FOREACH(c, &server.clients, entry) {
		if (c->flags & SC_WAITREADY) {
			c->flags &= ~SC_WAITREADY;
			server_client_write(c, PROTO_OK, NULL, 0);
		}
	}
}

/*
 * why without a leading "session NAME: ", for a line the client leads
 * with the session's name itself.
 */
const char *
server_unnamed(const char *why)
{
	size_t	n = strlen(server.name);

	if (strncmp(why, "session ", 8) == 0 &&
	    strncmp(why + 8, server.name, n) == 0 &&
	    strncmp(why + 8 + n, ": ", 2) == 0)
		return (why + 10 + n);
	return (why);
}

/*
 * Seconds from the environment variable name (1 to 3600), else def; a
 * value that is not is logged, and def used.
 */
int
server_env_seconds(const char *name, int def)
{
	const char	*env = getenv(name);
	char		*end;
	long		 s;

	if (env == NULL || *env == '\0')
		return (def);
	errno = 0;
	s = strtol(env, &end, 10);
	if (errno != 0 || *end != '\0' || s < 1 || s > 3600) {
		log_warnx("%s=%s is not 1 to 3600 seconds: %d it is", name,
		    env, def);
		return (def);
	}
	return ((int)s);
}

void
server_notice_all(const char *msg)
{
	struct server_client	*c;

	TAILQ_FOREACH(c, &server.clients, entry) {
		if (c->flags & (SC_ATTACHED | SC_WAITEXIT | SC_WAITREADY))
			server_client_notice(c, "%s", msg);
	}
	log_info("%s: %s", server.name, msg);
}

/* The next step of a stop: SIGTERM after the channel, then SIGKILL. */
static void
server_stop_cb(evutil_socket_t fd, short events, void *arg)
{
	struct timeval	tv = { 0, 0 };
	char		msg[128];

	(void)fd; (void)events; (void)arg;
	if (server.state != SERVER_STOPPING)
		return;
	if (server.stop_left > 0) {
		tv.tv_sec = server.stop_left;
		server.stop_left = 0;
		snprintf(msg, sizeof msg, "the image did not exit when asked: "
		    "sent SIGTERM to pid %ld, SIGKILL in %ld s",
		    (long)server.pid, (long)tv.tv_sec);
		kill(server.pid, SIGTERM);
		server_notice_all(msg);
		evtimer_add(server.stop_ev, &tv);
		return;
	}
	snprintf(msg, sizeof msg, "the image did not exit in time: "
	    "sent SIGKILL to pid %ld", (long)server.pid);
	kill(server.pid, SIGKILL);
	server_notice_all(msg);
}

/*
 * Stop the image within timeout seconds. With the bootstrap up, it is
 * asked to exit (its exit hooks run), SIGTERM comes at half the time;
 * without, SIGTERM at once; SIGKILL at the end either way.
 */
void
server_stop(u_int timeout)
{
	struct timeval	tv = { timeout, 0 };
	char		msg[160];

	if (server.state == SERVER_RESTARTING) {
		/* Nothing runs: the session just ends. */
		server_finish(server.last_status);
		return;
	}
	if (server.state != SERVER_RUNNING)
		return;
	server.state = SERVER_STOPPING;
	if (control_up() &&
	    control_send(CTL_EXIT, NULL, 0, NULL, 0) == 0) {
		tv.tv_sec = timeout / 2;
		server.stop_left = timeout - timeout / 2;
		snprintf(msg, sizeof msg, "stopping: asked the image to exit "
		    "(its exit hooks run); SIGTERM in %ld s, SIGKILL in %u s",
		    (long)tv.tv_sec, timeout);
	} else {
		snprintf(msg, sizeof msg, "stopping: sent SIGTERM to pid %ld, "
		    "SIGKILL in %u s", (long)server.pid, timeout);
		kill(server.pid, SIGTERM);
	}
	server_notice_all(msg);
	evtimer_add(server.stop_ev, &tv);
}

void
server_kill(void)
{
	char	msg[128];

	if (server.state == SERVER_EXITED)
		return;
	if (server.state == SERVER_RESTARTING) {
		server_finish(server.last_status);
		return;
	}
	server.state = SERVER_STOPPING;
	snprintf(msg, sizeof msg, "sent SIGKILL to pid %ld",
	    (long)server.pid);
	kill(server.pid, SIGKILL);
	server_notice_all(msg);
}

static void
server_linger_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd; (void)events; (void)arg;
	event_base_loopexit(server.base, NULL);
}

/* Does the policy restart an image that ended with this wait status? */
static int
server_restarts(int status)
{
	if (server.state == SERVER_STOPPING)
		return (0);	/* lispd stop, kill or SIGTERM: its end */
	switch (server.opts->restart) {
	case RESTART_ALWAYS:
		return (1);
	case RESTART_ON_FAILURE:
		return (!WIFEXITED(status) || WEXITSTATUS(status) != 0);
	default:
		return (0);
	}
}

/* The session ends: every client is told the image's status. */
static void
server_finish(int status)
{
	struct server_client	*c;
	struct timeval		 tv = { SERVER_LINGER, 0 };

	server.state = SERVER_EXITED;
	server.status = status;
	/* Clients that come while it lingers are answered, not left waiting. */
	evtimer_del(server.stop_ev);
	evtimer_del(server.restart_ev);
	TAILQ_FOREACH(c, &server.clients, entry)
		server_client_exit(c);
	evtimer_add(server.linger_ev, &tv);
	server_reap();
}

static void
server_exited(int status)
{
	struct server_client	*c;
	struct timeval		 tv = { 0, 0 };
	char			 how[64], msg[160];
	long			 delay;

	if (server.ptyfd != -1) {
		server_pty_drain();
		event_del(server.pty_rd);
		event_del(server.pty_wr);
		evtimer_del(server.pty_taken_ev);
	}
	control_drain();
	control_close("the image exited");
	swank_down("the image exited");
	client_describe_exit(status, how, sizeof how);
	log_info("%s: image (pid %ld) %s", server.name, (long)server.pid,
	    how);
	server.last_status = status;
	if (server.state != SERVER_STOPPING && save_resume_failed(how)) {
		/* That core would not start: the next, at once. */
		server.state = SERVER_RESTARTING;
		server_pty_close();
		console_break();
		control_gone("the image ended before it was ready");
		evtimer_add(server.restart_ev, &tv);
		return;
	}
	if (!server_restarts(status)) {
		server_finish(status);
		return;
	}

	/* Twice as long each time it fails quickly; from 1 s after a while. */
	if (time(NULL) - server.started >= SERVER_STABLE)
		server.backoff = 0;
	delay = 1L << (server.backoff < 6 ? server.backoff : 6);
	if (delay > SERVER_BACKOFF_MAX)
		delay = SERVER_BACKOFF_MAX;
	server.backoff++;
	server.restarts++;
	server.state = SERVER_RESTARTING;
	server.ready = 0;	/* lispd wait waits for the next image */
	server_pty_close();
	console_break();
	snprintf(msg, sizeof msg, "the image %s; restarting in %ld s", how,
	    delay);
	control_gone(msg);
	server_notice_all(msg);
	/* Else start and wait never return for an image never ready. */
	TAILQ_FOREACH(c, &server.clients, entry) {
		if (c->flags & SC_WAITREADY) {
			c->flags &= ~SC_WAITREADY;
			server_client_error(c, EXIT_FAIL, "session %s: the "
			    "image %s before it was ready; it is being "
			    "restarted: see 'lispd ls', or end it with "
			    "'lispd stop %s'", server.name, how, server.name);
		}
	}
	tv.tv_sec = delay;
	evtimer_add(server.restart_ev, &tv);
}

/*
 * Now and then the files are touched, so that an age-based tmp cleaner
 * leaves them alone (tmux does the same with its socket).
 */
static void
server_touch_cb(evutil_socket_t fd, short events, void *arg)
{
	const char	*suffix[] = { ".sock", ".swank", ".lock" };
	char		*path;
	size_t		 i;

	(void)fd; (void)events; (void)arg;
	for (i = 0; i < nitems(suffix); i++) {
		path = dir_path(server.dir, server.name, suffix[i]);
		utimensat(AT_FDCWD, path, NULL, AT_SYMLINK_NOFOLLOW);
		free(path);
	}
}

/* NAME.lock again, if a tmp cleaner deleted it (SIGUSR1). */
static void
server_relock(void)
{
	int	fd;

	if (dir_locked(server.dir, server.name, server.lockfd))
		return;
	if ((fd = dir_lock(server.dir, server.name)) == -1) {
		log_warn("%s: cannot lock %s/%s.lock again", server.name,
		    server.dir->path, server.name);
		return;
	}
	close(server.lockfd);
	server.lockfd = fd;
	dir_lock_write(fd);
}

/* SIGUSR1: the sockets and the lock again, for a tmp cleaner deleted them. */
static void
server_sockets(void)
{
	pid_t	pid;
	int	fd;

	log_info("%s: making the sockets again", server.name);
	server_relock();
	if (server.state != SERVER_EXITED) {
		if ((fd = dir_listen(server.dir, server.name, ".sock")) == -1) {
			if (errno != EADDRINUSE)
				log_warn("%s: cannot listen on %s/%s.sock",
				    server.name, server.dir->path, server.name);
			else if (dir_answers(server.dir, server.name, ".sock",
			    &pid) && pid != getpid())
				log_warnx("%s: %s/%s.sock is another server's "
				    "(pid %ld): leaving it", server.name,
				    server.dir->path, server.name, (long)pid);
		} else {
			/* The clients connected stay on the old one. */
			event_free(server.listen_ev);
			close(server.listenfd);
			server.listenfd = fd;
			server.listen_ev = event_new(server.base, fd,
			    EV_READ | EV_PERSIST, server_accept_cb, NULL);
			event_add(server.listen_ev, NULL);
		}
	}
	swank_recreate();
}

static void
server_signal_cb(evutil_socket_t sig, short events, void *arg)
{
	pid_t	pid;
	int	status;

	(void)events; (void)arg;
	switch (sig) {
	case SIGCHLD:
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid == server.pid &&
			    (server.state == SERVER_RUNNING ||
			    server.state == SERVER_STOPPING))
				server_exited(status);
		}
		break;
	case SIGTERM:
	case SIGINT:
		/* --save-on-term: a core first, if the image can be saved. */
		if (server.opts->save_on_term && server.state == SERVER_RUNNING)
			save_request(NULL, server.stop_timeout,
			    SAVE_STOP_ANYWAY, server.stop_timeout);
		else
			server_stop(server.stop_timeout);
		break;
	case SIGHUP:
		console_reopen();
		break;
	case SIGUSR1:
		server_sockets();
		break;
	}
}

/*
 * accept failed (the fd limit, mostly): said at most once a minute, with
 * the limit and the clients holding it; the caller stops accepting for
 * ACCEPT_PAUSE, as the level-triggered listen event would spin.
 */
void
server_accept_failed(const char *what)
{
	static time_t		 last;
	struct server_client	*c;
	struct rlimit		 rl;
	u_int			 n = 0;
	int			 saved = errno;

	if (last != 0 && time(NULL) - last < 60)
		return;
	last = time(NULL);
	TAILQ_FOREACH(c, &server.clients, entry)
		n++;
	if ((saved == EMFILE || saved == ENFILE) &&
	    getrlimit(RLIMIT_NOFILE, &rl) == 0)
		log_warnx("%s: %s: at the limit of open files (%s %ld) with "
		    "%u clients: not accepting for %d s at a time; raise "
		    "ulimit -n", server.name, what, saved == EMFILE ?
		    "ulimit -n" : "the system's, and ulimit -n",
		    (long)rl.rlim_cur, n, ACCEPT_PAUSE);
	else
		log_warnx("%s: %s: accept: %s (%u clients): not accepting for "
		    "%d s at a time", server.name, what, strerror(saved), n,
		    ACCEPT_PAUSE);
}

static void
server_accept_resume_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd; (void)events; (void)arg;
	if (server.listen_ev != NULL)
		event_add(server.listen_ev, NULL);
}

/* A client past server_clients_max: said at most once a minute. */
static void
server_clients_full(void)
{
	static time_t	last;

	if (last != 0 && time(NULL) - last < 60)
		return;
	last = time(NULL);
	log_warnx("%s: %u clients, as many as ulimit -n allows: refusing more "
	    "with a message; raise ulimit -n", server.name, server.nclients);
}

/*
 * The most clients at once: one fd each, less what the server, the image's
 * pty and channel, the log, swank and a terminal or two need. Past it a
 * client is told so at once, instead of the server meeting the fd limit.
 */
static u_int
server_clients_max(void)
{
	static u_int	max;
	struct rlimit	rl;

	if (max == 0) {
		max = SERVER_CLIENTS_MAX;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		    rl.rlim_cur != RLIM_INFINITY &&
		    rl.rlim_cur < SERVER_CLIENTS_MAX + SERVER_FDS_KEPT)
			max = rl.rlim_cur > 2 * SERVER_FDS_KEPT ?
			    rl.rlim_cur - SERVER_FDS_KEPT : SERVER_FDS_KEPT;
	}
	return (max);
}

/* A word before the door closes: a frame the peer can print. */
static void
server_refuse(int fd, int status, const char *fmt, ...)
{
	va_list	ap;
	uint8_t	buf[PROTO_HDRLEN + 260];
	char	junk[512];
	size_t	len;

	va_start(ap, fmt);
	len = proto_pack_error(buf + PROTO_HDRLEN, sizeof buf - PROTO_HDRLEN,
	    status, fmt, ap);
	va_end(ap);
	proto_header(buf, PROTO_ERROR, len);
	/* Its hello read, so that closing resets nothing before the frame. */
	(void)!recv(fd, junk, sizeof junk, MSG_DONTWAIT);
	(void)!send(fd, buf, PROTO_HDRLEN + len, MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
}

static void
server_accept_cb(evutil_socket_t fd, short events, void *arg)
{
	struct timeval	tv = { ACCEPT_PAUSE, 0 };
	struct ucred	cred;
	socklen_t	len = sizeof cred;
	int		cfd;

	(void)events; (void)arg;
	for (;;) {
		cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd == -1) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED) {
				server_accept_failed("clients");
				event_del(server.listen_ev);
				evtimer_add(server.accept_ev, &tv);
			}
			return;
		}
		if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred,
		    &len) == -1) {
			log_warn("%s: SO_PEERCRED", __func__);
			close(cfd);
			continue;
		}
		if (cred.uid != geteuid() && cred.uid != 0) {
			log_warnx("%s: refused a client of uid %ld (pid %ld)",
			    server.name, (long)cred.uid, (long)cred.pid);
			server_refuse(cfd, EXIT_FAIL, "session %s refuses uid "
			    "%ld: only its owner (uid %ld) and root may connect",
			    server.name, (long)cred.uid, (long)geteuid());
			continue;
		}
		if (server.nclients >= server_clients_max()) {
			server_clients_full();
			server_refuse(cfd, EXIT_FAIL, "session %s has %u "
			    "clients, as many as its limit of open files "
			    "allows: try again once some have left, or raise "
			    "ulimit -n for the session", server.name,
			    server.nclients);
			continue;
		}
		server_client_create(cfd);
	}
}

/* Answer every client waiting for the session's info. */
static void
server_info_answer(void)
{
	struct server_client	*c;
	struct evbuffer		*b;

	image_info.asked = 0;
	evtimer_del(server.info_ev);
	b = evbuffer_new();
	server_info(b);
	TAILQ_FOREACH(c, &server.clients, entry) {
		if (c->flags & SC_WANTINFO) {
			c->flags &= ~SC_WANTINFO;
			server_client_write(c, PROTO_INFO,
			    evbuffer_pullup(b, -1), evbuffer_get_length(b));
		}
	}
	evbuffer_free(b);
	free(image_info.text);
	image_info.text = NULL;
}

static void
server_info_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd; (void)events; (void)arg;
	server_info_answer();	/* the image did not answer in time */
}

/* A client asks for the info: with what the image says, if it can. */
void
server_list(struct server_client *c)
{
	struct timeval	tv = { 0, SERVER_INFO_WAIT };

	c->flags |= SC_WANTINFO;
	if (image_info.asked)
		return;
	if (!control_up() ||
	    control_send(CTL_ASKINFO, NULL, 0, NULL, 0) == -1) {
		server_info_answer();
		return;
	}
	image_info.asked = 1;
	evtimer_add(server.info_ev, &tv);
}

/* The image's own lines for the info: its Lisp, heap, threads. */
void
server_image_info(const char *text, size_t len)
{
	if (!image_info.asked)
		return;
	free(image_info.text);
	xasprintf(&image_info.text, "%.*s", (int)len, text);
	server_info_answer();
}

/*
 * INFO must fit one frame (PROTO_MAXLEN), or ls cannot read it: each free
 * text is cut to a bound, on a character, and said to be cut.
 */
#define INFO_TEXT_MAX	1024
#define INFO_COMMAND_MAX 2048
#define INFO_IMAGE_MAX	4096

static void
server_info_text(struct evbuffer *b, const char *key, const char *s,
    size_t max)
{
	size_t	len = strlen(s), n = len, i;
	char	c;

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	evbuffer_add_printf(b, "%s=", key);
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i] < 0x20 ? ' ' : s[i];	/* one line */
		evbuffer_add(b, &c, 1);
	}
	if (n < len)
		evbuffer_add_printf(b, "... (%zu bytes cut)", len - n);
	evbuffer_add(b, "\n", 1);
}

static void
server_info(struct evbuffer *b)
{
	struct server_client	*c;
	int			 attached = 0;
	const char		*state;
	char			 how[64];
	size_t			 len;

	TAILQ_FOREACH(c, &server.clients, entry) {
		if ((c->flags & (SC_ATTACHED | SC_DEAD | SC_LOG)) ==
		    SC_ATTACHED)
			attached++;
	}
	switch (server.state) {
	case SERVER_RUNNING:
		state = server.ldb ? "ldb" : "running";
		break;
	case SERVER_STOPPING:
		state = "stopping";
		break;
	case SERVER_RESTARTING:
		state = "restarting";
		break;
	default:
		state = "exited";
		break;
	}
	evbuffer_add_printf(b, "name=%s\n", server.name);
	evbuffer_add_printf(b, "pid=%ld\n", (long)server.pid);
	evbuffer_add_printf(b, "server=%ld\n", (long)getpid());
	server_info_text(b, "command", server.command, INFO_COMMAND_MAX);
	evbuffer_add_printf(b, "started=%lld\n", (long long)server.started);
	evbuffer_add_printf(b, "clients=%d\n", attached);
	evbuffer_add_printf(b, "state=%s\n", state);
	evbuffer_add_printf(b, "size=%ux%u\n", server.cols, server.rows);
	evbuffer_add_printf(b, "version=%s\n", PACKAGE_VERSION);
	evbuffer_add_printf(b, "ready=%d\n", server.ready);
	if (control_lisp() != NULL)
		server_info_text(b, "lisp", control_lisp(), INFO_TEXT_MAX);
	if (image_info.text != NULL) {
		/* The image's own lines: whole lines, as many as fit. */
		len = strlen(image_info.text);
		if (len > INFO_IMAGE_MAX) {
			len = INFO_IMAGE_MAX;
			while (len > 0 && image_info.text[len - 1] != '\n')
				len--;
		}
		evbuffer_add(b, image_info.text, len);
	}
	evbuffer_add_printf(b, "swank=%s\n", swank_describe());
	if (swank_version() != NULL)
		evbuffer_add_printf(b, "swank_version=%s\n", swank_version());
	if (server.restarts != 0) {
		client_describe_exit(server.last_status, how, sizeof how);
		evbuffer_add_printf(b, "restarts=%d\nlast=%s\n",
		    server.restarts, how);
	}
	if (swank_why() != NULL)
		server_info_text(b, "swank_why", swank_why(), INFO_TEXT_MAX);
	save_info(b);
}

static char *
server_command(char *const *argv)
{
	size_t	 len = 1, i;
	char	*s;

	for (i = 0; argv[i] != NULL; i++)
		len += strlen(argv[i]) + 1;
	s = xcalloc(1, len);
	for (i = 0; argv[i] != NULL; i++) {
		if (i != 0)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	for (i = 0; s[i] != '\0'; i++) {
		if ((unsigned char)s[i] < 0x20)
			s[i] = ' ';
	}
	return (s);
}

static int
server_exec_error(int err, const char *cmd, char *msg, size_t len)
{
	if (err == ENOENT) {
		snprintf(msg, len, "command not found: %s: install it, or "
		    "give its full path after --", cmd);
		return (EXIT_NOTFOUND);
	}
	snprintf(msg, len, "cannot execute %s: %s", cmd, strerror(err));
	return (EXIT_NOEXEC);
}

/* Tell the starting process how it went: "STATUS message\n". */
static void
server_report(int fd, int status, const char *msg)
{
	char	line[512];
	int	n;

	if (fd == -1) {
		if (status != 0)
			warnmsg("%s", msg);
		return;
	}
	n = snprintf(line, sizeof line, "%d %s\n", status, msg);
	(void)!write(fd, line, n > (int)sizeof line ? sizeof line : (size_t)n);
	close(fd);
}

/*
 * The command with the bootstrap loaded, or NULL (with a warning for the
 * starting user if it should have been and cannot be).
 */
static char **
server_bootstrap(char *const *argv, char *warn, size_t len)
{
	const char	*path = bootstrap_path();
	char		**v;
	int		  how;

	*warn = '\0';
	v = bootstrap_argv(argv, path, &how);
	if (how == BOOTSTRAP_NOREPL)
		snprintf(warn, len, "warning: the command has --script or "
		    "--non-interactive, so the lispd bootstrap is not loaded: "
		    "lispd eval will not reach this image");
	if (v != NULL && access(path, R_OK) == -1) {
		snprintf(warn, len, "warning: cannot read the lispd bootstrap "
		    "%s (%s): lispd eval will not reach this image; reinstall "
		    "lispd or set LISPD_BOOTSTRAP", path, strerror(errno));
		free(v);
		v = NULL;
	}
	return (v);
}

/* The pty of the image run that ended: closed, its events gone. */
static void
server_pty_close(void)
{
	if (server.ptyfd == -1)
		return;
	event_free(server.pty_rd);
	event_free(server.pty_wr);
	event_free(server.pty_taken_ev);
	evbuffer_free(server.pty_in);
	close(server.ptyfd);
	server.ptyfd = -1;
	if (server.pty_peer != -1)
		close(server.pty_peer);
	server.pty_peer = -1;
	server.pty_rd = server.pty_wr = server.pty_taken_ev = NULL;
	server.pty_in = NULL;
}

/*
 * Run the image on a new pty, with a new control channel and the same
 * swank socket: the first run and every restart. 0, or an exit status
 * with msg filled.
 */
static int
server_spawn(char *msg, size_t len, char *warn, size_t wlen)
{
	const struct server_opts	*opts = server.opts;
	struct winsize			 ws;
	char				 slave[128], **argv, **sbcl, **core;
	char *const			*cmd;
	int				 imgfd, expected, err;

	memset(&ws, 0, sizeof ws);
	ws.ws_row = server.rows;
	ws.ws_col = server.cols;
	if ((server.ptyfd = pty_open(&ws, slave, sizeof slave)) == -1) {
		snprintf(msg, len, "cannot open a pseudo-terminal: %s",
		    strerror(errno));
		return (EXIT_FAIL);
	}
	/* A heap exhausted must end the image, not wait in ldb for ever. */
	cmd = opts->argv;
	sbcl = argv = NULL;
	if ((core = save_resume_argv()) != NULL)
		cmd = core;	/* the bootstrap is in it, and its options */
	else {
		if (opts->restart != RESTART_NEVER &&
		    (sbcl = bootstrap_sbcl_runtime(cmd)) != NULL)
			cmd = sbcl;
		argv = server_bootstrap(cmd, warn, wlen);
	}
	control_free();
	/*
	 * Without the bootstrap nobody in the image would serve them: the
	 * image gets no end of the channel, and so no swank socket either.
	 */
	expected = argv != NULL || opts->bootstrap || core != NULL;
	imgfd = control_open(expected);
	swank_reclaim();
	if (swank_fd() == -1 && server.restarts == 0)
		swank_open(server.dir, opts->name, !opts->no_swank, expected);
	else if (!opts->no_swank && expected)
		swank_loading();
	server.pid = pty_spawn(server.ptyfd, slave, argv != NULL ? argv : cmd,
	    imgfd, opts->no_swank ? -1 : swank_fd(), opts->name, opts->cwd,
	    &err);
	if (imgfd != -1)
		close(imgfd);
	free(argv);
	free(sbcl);
	if (server.pid == -1) {
		close(server.ptyfd);
		server.ptyfd = -1;
		if (core != NULL) {
			/* Said; then the one before, or the command. */
			snprintf(msg, len, "could not be run (%s)",
			    strerror(err));
			save_resume_failed(msg);
			return (server_spawn(msg, len, warn, wlen));
		}
		return (server_exec_error(err, opts->argv[0], msg, len));
	}
	server.started = time(NULL);
	server.state = SERVER_RUNNING;
	server.ready = 0;
	server.ldb = 0;
	server.pty_in = evbuffer_new();
	server.pty_rd = event_new(server.base, server.ptyfd,
	    EV_READ | EV_PERSIST, server_pty_read_cb, NULL);
	server.pty_wr = event_new(server.base, server.ptyfd,
	    EV_WRITE | EV_PERSIST, server_pty_write_cb, NULL);
	server.pty_taken_ev = evtimer_new(server.base, server_pty_taken_cb,
	    NULL);
	server.pty_line = 0;
	event_add(server.pty_rd, NULL);
	/* Without the bootstrap, running is all the readiness there is. */
	if (!expected)
		server_ready();
	return (0);
}

static void
server_restart_cb(evutil_socket_t fd, short events, void *arg)
{
	char	msg[512], warn[400];
	int	status;

	(void)fd; (void)events; (void)arg;
	if (server.state != SERVER_RESTARTING)
		return;
	if ((status = server_spawn(msg, sizeof msg, warn, sizeof warn)) != 0) {
		log_warnx("%s: %s", server.name, msg);
		server.started = time(NULL);	/* a quick failure: backoff */
		server_exited(status << 8);	/* as a wait status */
		return;
	}
	log_info("%s: restarted %s (pid %ld)", server.name, server.command,
	    (long)server.pid);
}

/* A copy of path, made absolute from cwd ("-" stays). */
static char *
server_absolute(const char *path, const char *cwd)
{
	char	*p;

	if (path == NULL)
		return (NULL);
	if (*path == '/' || strcmp(path, "-") == 0)
		return (xstrdup(path));
	xasprintf(&p, "%s/%s", cwd, path);
	return (p);
}

/*
 * lispd start, in the daemon before anything else: keep none of the
 * caller's fds but the lock, the ready pipe and the notify fd (its pipes
 * would hold its $(...) open for the session's life), and hold no
 * directory: the paths become absolute, and the image is started in the
 * caller's directory by name.
 */
void
server_daemon(struct dir *d, struct server_opts *o, int lockfd, int readyfd)
{
	char	 cwd[PATH_MAX], *env;
	int	 keep[3] = { lockfd, readyfd, o->notify_fd }, t, i, j, lo = 3;

	for (i = 0; i < 3; i++) {
		for (j = i + 1; j < 3; j++) {
			if (keep[j] < keep[i]) {
				t = keep[i];
				keep[i] = keep[j];
				keep[j] = t;
			}
		}
	}
	for (i = 0; i <= 3; i++) {
		t = i < 3 ? keep[i] : INT_MAX;
		if (t < lo)
			continue;
		if (t > lo && close_range(lo, t == INT_MAX ? ~0U :
		    (u_int)t - 1, 0) == -1) {
			for (j = lo; j < t && j < 65536; j++)
				close(j);
		}
		lo = t + (t != INT_MAX);
	}

	if (getcwd(cwd, sizeof cwd) == NULL)
		return;	/* gone already: nothing to hold */
	o->cwd = xstrdup(cwd);
	d->path = server_absolute(d->path, cwd);
	o->log = server_absolute(o->log, cwd);
	if ((env = getenv("LISPD_BOOTSTRAP")) != NULL && *env != '\0')
		setenv("LISPD_BOOTSTRAP", server_absolute(env, cwd), 1);
	if (chdir("/") == -1)
		log_warn("%s: chdir /", __func__);
}

/*
 * Run a session. The caller holds lockfd and has checked the directory and
 * name. Reports success or failure on readyfd (or stderr if -1), then
 * serves until the image exits. Returns the exit status for `lispd run`.
 */
/* The server's own events, beside the sockets' (t/fuzz-server.c too). */
static void
server_events(void)
{
	server.reap_ev = event_new(server.base, -1, 0, server_reap_cb, NULL);
	server.cork_ev = evtimer_new(server.base, server_cork_cb, NULL);
	server.stop_ev = evtimer_new(server.base, server_stop_cb, NULL);
	server.linger_ev = evtimer_new(server.base, server_linger_cb, NULL);
	server.info_ev = evtimer_new(server.base, server_info_cb, NULL);
	server.restart_ev = evtimer_new(server.base, server_restart_cb, NULL);
	server.accept_ev = evtimer_new(server.base, server_accept_resume_cb,
	    NULL);
}

int
server_main(struct dir *d, const struct server_opts *opts, int lockfd,
    int readyfd)
{
	struct sigaction sa;
	struct event	*sigs[5];
	const int	 signums[5] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
	struct timeval	 tv = { 0, 0 };
	char		 msg[512], warn[400];
	pid_t		 pid;
	int		 status, i;

	memset(&server, 0, sizeof server);
	server.ptyfd = -1;
	server.pty_peer = -1;
	server.stop_timeout = opts->stop_timeout;
	/* For the supervisor alone: neither reaches the image. */
	server.notify_fd = opts->notify_fd;
	if (server.notify_fd != -1)
		fcntl(server.notify_fd, F_SETFD, FD_CLOEXEC);
	if (getenv("NOTIFY_SOCKET") != NULL && *getenv("NOTIFY_SOCKET") != '\0')
		server.notify_socket = xstrdup(getenv("NOTIFY_SOCKET"));
	unsetenv("NOTIFY_SOCKET");
	watchdog_init();
	TAILQ_INIT(&server.clients);
	server.dir = d;
	server.name = opts->name;
	server.lockfd = lockfd;
	server.command = server_command(opts->argv);
	ring_init(&server.ring, opts->scrollback);

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	if ((server.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	for (i = 0; i < 5; i++) {
		sigs[i] = evsignal_new(server.base, signums[i],
		    server_signal_cb, NULL);
		evsignal_add(sigs[i], NULL);
	}

	dir_lock_write(lockfd);
	server.listenfd = dir_listen(d, opts->name, ".sock");
	if (server.listenfd == -1 && errno == EADDRINUSE) {
		/* A tmp cleaner took its lock; the session lives. */
		dir_answers(d, opts->name, ".sock", &pid);
		snprintf(msg, sizeof msg, "session %s is already running "
		    "(server pid %ld), but its lock %s/%s.lock was deleted: "
		    "attach with 'lispd attach %s'; 'kill -USR1 %ld' makes "
		    "the lock again", opts->name, (long)pid, d->path,
		    opts->name, opts->name, (long)pid);
		server_report(readyfd, EXIT_EXISTS, msg);
		status = EXIT_EXISTS;
		goto out;
	}
	if (server.listenfd == -1) {
		snprintf(msg, sizeof msg, "cannot listen on %s/%s.sock: %s",
		    d->path, opts->name, strerror(errno));
		server_report(readyfd, EXIT_DIR, msg);
		status = EXIT_DIR;
		goto out;
	}

	if (opts->log != NULL && console_open(opts->log, opts->log_size,
	    opts->log_keep, opts->log_stamps) == -1) {
		snprintf(msg, sizeof msg, "cannot open the console log %s: %s",
		    opts->log, strerror(errno));
		server_report(readyfd, EXIT_FAIL, msg);
		status = EXIT_FAIL;
		goto out;
	}
	server.rows = opts->rows;
	server.cols = opts->cols;
	server.opts = opts;
	if ((status = server_spawn(msg, sizeof msg, warn, sizeof warn)) != 0) {
		server_report(readyfd, status, msg);
		goto out;
	}
	server.listen_ev = event_new(server.base, server.listenfd,
	    EV_READ | EV_PERSIST, server_accept_cb, NULL);
	server_events();
	event_add(server.listen_ev, NULL);
	server_touch_ev = event_new(server.base, -1, EV_PERSIST,
	    server_touch_cb, NULL);
	tv.tv_sec = SERVER_TOUCH;
	event_add(server_touch_ev, &tv);

	snprintf(msg, sizeof msg, "%ld%s%s", (long)server.pid,
	    *warn != '\0' ? " " : "", warn);
	if (*warn != '\0')
		log_warnx("%s: %s", server.name, warn);
	server_report(readyfd, 0, msg);
	log_info("%s: started %s (pid %ld)", server.name, server.command,
	    (long)server.pid);

	event_base_dispatch(server.base);
	status = client_exit_status(server.status);

	while (!TAILQ_EMPTY(&server.clients)) {
		struct server_client *c = TAILQ_FIRST(&server.clients);

		TAILQ_REMOVE(&server.clients, c, entry);
		server_client_free(c);
	}
	server_pty_close();
	event_free(server.listen_ev);
	event_free(server.restart_ev);
	event_free(server.reap_ev);
	event_free(server.cork_ev);
	event_free(server.stop_ev);
	event_free(server.linger_ev);
	event_free(server.info_ev);
	event_free(server_touch_ev);
	event_free(server.accept_ev);
	free(image_info.text);
out:
	console_close();
	save_free();
	watchdog_free();
	free(server.notify_socket);
	swank_close(d, opts->name);
	control_free();
	if (server.listenfd != -1)
		dir_unlisten(d, opts->name, ".sock", server.listenfd);
	dir_unlock(d, opts->name, server.lockfd);
	for (i = 0; i < 5; i++)
		event_free(sigs[i]);
	event_base_free(server.base);
	ring_free(&server.ring);
	free(server.command);
	return (status);
}
