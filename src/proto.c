/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * Frame parsing and packing, and every payload's fields: pure functions
 * over buffers, no I/O, so the unit tests and the fuzzer drive them
 * directly. Nothing outside this file knows where a field sits.
 */

#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"

static uint32_t
proto_load32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3]);
}

/*
 * Returns the size of the frame at the start of buf and fills msg, 0 if buf
 * holds only part of a frame, -1 if the header announces a payload longer
 * than PROTO_MAXLEN (the peer is broken: drop it).
 */
int
proto_parse(const void *buf, size_t len, struct proto_msg *msg)
{
	const uint8_t	*p = buf;
	uint32_t	 type, plen;

	if (len < PROTO_HDRLEN)
		return (0);
	type = proto_load32(p);
	plen = proto_load32(p + 4);
	if (plen > PROTO_MAXLEN)
		return (-1);
	if (len - PROTO_HDRLEN < plen)
		return (0);
	msg->type = type;
	msg->len = plen;
	msg->data = p + PROTO_HDRLEN;
	return ((int)(PROTO_HDRLEN + plen));
}

/* The size of the frame whose header is hdr, as announced: not checked. */
size_t
proto_frame_size(const uint8_t *hdr)
{
	return (PROTO_HDRLEN + (size_t)proto_load32(hdr + 4));
}

void
proto_header(uint8_t *hdr, uint32_t type, uint32_t len)
{
	proto_put32(hdr, type);
	proto_put32(hdr + 4, len);
}

int
proto_get16(const struct proto_msg *msg, size_t off, uint16_t *v)
{
	if (off > msg->len || msg->len - off < 2)
		return (-1);
	*v = (uint16_t)(msg->data[off] << 8 | msg->data[off + 1]);
	return (0);
}

int
proto_get32(const struct proto_msg *msg, size_t off, uint32_t *v)
{
	if (off > msg->len || msg->len - off < 4)
		return (-1);
	*v = proto_load32(msg->data + off);
	return (0);
}

int
proto_get64(const struct proto_msg *msg, size_t off, uint64_t *v)
{
	uint32_t	hi, lo;

	if (proto_get32(msg, off, &hi) != 0 ||
	    proto_get32(msg, off + 4, &lo) != 0)
		return (-1);
	*v = (uint64_t)hi << 32 | lo;
	return (0);
}

void
proto_put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

void
proto_put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

void
proto_put64(uint8_t *p, uint64_t v)
{
	proto_put32(p, v >> 32);
	proto_put32(p + 4, v & 0xffffffff);
}

const char *
proto_name(uint32_t type)
{
	switch (type) {
	case PROTO_HELLO:	return ("hello");
	case PROTO_ATTACH:	return ("attach");
	case PROTO_INPUT:	return ("input");
	case PROTO_RESIZE:	return ("resize");
	case PROTO_LIST:	return ("list");
	case PROTO_SEND:	return ("send");
	case PROTO_STOP:	return ("stop");
	case PROTO_KILL:	return ("kill");
	case PROTO_DETACH:	return ("detach");
	case PROTO_EVAL:	return ("eval");
	case PROTO_TEXT:	return ("text");
	case PROTO_GO:		return ("go");
	case PROTO_INTERRUPT:	return ("interrupt");
	case PROTO_WAIT:	return ("wait");
	case PROTO_SAVE:	return ("save");
	case PROTO_OUTPUT:	return ("output");
	case PROTO_DROPPED:	return ("dropped");
	case PROTO_EXIT:	return ("exit");
	case PROTO_ERROR:	return ("error");
	case PROTO_OK:		return ("ok");
	case PROTO_INFO:	return ("info");
	case PROTO_NOTICE:	return ("notice");
	case PROTO_TTY:		return ("tty");
	case PROTO_DETACHED:	return ("detached");
	case PROTO_EVAL_OUT:	return ("eval-out");
	case PROTO_EVAL_DONE:	return ("eval-done");
	case PROTO_PING:	return ("ping");
	case PROTO_PONG:	return ("pong");
	}
	return ("unknown");
}

const char *
proto_ctl_name(uint32_t type)
{
	switch (type) {
	case CTL_HELLO:		return ("hello");
	case CTL_READY:		return ("ready");
	case CTL_OUT:		return ("out");
	case CTL_DONE:		return ("done");
	case CTL_INFO:		return ("info");
	case CTL_SWANK:		return ("swank");
	case CTL_SAVED:		return ("saved");
	case CTL_PONG:		return ("pong");
	case CTL_WELCOME:	return ("welcome");
	case CTL_TEXT:		return ("text");
	case CTL_EVAL:		return ("eval");
	case CTL_INTERRUPT:	return ("interrupt");
	case CTL_ACK:		return ("ack");
	case CTL_ASKINFO:	return ("askinfo");
	case CTL_EXIT:		return ("exit");
	case CTL_REBIND:	return ("rebind");
	case CTL_SAVE:		return ("save");
	case CTL_PING:		return ("ping");
	}
	return ("unknown");
}

/*
 * A payload is packed as a row of fields: u32s, u16s, a u64, a u8, then
 * bytes. The pack helpers count every field and write those that fit.
 */
struct proto_pack {
	uint8_t	*buf;
	size_t	 size;
	size_t	 len;		/* the payload's, whether it fits or not */
};

static void
proto_pack_bytes(struct proto_pack *pk, const void *data, size_t len)
{
	if (data != NULL && len != 0 && pk->len <= pk->size &&
	    pk->size - pk->len >= len)
		memcpy(pk->buf + pk->len, data, len);
	if (data != NULL)
		pk->len += len;
}

static void
proto_pack_8(struct proto_pack *pk, uint8_t v)
{
	proto_pack_bytes(pk, &v, 1);
}

static void
proto_pack_16(struct proto_pack *pk, uint16_t v)
{
	uint8_t	b[2];

	proto_put16(b, v);
	proto_pack_bytes(pk, b, sizeof b);
}

static void
proto_pack_32(struct proto_pack *pk, uint32_t v)
{
	uint8_t	b[4];

	proto_put32(b, v);
	proto_pack_bytes(pk, b, sizeof b);
}

/*
 * The fields are read in order from off, which each advances; the bytes
 * left are the payload's tail. A field past the end fails the unpack.
 */
struct proto_unpack {
	const struct proto_msg	*m;
	size_t			 off;
	int			 bad;
};

static uint32_t
proto_unpack_32(struct proto_unpack *u)
{
	uint32_t	v = 0;

	if (proto_get32(u->m, u->off, &v) != 0)
		u->bad = 1;
	u->off += 4;
	return (v);
}

static uint16_t
proto_unpack_16(struct proto_unpack *u)
{
	uint16_t	v = 0;

	if (proto_get16(u->m, u->off, &v) != 0)
		u->bad = 1;
	u->off += 2;
	return (v);
}

static uint8_t
proto_unpack_8(struct proto_unpack *u)
{
	uint8_t	v = 0;

	if (u->off >= u->m->len)
		u->bad = 1;
	else
		v = u->m->data[u->off];
	u->off++;
	return (v);
}

/* The rest of the payload, after the fields: -1 if one was missing. */
static int
proto_unpack_tail(struct proto_unpack *u, const void **data, size_t *len)
{
	if (u->bad || u->off > u->m->len)
		return (-1);
	*data = u->m->data + u->off;
	*len = u->m->len - u->off;
	return (0);
}

static void
proto_unpack_init(struct proto_unpack *u, const struct proto_msg *m)
{
	u->m = m;
	u->off = 0;
	u->bad = 0;
}

/* PROTO_HELLO: u32 version; the server's adds u32 pid. */
size_t
proto_pack_hello(uint8_t *buf, size_t size, const struct proto_hello *h)
{
	struct proto_pack	pk = { buf, size, 0 };

	proto_pack_32(&pk, h->version);
	if (h->has_pid)
		proto_pack_32(&pk, h->pid);
	return (pk.len);
}

int
proto_unpack_hello(const struct proto_msg *m, struct proto_hello *h)
{
	struct proto_unpack	u;

	proto_unpack_init(&u, m);
	memset(h, 0, sizeof *h);
	h->version = proto_unpack_32(&u);
	if (u.bad)
		return (-1);
	h->pid = proto_unpack_32(&u);
	h->has_pid = !u.bad;
	if (!h->has_pid)
		h->pid = 0;
	return (0);
}

/* PROTO_ATTACH: u32 flags, u16 rows, u16 cols, u32 lines, the key. */
size_t
proto_pack_attach(uint8_t *buf, size_t size, const struct proto_attach *a)
{
	struct proto_pack	pk = { buf, size, 0 };

	proto_pack_32(&pk, a->flags);
	proto_pack_16(&pk, a->rows);
	proto_pack_16(&pk, a->cols);
	proto_pack_32(&pk, a->replay);
	proto_pack_bytes(&pk, a->key, a->keylen);
	return (pk.len);
}

int
proto_unpack_attach(const struct proto_msg *m, struct proto_attach *a)
{
	struct proto_unpack	 u;
	const void		*key;

	proto_unpack_init(&u, m);
	a->flags = proto_unpack_32(&u);
	a->rows = proto_unpack_16(&u);
	a->cols = proto_unpack_16(&u);
	a->replay = proto_unpack_32(&u);
	if (proto_unpack_tail(&u, &key, &a->keylen) != 0)
		return (-1);
	a->key = key;
	return (0);
}

/* PROTO_RESIZE: u16 rows, u16 cols. */
size_t
proto_pack_resize(uint8_t *buf, size_t size, const struct proto_resize *r)
{
	struct proto_pack	pk = { buf, size, 0 };

	proto_pack_16(&pk, r->rows);
	proto_pack_16(&pk, r->cols);
	return (pk.len);
}

int
proto_unpack_resize(const struct proto_msg *m, struct proto_resize *r)
{
	struct proto_unpack	u;

	proto_unpack_init(&u, m);
	r->rows = proto_unpack_16(&u);
	r->cols = proto_unpack_16(&u);
	return (u.bad ? -1 : 0);
}

size_t
proto_pack_u32(uint8_t *buf, size_t size, uint32_t v)
{
	struct proto_pack	pk = { buf, size, 0 };

	proto_pack_32(&pk, v);
	return (pk.len);
}

int
proto_unpack_u32(const struct proto_msg *m, uint32_t *v)
{
	return (proto_get32(m, 0, v));
}

/* PROTO_DROPPED (bytes), PROTO_PONG (microseconds): one u64. */
size_t
proto_pack_u64(uint8_t *buf, size_t size, uint64_t v)
{
	uint8_t	b[8];

	proto_put64(b, v);
	if (size >= sizeof b)
		memcpy(buf, b, sizeof b);
	return (sizeof b);
}

int
proto_unpack_u64(const struct proto_msg *m, uint64_t *v)
{
	return (proto_get64(m, 0, v));
}

/* PROTO_EVAL: u32 flags, the package's name; CTL_EVAL: u32 id first. */
static size_t
proto_pack_eval1(uint8_t *buf, size_t size, const struct proto_eval *e,
    int id)
{
	struct proto_pack	pk = { buf, size, 0 };

	if (id)
		proto_pack_32(&pk, e->id);
	proto_pack_32(&pk, e->flags);
	proto_pack_bytes(&pk, e->package, e->len);
	return (pk.len);
}

static int
proto_unpack_eval1(const struct proto_msg *m, struct proto_eval *e, int id)
{
	struct proto_unpack	 u;
	const void		*p;

	proto_unpack_init(&u, m);
	e->id = id ? proto_unpack_32(&u) : 0;
	e->flags = proto_unpack_32(&u);
	if (proto_unpack_tail(&u, &p, &e->len) != 0)
		return (-1);
	e->package = p;
	return (0);
}

size_t
proto_pack_eval(uint8_t *buf, size_t size, const struct proto_eval *e)
{
	return (proto_pack_eval1(buf, size, e, 0));
}

int
proto_unpack_eval(const struct proto_msg *m, struct proto_eval *e)
{
	return (proto_unpack_eval1(m, e, 0));
}

size_t
proto_pack_ctl_eval(uint8_t *buf, size_t size, const struct proto_eval *e)
{
	return (proto_pack_eval1(buf, size, e, 1));
}

int
proto_unpack_ctl_eval(const struct proto_msg *m, struct proto_eval *e)
{
	return (proto_unpack_eval1(m, e, 1));
}

/* A u32 status, text; CTL_DONE: u32 id first. */
static size_t
proto_pack_status1(uint8_t *buf, size_t size, const struct proto_status *s,
    int id)
{
	struct proto_pack	pk = { buf, size, 0 };

	if (id)
		proto_pack_32(&pk, s->id);
	proto_pack_32(&pk, s->status);
	proto_pack_bytes(&pk, s->text, s->len);
	return (pk.len);
}

static int
proto_unpack_status1(const struct proto_msg *m, struct proto_status *s,
    int id)
{
	struct proto_unpack	 u;
	const void		*p;

	proto_unpack_init(&u, m);
	s->id = id ? proto_unpack_32(&u) : 0;
	s->status = proto_unpack_32(&u);
	if (proto_unpack_tail(&u, &p, &s->len) != 0)
		return (-1);
	s->text = p;
	return (0);
}

size_t
proto_pack_status(uint8_t *buf, size_t size, const struct proto_status *s)
{
	return (proto_pack_status1(buf, size, s, 0));
}

/*
 * A PROTO_ERROR payload: status and a line formatted from fmt, cut to fit
 * in size (at most PROTO_TEXT_MAX bytes of text).
 */
size_t
proto_pack_error(uint8_t *buf, size_t size, int status, const char *fmt,
    va_list ap)
{
	struct proto_status	e;
	char			text[PROTO_TEXT_MAX];
	int			n;

	n = vsnprintf(text, sizeof text, fmt, ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof text)
		n = sizeof text - 1;
	memset(&e, 0, sizeof e);
	e.status = status;
	e.text = text;
	e.len = n;
	if (size > 4 && e.len > size - 4)
		e.len = size - 4;
	return (proto_pack_status(buf, size, &e));
}

int
proto_unpack_status(const struct proto_msg *m, struct proto_status *s)
{
	return (proto_unpack_status1(m, s, 0));
}

size_t
proto_pack_ctl_done(uint8_t *buf, size_t size, const struct proto_status *s)
{
	return (proto_pack_status1(buf, size, s, 1));
}

int
proto_unpack_ctl_done(const struct proto_msg *m, struct proto_status *s)
{
	return (proto_unpack_status1(m, s, 1));
}

/* PROTO_EVAL_OUT: u8 stream, bytes; CTL_OUT: u32 id first. */
static size_t
proto_pack_out1(uint8_t *buf, size_t size, const struct proto_out *o, int id)
{
	struct proto_pack	pk = { buf, size, 0 };

	if (id)
		proto_pack_32(&pk, o->id);
	proto_pack_8(&pk, o->stream);
	proto_pack_bytes(&pk, o->data, o->len);
	return (pk.len);
}

static int
proto_unpack_out1(const struct proto_msg *m, struct proto_out *o, int id)
{
	struct proto_unpack	u;

	proto_unpack_init(&u, m);
	o->id = id ? proto_unpack_32(&u) : 0;
	o->stream = proto_unpack_8(&u);
	return (proto_unpack_tail(&u, &o->data, &o->len));
}

size_t
proto_pack_out(uint8_t *buf, size_t size, const struct proto_out *o)
{
	return (proto_pack_out1(buf, size, o, 0));
}

int
proto_unpack_out(const struct proto_msg *m, struct proto_out *o)
{
	return (proto_unpack_out1(m, o, 0));
}

size_t
proto_pack_ctl_out(uint8_t *buf, size_t size, const struct proto_out *o)
{
	return (proto_pack_out1(buf, size, o, 1));
}

int
proto_unpack_ctl_out(const struct proto_msg *m, struct proto_out *o)
{
	return (proto_unpack_out1(m, o, 1));
}

/* CTL_TEXT: u32 id, bytes of forms. */
size_t
proto_pack_ctl_text(uint8_t *buf, size_t size, const struct proto_text *t)
{
	struct proto_pack	pk = { buf, size, 0 };

	proto_pack_32(&pk, t->id);
	proto_pack_bytes(&pk, t->data, t->len);
	return (pk.len);
}

int
proto_unpack_ctl_text(const struct proto_msg *m, struct proto_text *t)
{
	struct proto_unpack	u;

	proto_unpack_init(&u, m);
	t->id = proto_unpack_32(&u);
	return (proto_unpack_tail(&u, &t->data, &t->len));
}

/* CTL_INTERRUPT (the status to end with), CTL_ACK (bytes): u32 id, u32. */
size_t
proto_pack_ctl_value(uint8_t *buf, size_t size, const struct proto_value *v)
{
	struct proto_pack	pk = { buf, size, 0 };

	proto_pack_32(&pk, v->id);
	proto_pack_32(&pk, v->value);
	return (pk.len);
}

int
proto_unpack_ctl_value(const struct proto_msg *m, struct proto_value *v)
{
	struct proto_unpack	u;

	proto_unpack_init(&u, m);
	v->id = proto_unpack_32(&u);
	v->value = proto_unpack_32(&u);
	return (u.bad ? -1 : 0);
}
