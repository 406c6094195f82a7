/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * The wire format between lispd clients and a session server.
 *
 * A frame is an 8-byte header, type and payload length as 32-bit big-endian
 * integers, followed by the payload. The first frame each way is
 * PROTO_HELLO, which carries the protocol version. A server speaks every
 * version from PROTO_VERSION_MIN to its own; a client that needs more than
 * the server has runs the server's own binary (/proc/PID/exe) instead.
 * Unknown types are ignored by both sides, so adding a message is not a
 * protocol change.
 */

#ifndef PROTO_H
#define PROTO_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* The versions, by what each brought. */
#define PROTO_VERSION_FIRST	1
#define PROTO_VERSION_TTY	2	/* the terminal is handed over; eval */

/* A build may set them, so that tests can play an older or newer lispd. */
#ifndef PROTO_VERSION
#define PROTO_VERSION		PROTO_VERSION_TTY
#endif
#ifndef PROTO_VERSION_MIN
#define PROTO_VERSION_MIN	PROTO_VERSION_FIRST
#endif

#define PROTO_HDRLEN		8
#define PROTO_MAXLEN		65536	/* largest payload */
#define PROTO_TEXT_MAX		508	/* of an error's line */

enum proto_type {
	/* Both ways: u32 version; server adds u32 pid. */
	PROTO_HELLO = 1,

	/* Client to server. */
	PROTO_ATTACH = 2,	/* u32 flags, u16 rows, u16 cols, u32 lines,
				   with PROTO_ATTACH_TTY the detach key's
				   bytes and the terminal (SCM_RIGHTS) */
	PROTO_INPUT = 3,	/* bytes for the image */
	PROTO_RESIZE = 4,	/* u16 rows, u16 cols */
	PROTO_LIST = 5,		/* ask for PROTO_INFO */
	PROTO_SEND = 6,		/* text typed into the console, all or none */
	PROTO_STOP = 7,		/* u32 seconds before SIGKILL, [u32 flags:
				   PROTO_STOP_SAVE, save a core first] */
	PROTO_KILL = 8,		/* SIGKILL now */
	PROTO_DETACH = 9,	/* give the terminal back, then close */
	PROTO_EVAL = 10,	/* u32 flags, package name: forms follow */
	PROTO_TEXT = 11,	/* bytes of the forms, UTF-8 */
	PROTO_GO = 12,		/* the forms are complete: evaluate them */
	PROTO_INTERRUPT = 13,	/* u32 status: interrupt the evaluation */
	PROTO_WAIT = 14,	/* PROTO_OK once the image is ready */
	PROTO_SAVE = 15,	/* u32 seconds for threads to stop: save a
				   core; PROTO_NOTICE and PROTO_OK once saved */

	/* Server to client. */
	PROTO_OUTPUT = 16,	/* console bytes */
	PROTO_DROPPED = 17,	/* u64 bytes of output this client missed */
	PROTO_EXIT = 18,	/* u32 wait status of the image */
	PROTO_ERROR = 19,	/* u32 exit status, one line of text */
	PROTO_OK = 20,		/* request done */
	PROTO_INFO = 21,	/* "key=value\n" lines */
	PROTO_NOTICE = 22,	/* one line for the user */
	PROTO_TTY = 23,		/* u32 1: the server has the terminal; 0 and
				   a reason: it has not, relay */
	PROTO_DETACHED = 24,	/* the server let go of the terminal */
	PROTO_EVAL_OUT = 25,	/* u8 stream (1 output, 2 errors), bytes */
	PROTO_EVAL_DONE = 26,	/* u32 status, text for stderr */

	/* Client to server, added since. */
	PROTO_PING = 27,	/* answered with PROTO_PONG */

	/* Server to client, added since. */
	PROTO_PONG = 28,	/* u64 microseconds the image took to answer */
};

#define PROTO_EVAL_VERBOSE	0x1	/* a backtrace with an error */

/*
 * The control channel between the server and the bootstrap in the image
 * (src/lispd.lisp): the same frames on a socketpair. The image says hello
 * first; the server answers with its own version. Evaluation output is
 * flow-controlled: the image sends at most CTL_WINDOW bytes of CTL_OUT per
 * evaluation that the server has not acknowledged.
 */
#define CTL_VERSION		1
#define CTL_WINDOW		(256 * 1024)
#define CTL_FD			3	/* the image's end, in LISPD_CONTROL_FD */
#define SWANK_FD		4	/* NAME.swank, in LISPD_SWANK_FD */

enum ctl_type {
	/* Image to server. */
	CTL_HELLO = 1,		/* u32 version, the Lisp's name and version */
	CTL_READY = 2,		/* the image is ready */
	CTL_OUT = 3,		/* u32 id, u8 stream, bytes */
	CTL_DONE = 4,		/* u32 id, u32 status, text */
	CTL_INFO = 5,		/* "key=value\n" lines */
	CTL_SWANK = 6,		/* u32 0: swank serves NAME.swank; 1: it
				   cannot, and why */
	CTL_SAVED = 7,		/* u32 0: the core is saved; 1: it is not,
				   and why */
	CTL_PONG = 8,		/* u32 id of the CTL_PING answered */

	/* Server to image. */
	CTL_WELCOME = 16,	/* u32 version */
	CTL_TEXT = 17,		/* u32 id, bytes of forms */
	CTL_EVAL = 18,		/* u32 id, u32 flags, package name */
	CTL_INTERRUPT = 19,	/* u32 id, u32 status to end it with */
	CTL_ACK = 20,		/* u32 id, u32 bytes of output delivered */
	CTL_ASKINFO = 21,	/* answer with CTL_INFO */
	CTL_EXIT = 22,		/* exit, running the exit hooks */
	CTL_REBIND = 23,	/* NAME.swank was deleted: listen at this
				   path anew (SIGUSR1) */
	CTL_SAVE = 24,		/* u32 seconds, a path: save a core there
				   (nothing else is sent until CTL_SAVED) */
	CTL_PING = 25,		/* u32 id: answer CTL_PONG at once */
};

/* Statuses of an evaluation (CTL_DONE, PROTO_EVAL_DONE). */
#define EVAL_OK			0
#define EVAL_ERROR		1	/* an error, or no such package */
#define EVAL_UNREADABLE		2	/* a form does not read */
#define EVAL_NOIMAGE		3	/* no bootstrap, or the image exited */
#define EVAL_TIMEOUT		124	/* --timeout, as timeout(1) */
#define EVAL_INTERRUPTED	130	/* C-c: 128 + SIGINT */

#define PROTO_ATTACH_READONLY	0x1
#define PROTO_ATTACH_TTY	0x2	/* PROTO_VERSION_TTY */
#define PROTO_ATTACH_LOG	0x4	/* lispd log: no terminal, read-only */
#define PROTO_ATTACH_ONCE	0x8	/* the replay only, then PROTO_OK */

#define PROTO_STOP_SAVE		0x1	/* stop --save */

struct proto_msg {
	uint32_t	 type;
	uint32_t	 len;
	const uint8_t	*data;
};

/*
 * The payloads, as structs. Bytes and text point into the frame they were
 * unpacked from, or at what is to be packed.
 */
struct proto_hello {			/* PROTO_HELLO */
	uint32_t	 version;
	uint32_t	 pid;		/* the server's */
	int		 has_pid;	/* a client's hello has none */
};

struct proto_attach {			/* PROTO_ATTACH */
	uint32_t	 flags;
	uint16_t	 rows;
	uint16_t	 cols;
	uint32_t	 replay;	/* lines of scrollback */
	const uint8_t	*key;		/* the detach key, PROTO_ATTACH_TTY */
	size_t		 keylen;
};

struct proto_resize {			/* PROTO_RESIZE */
	uint16_t	 rows;
	uint16_t	 cols;
};

struct proto_eval {			/* PROTO_EVAL; CTL_EVAL with the id */
	uint32_t	 id;
	uint32_t	 flags;
	const char	*package;
	size_t		 len;
};

/*
 * A u32 and text: PROTO_ERROR (exit status), PROTO_TTY (1 taken, or 0 and
 * why not), PROTO_EVAL_DONE, CTL_HELLO (version, the Lisp), CTL_SWANK; and
 * CTL_DONE, with the id.
 */
struct proto_status {
	uint32_t	 id;
	uint32_t	 status;
	const char	*text;
	size_t		 len;
};

struct proto_out {			/* PROTO_EVAL_OUT; CTL_OUT with the id */
	uint32_t	 id;
	uint8_t		 stream;	/* 1 output, 2 errors */
	const void	*data;
	size_t		 len;
};

struct proto_text {			/* CTL_TEXT */
	uint32_t	 id;
	const void	*data;
	size_t		 len;
};

struct proto_value {			/* CTL_INTERRUPT, CTL_ACK */
	uint32_t	 id;
	uint32_t	 value;
};

/* proto.c */
int	 proto_parse(const void *, size_t, struct proto_msg *);
size_t	 proto_frame_size(const uint8_t *);
void	 proto_header(uint8_t *, uint32_t, uint32_t);
const char *proto_name(uint32_t);
const char *proto_ctl_name(uint32_t);
/* A field at an offset: under the pairs below only (and their tests). */
int	 proto_get16(const struct proto_msg *, size_t, uint16_t *);
int	 proto_get32(const struct proto_msg *, size_t, uint32_t *);
int	 proto_get64(const struct proto_msg *, size_t, uint64_t *);
void	 proto_put16(uint8_t *, uint16_t);
void	 proto_put32(uint8_t *, uint32_t);
void	 proto_put64(uint8_t *, uint64_t);

/*
 * Each pack returns the payload's size and writes it only if it fits in
 * the length given, as snprintf does: (NULL, 0) asks the size. Each unpack
 * returns 0, or -1 if the payload is too short; what follows the fields it
 * knows is left for a newer peer's additions. Packed with its bytes NULL, a
 * payload that ends in bytes gets its fields only, for the caller to write
 * the bytes after them (no copy on the output path).
 */
size_t	 proto_pack_hello(uint8_t *, size_t, const struct proto_hello *);
int	 proto_unpack_hello(const struct proto_msg *, struct proto_hello *);
size_t	 proto_pack_attach(uint8_t *, size_t, const struct proto_attach *);
int	 proto_unpack_attach(const struct proto_msg *, struct proto_attach *);
size_t	 proto_pack_resize(uint8_t *, size_t, const struct proto_resize *);
int	 proto_unpack_resize(const struct proto_msg *, struct proto_resize *);
/* PROTO_STOP, PROTO_INTERRUPT, PROTO_EXIT, CTL_WELCOME: one u32. */
size_t	 proto_pack_u32(uint8_t *, size_t, uint32_t);
int	 proto_unpack_u32(const struct proto_msg *, uint32_t *);
size_t	 proto_pack_u64(uint8_t *, size_t, uint64_t);
int	 proto_unpack_u64(const struct proto_msg *, uint64_t *);
size_t	 proto_pack_eval(uint8_t *, size_t, const struct proto_eval *);
int	 proto_unpack_eval(const struct proto_msg *, struct proto_eval *);
size_t	 proto_pack_status(uint8_t *, size_t, const struct proto_status *);
size_t	 proto_pack_error(uint8_t *, size_t, int, const char *, va_list);
int	 proto_unpack_status(const struct proto_msg *, struct proto_status *);
size_t	 proto_pack_out(uint8_t *, size_t, const struct proto_out *);
int	 proto_unpack_out(const struct proto_msg *, struct proto_out *);

size_t	 proto_pack_ctl_eval(uint8_t *, size_t, const struct proto_eval *);
int	 proto_unpack_ctl_eval(const struct proto_msg *, struct proto_eval *);
size_t	 proto_pack_ctl_done(uint8_t *, size_t, const struct proto_status *);
int	 proto_unpack_ctl_done(const struct proto_msg *,
	     struct proto_status *);
size_t	 proto_pack_ctl_out(uint8_t *, size_t, const struct proto_out *);
int	 proto_unpack_ctl_out(const struct proto_msg *, struct proto_out *);
size_t	 proto_pack_ctl_text(uint8_t *, size_t, const struct proto_text *);
int	 proto_unpack_ctl_text(const struct proto_msg *, struct proto_text *);
size_t	 proto_pack_ctl_value(uint8_t *, size_t, const struct proto_value *);
int	 proto_unpack_ctl_value(const struct proto_msg *,
	     struct proto_value *);

#endif
