/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * libFuzzer harness for the frame parser: parse every frame in the input,
 * unpack each as every payload the server and client read, and decode each
 * as a control channel message from an image (control_decode).
 */

#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "lispd.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* What an unpack points at lies within the frame's payload. */
static void
fuzz_within(const struct proto_msg *m, const void *p, size_t len)
{
	const uint8_t	*b = p;

	if (b < m->data || b > m->data + m->len ||
	    len > (size_t)(m->data + m->len - b))
		__builtin_trap();
}

static void
fuzz_unpack(const struct proto_msg *m)
{
	struct proto_hello	h;
	struct proto_attach	a;
	struct proto_resize	r;
	struct proto_eval	e;
	struct proto_status	s;
	struct proto_out	o;
	struct proto_text	t;
	struct proto_value	v;
	uint64_t		u64;
	uint32_t		u32;

	(void)proto_unpack_hello(m, &h);
	if (proto_unpack_attach(m, &a) == 0)
		fuzz_within(m, a.key, a.keylen);
	(void)proto_unpack_resize(m, &r);
	(void)proto_unpack_u32(m, &u32);
	(void)proto_unpack_u64(m, &u64);
	if (proto_unpack_eval(m, &e) == 0)
		fuzz_within(m, e.package, e.len);
	if (proto_unpack_ctl_eval(m, &e) == 0)
		fuzz_within(m, e.package, e.len);
	if (proto_unpack_status(m, &s) == 0)
		fuzz_within(m, s.text, s.len);
	if (proto_unpack_ctl_done(m, &s) == 0)
		fuzz_within(m, s.text, s.len);
	if (proto_unpack_out(m, &o) == 0)
		fuzz_within(m, o.data, o.len);
	if (proto_unpack_ctl_out(m, &o) == 0)
		fuzz_within(m, o.data, o.len);
	if (proto_unpack_ctl_text(m, &t) == 0)
		fuzz_within(m, t.data, t.len);
	(void)proto_unpack_ctl_value(m, &v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_msg	m;
	struct control_msg	cm;
	uint16_t		v16;
	uint32_t		v32;
	uint64_t		v64;
	size_t			off;
	int			n;

	while ((n = proto_parse(data, size, &m)) > 0) {
		if ((size_t)n > size || m.len > PROTO_MAXLEN)
			__builtin_trap();
		for (off = 0; off <= m.len + 8; off++) {
			(void)proto_get16(&m, off, &v16);
			(void)proto_get32(&m, off, &v32);
			(void)proto_get64(&m, off, &v64);
		}
		(void)proto_name(m.type);
		(void)proto_ctl_name(m.type);
		fuzz_unpack(&m);
		if (control_decode(&m, &cm) == 0 &&
		    (cm.text + cm.len > (const char *)m.data + m.len ||
		    (cm.len != 0 && cm.text < (const char *)m.data)))
			__builtin_trap();
		data += n;
		size -= n;
	}
	return (0);
}
