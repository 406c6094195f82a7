/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * libFuzzer harness for the session server itself: fuzzed bytes from
 * clients and from the image's control channel, through the real event
 * loop, server_client_dispatch and control_dispatch, and all they call.
 *
 * server.c is included for its callbacks (static there), control.c and
 * swank.c for their state (static there too), and the server is set up as
 * server_main does, but with no listening socket, no image, no swank
 * socket and no console log: the clients and the control channel are
 * socketpairs, the image's pty and a client's terminal are ptys of our own,
 * and the image's pid is a child that exited at once and is never waited
 * for. kill() is wrapped (-Wl,--wrap=kill): nothing is ever signalled, and
 * a signal for anything but the image's pid is a crash. The log is
 * formatted and dropped (LISPD_FUZZ_LOG=1 prints it).
 *
 * The input: a flags byte (FUZZ_*), then, by its mode,
 *   FUZZ_CLIENT	everything from one client;
 *   FUZZ_CONTROL	everything from the image on the control channel, with
 *			two evaluations under way, a client attached and
 *			one asking for the info;
 *   FUZZ_SCRIPT	steps, each an op byte, a 16-bit length and that many
 *			bytes (see fuzz_step), the loop run after each.
 * Each input starts from the same state and ends with every client and
 * the channel freed.
 */

#include "server.c"
#include "control.c"
#include "swank.c"

#include <sys/socket.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#define FUZZ_MODE	0x03
#define FUZZ_CLIENT	0x00
#define FUZZ_CONTROL	0x01
#define FUZZ_SCRIPT	0x02	/* and 0x03 */
#define FUZZ_STATE	0x0c	/* >> 2: the server's state */
#define FUZZ_READY	0x10
#define FUZZ_CTLUP	0x20	/* the image said hello already */
#define FUZZ_PREAMBLE	0x40	/* evaluations under way (FUZZ_SCRIPT) */
#define FUZZ_TERMINAL	0x80	/* the client sends a terminal (FUZZ_CLIENT) */

#define FUZZ_CLIENTS	4
#define FUZZ_STEPS	32	/* of a script, at most: inputs stay quick */
#define FUZZ_PASSES	64	/* of the loop per step, at most */
#define FUZZ_SCROLLBACK	4096
#define FUZZ_REPEAT_MAX	(3 * 1024 * 1024 / 2)	/* bytes of a step repeated */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	__wrap_kill(pid_t, int);
void	__wrap_log_warn(const char *, ...);
void	__wrap_log_warnx(const char *, ...);
void	__wrap_log_info(const char *, ...);
void	__wrap_log_debug(const char *, ...);

static struct server_opts fuzz_opts;
static struct dir	 fuzz_dir;
static char		*fuzz_argv[] = { "sbcl", "--fuzz", NULL };
static int		 fuzz_peer[FUZZ_CLIENTS];	/* our end, or -1 */
static int		 fuzz_unread[FUZZ_CLIENTS];	/* reads no answers */
static int		 fuzz_image = -1;	/* the image's end of the channel */
static int		 fuzz_pty = -1;		/* the image's pty: master */
static int		 fuzz_pty_slave = -1;
static int		 fuzz_tty = -1;		/* a client's terminal: master */
static int		 fuzz_tty_slave = -1;
static int		 fuzz_pipe[2] = { -1, -1 };	/* not a terminal */
static int		 fuzz_unread_image;	/* its control channel */
static int		 fuzz_unread_input;	/* its input on the pty */
static int		 fuzz_unread_tty;	/* a terminal, its output */
static int		 fuzz_verbose;

int
__wrap_kill(pid_t pid, int sig)
{
	(void)sig;
	if (pid <= 0 || pid != server.pid)
		__builtin_trap();	/* would signal what is not the image */
	return (0);
}

static void
fuzz_log(const char *fmt, va_list ap)
{
	char	buf[1024];

	/* Formatted all the same, so that a bad argument is seen. */
	vsnprintf(buf, sizeof buf, fmt, ap);
	if (fuzz_verbose)
		fprintf(stderr, "log: %s\n", buf);
}

#define FUZZ_LOG(name)						\
void									\
name(const char *fmt, ...)						\
{									\
	va_list	ap;							\
									\
	va_start(ap, fmt);						\
	fuzz_log(fmt, ap);						\
	va_end(ap);							\
}
FUZZ_LOG(__wrap_log_warn)
FUZZ_LOG(__wrap_log_warnx)
FUZZ_LOG(__wrap_log_info)
FUZZ_LOG(__wrap_log_debug)

static void
fuzz_restart_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd; (void)events; (void)arg;
	__builtin_trap();	/* would spawn an image */
}

static void
fuzz_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* A pty of our own, never a controlling terminal. */
static void
fuzz_openpty(int *master, int *slave, int raw)
{
	struct termios	tio;
	char		name[128];

	if ((*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC |
	    O_NONBLOCK)) == -1 || grantpt(*master) == -1 ||
	    unlockpt(*master) == -1 ||
	    ptsname_r(*master, name, sizeof name) != 0 ||
	    (*slave = open(name, O_RDWR | O_NOCTTY | O_NONBLOCK |
	    O_CLOEXEC)) == -1 || tcgetattr(*slave, &tio) == -1)
		abort();
	if (raw)
		cfmakeraw(&tio);	/* as attach leaves its terminal */
	else {
		/* As pty_termios, and no echo: the console stays ours. */
		tio.c_lflag &= ~(ECHO | ECHONL);
		tio.c_cc[VQUIT] = _POSIX_VDISABLE;
		tio.c_cc[VSUSP] = _POSIX_VDISABLE;
		tio.c_iflag |= IUTF8;
	}
	if (tcsetattr(*slave, TCSANOW, &tio) == -1)
		abort();
}

/* Once: what server_main sets up, but for the listener, image and files. */
static void
fuzz_init(void)
{
	pid_t	pid;
	int	i;

	fuzz_verbose = getenv("LISPD_FUZZ_LOG") != NULL;
	signal(SIGPIPE, SIG_IGN);
	memset(&server, 0, sizeof server);
	TAILQ_INIT(&server.clients);
	server.ptyfd = -1;
	server.pty_peer = -1;
	server.notify_fd = -1;
	server.lockfd = -1;
	server.listenfd = -1;
	server.stop_timeout = DEFAULT_STOP_TIMEOUT;
	/* Nothing makes files, and nothing could there. */
	fuzz_dir.path = "/nonexistent/lispd-fuzz";
	server.dir = &fuzz_dir;
	fuzz_opts.name = "fuzz";
	fuzz_opts.argv = fuzz_argv;
	fuzz_opts.scrollback = FUZZ_SCROLLBACK;
	fuzz_opts.notify_fd = -1;
	fuzz_opts.restart = RESTART_NEVER;
	fuzz_opts.rows = 24;
	fuzz_opts.cols = 80;
	/* lispd save neither: its state directory cannot be made. */
	fuzz_opts.state = "/nonexistent/lispd-fuzz-state";
	fuzz_opts.keep_cores = DEFAULT_KEEP_CORES;
	server.opts = &fuzz_opts;
	server.name = fuzz_opts.name;
	server.command = server_command(fuzz_opts.argv);
	if ((server.base = event_base_new()) == NULL)
		abort();
	server_events();
	/* Never an image: a restart going off is a crash. */
	event_free(server.restart_ev);
	server.restart_ev = evtimer_new(server.base, fuzz_restart_cb, NULL);

	/* The image: exited, never waited for, so its pid is nobody's. */
	if ((pid = fork()) == -1)
		abort();
	if (pid == 0)
		_exit(0);
	server.pid = pid;

	fuzz_openpty(&fuzz_pty, &fuzz_pty_slave, 0);
	fuzz_openpty(&fuzz_tty, &fuzz_tty_slave, 1);
	if (pipe2(fuzz_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
		abort();
	for (i = 0; i < FUZZ_CLIENTS; i++)
		fuzz_peer[i] = -1;
}

/* Read and drop what fd has; the bytes read. */
static size_t
fuzz_drain(int fd)
{
	char	buf[65536];
	size_t	got = 0;
	ssize_t	n;

	if (fd == -1)
		return (0);
	while ((n = read(fd, buf, sizeof buf)) > 0)
		got += n;
	return (got);
}

/* The other ends read what the server wrote: the bytes moved. */
static size_t
fuzz_pump(void)
{
	char	buf[65536];
	size_t	got = 0;
	ssize_t	n;
	int	i;

	for (i = 0; i < FUZZ_CLIENTS; i++) {
		if (fuzz_peer[i] == -1 || fuzz_unread[i])
			continue;
		while ((n = recv(fuzz_peer[i], buf, sizeof buf,
		    MSG_DONTWAIT)) > 0)
			got += n;
		if (n == 0) {
			/* The server closed it: the slot is free. */
			close(fuzz_peer[i]);
			fuzz_peer[i] = -1;
			got++;
		}
	}
	if (!fuzz_unread_image)
		got += fuzz_drain(fuzz_image);
	if (!fuzz_unread_input)
		got += fuzz_drain(fuzz_pty_slave);
	if (!fuzz_unread_tty)
		got += fuzz_drain(fuzz_tty);
	return (got);
}

/* The loop until the server and the harness have nothing more to do. */
static void
fuzz_run(void)
{
	int	i;

	for (i = 0; i < FUZZ_PASSES; i++) {
		event_base_loop(server.base, EVLOOP_NONBLOCK);
		if (fuzz_pump() == 0 && event_base_get_num_events(server.base,
		    EVENT_BASE_COUNT_ACTIVE) == 0)
			break;
	}
}

/* Bytes to the server on fd, with a terminal (passfd) along: -1 if not all. */
static int
fuzz_send(int fd, const uint8_t *data, size_t len, int passfd)
{
	struct iovec	 iov;
	ssize_t		 n;
	int		 tries = 0;

	while (fd != -1 && len > 0 && tries++ < FUZZ_PASSES) {
		iov.iov_base = (void *)data;
		iov.iov_len = len;
		n = client_sendmsg_fd(fd, &iov, 1, passfd,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			passfd = -1;
			data += n;
			len -= n;
			continue;
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return (-1);
		fuzz_run();	/* full: let the server read */
	}
	return (len == 0 ? 0 : -1);
}

/* Client i connects, as server_accept_cb takes it. */
static void
fuzz_connect(int i)
{
	int	sv[2];

	if (fuzz_peer[i] != -1)
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, sv) == -1)
		abort();
	fuzz_peer[i] = sv[1];
	fuzz_unread[i] = 0;
	server_client_create(sv[0]);
}

static void
fuzz_close(int i)
{
	if (fuzz_peer[i] == -1)
		return;
	close(fuzz_peer[i]);
	fuzz_peer[i] = -1;
}

/* A frame, appended at *off in buf. */
static void
fuzz_frame(uint8_t *buf, size_t *off, uint32_t type, const void *data,
    size_t len)
{
	proto_header(buf + *off, type, len);
	if (len != 0)
		memcpy(buf + *off + PROTO_HDRLEN, data, len);
	*off += PROTO_HDRLEN + len;
}

static void
fuzz_hello(uint8_t *buf, size_t *off)
{
	struct proto_hello	h = { PROTO_VERSION, 0, 0 };
	uint8_t			v[16];

	fuzz_frame(buf, off, PROTO_HELLO, v, proto_pack_hello(v, sizeof v, &h));
}

/*
 * Evaluations under way (1 sent, 2 still reading its forms), client 3
 * attached, client 0 asking for the info; each as its client says it.
 */
static void
fuzz_preamble(void)
{
	struct proto_attach	at = { 0, 24, 80, 10, NULL, 0 };
	struct proto_eval	e = { 0, 0, "CL-USER", 7 };
	uint8_t			buf[256], a[32];
	size_t			off;

	off = 0;
	fuzz_hello(buf, &off);
	fuzz_frame(buf, &off, PROTO_EVAL, a, proto_pack_eval(a, sizeof a, &e));
	fuzz_frame(buf, &off, PROTO_TEXT, "(+ 1 2)", 7);
	fuzz_frame(buf, &off, PROTO_GO, NULL, 0);
	fuzz_connect(1);
	fuzz_send(fuzz_peer[1], buf, off, -1);
	fuzz_run();

	off = 0;
	fuzz_hello(buf, &off);
	e.flags = PROTO_EVAL_VERBOSE;
	e.len = 0;
	fuzz_frame(buf, &off, PROTO_EVAL, a, proto_pack_eval(a, sizeof a, &e));
	fuzz_frame(buf, &off, PROTO_TEXT, "(print", 6);
	fuzz_connect(2);
	fuzz_send(fuzz_peer[2], buf, off, -1);
	fuzz_run();

	off = 0;
	fuzz_hello(buf, &off);
	fuzz_frame(buf, &off, PROTO_ATTACH, a,
	    proto_pack_attach(a, sizeof a, &at));
	fuzz_connect(3);
	fuzz_send(fuzz_peer[3], buf, off, -1);
	fuzz_run();

	off = 0;
	fuzz_hello(buf, &off);
	fuzz_frame(buf, &off, PROTO_LIST, NULL, 0);
	fuzz_connect(0);
	fuzz_send(fuzz_peer[0], buf, off, -1);
	fuzz_run();
}

/* The state of a session in that state, as far as the harness has it. */
static void
fuzz_begin(int flags)
{
	uint8_t	buf[64];
	size_t	off = 0;
	int	fd;

	server.state = (flags & FUZZ_STATE) >> 2;
	server.ready = (flags & FUZZ_READY) != 0 &&
	    server.state != SERVER_RESTARTING;
	server.rows = fuzz_opts.rows;
	server.cols = fuzz_opts.cols;
	server.started = 1;
	ring_init(&server.ring, fuzz_opts.scrollback);
	swank_loading();
	if (server.state != SERVER_RESTARTING) {
		/* As server_spawn; an exited image's pty is read no more. */
		server.ptyfd = fuzz_pty;
		server.pty_in = evbuffer_new();
		server.pty_rd = event_new(server.base, server.ptyfd,
		    EV_READ | EV_PERSIST, server_pty_read_cb, NULL);
		server.pty_wr = event_new(server.base, server.ptyfd,
		    EV_WRITE | EV_PERSIST, server_pty_write_cb, NULL);
		server.pty_taken_ev = evtimer_new(server.base,
		    server_pty_taken_cb, NULL);
		if (server.state != SERVER_EXITED)
			event_add(server.pty_rd, NULL);
	}
	if ((fd = control_open(1)) == -1)
		abort();
	fuzz_image = fd;
	fuzz_nonblock(fd);
	if (server.state == SERVER_RESTARTING ||
	    server.state == SERVER_EXITED) {
		/* As server_exited leaves it. */
		control_close("the image exited");
		swank_down("the image exited");
		close(fuzz_image);
		fuzz_image = -1;
	} else if (flags & FUZZ_CTLUP) {
		struct proto_status	hi = { 0, CTL_VERSION, "SBCL fuzz", 9 };

		off = proto_pack_status(buf + PROTO_HDRLEN,
		    sizeof buf - PROTO_HDRLEN, &hi);
		proto_header(buf, CTL_HELLO, off);
		off += PROTO_HDRLEN;
		fuzz_send(fuzz_image, buf, off, -1);
		fuzz_run();
	}
}

/* Everything freed, as at the end of server_main; the ptys flushed. */
static void
fuzz_end(void)
{
	struct server_client	*c;
	int			 i;

	for (i = 0; i < FUZZ_CLIENTS; i++)
		fuzz_close(i);
	fuzz_unread_image = fuzz_unread_input = fuzz_unread_tty = 0;
	fuzz_run();	/* they went away: the server sees it */
	while ((c = TAILQ_FIRST(&server.clients)) != NULL) {
		TAILQ_REMOVE(&server.clients, c, entry);
		server_client_free(c);
	}
	if (server.pty_in != NULL) {
		event_free(server.pty_rd);
		event_free(server.pty_wr);
		event_free(server.pty_taken_ev);
		evbuffer_free(server.pty_in);
	}
	if (server.pty_peer != -1)
		close(server.pty_peer);
	server.pty_rd = server.pty_wr = server.pty_taken_ev = NULL;
	server.pty_in = NULL;
	server.pty_peer = -1;
	server.ptyfd = -1;
	control_free();
	if (fuzz_image != -1)
		close(fuzz_image);
	fuzz_image = -1;
	event_del(server.reap_ev);
	evtimer_del(server.cork_ev);
	evtimer_del(server.stop_ev);
	evtimer_del(server.linger_ev);
	evtimer_del(server.info_ev);
	free(image_info.text);
	free(swank.why);
	image_info.text = swank.why = NULL;
	ring_free(&server.ring);
	tcflush(fuzz_pty_slave, TCIOFLUSH);
	tcflush(fuzz_tty_slave, TCIOFLUSH);
	fuzz_drain(fuzz_pty_slave);
	fuzz_drain(fuzz_tty);
	fuzz_drain(fuzz_tty_slave);
	fuzz_drain(fuzz_pipe[0]);

	server.state = SERVER_RUNNING;
	server.ready = 0;
	server.active = NULL;
	server.status = 0;
	server.stop_left = 0;
	control.next_id = 0;
	image_info.asked = 0;
	fanout.credit = 0;
	fanout.flood_at = 0;
	fanout.in_output = 0;
	server.pty_line = 0;
	server.pty_taken_us = 0;
	swank.state = SWANK_DOWN;
	swank.rebind = 0;
	swank.stale = 0;
	/* A loopexit of the last callbacks is spent here, not next time. */
	event_base_loop(server.base, EVLOOP_NONBLOCK);
}

/* The timers that wait go off now, as if their time had come. */
static void
fuzz_timers(void)
{
	struct event		*ev[8];
	struct server_client	*c;
	size_t			 n = 0, i;

	ev[n++] = server.cork_ev;
	ev[n++] = server.stop_ev;
	ev[n++] = server.info_ev;
	ev[n++] = server.linger_ev;
	if (server.pty_taken_ev != NULL)
		ev[n++] = server.pty_taken_ev;
	if (control.in != NULL)
		ev[n++] = control.stall;
	TAILQ_FOREACH(c, &server.clients, entry) {
		if (c->tty_key != NULL && n < nitems(ev))
			ev[n++] = c->tty_key;
		if (c->tty_cont != NULL && n < nitems(ev))
			ev[n++] = c->tty_cont;
	}
	for (i = 0; i < n; i++) {
		if (evtimer_pending(ev[i], NULL)) {
			evtimer_del(ev[i]);
			event_active(ev[i], EV_TIMEOUT, 0);
		}
	}
}

/* Console output, rep times, as server_pty_read hands it out. */
static void
fuzz_output(const uint8_t *data, size_t len, size_t rep)
{
	size_t	r;

	for (r = 0; r < rep && len != 0; r++) {
		if (server.pty_rd == NULL ||
		    !event_pending(server.pty_rd, EV_READ, NULL))
			break;	/* the image is gone */
		fanout.in_output = 1;
		server_output((const char *)data, len);
		fanout.in_output = 0;
		if (r % 64 == 63)
			fuzz_run();	/* the clients read meanwhile */
	}
}

/* The terminal a client sends: its own, the image's, a pipe, a master. */
static int
fuzz_terminal(int which)
{
	switch (which & 3) {
	case 0:
		return (fuzz_tty_slave);
	case 1:
		return (fuzz_pty_slave);
	case 2:
		return (fuzz_pipe[0]);
	default:
		return (fuzz_tty);
	}
}

/*
 * One step of a script: the op's low 4 bits say what happens, bits 4-5
 * to which client, bits 6-7 how (which terminal is sent, who stops
 * reading, how many times the bytes are repeated).
 */
static void
fuzz_step(uint8_t op, const uint8_t *data, size_t len)
{
	size_t	rep = (size_t)4 << (3 * (op >> 6)), r;
	int	i = (op >> 4) & 3, how = op >> 6;

	if (len == 0 || rep * len > FUZZ_REPEAT_MAX)
		rep = len == 0 ? 1 : FUZZ_REPEAT_MAX / len;
	switch (op & 15) {
	case 1:		/* bytes from client i, with a terminal */
		fuzz_connect(i);
		fuzz_send(fuzz_peer[i], data, len, fuzz_terminal(how));
		break;
	case 2:		/* bytes from the image on the control channel */
		fuzz_send(fuzz_image, data, len, -1);
		break;
	case 3:		/* the image writes to its console */
		fuzz_output(data, len, 1);
		break;
	case 4:		/* the same, read from the pty */
		if (server.pty_rd != NULL &&
		    event_pending(server.pty_rd, EV_READ, NULL) && len != 0)
			(void)!write(fuzz_pty_slave, data, len);
		break;
	case 5:		/* keys typed on the clients' terminal */
		(void)!write(fuzz_tty, data, len);
		break;
	case 6:		/* client i goes away, or comes */
		if (fuzz_peer[i] != -1)
			fuzz_close(i);
		else
			fuzz_connect(i);
		break;
	case 7:		/* someone stops reading, or reads again */
		switch (how) {
		case 0:
			fuzz_unread[i] = !fuzz_unread[i];
			break;
		case 1:
			fuzz_unread_image = !fuzz_unread_image;
			break;
		case 2:
			fuzz_unread_input = !fuzz_unread_input;
			break;
		default:
			fuzz_unread_tty = !fuzz_unread_tty;
			break;
		}
		break;
	case 8:
		fuzz_timers();
		break;
	case 9:		/* client i sends the bytes again and again */
		fuzz_connect(i);
		for (r = 0; r < rep; r++) {
			if (fuzz_send(fuzz_peer[i], data, len, -1) == -1)
				break;	/* it is not read, or gone */
		}
		break;
	case 10:	/* the image does */
		for (r = 0; r < rep; r++) {
			if (fuzz_send(fuzz_image, data, len, -1) == -1)
				break;
		}
		break;
	case 11:	/* the image writes it to its console again and again */
		fuzz_output(data, len, rep);
		break;
	default:	/* 0, 12-15: bytes from client i */
		fuzz_connect(i);
		fuzz_send(fuzz_peer[i], data, len, -1);
		break;
	}
	fuzz_run();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	 ready;
	size_t		 len, n;
	int		 flags, steps = 0;
	uint8_t		 op;

	if (!ready) {
		fuzz_init();
		ready = 1;
	}
	if (size == 0)
		return (0);
	flags = data[0];
	data++;
	size--;
	fuzz_begin(flags);
	switch (flags & FUZZ_MODE) {
	case FUZZ_CLIENT:
		fuzz_connect(0);
		fuzz_send(fuzz_peer[0], data, size,
		    (flags & FUZZ_TERMINAL) ? fuzz_tty_slave : -1);
		fuzz_run();
		break;
	case FUZZ_CONTROL:
		fuzz_preamble();
		fuzz_send(fuzz_image, data, size, -1);
		fuzz_run();
		break;
	default:
		if (flags & FUZZ_PREAMBLE)
			fuzz_preamble();
		while (size > 0 && steps++ < FUZZ_STEPS) {
			op = data[0];
			len = size >= 3 ? (size_t)data[1] << 8 | data[2] : 0;
			n = size >= 3 ? 3 : size;
			data += n;
			size -= n;
			if (len > size)
				len = size;
			fuzz_step(op, data, len);
			data += len;
			size -= len;
		}
		break;
	}
	fuzz_end();
	return (0);
}
