/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * One connected client of the session server. A client that stops reading
 * or falls behind gets a bounded queue, then loses output; when it catches
 * up it gets the newest lines again from the scrollback and is told how
 * much before them it missed. A client that goes away is dropped. Neither
 * ever stops the image or the other clients.
 */

#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "lispd.h"

static void	server_client_read_cb(evutil_socket_t, short, void *);
static void	server_client_parse(struct server_client *);
static void	server_client_gone_cb(evutil_socket_t, short, void *);
static void	server_client_eval_stop(struct server_client *, uint32_t);
static void	server_client_later(struct server_client *);
static void	server_client_ping(struct server_client *);
static void	server_client_write_cb(evutil_socket_t, short, void *);
static int	server_client_held(struct server_client *, struct event *);
static void	server_client_queue(struct server_client *, uint32_t,
		    const void *, size_t);
static void	server_client_put(struct server_client *, const void *, size_t);
static void	server_client_hold(struct server_client *, const void *,
		    size_t);

void
server_client_create(int fd)
{
	struct server_client	*c;

	c = xcalloc(1, sizeof *c);
	c->fd = fd;
	c->passfd = -1;
	c->ttyfd = -1;
	c->tty_statfd = -1;
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	c->rd = event_new(server.base, fd, EV_READ | EV_PERSIST,
	    server_client_read_cb, c);
	c->wr = event_new(server.base, fd, EV_WRITE | EV_PERSIST,
	    server_client_write_cb, c);
	c->gone = event_new(server.base, fd, EV_CLOSED, server_client_gone_cb,
	    c);
	event_add(c->rd, NULL);
	TAILQ_INSERT_TAIL(&server.clients, c, entry);
	server.nclients++;
	log_debug("%s: client %d", __func__, fd);
	/* A client writes its hello with its connect: no need to wait. */
	server_client_read_cb(fd, EV_READ, c);
}

void
server_client_free(struct server_client *c)
{
	event_free(c->rd);
	event_free(c->gone);
	event_free(c->wr);
	evbuffer_free(c->in);
	evbuffer_free(c->out);
	if (c->tty_out != NULL) {
		event_free(c->tty_wr);
		evbuffer_free(c->tty_out);
	}
	server_tty_free(c);
	free(c->eval_package);
	if (c->passfd != -1)
		close(c->passfd);
	close(c->fd);
	free(c);
}

/*
 * A terminal the client handed over (server_tty_open) gets an output
 * queue and a write event here: its output goes the way a socket's does.
 */
static void
server_client_tty_taken(struct server_client *c)
{
	c->tty_out = evbuffer_new();
	c->tty_wr = event_new(server.base, c->ttyfd, EV_WRITE | EV_PERSIST,
	    server_client_write_cb, c);
}

/* Let go of the terminal at once; what it has not taken is dropped. */
static void
server_client_tty_close(struct server_client *c)
{
	if (c->ttyfd == -1)
		return;
	event_del(c->tty_wr);
	evbuffer_drain(c->tty_out, evbuffer_get_length(c->tty_out));
	server_tty_close(c);
}

/* Drop the client; it is freed outside its own callbacks. */
void
server_client_lost(struct server_client *c)
{
	if (c->flags & SC_DEAD)
		return;
	log_debug("%s: client %d", __func__, c->fd);
	c->flags |= SC_DEAD;
	event_del(c->rd);
	event_del(c->wr);
	event_del(c->gone);
	server_client_tty_close(c);
	if (c->eval_id != 0)
		server_client_eval_stop(c, EVAL_INTERRUPTED);
	if (server.active == c)
		server.active = NULL;
	server_reap();
}

/*
 * Console bytes from the scrollback, in frames of at most PROTO_MAXLEN:
 * written now, or (now == 0) only queued, for the caller to write.
 */
static void
server_client_chunks(struct server_client *c, const char *p, size_t len,
    int now)
{
	size_t	n;

	while (len > 0) {
		n = len > PROTO_MAXLEN ? PROTO_MAXLEN : len;
		if (now)
			server_client_put(c, p, n);
		else
			server_client_hold(c, p, n);
		p += n;
		len -= n;
	}
}

/*
 * A notice for the client: rendered here for a terminal it handed over,
 * or in a NOTICE frame for its own process to render. Queued after what
 * it has not taken yet, and written now if now is set.
 */
static void
server_client_vnotice(struct server_client *c, int now, const char *fmt,
    va_list ap)
{
	char	buf[NOTICE_MAX + 16];	/* and the brackets around it */
	size_t	n;
	int	w;

	if (c->flags & SC_DEAD)
		return;
	if (c->ttyfd != -1) {
		n = notice_format(buf, sizeof buf, 0, fmt, ap);
		if (now)
			server_client_put(c, buf, n);
		else
			server_client_hold(c, buf, n);
		return;
	}
	if ((w = vsnprintf(buf, NOTICE_MAX, fmt, ap)) < 0)
		return;
	n = (size_t)w < NOTICE_MAX ? (size_t)w : NOTICE_MAX - 1;
	server_client_queue(c, PROTO_NOTICE, buf, n);
	if (now)
		server_client_later(c);
}

void
server_client_notice(struct server_client *c, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	server_client_vnotice(c, 1, fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 2, 3)))
server_client_hold_notice(struct server_client *c, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	server_client_vnotice(c, 0, fmt, ap);
	va_end(ap);
}

/*
 * A client that was dropping has caught up. What it missed is the last
 * c->dropped bytes of the console, so it gets again what the scrollback
 * still has of them, up to a screenful of lines less the notice's, and is
 * told how many bytes before that are lost. The newest output, the prompt
 * above all, always reaches it. Queued only: the caller writes it.
 */
static void
server_client_dropped(struct server_client *c)
{
	const char	*p[2];
	size_t		 l[2], skip, have, n;
	uint64_t	 missed;
	uint8_t		 msg[16];
	u_int		 lines = c->rows != 0 ? c->rows : DROPPED_LINES;
	int		 i;

	c->flags &= ~SC_DROPPING;
	if (lines > 3)
		lines -= 3;	/* the notice stays on the screen */
	ring_tail(&server.ring, lines, &p[0], &l[0], &p[1], &l[1]);
	have = l[0] + l[1];
	skip = 0;
	missed = 0;
	if (have >= c->dropped)
		skip = have - c->dropped;
	else
		missed = c->dropped - have;
	c->dropped = 0;
	if (missed != 0 && c->ttyfd != -1)
		server_client_hold_notice(c, "%llu bytes of output were "
		    "dropped while this terminal was behind",
		    (unsigned long long)missed);
	else if (missed != 0) {
		/* Its client says so, in words that suit where it writes. */
		n = proto_pack_u64(msg, sizeof msg, missed);
		server_client_queue(c, PROTO_DROPPED, msg, n);
	}
	for (i = 0; i < 2; i++) {
		if (skip >= l[i]) {
			skip -= l[i];
			continue;
		}
		server_client_chunks(c, p[i] + skip, l[i] - skip, 0);
		skip = 0;
	}
}

/*
 * Write a client's queue to fd until it is empty or fd is full, the time
 * it takes counted against the fan-out credit. -1 if fd is gone.
 */
static int
server_client_drain(struct evbuffer *q, int fd)
{
	uint64_t	t0 = server_now();
	int		rc = 0;

	while (evbuffer_get_length(q) != 0) {
		if (evbuffer_write(q, fd) == -1) {
			if (errno != EAGAIN && errno != EINTR)
				rc = -1;
			break;
		}
	}
	server_fanout_spent(t0);
	return (rc);
}

/*
 * Write the console output queued for a terminal the client handed over:
 * 1 once all of it is written, 0 while some waits (or the client is lost).
 * A socket client's console output is in its frames: 1 once they are out.
 */
static int
server_client_console(struct server_client *c)
{
	if (c->ttyfd == -1)
		return (evbuffer_get_length(c->out) == 0);
	if (server_tty_stopped(c)) {
		event_del(c->tty_wr);	/* its shell has the terminal: wait */
		return (0);
	}
	/* EIO: the terminal was hung up. */
	if (server_client_drain(c->tty_out, c->ttyfd) == -1) {
		server_client_lost(c);
		return (0);
	}
	if (evbuffer_get_length(c->tty_out) != 0) {
		event_add(c->tty_wr, NULL);
		return (0);
	}
	event_del(c->tty_wr);
	return (1);
}

/*
 * Write what waits for the client: its frames to its socket and console
 * output to the terminal it handed over, if it did. Once all its console
 * output is out come the steps that wait for that: the catch-up of a
 * client that was dropping, then the image's exit status.
 */
void
server_client_flush(struct server_client *c)
{
	uint8_t	msg[16];
	size_t	n;

	for (;;) {
		if (c->flags & SC_DEAD)
			return;
		/* ECONNRESET, EPIPE: it went away mid-write. */
		if (server_client_drain(c->out, c->fd) == -1) {
			server_client_lost(c);
			return;
		}
		if (c->eval_unacked != 0 &&
		    evbuffer_get_length(c->out) < CTL_WINDOW / 2) {
			/* Delivered: the image may print more. */
			control_ack(c->eval_id, c->eval_unacked);
			c->eval_unacked = 0;
		}
		if ((c->flags & (SC_UNREAD | SC_CLOSING | SC_EXITING)) ==
		    SC_UNREAD &&
		    evbuffer_get_length(c->out) <= CLIENT_ANSWER_MAX / 2) {
			/* It read its answers: read it again (not once ending). */
			c->flags &= ~SC_UNREAD;
			if (!(c->flags & SC_PAUSED))
				event_add(c->rd, NULL);
			server_client_parse(c);
			if (c->flags & SC_DEAD)
				return;
		}
		if (evbuffer_get_length(c->out) != 0)
			event_add(c->wr, NULL);
		else {
			event_del(c->wr);
			if (c->flags & SC_CLOSING) {
				server_client_lost(c);
				return;
			}
		}
		if (!server_client_console(c))
			return;
		if (c->flags & SC_DROPPING) {
			/* It caught up: say what it missed, then resume. */
			server_client_dropped(c);
			continue;
		}
		if (!(c->flags & SC_EXITING))
			return;
		/* All the output is out: now the status, and goodbye. */
		c->flags &= ~SC_EXITING;
		server_client_tty_close(c);
		event_del(c->rd);
		n = proto_pack_u32(msg, sizeof msg, server.status);
		server_client_queue(c, PROTO_EXIT, msg, n);
		c->flags |= SC_CLOSING;
	}
}

/* The socket, or the terminal handed over, can take more. */
static void
server_client_write_cb(evutil_socket_t fd, short events, void *arg)
{
	struct server_client	*c = arg;

	(void)events;
	if (!server_client_held(c, fd == c->fd ? c->wr : c->tty_wr))
		server_client_flush(c);
}

/* A frame into the queue, to be written with whatever comes next. */
static void
server_client_queue(struct server_client *c, uint32_t type, const void *data,
    size_t len)
{
	uint8_t	hdr[PROTO_HDRLEN];

	proto_header(hdr, type, len);
	evbuffer_add(c->out, hdr, sizeof hdr);
	if (len != 0)
		evbuffer_add(c->out, data, len);
}

void
server_client_write(struct server_client *c, uint32_t type, const void *data,
    size_t len)
{
	if (c->flags & SC_DEAD)
		return;
	server_client_queue(c, type, data, len);
	server_client_later(c);
}

/* Written once the current callback is done: one write for all of it. */
static void
server_client_later(struct server_client *c)
{
	if (!event_pending(c->wr, EV_WRITE, NULL))
		event_active(c->wr, EV_WRITE, 0);
}

/* Console bytes queued, to be written with whatever comes next. */
static void
server_client_hold(struct server_client *c, const void *data, size_t len)
{
	if (c->ttyfd == -1)
		server_client_queue(c, PROTO_OUTPUT, data, len);
	else
		evbuffer_add(c->tty_out, data, len);
}

/*
 * Console bytes, queued and written: to a terminal now, if it is not
 * full; in a frame once the current callback is done.
 */
static void
server_client_put(struct server_client *c, const void *data, size_t len)
{
	if (c->flags & SC_DEAD)	/* lost while writing a part before */
		return;
	server_client_hold(c, data, len);
	if (c->ttyfd == -1)
		server_client_later(c);
	else if (!event_pending(c->tty_wr, EV_WRITE, NULL))
		server_client_flush(c);
}

/*
 * Console output for a client. A piece of a burst is held (corked) until
 * CORK_MAX bytes wait, anything else is written, or the cork timer goes.
 */
void
server_client_output(struct server_client *c, const void *data, size_t len,
    int bulk)
{
	struct evbuffer	*q = c->ttyfd != -1 ? c->tty_out : c->out;

	if (c->flags & SC_DROPPING) {
		c->dropped += len;
		return;
	}
	if (evbuffer_get_length(q) + len > CLIENT_QUEUE_MAX) {
		c->flags |= SC_DROPPING;
		c->dropped += len;
		return;
	}
	if ((bulk && evbuffer_get_length(q) + len < CORK_MAX) ||
	    !server_fanout_ok()) {
		server_client_hold(c, data, len);
		c->flags |= SC_CORKED;
		server_cork();
		return;
	}
	c->flags &= ~SC_CORKED;
	server_client_put(c, data, len);
}

/* A writable client waits while the image comes first (a flood). */
static int
server_client_held(struct server_client *c, struct event *ev)
{
	if (server_fanout_ok())
		return (0);
	event_del(ev);
	c->flags |= SC_CORKED;
	server_cork();
	return (1);
}

/* Write the output held for a client (server_cork_cb). */
void
server_client_uncork(struct server_client *c)
{
	if ((c->flags & (SC_CORKED | SC_DEAD)) != SC_CORKED)
		return;
	c->flags &= ~SC_CORKED;
	/*
	 * Written now, not later: what it takes counts against the credit.
	 * A full terminal is written when it can take more.
	 */
	if (evbuffer_get_length(c->out) != 0 || (c->ttyfd != -1 &&
	    !event_pending(c->tty_wr, EV_WRITE, NULL)))
		server_client_flush(c);
}

void
server_client_error(struct server_client *c, int status, const char *fmt, ...)
{
	va_list	ap;
	uint8_t	msg[512];
	size_t	len;

	va_start(ap, fmt);
	len = proto_pack_error(msg, sizeof msg, status, fmt, ap);
	va_end(ap);
	server_client_write(c, PROTO_ERROR, msg, len);
	c->flags |= SC_CLOSING;
	event_del(c->rd);
	server_client_flush(c);
}

/*
 * The image exited: the client gets its output to the end, then the
 * status (server.status), then it is let go. Until the terminal it handed
 * over has taken the output, a signalled client may still ask for it.
 */
void
server_client_exit(struct server_client *c)
{
	if (!(c->flags & SC_HELLO) || (c->flags & SC_DEAD))
		return;
	if (c->ttyfd != -1) {
		event_del(c->tty_rd);
		evtimer_del(c->tty_key);
	} else
		event_del(c->rd);
	c->flags |= SC_EXITING;
	server_client_flush(c);
}

/* Detach: the terminal goes back to the client, which then closes. */
void
server_client_detach(struct server_client *c)
{
	if (c->flags & (SC_DEAD | SC_CLOSING))
		return;
	server_client_tty_close(c);
	c->flags &= ~(SC_ATTACHED | SC_EXITING);
	if (server.active == c)
		server.active = NULL;
	server_client_write(c, PROTO_DETACHED, NULL, 0);
	c->flags |= SC_CLOSING;
	event_del(c->rd);
	server_client_flush(c);
}

static void
server_client_replay(struct server_client *c, u_int lines)
{
	const char	*p[2];
	size_t		 l[2];
	int		 i;

	ring_tail(&server.ring, lines, &p[0], &l[0], &p[1], &l[1]);
	for (i = 0; i < 2; i++)
		server_client_chunks(c, p[i], l[i], 1);
}

static void
server_client_attach(struct server_client *c, const struct proto_msg *m)
{
	struct proto_attach	a;
	struct proto_status	t;
	uint8_t			msg[512];
	char			why[256];
	size_t			len;
	int			n;

	if (proto_unpack_attach(m, &a) != 0) {
		server_client_error(c, EXIT_PROTO, "malformed attach message "
		    "(%u bytes)", m->len);
		return;
	}
	c->rows = a.rows;
	c->cols = a.cols;
	if (c->flags & SC_ATTACHED)
		return;
	if (a.flags & PROTO_ATTACH_TTY) {
		/* Take the terminal, or say why not: the client relays. */
		memset(&t, 0, sizeof t);
		if (c->passfd == -1) {
			n = snprintf(why, sizeof why, "no terminal came with "
			    "the attach message");
		} else if ((n = server_tty_open(c, c->passfd, a.key, a.keylen,
		    why, sizeof why)) == 0) {
			server_client_tty_taken(c);
			t.status = 1;
		} else if (n == -2) {
			close(c->passfd);
			c->passfd = -1;
			server_client_error(c, EXIT_USAGE, "%s", why);
			return;
		} else
			n = strlen(why);
		t.text = why;
		t.len = n;
		len = proto_pack_status(msg, sizeof msg, &t);
		server_client_write(c, PROTO_TTY, msg, len);
	}
	if (c->passfd != -1)
		close(c->passfd);
	c->passfd = -1;
	if (a.flags & PROTO_ATTACH_ONCE) {
		/* lispd log without -f: what there is, then goodbye. */
		server_client_replay(c, a.replay);
		server_client_write(c, PROTO_OK, NULL, 0);
		c->flags |= SC_CLOSING;
		event_del(c->rd);
		server_client_flush(c);
		return;
	}
	c->flags |= SC_ATTACHED;
	if (a.flags & PROTO_ATTACH_READONLY)
		c->flags |= SC_READONLY;
	if (a.flags & PROTO_ATTACH_LOG)
		c->flags |= SC_READONLY | SC_LOG;
	server_resize(c);
	server_client_replay(c, a.replay);
	if (server.state == SERVER_EXITED)
		server_client_exit(c);
}

/* Keys typed in an attached client's terminal. */
void
server_client_keys(struct server_client *c, const void *data, size_t len)
{
	if (!(c->flags & SC_ATTACHED) || len == 0)
		return;
	if (c->flags & SC_READONLY) {
		if (!(c->flags & SC_TOLDRO))
			server_client_notice(c, "read-only: input ignored");
		c->flags |= SC_TOLDRO;
		return;
	}
	if (server.active != c)
		server_resize(c);
	if (!server_input_room(len)) {
		server_client_notice(c, "the image is not reading its input: "
		    "%zu bytes dropped (%d bytes already waiting)", len,
		    INPUT_QUEUE_MAX);
		return;
	}
	server_input(c, data, len);
}

/* Typed text: all of it or none; a long line goes in pieces (server.c). */
static void
server_client_send(struct server_client *c, const struct proto_msg *m)
{
	if (server.state == SERVER_EXITED) {
		server_client_error(c, EXIT_FAIL, "%s: the image has exited",
		    server.name);
		return;
	}
	if (server.state == SERVER_RESTARTING) {
		server_client_error(c, EXIT_FAIL, "%s: the image is restarting: "
		    "nothing sent; send it again once 'lispd wait %s' returns",
		    server.name, server.name);
		return;
	}
	if (!server_input_room(m->len)) {
		server_client_error(c, EXIT_FAIL, "%s: the image is not reading "
		    "its input and %zu bytes wait already: nothing sent",
		    server.name, evbuffer_get_length(server.pty_in));
		return;
	}
	server_input(c, m->data, m->len);
	server_client_write(c, PROTO_OK, NULL, 0);
}

/* A client not read (SC_PAUSED) closed its end. */
static void
server_client_gone_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd; (void)events;
	server_client_lost(arg);
}

/* The image has room for forms again: read the clients that wait. */
void
server_client_resume_all(void)
{
	struct server_client	*c, *c1;

	TAILQ_FOREACH_SAFE(c, &server.clients, entry, c1) {
		if (!(c->flags & SC_PAUSED))
			continue;
		c->flags &= ~SC_PAUSED;
		event_del(c->gone);
		if (c->flags & (SC_DEAD | SC_CLOSING))
			continue;
		if (!(c->flags & SC_UNREAD))
			event_add(c->rd, NULL);
		server_client_parse(c);
	}
}

/* Ask the image to end the evaluation, which then reports its status. */
static void
server_client_eval_stop(struct server_client *c, uint32_t status)
{
	struct proto_value	v = { c->eval_id, status };
	uint8_t			msg[16];
	size_t			n;

	n = proto_pack_ctl_value(msg, sizeof msg, &v);
	control_send(CTL_INTERRUPT, msg, n, NULL, 0);
}

/* Output of the client's evaluation, counted until it is delivered. */
void
server_client_eval_out(struct server_client *c, int stream, const void *data,
    size_t len)
{
	struct proto_out	o = { 0, stream, NULL, 0 };
	uint8_t			hdr[PROTO_HDRLEN + 16];
	size_t			n;

	if (c->flags & (SC_DEAD | SC_CLOSING))
		return;
	/* The fields only: the bytes go straight from the image's frame. */
	n = proto_pack_out(hdr + PROTO_HDRLEN, sizeof hdr - PROTO_HDRLEN, &o);
	proto_header(hdr, PROTO_EVAL_OUT, n + len);
	evbuffer_add(c->out, hdr, PROTO_HDRLEN + n);
	evbuffer_add(c->out, data, len);
	c->eval_unacked += len;
	server_client_later(c);
}

/* The evaluation ended: its status, then the client goes. */
void
server_client_eval_done(struct server_client *c, uint32_t status,
    const void *text, size_t len)
{
	struct proto_status	 d;
	uint8_t			*msg;
	size_t			 n;

	c->eval_id = 0;
	c->eval_unacked = 0;
	if (c->flags & (SC_DEAD | SC_CLOSING))
		return;
	memset(&d, 0, sizeof d);
	d.status = status;
	d.text = text;
	d.len = len;
	if ((n = proto_pack_status(NULL, 0, &d)) > PROTO_MAXLEN) {
		d.len -= n - PROTO_MAXLEN;	/* what one frame holds */
		n = PROTO_MAXLEN;
	}
	msg = xmalloc(n);
	proto_pack_status(msg, n, &d);
	server_client_write(c, PROTO_EVAL_DONE, msg, n);
	free(msg);
	c->flags |= SC_CLOSING;
	event_del(c->rd);
	server_client_flush(c);
}

/* The client whose evaluation has this id, or NULL. */
struct server_client *
server_client_by_eval(uint32_t id)
{
	struct server_client	*c;

	TAILQ_FOREACH(c, &server.clients, entry) {
		if (c->eval_id == id && !(c->flags & SC_DEAD))
			return (c);
	}
	return (NULL);
}

/* Every evaluation under way ends with status and why. */
void
server_client_eval_end_all(int status, const char *why)
{
	struct server_client	*c;

	TAILQ_FOREACH(c, &server.clients, entry) {
		if (c->eval_id != 0)
			server_client_eval_done(c, status, why, strlen(why));
	}
}

static void
server_client_eval(struct server_client *c, const struct proto_msg *m)
{
	struct proto_eval	e;
	char			why[512];

	if (c->eval_id != 0 || c->eval_package != NULL ||
	    proto_unpack_eval(m, &e) != 0) {
		server_client_error(c, EXIT_PROTO, "malformed or second eval "
		    "message (%u bytes)", m->len);
		return;
	}
	if (control_can_eval(why, sizeof why) == -1) {
		server_client_eval_done(c, EVAL_NOIMAGE, why, strlen(why));
		return;
	}
	c->eval_id = control_next_id();
	c->eval_flags = e.flags;
	xasprintf(&c->eval_package, "%.*s", (int)e.len, e.package);
}

/* Forms, then go: both on to the image as they come. */
static void
server_client_eval_text(struct server_client *c, const struct proto_msg *m)
{
	struct proto_text	 t = { c->eval_id, NULL, 0 };
	struct proto_eval	 e;
	const char		*why;
	uint8_t			*msg, head[16];
	size_t			 n;
	int			 rc;

	if (c->eval_id == 0)
		return;		/* it ended already, or never began */
	if (m->type == PROTO_TEXT) {
		/* The id, then the forms as they came. */
		n = proto_pack_ctl_text(head, sizeof head, &t);
		rc = control_send(CTL_TEXT, head, n, m->data, m->len);
		if (rc == 0 && !control_room()) {
			/* The image takes the forms more slowly than they come. */
			c->flags |= SC_PAUSED;
			event_del(c->rd);
			/* Unread, a client that leaves is still seen to. */
			event_add(c->gone, NULL);
		}
	} else {
		c->flags |= SC_EVALGO;
		e.id = c->eval_id;
		e.flags = c->eval_flags;
		e.package = c->eval_package;
		e.len = strlen(c->eval_package);
		n = proto_pack_ctl_eval(NULL, 0, &e);
		msg = xmalloc(n);
		proto_pack_ctl_eval(msg, n, &e);
		rc = control_send(CTL_EVAL, msg, n, NULL, 0);
		free(msg);
	}
	if (rc == -1) {
		why = "the image is not reading its control channel";
		server_client_eval_done(c, EVAL_NOIMAGE, why, strlen(why));
	}
}

static void
server_client_dispatch(struct server_client *c, const struct proto_msg *m)
{
	struct proto_hello	 h;
	struct proto_resize	 r;
	const char		*why;
	uint32_t		 v, flags;
	uint8_t			 hello[16];
	size_t			 n;

	if (!(c->flags & SC_HELLO)) {
		if (m->type != PROTO_HELLO || proto_unpack_hello(m, &h) != 0) {
			server_client_error(c, EXIT_PROTO, "expected a hello "
			    "message first, got %s (%u)", proto_name(m->type),
			    m->type);
			return;
		}
		if (h.version < PROTO_VERSION_MIN) {
			server_client_error(c, EXIT_PROTO, "client protocol "
			    "version %u is older than this server speaks "
			    "(%d to %d)", h.version, PROTO_VERSION_MIN,
			    PROTO_VERSION);
			return;
		}
		c->flags |= SC_HELLO;
		h.version = PROTO_VERSION;
		h.pid = (uint32_t)getpid();
		h.has_pid = 1;
		n = proto_pack_hello(hello, sizeof hello, &h);
		server_client_write(c, PROTO_HELLO, hello, n);
		return;
	}

	switch (m->type) {
	case PROTO_ATTACH:
		server_client_attach(c, m);
		break;
	case PROTO_INPUT:
		server_client_keys(c, m->data, m->len);
		break;
	case PROTO_DETACH:
		server_client_detach(c);
		break;
	case PROTO_EVAL:
		server_client_eval(c, m);
		break;
	case PROTO_TEXT:
	case PROTO_GO:
		server_client_eval_text(c, m);
		break;
	case PROTO_INTERRUPT:
		if (proto_unpack_u32(m, &v) != 0 || v > 255) {
			server_client_error(c, EXIT_PROTO, "malformed "
			    "interrupt message (%u bytes)", m->len);
			break;
		}
		if (c->eval_id == 0)
			break;
		server_client_eval_stop(c, v);
		if (!(c->flags & SC_EVALGO)) {
			/* Never run, it is dropped in the image: say so here. */
			why = v == EVAL_TIMEOUT ? "eval: timed out before "
			    "the forms were complete" : "eval: interrupted "
			    "before the forms were complete";
			server_client_eval_done(c, v, why, strlen(why));
		}
		break;
	case PROTO_PING:
		server_client_ping(c);
		break;
	case PROTO_WAIT:
		save_resume_tell(c);
		if (server.ready)
			server_client_write(c, PROTO_OK, NULL, 0);
		else if (server.state == SERVER_EXITED)
			server_client_exit(c);
		else
			c->flags |= SC_WAITREADY;
		break;
	case PROTO_RESIZE:
		if (proto_unpack_resize(m, &r) != 0) {
			server_client_error(c, EXIT_PROTO, "malformed resize "
			    "message (%u bytes)", m->len);
			break;
		}
		c->rows = r.rows;
		c->cols = r.cols;
		server_resize(c);
		break;
	case PROTO_LIST:
		server_list(c);
		break;
	case PROTO_SEND:
		server_client_send(c, m);
		break;
	case PROTO_STOP:
		if (proto_unpack_u32(m, &v) != 0) {
			server_client_error(c, EXIT_PROTO, "malformed stop "
			    "message (%u bytes)", m->len);
			break;
		}
		if (proto_get32(m, 4, &flags) == 0 &&
		    (flags & PROTO_STOP_SAVE) &&
		    server.state == SERVER_RUNNING) {
			/* stop --save: stopped once saved, else not. */
			save_request(c, v, SAVE_THEN_STOP, v);
			break;
		}
		c->flags |= SC_WAITEXIT;
		if (server.state == SERVER_STOPPING)
			server_client_notice(c, "already stopping");
		server_stop(v);
		break;
	case PROTO_KILL:
		c->flags |= SC_WAITEXIT;
		server_kill();
		break;
	case PROTO_SAVE:
		if (proto_unpack_u32(m, &v) != 0) {
			server_client_error(c, EXIT_PROTO, "malformed save "
			    "message (%u bytes)", m->len);
			break;
		}
		save_request(c, v, SAVE_GO_ON, 0);
		break;
	default:
		/* Newer clients may send more; unknown types are ignored. */
		log_debug("%s: ignored message type %u", __func__, m->type);
		break;
	}
}

/*
 * lispd ping: a round trip to the image through the control channel,
 * answered by the bootstrap's reader whatever the evaluations do.
 */
static void
server_client_ping(struct server_client *c)
{
	static uint32_t	 next;
	char		 why[512];
	uint8_t		 msg[4];
	size_t		 n;

	if (control_can_eval(why, sizeof why) == -1) {
		server_client_error(c, EXIT_FAIL, "cannot ping: %s",
		    server_unnamed(why));
		return;
	}
	if (!control_up()) {
		server_client_error(c, EXIT_FAIL, "cannot ping: the image's "
		    "bootstrap has not joined yet: 'lispd wait %s' returns once "
		    "it has", server.name);
		return;
	}
	if (++next >= WATCHDOG_ID)
		next = 1;
	c->ping_id = next;
	c->ping_t0 = server_now();
	n = proto_pack_u32(msg, sizeof msg, c->ping_id);
	if (control_send(CTL_PING, msg, n, NULL, 0) == -1) {
		c->ping_id = 0;
		server_client_error(c, EXIT_FAIL, "cannot ping: the image is "
		    "not reading its control channel");
	}
}

/* The image answered the ping id. */
void
server_client_pong(uint32_t id)
{
	struct server_client	*c;
	uint8_t			 msg[8];
	size_t			 n;

	TAILQ_FOREACH(c, &server.clients, entry) {
		if (c->ping_id != id || id == 0 || (c->flags & SC_DEAD))
			continue;
		c->ping_id = 0;
		n = proto_pack_u64(msg, sizeof msg,
		    (server_now() - c->ping_t0) / 1000);
		server_client_write(c, PROTO_PONG, msg, n);
		return;
	}
}

/* Read what the socket has, with a terminal sent along (SCM_RIGHTS). */
static int
server_client_recv(struct server_client *c, int fd)
{
	struct evbuffer_iovec	 v[2];
	struct iovec		 iov[2];
	struct msghdr		 mh;
	struct cmsghdr		*cm;
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(4 * sizeof (int))];
	}			 cbuf;
	int			 nv, i, j, nfd, *fds;
	ssize_t			 n, left;

	nv = evbuffer_reserve_space(c->in, PROTO_HDRLEN + PROTO_MAXLEN, v, 2);
	if (nv <= 0)
		fatalx("evbuffer_reserve_space failed");
	for (i = 0; i < nv; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
	}
	memset(&mh, 0, sizeof mh);
	mh.msg_iov = iov;
	mh.msg_iovlen = nv;
	mh.msg_control = cbuf.buf;
	mh.msg_controllen = sizeof cbuf.buf;
	n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n <= 0)
		return ((int)n);
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof (int);
		fds = (int *)CMSG_DATA(cm);
		for (j = 0; j < nfd; j++) {
			/* One terminal per client; the rest are closed. */
			if (c->passfd == -1 && !(c->flags & SC_ATTACHED))
				c->passfd = fds[j];
			else
				close(fds[j]);
		}
	}
	for (i = 0, left = n; i < nv && left > 0; i++) {
		if ((size_t)left < v[i].iov_len)
			v[i].iov_len = left;
		left -= v[i].iov_len;
	}
	evbuffer_commit_space(c->in, v, i);
	return ((int)n);
}

/*
 * The frames read, while the client reads its answers: one that asks and
 * does not read is not read either until it has (its queue is bounded).
 */
static void
server_client_parse(struct server_client *c)
{
	struct proto_msg	 m;
	uint8_t			 hdr[PROTO_HDRLEN];
	uint8_t			*p;
	size_t			 want;

	while (!(c->flags & (SC_DEAD | SC_CLOSING | SC_PAUSED))) {
		if (evbuffer_get_length(c->out) > CLIENT_ANSWER_MAX) {
			c->flags |= SC_UNREAD;
			event_del(c->rd);
			break;
		}
		if (evbuffer_copyout(c->in, hdr, sizeof hdr) != sizeof hdr)
			break;
		want = proto_frame_size(hdr);
		if (want > PROTO_HDRLEN + PROTO_MAXLEN) {
			server_client_error(c, EXIT_PROTO, "frame of %zu bytes "
			    "is over the limit of %d", want - PROTO_HDRLEN,
			    PROTO_MAXLEN);
			return;
		}
		if (evbuffer_get_length(c->in) < want)
			break;
		p = evbuffer_pullup(c->in, want);
		if (proto_parse(p, want, &m) <= 0) {
			server_client_error(c, EXIT_PROTO, "bad frame");
			return;
		}
		server_client_dispatch(c, &m);
		evbuffer_drain(c->in, want);
	}
}

static void
server_client_read_cb(evutil_socket_t fd, short events, void *arg)
{
	struct server_client	*c = arg;
	int			 n;

	(void)events;
	n = server_client_recv(c, fd);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		server_client_lost(c);
		return;
	}
	server_client_parse(c);
}
