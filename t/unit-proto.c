/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * Unit tests for the frame parser and the payloads' pack and unpack pairs
 * (src/proto.c), and the swank frame counter of lispd swank (swank_scan in
 * src/swank.c).
 */

#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>

#include "lispd.h"
#include "tap.h"


static uint8_t		pbuf[PROTO_MAXLEN];

/* A payload as it would arrive: a frame's message over pbuf. */
static const struct proto_msg *
msg_of(size_t len)
{
	static struct proto_msg	m;

	m.type = 0;
	m.len = len;
	m.data = pbuf;
	return (&m);
}

/*
 * Every prefix shorter than min of the payload in pbuf is refused by
 * unpack, and every one from min on accepted.
 */
#define is_truncated(unpack, st, len, min, name) do {			\
	size_t	 i_;							\
	int	 all_ = 1;						\
	for (i_ = 0; i_ <= (len); i_++) {				\
		if ((unpack(msg_of(i_), (st)) == 0) != (i_ >= (min)))	\
			all_ = 0;					\
	}								\
	ok(all_, "%s: shorter than %d bytes refused, the rest taken",	\
	    name, (int)(min));						\
} while (0)

static size_t
pack_error(uint8_t *buf, size_t size, int status, const char *fmt, ...)
{
	va_list	ap;
	size_t	n;

	va_start(ap, fmt);
	n = proto_pack_error(buf, size, status, fmt, ap);
	va_end(ap);
	return (n);
}

/*
 * An eval request (-v, in CL-USER, 7 bytes of forms, id 77) through pack
 * and unpack: hlen bytes before the package, the id kept if with_id.
 */
static void
eval_round_trip(size_t (*pack)(uint8_t *, size_t, const struct proto_eval *),
    int (*unpack)(const struct proto_msg *, struct proto_eval *),
    size_t hlen, int with_id, const char *name)
{
	struct proto_eval	e, e2;
	size_t			n;

	memset(&e, 0, sizeof e);
	e.id = 77;
	e.flags = PROTO_EVAL_VERBOSE;
	e.package = "CL-USER";
	e.len = 7;
	n = pack(pbuf, sizeof pbuf, &e);
	ok(n == hlen + 7 && unpack(msg_of(n), &e2) == 0 &&
	    (!with_id || e2.id == 77) && e2.flags == PROTO_EVAL_VERBOSE &&
	    e2.len == 7 && memcmp(e2.package, "CL-USER", 7) == 0,
	    "%s: round trip", name);
	is_truncated(unpack, &e2, n, hlen, name);
}

/*
 * Output of an evaluation (4 bytes on stream 2, id 3) through pack and
 * unpack: hlen bytes before the data, the id kept if with_id.
 */
static void
out_round_trip(size_t (*pack)(uint8_t *, size_t, const struct proto_out *),
    int (*unpack)(const struct proto_msg *, struct proto_out *),
    size_t hlen, int with_id, const char *name)
{
	struct proto_out	o, o2;
	size_t			n;

	memset(&o, 0, sizeof o);
	o.id = 3;
	o.stream = 2;
	o.data = "oops";
	o.len = 4;
	n = pack(pbuf, sizeof pbuf, &o);
	ok(n == hlen + 4 && unpack(msg_of(n), &o2) == 0 &&
	    (!with_id || o2.id == 3) && o2.stream == 2 && o2.len == 4 &&
	    memcmp(o2.data, "oops", 4) == 0, "%s: round trip", name);
	is_truncated(unpack, &o2, n, hlen, name);
}

static void
test_payloads(void)
{
	struct proto_hello	h, h2;
	struct proto_attach	a, a2;
	struct proto_resize	r, r2;
	struct proto_status	s, s2;
	struct proto_out	o;
	struct proto_text	t, t2;
	struct proto_value	v, v2;
	uint64_t		u64;
	uint32_t		u32;
	uint8_t			small[3];
	size_t			n;

	memset(&h, 0, sizeof h);
	h.version = PROTO_VERSION;
	is_int(proto_pack_hello(pbuf, sizeof pbuf, &h), 4, "hello: a client's "
	    "is its version");
	ok(proto_unpack_hello(msg_of(4), &h2) == 0 && h2.version ==
	    PROTO_VERSION && !h2.has_pid, "hello: a client's, unpacked");
	h.pid = 4242;
	h.has_pid = 1;
	n = proto_pack_hello(pbuf, sizeof pbuf, &h);
	ok(n == 8 && proto_unpack_hello(msg_of(n), &h2) == 0 &&
	    h2.version == PROTO_VERSION && h2.has_pid && h2.pid == 4242,
	    "hello: a server's, with its pid");
	ok(proto_unpack_hello(msg_of(7), &h2) == 0 && !h2.has_pid,
	    "hello: a pid cut short is no pid");
	is_truncated(proto_unpack_hello, &h2, n, 4, "hello");

	a.flags = PROTO_ATTACH_READONLY | PROTO_ATTACH_TTY;
	a.rows = 50;
	a.cols = 132;
	a.replay = 1000;
	a.key = (const uint8_t *)"\033[24~";
	a.keylen = 5;
	n = proto_pack_attach(pbuf, sizeof pbuf, &a);
	is_int(n, 12 + 5, "attach: fields and key");
	ok(proto_unpack_attach(msg_of(n), &a2) == 0 && a2.flags == a.flags &&
	    a2.rows == 50 && a2.cols == 132 && a2.replay == 1000 &&
	    a2.keylen == 5 && memcmp(a2.key, a.key, 5) == 0,
	    "attach: round trip");
	a.key = NULL;
	a.keylen = 0;
	n = proto_pack_attach(pbuf, sizeof pbuf, &a);
	ok(n == 12 && proto_unpack_attach(msg_of(n), &a2) == 0 &&
	    a2.keylen == 0 && a2.replay == 1000, "attach: without a key");
	is_truncated(proto_unpack_attach, &a2, n, 12, "attach");
	/* The bytes as a version 1 client has always sent them. */
	ok(memcmp(pbuf, "\0\0\0\3\0\062\0\204\0\0\003\350", 12) == 0,
	    "attach: the wire bytes are those of before");

	r.rows = 24;
	r.cols = 80;
	n = proto_pack_resize(pbuf, sizeof pbuf, &r);
	ok(n == 4 && proto_unpack_resize(msg_of(n), &r2) == 0 &&
	    r2.rows == 24 && r2.cols == 80, "resize: round trip");
	is_truncated(proto_unpack_resize, &r2, n, 4, "resize");

	n = proto_pack_u32(pbuf, sizeof pbuf, 0xdeadbeef);
	ok(n == 4 && proto_unpack_u32(msg_of(n), &u32) == 0 &&
	    u32 == 0xdeadbeef, "u32: round trip");
	is_truncated(proto_unpack_u32, &u32, n, 4, "u32");

	n = proto_pack_u64(pbuf, sizeof pbuf, 0x0123456789abcdefULL);
	ok(n == 8 && proto_unpack_u64(msg_of(n), &u64) == 0 &&
	    u64 == 0x0123456789abcdefULL, "dropped: round trip");
	is_truncated(proto_unpack_u64, &u64, n, 8, "dropped");

	eval_round_trip(proto_pack_eval, proto_unpack_eval, 4, 0, "eval");
	eval_round_trip(proto_pack_ctl_eval, proto_unpack_ctl_eval, 8, 1,
	    "ctl eval");

	memset(&s, 0, sizeof s);
	s.status = EXIT_NOSESSION;
	s.text = "no such session";
	s.len = 15;
	n = proto_pack_status(pbuf, sizeof pbuf, &s);
	ok(n == 19 && proto_unpack_status(msg_of(n), &s2) == 0 &&
	    s2.status == EXIT_NOSESSION && s2.len == 15 &&
	    memcmp(s2.text, "no such session", 15) == 0,
	    "status: round trip");
	ok(proto_unpack_status(msg_of(4), &s2) == 0 && s2.len == 0,
	    "status: without text");
	is_truncated(proto_unpack_status, &s2, n, 4, "status");
	s.id = 9;
	n = proto_pack_ctl_done(pbuf, sizeof pbuf, &s);
	ok(n == 23 && proto_unpack_ctl_done(msg_of(n), &s2) == 0 &&
	    s2.id == 9 && s2.status == EXIT_NOSESSION && s2.len == 15 &&
	    memcmp(s2.text, "no such session", 15) == 0,
	    "ctl done: round trip");
	is_truncated(proto_unpack_ctl_done, &s2, n, 8, "ctl done");

	n = pack_error(pbuf, sizeof pbuf, EXIT_USAGE, "bad %s: %d", "thing", 7);
	ok(n == 16 && proto_unpack_status(msg_of(n), &s2) == 0 &&
	    s2.status == EXIT_USAGE && s2.len == 12 &&
	    memcmp(s2.text, "bad thing: 7", 12) == 0, "error: formatted");
	n = pack_error(pbuf, 10, 1, "%s", "a longer line than fits");
	ok(n == 10 && proto_unpack_status(msg_of(n), &s2) == 0 &&
	    s2.len == 6 && memcmp(s2.text, "a long", 6) == 0,
	    "error: cut to the room given");
	n = pack_error(pbuf, sizeof pbuf, 1, "%0600d", 0);
	ok(n == 4 + PROTO_TEXT_MAX - 1, "error: at most PROTO_TEXT_MAX - 1 "
	    "bytes of text");

	out_round_trip(proto_pack_out, proto_unpack_out, 1, 0, "eval out");
	out_round_trip(proto_pack_ctl_out, proto_unpack_ctl_out, 5, 1,
	    "ctl out");

	t.id = 5;
	t.data = "(+ 1 2)";
	t.len = 7;
	n = proto_pack_ctl_text(pbuf, sizeof pbuf, &t);
	ok(n == 11 && proto_unpack_ctl_text(msg_of(n), &t2) == 0 &&
	    t2.id == 5 && t2.len == 7 && memcmp(t2.data, "(+ 1 2)", 7) == 0,
	    "ctl text: round trip");
	is_truncated(proto_unpack_ctl_text, &t2, n, 4, "ctl text");

	v.id = 6;
	v.value = EVAL_INTERRUPTED;
	n = proto_pack_ctl_value(pbuf, sizeof pbuf, &v);
	ok(n == 8 && proto_unpack_ctl_value(msg_of(n), &v2) == 0 &&
	    v2.id == 6 && v2.value == EVAL_INTERRUPTED,
	    "ctl value: round trip");
	is_truncated(proto_unpack_ctl_value, &v2, n, 8, "ctl value");

	/* Packed with its bytes NULL: the fields, for the caller to follow. */
	memset(&o, 0, sizeof o);
	o.stream = 2;
	o.len = 4096;
	is_int(proto_pack_out(pbuf, sizeof pbuf, &o), 1,
	    "eval out without its bytes: the stream alone");
	t.data = NULL;
	is_int(proto_pack_ctl_text(pbuf, sizeof pbuf, &t), 4,
	    "ctl text without its bytes: the id alone");

	/* Too small a buffer: the size, and nothing written past it. */
	memset(small, 0xaa, sizeof small);
	is_int(proto_pack_u32(small, 2, 1), 4, "a u32 into 2 bytes: its size");
	ok(small[2] == 0xaa, "... and no byte past the 2 written");
	is_int(proto_pack_status(NULL, 0, &s), 4 + 15,
	    "(NULL, 0): the size alone");
}

int
main(void)
{
	uint8_t			 buf[PROTO_HDRLEN + PROTO_MAXLEN + 16];
	struct proto_msg	 m;
	uint16_t		 v16;
	uint32_t		 v32;
	uint64_t		 v64;
	size_t			 i;

	proto_header(buf, PROTO_INPUT, 3);
	memcpy(buf + PROTO_HDRLEN, "abc", 3);
	is_int(proto_parse(buf, PROTO_HDRLEN + 3, &m), PROTO_HDRLEN + 3,
	    "a whole frame is its size");
	is_int(m.type, PROTO_INPUT, "type");
	is_int(m.len, 3, "length");
	ok(memcmp(m.data, "abc", 3) == 0, "payload");

	for (i = 0; i < PROTO_HDRLEN + 3; i++) {
		if (proto_parse(buf, i, &m) != 0)
			break;
	}
	is_int(i, PROTO_HDRLEN + 3, "every shorter prefix is incomplete");

	proto_header(buf, PROTO_OUTPUT, 0);
	is_int(proto_parse(buf, PROTO_HDRLEN, &m), PROTO_HDRLEN,
	    "an empty payload");

	proto_header(buf, PROTO_OUTPUT, PROTO_MAXLEN);
	memset(buf + PROTO_HDRLEN, 'x', PROTO_MAXLEN);
	is_int(proto_parse(buf, PROTO_HDRLEN + PROTO_MAXLEN, &m),
	    PROTO_HDRLEN + PROTO_MAXLEN, "the largest frame");
	proto_header(buf, PROTO_OUTPUT, PROTO_MAXLEN + 1);
	is_int(proto_parse(buf, PROTO_HDRLEN, &m), -1,
	    "one byte over the limit is refused from the header alone");
	proto_header(buf, PROTO_OUTPUT, 0xffffffff);
	is_int(proto_parse(buf, sizeof buf, &m), -1,
	    "a 4 GiB length is refused, not wrapped");

	proto_header(buf, PROTO_ATTACH, 12);
	proto_put32(buf + 8, PROTO_ATTACH_READONLY);
	proto_put16(buf + 12, 50);
	proto_put16(buf + 14, 132);
	proto_put32(buf + 16, 1000);
	proto_parse(buf, 20, &m);
	ok(proto_get32(&m, 0, &v32) == 0 && v32 == PROTO_ATTACH_READONLY,
	    "u32 field");
	ok(proto_get16(&m, 4, &v16) == 0 && v16 == 50, "u16 rows");
	ok(proto_get16(&m, 6, &v16) == 0 && v16 == 132, "u16 cols");
	ok(proto_get32(&m, 8, &v32) == 0 && v32 == 1000, "u32 lines");
	ok(proto_get32(&m, 9, &v32) == -1, "a u32 past the end is refused");
	ok(proto_get16(&m, 11, &v16) == -1, "a u16 past the end is refused");
	ok(proto_get16(&m, (size_t)-1, &v16) == -1,
	    "a huge offset does not wrap");
	ok(proto_get64(&m, 8, &v64) == -1, "a u64 past the end is refused");

	proto_put64(buf, 0x0123456789abcdefULL);
	m.data = buf;
	m.len = 8;
	ok(proto_get64(&m, 0, &v64) == 0 && v64 == 0x0123456789abcdefULL,
	    "u64 round trip");

	/* Two frames back to back parse one at a time. */
	proto_header(buf, PROTO_HELLO, 4);
	proto_put32(buf + 8, PROTO_VERSION);
	proto_header(buf + 12, PROTO_LIST, 0);
	is_int(proto_parse(buf, 20, &m), 12, "first of two frames");
	is_int(proto_parse(buf + 12, 8, &m), 8, "second of two frames");
	is_int(m.type, PROTO_LIST, "second frame's type");

	/* Swank frames counted by their first word, however they are cut. */
	{
		const char	*in = "000019(:emacs-rex (swank:ping))"
		    "00000b(:return 1)00000e(:emacs-rex x)000000"
		    "000006(:retu00000c(:emacs-rex ";
		struct swank_scan sc;
		size_t		 n = strlen(in), at, step;
		int		 all = 1;

		for (step = 1; step <= n; step++) {
			memset(&sc, 0, sizeof sc);
			sc.word = "(:emacs-rex ";
			for (at = 0; at < n; at += step)
				swank_scan(&sc, in + at, at + step > n ?
				    n - at : step);
			if (sc.count != 3 || sc.broken)
				all = 0;
		}
		ok(all, "swank_scan counts 3 requests in pieces of any size");
		memset(&sc, 0, sizeof sc);
		sc.word = "(:return ";
		swank_scan(&sc, in, n);
		is_int(sc.count, 1, "a word cut by the frame's end is no match");
		memset(&sc, 0, sizeof sc);
		sc.word = "(:return ";
		swank_scan(&sc, "zz0001(", 7);
		ok(sc.broken, "a header that is not hex is broken framing");
	}

	ok(strcmp(proto_name(PROTO_STOP), "stop") == 0, "names");
	ok(strcmp(proto_name(9999), "unknown") == 0, "unknown name");
	for (i = 1; i < 64; i++) {
		if (strcmp(proto_name(i), "unknown") != 0)
			v32 = i;
	}
	is_int(v32, PROTO_PONG, "the last type with a name is the last "
	    "type");
	{
		int	named = 0, ctl = 0;

		for (i = 1; i < 64; i++) {
			named += strcmp(proto_name(i), "unknown") != 0;
			ctl += strcmp(proto_ctl_name(i), "unknown") != 0;
		}
		is_int(named, 28, "every PROTO_ type has a name");
		is_int(ctl, 18, "every CTL_ type has a name");
	}
	ok(strcmp(proto_ctl_name(CTL_REBIND), "rebind") == 0, "control names");

	proto_header(buf, PROTO_INPUT, 70000);
	is_int(proto_frame_size(buf), PROTO_HDRLEN + 70000,
	    "a frame's size from its header, as announced");

	test_payloads();
	return (tap_done());
}
