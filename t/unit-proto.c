/*
 * Unit tests for the frame parser (src/proto.c), and the swank frame
 * counter of lispd swank (swank_scan in src/swank.c).
 */

#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "lispd.h"
#include "tap.h"

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
	return (tap_done());
}
