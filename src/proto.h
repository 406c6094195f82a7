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

#include <stddef.h>
#include <stdint.h>

/* A build may set them, so that tests can play an older or newer lispd. */
#ifndef PROTO_VERSION
#define PROTO_VERSION		2	/* 2: the terminal is handed over */
#endif
#ifndef PROTO_VERSION_MIN
#define PROTO_VERSION_MIN	1
#endif

#define PROTO_HDRLEN		8
#define PROTO_MAXLEN		65536	/* largest payload */

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
	PROTO_STOP = 7,		/* u32 seconds before SIGKILL */
	PROTO_KILL = 8,		/* SIGKILL now */
	PROTO_DETACH = 9,	/* give the terminal back, then close */
	PROTO_EVAL = 10,	/* u32 flags, package name: forms follow */
	PROTO_TEXT = 11,	/* bytes of the forms, UTF-8 */
	PROTO_GO = 12,		/* the forms are complete: evaluate them */
	PROTO_INTERRUPT = 13,	/* u32 status: interrupt the evaluation */
	PROTO_WAIT = 14,	/* PROTO_OK once the image is ready */

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
};

/* Statuses of an evaluation (CTL_DONE, PROTO_EVAL_DONE). */
#define EVAL_OK			0
#define EVAL_ERROR		1	/* an error, or no such package */
#define EVAL_UNREADABLE		2	/* a form does not read */
#define EVAL_NOIMAGE		3	/* no bootstrap, or the image exited */
#define EVAL_TIMEOUT		124	/* --timeout, as timeout(1) */
#define EVAL_INTERRUPTED	130	/* C-c: 128 + SIGINT */

#define PROTO_ATTACH_READONLY	0x1
#define PROTO_ATTACH_TTY	0x2	/* version 2 */
#define PROTO_ATTACH_LOG	0x4	/* lispd log: no terminal, read-only */
#define PROTO_ATTACH_ONCE	0x8	/* the replay only, then PROTO_OK */

struct proto_msg {
	uint32_t	 type;
	uint32_t	 len;
	const uint8_t	*data;
};

/* proto.c */
int	 proto_parse(const void *, size_t, struct proto_msg *);
void	 proto_header(uint8_t *, uint32_t, uint32_t);
int	 proto_get16(const struct proto_msg *, size_t, uint16_t *);
int	 proto_get32(const struct proto_msg *, size_t, uint32_t *);
int	 proto_get64(const struct proto_msg *, size_t, uint64_t *);
void	 proto_put16(uint8_t *, uint16_t);
void	 proto_put32(uint8_t *, uint32_t);
void	 proto_put64(uint8_t *, uint64_t);
const char *proto_name(uint32_t);

#endif
