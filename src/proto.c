/*
 * Frame parsing and packing: pure functions over buffers, no I/O, so the
 * unit tests and the fuzzer drive them directly.
 */

#include "config.h"

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
	case PROTO_OUTPUT:	return ("output");
	case PROTO_DROPPED:	return ("dropped");
	case PROTO_EXIT:	return ("exit");
	case PROTO_ERROR:	return ("error");
	case PROTO_OK:		return ("ok");
	case PROTO_INFO:	return ("info");
	case PROTO_NOTICE:	return ("notice");
	case PROTO_TTY:		return ("tty");
	case PROTO_DETACHED:	return ("detached");
	}
	return ("unknown");
}
