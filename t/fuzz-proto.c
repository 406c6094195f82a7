/*
 * libFuzzer harness for the frame parser: parse every frame in the input,
 * read every field of each the way the server and client do, and decode
 * each as a control channel message from an image (control_decode).
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
		if (control_decode(&m, &cm) == 0 &&
		    (cm.text + cm.len > (const char *)m.data + m.len ||
		    (cm.len != 0 && cm.text < (const char *)m.data)))
			__builtin_trap();
		data += n;
		size -= n;
	}
	return (0);
}
