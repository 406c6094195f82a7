/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * The control channel: a socketpair between the server and the bootstrap
 * in the image (src/lispd.lisp), inherited by the image as fd CTL_FD. Over
 * it the image says hello and ready, runs `lispd eval` requests and is
 * asked to exit. Frames are those of the client protocol (proto.c);
 * control_decode checks each message's fields as a pure function.
 */

#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "lispd.h"

#define CONTROL_OUT_MAX	(4 * 1024 * 1024)	/* queued for the image */
/*
 * Forms of evaluations are read from their clients while less than this
 * waits for the image: any size streams in bounded memory (CONTROL_OUT_MAX
 * is then never reached by forms).
 */
#define CONTROL_OUT_HIGH	(1024 * 1024)
/*
 * The image writes each frame whole, with interrupts deferred, so a frame
 * stays begun and unfinished only while the image is slow (a long GC, swap)
 * or if the channel is out of step: said after CONTROL_STALL seconds, and
 * taken as out of step, the channel closed, after CONTROL_STALL_TIMES times
 * that.  LISPD_CONTROL_STALL sets the seconds (for very slow machines, and
 * for the tests).
 */
#define CONTROL_STALL		10
#define CONTROL_STALL_TIMES	12

enum control_state {
	CONTROL_NONE,		/* no channel */
	CONTROL_WAITING,	/* no hello yet */
	CONTROL_UP,
	CONTROL_GONE,		/* closed: why says why */
};

/* The server's end of the channel: reached only through control_*(). */
static struct {
	int			 fd;
	enum control_state	 state;
	int			 expected;	/* the bootstrap was loaded */
	char			*why;
	struct event		*rd;
	struct event		*wr;
	struct evbuffer		*in;
	struct evbuffer		*out;
	struct event		*stall;		/* a frame stays incomplete */
	size_t			 stall_len;
	int			 stalled;	/* s it has stayed so */
	int			 stall_s;	/* CONTROL_STALL, or as set */
	int			 holding;	/* a save: the rest waits */
	size_t			 hold;		/* bytes to write until then */
	uint32_t		 next_id;	/* of the last evaluation */
	char			*lisp;		/* its name and version */
} control = { .fd = -1 };

static void	control_read_cb(evutil_socket_t, short, void *);
static void	control_write_cb(evutil_socket_t, short, void *);
static void	control_stall_cb(evutil_socket_t, short, void *);
static int	control_stall_seconds(void);
static void	control_stall_check(void);

/*
 * Check a message from the image: 0 with the fields filled, or -1 if it is
 * malformed. Pure, for the unit tests and the fuzzer.
 */
int
control_decode(const struct proto_msg *m, struct control_msg *cm)
{
	struct proto_status	st;
	struct proto_out	o;

	memset(cm, 0, sizeof *cm);
	cm->type = m->type;
	switch (m->type) {
	case CTL_HELLO:
		if (proto_unpack_status(m, &st) != 0)
			return (-1);
		cm->version = st.status;
		cm->text = st.text;
		cm->len = st.len;
		return (0);
	case CTL_READY:
	case CTL_INFO:
		cm->text = (const char *)m->data;
		cm->len = m->len;
		return (0);
	case CTL_SWANK:
	case CTL_SAVED:
		if (proto_unpack_status(m, &st) != 0 || st.status > 1)
			return (-1);
		cm->status = st.status;
		cm->text = st.text;
		cm->len = st.len;
		return (0);
	case CTL_OUT:
		if (proto_unpack_ctl_out(m, &o) != 0 ||
		    (o.stream != 1 && o.stream != 2))
			return (-1);
		cm->id = o.id;
		cm->stream = o.stream;
		cm->text = o.data;
		cm->len = o.len;
		return (0);
	case CTL_PONG:
		cm->text = (const char *)m->data;	/* no text, but not NULL */
		return (proto_get32(m, 0, &cm->id));
	case CTL_DONE:
		if (proto_unpack_ctl_done(m, &st) != 0 || st.status > 255)
			return (-1);
		cm->id = st.id;
		cm->status = st.status;
		cm->text = st.text;
		cm->len = st.len;
		return (0);
	default:
		return (-1);
	}
}

/*
 * Make the pair before the image is forked; the image's end is returned,
 * or -1 if there is none for it: an image without the bootstrap gets none,
 * and its channel waits unread, for ls and eval to say why.
 */
int
control_open(int expected)
{
	int	sv[2];

	control.fd = -1;
	control.state = CONTROL_NONE;
	control.expected = expected;
	/* The image's end blocks: SBCL's fd-streams expect that. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("%s: socketpair", __func__);
		return (-1);
	}
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) == -1) {
		log_warn("%s: O_NONBLOCK", __func__);
		close(sv[0]);
		close(sv[1]);
		return (-1);
	}
	control.fd = sv[0];
	control.in = evbuffer_new();
	control.out = evbuffer_new();
	control.rd = event_new(server.base, sv[0], EV_READ | EV_PERSIST,
	    control_read_cb, NULL);
	control.wr = event_new(server.base, sv[0], EV_WRITE | EV_PERSIST,
	    control_write_cb, NULL);
	control.stall = evtimer_new(server.base, control_stall_cb, NULL);
	control.stall_s = control_stall_seconds();
	control.state = CONTROL_WAITING;
	if (!expected) {
		close(sv[1]);
		return (-1);
	}
	event_add(control.rd, NULL);
	return (sv[1]);
}

void
control_free(void)
{
	if (control.in == NULL)
		return;
	event_free(control.rd);
	event_free(control.wr);
	event_free(control.stall);
	evbuffer_free(control.in);
	evbuffer_free(control.out);
	if (control.fd != -1)
		close(control.fd);
	control.fd = -1;
	free(control.lisp);
	free(control.why);
	control.in = NULL;
	control.lisp = control.why = NULL;
}

/* The channel is no more: it broke, or the image exited. */
void
control_close(const char *why)
{
	if (control.fd == -1)
		return;
	log_debug("%s: %s", __func__, why);
	event_del(control.rd);
	event_del(control.wr);
	event_del(control.stall);
	close(control.fd);
	control.fd = -1;
	free(control.why);
	control.why = xstrdup(why);
	control.state = CONTROL_GONE;
	control.holding = 0;
	control.hold = 0;
	save_gone(why);
	server_client_eval_end_all(EVAL_NOIMAGE, why);
	server_client_resume_all();
	/*
	 * An image that serves swank still does: the channel is not swank,
	 * and answering its socket here would steal its clients. Only one
	 * that never said it serves it is left to the server to answer.
	 */
	if (swank_is_loading())
		swank_down(why);
}

/*
 * The image is gone for why, which evaluations are told until the next
 * one's channel is made: the channel's own reason is superseded.
 */
void
control_gone(const char *why)
{
	free(control.why);
	control.why = xstrdup(why);
}

/* Did the bootstrap say hello, so the image can be asked things? */
int
control_up(void)
{
	return (control.state == CONTROL_UP);
}

/* The image's Lisp, as its hello said, or NULL. */
const char *
control_lisp(void)
{
	return (control.lisp);
}

/* An id for a new evaluation: never 0, which is none. */
uint32_t
control_next_id(void)
{
	if (++control.next_id == 0)
		control.next_id = 1;
	return (control.next_id);
}

/*
 * Can an evaluation be sent? 0, or -1 with why filled: an image that will
 * never answer says so at once.
 */
int
control_can_eval(char *why, size_t len)
{
	switch (control.state) {
	case CONTROL_UP:
		return (0);
	case CONTROL_WAITING:
		if (control.expected)
			return (0);	/* queued until the bootstrap is up */
		snprintf(why, len, "session %s: the image has no lispd "
		    "bootstrap: only a plain sbcl gets it loaded; an image "
		    "with its own toplevel calls (lispd:serve) (see lispd(1))",
		    server.name);
		return (-1);
	default:
		snprintf(why, len, "session %s: %s", server.name,
		    control.why != NULL ? control.why :
		    "no control channel");
		return (-1);
	}
}

static void
control_flush(void)
{
	int	n;

	if (control.fd == -1)
		return;
	while (evbuffer_get_length(control.out) != 0 &&
	    (!control.holding || control.hold != 0)) {
		n = evbuffer_write_atmost(control.out, control.fd,
		    control.holding ? (ev_ssize_t)control.hold : -1);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			control_close("the control channel closed");
			return;
		}
		if (control.holding)
			control.hold -= n;
	}
	if (evbuffer_get_length(control.out) != 0 &&
	    (!control.holding || control.hold != 0))
		event_add(control.wr, NULL);
	else
		event_del(control.wr);
	if (control_room())
		server_client_resume_all();
}

/* May more forms be read from evaluation clients? */
int
control_room(void)
{
	return (control.fd == -1 ||
	    evbuffer_get_length(control.out) < CONTROL_OUT_HIGH);
}

static void
control_write_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd; (void)events; (void)arg;
	control_flush();
}

/*
 * Queue a message for the image: its fields, packed, then bytes that
 * follow them (forms, which are not copied twice). -1 if the image does not
 * read its channel and the queue is full.
 */
int
control_send(uint32_t type, const void *head, size_t headlen,
    const void *data, size_t len)
{
	uint8_t	hdr[PROTO_HDRLEN];

	if (control.fd == -1)
		return (-1);
	if (evbuffer_get_length(control.out) + headlen + len >
	    CONTROL_OUT_MAX)
		return (-1);
	proto_header(hdr, type, headlen + len);
	evbuffer_add(control.out, hdr, sizeof hdr);
	if (headlen != 0)
		evbuffer_add(control.out, head, headlen);
	if (len != 0)
		evbuffer_add(control.out, data, len);
	/* Written once the current callback is done: one write for all. */
	if (!event_pending(control.wr, EV_WRITE, NULL))
		event_active(control.wr, EV_WRITE, 0);
	return (0);
}

/*
 * A save: what is queued for the image now is written, the rest held
 * until control_release(), so that the image's reader stops at a frame's
 * end and nothing reaches it while it is stopped.
 */
void
control_hold(void)
{
	control.holding = 1;
	control.hold = evbuffer_get_length(control.out);
}

void
control_release(void)
{
	if (!control.holding)
		return;
	control.holding = 0;
	control.hold = 0;
	control_flush();
}

/* Output of evaluation id was delivered: the image may send more. */
void
control_ack(uint32_t id, uint32_t bytes)
{
	struct proto_value	v = { id, bytes };
	uint8_t			msg[16];
	size_t			n;

	n = proto_pack_ctl_value(msg, sizeof msg, &v);
	control_send(CTL_ACK, msg, n, NULL, 0);
}

static void
control_hello(const struct control_msg *cm)
{
	uint8_t	msg[16];
	size_t	n;
	char	why[256];

	free(control.lisp);
	xasprintf(&control.lisp, "%.*s", (int)cm->len, cm->text);
	n = proto_pack_u32(msg, sizeof msg, CTL_VERSION);
	control_send(CTL_WELCOME, msg, n, NULL, 0);
	if (cm->version != CTL_VERSION) {
		snprintf(why, sizeof why, "the image's bootstrap speaks "
		    "control protocol %u and this lispd %d: restart the "
		    "session to load this lispd's bootstrap", cm->version,
		    CTL_VERSION);
		log_warnx("%s: %s", server.name, why);
		control_close(why);
		return;
	}
	control.state = CONTROL_UP;
	log_debug("%s: bootstrap up in %s", server.name, control.lisp);
}

static void
control_dispatch(const struct control_msg *cm)
{
	struct server_client	*c;
	char			*why;

	if (control.state != CONTROL_UP && cm->type != CTL_HELLO) {
		control_close("the image spoke on the control channel before "
		    "its hello");
		return;
	}
	switch (cm->type) {
	case CTL_HELLO:
		control_hello(cm);
		break;
	case CTL_READY:
		server_ready();
		break;
	case CTL_OUT:
		if ((c = server_client_by_eval(cm->id)) != NULL)
			server_client_eval_out(c, cm->stream, cm->text,
			    cm->len);
		break;
	case CTL_DONE:
		if ((c = server_client_by_eval(cm->id)) != NULL)
			server_client_eval_done(c, cm->status, cm->text,
			    cm->len);
		break;
	case CTL_INFO:
		server_image_info(cm->text, cm->len);
		break;
	case CTL_SWANK:
		if (cm->status == 0)
			swank_up(cm->text, cm->len);	/* and its version */
		else {
			xasprintf(&why, "%.*s", (int)cm->len, cm->text);
			swank_down(why);
			free(why);
		}
		break;
	case CTL_SAVED:
		save_done(cm->status, cm->text, cm->len);
		break;
	case CTL_PONG:
		if (cm->id & WATCHDOG_ID)
			watchdog_pong(cm->id);
		else
			server_client_pong(cm->id);
		break;
	}
}

/* Read and act on what the image sent: > 0 while there may be more. */
static int
control_read(void)
{
	struct proto_msg	 m;
	struct control_msg	 cm;
	uint8_t			*p;
	int			 n, got;
	char			 why[128];

	if (control.fd == -1)
		return (0);
	got = evbuffer_read(control.in, control.fd,
	    PROTO_HDRLEN + PROTO_MAXLEN);
	if (got == -1 && (errno == EAGAIN || errno == EINTR))
		return (0);
	if (got <= 0) {
		control_close("the image closed its control channel");
		return (0);
	}
	while (control.fd != -1) {
		p = evbuffer_pullup(control.in, -1);
		n = proto_parse(p, evbuffer_get_length(control.in), &m);
		if (n == 0)
			break;
		if (n == -1 || control_decode(&m, &cm) == -1) {
			if (n == -1)
				snprintf(why, sizeof why, "the image sent a "
				    "frame over the limit on the control "
				    "channel");
			else
				snprintf(why, sizeof why, "the image sent a "
				    "bad message on the control channel (type "
				    "%u, %u bytes)", m.type, m.len);
			log_warnx("%s: %s", server.name, why);
			control_close(why);
			return (0);
		}
		control_dispatch(&cm);
		if (control.fd != -1)
			evbuffer_drain(control.in, n);
	}
	if (control.fd != -1)
		control_stall_check();
	return (got);
}

/* The seconds an incomplete frame may stay so before it is said. */
static int
control_stall_seconds(void)
{
	return (server_env_seconds("LISPD_CONTROL_STALL", CONTROL_STALL));
}

/* A frame begun and not ended arms the clock; a whole one stops it. */
static void
control_stall_check(void)
{
	struct timeval	tv = { control.stall_s, 0 };

	if (evbuffer_get_length(control.in) == 0) {
		event_del(control.stall);
		control.stall_len = 0;
		control.stalled = 0;
	} else if (evbuffer_get_length(control.in) !=
	    control.stall_len) {
		/* It grew, or it is a new part: the image is still writing. */
		control.stall_len = evbuffer_get_length(control.in);
		control.stalled = 0;
		evtimer_add(control.stall, &tv);
	}
}

static void
control_stall_cb(evutil_socket_t fd, short events, void *arg)
{
	struct timeval	 tv = { control.stall_s, 0 };
	char		 why[256];

	(void)fd; (void)events; (void)arg;
	/* A stopped image (a debugger, SIGSTOP) is not out of step. */
	if (server.pid > 0 && pty_stopped(server.pid)) {
		evtimer_add(control.stall, &tv);
		return;
	}
	control.stalled += control.stall_s;
	if (control.stalled < control.stall_s * CONTROL_STALL_TIMES) {
		if (control.stalled == control.stall_s)
			log_warnx("%s: a frame of the control channel stays "
			    "incomplete (%zu bytes) for %d s: the image is slow, "
			    "or the channel is out of step", server.name,
			    control.stall_len, control.stall_s);
		evtimer_add(control.stall, &tv);
		return;
	}
	snprintf(why, sizeof why, "the control channel is out of step (a "
	    "frame of %zu bytes stayed incomplete for %d s): eval, ls's heap "
	    "and a graceful stop need the session restarted",
	    control.stall_len, control.stalled);
	log_warnx("%s: %s", server.name, why);
	control_close(why);
}

static void
control_read_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd; (void)events; (void)arg;
	control_read();
}

/* The image exited: act on the last it said before closing. */
void
control_drain(void)
{
	while (control_read() > 0)
		;
}
