/*
 * libFuzzer harness for the frame parser: parse every frame in the input,
 * and read every field of each the way the server and client do.
 */

#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "lispd.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_msg	m;
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
		data += n;
		size -= n;
	}
	return (0);
}
