/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * lispd attach: the user's terminal in raw mode, joined to the session.
 * Every byte passes unchanged except the detach key. The terminal itself
 * is handed to the server (server-tty.c), which then reads and writes it
 * directly; where it cannot take it, or with -R, this client relays.
 * With -P there is no terminal: bytes through pipes, for a program that
 * edits the lines itself (Emacs's comint, lispd-console), which sees the
 * scrollback first; its end of input detaches, and SIGINT is the image's.
 */

#include "config.h"

#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <curses.h>
#include <term.h>

#include "lispd.h"

#define ATTACH_KEY_WAIT	50	/* ms to wait for the rest of a detach key */
#define ATTACH_RELEASE_WAIT 1000 /* ms for the server to let go */

static enum {
	ATTACH_RELAY,		/* this client copies the bytes */
	ATTACH_ASKED,		/* the terminal was offered to the server */
	ATTACH_HANDED,		/* the server has it */
}			 attach_mode;
static struct pollfd	 attach_pfd[3];
static struct termios	 attach_saved;
static int		 attach_raw;
static int		 attach_piped;	/* -P */
static int		 attach_sigfd = -1;

static void	 attach_winsize(u_short *, u_short *);
static void	 attach_stop(void);

/* The terminal's string for cap, or NULL. */
static char *
attach_cap(const char *cap)
{
	char	*s;

	s = tigetstr((char *)cap);
	return (s != NULL && s != (char *)-1 ? s : NULL);
}

/* Write the cap, or else (fallback != NULL) fallback; 1 if any was. */
static int
attach_putstr(const char *cap, const char *fallback)
{
	const char	*s;

	if ((s = attach_cap(cap)) == NULL && (s = fallback) == NULL)
		return (0);
	(void)!write(STDOUT_FILENO, s, strlen(s));
	return (1);
}

/*
 * Give the terminal back as we found it: attributes and cursor, and the
 * modes the image may have set, off: the alternate screen, the keypad,
 * mouse reporting, bracketed paste; autowrap on and the scroll region the
 * whole screen. rmcup and csr move the cursor on some terminals: it is
 * saved around them.
 */
static void
attach_restore(void)
{
	const char	*s, *xm = NULL, *bd = NULL;
	u_short		 rows, cols;

	if (!attach_raw)
		return;
	attach_putstr("sgr0", NULL);
	attach_putstr("cnorm", NULL);
	/*
	 * Terminfo has no standard caps for these two: XM and BD are
	 * ncurses' extended ones. An entry without them that knows xterm's
	 * mouse (kmous) speaks xterm's private modes, so they are written
	 * as xterm has them.
	 */
	if (attach_cap("kmous") != NULL) {
		xm = "\033[?1006;1000l";
		bd = "\033[?2004l";
	}
	if ((s = attach_cap("XM")) != NULL)
		xm = tiparm(s, 0);
	if (xm != NULL)
		(void)!write(STDOUT_FILENO, xm, strlen(xm));
	attach_putstr("BD", bd);
	attach_putstr("rmkx", NULL);
	attach_putstr("smam", NULL);
	attach_putstr("sc", NULL);
	attach_putstr("rmcup", NULL);
	if ((s = attach_cap("csr")) != NULL) {
		attach_winsize(&rows, &cols);
		s = tiparm(s, 0, rows - 1);
		(void)!write(STDOUT_FILENO, s, strlen(s));
	}
	attach_putstr("rc", NULL);
	tcsetattr(STDIN_FILENO, TCSADRAIN, &attach_saved);
	attach_raw = 0;
}

static __attribute__((noreturn, format(printf, 2, 3))) void
attach_exit(int status, const char *fmt, ...)
{
	va_list	ap;

	attach_restore();
	va_start(ap, fmt);
	fputc('\n', stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(status);
}

static void
attach_winsize(u_short *rows, u_short *cols)
{
	struct winsize	ws;

	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == -1 || ws.ws_row == 0) {
		ws.ws_row = 24;
		ws.ws_col = 80;
	}
	*rows = ws.ws_row;
	*cols = ws.ws_col;
}

static int
attach_write(const void *buf, size_t len)
{
	return (client_write_all(STDOUT_FILENO, buf, len));
}

static void
attach_notice(const char *fmt, ...)
{
	va_list	ap;
	char	buf[NOTICE_MAX + 16];	/* and the brackets around it */
	size_t	n;

	va_start(ap, fmt);
	n = notice_format(buf, sizeof buf, attach_piped, fmt, ap);
	va_end(ap);
	attach_write(buf, n);
}

/* Frames from the server. Returns only if the session goes on. */
static void
attach_dispatch(struct client *c, const struct proto_msg *m)
{
	struct proto_status	e;
	struct client_end	end;
	uint64_t		dropped;

	if (client_ended(c, m, &end)) {
		if (end.exited)
			attach_exit(client_exit_status(end.status),
			    "[%s: the image %s]", c->name, end.text);
		attach_exit(end.status, "lispd: %s", end.text);
	}
	switch (m->type) {
	case PROTO_OUTPUT:
		if (attach_write(m->data, m->len) == -1)
			attach_exit(EXIT_FAIL, "lispd: cannot write to the "
			    "%s: %s", attach_piped ? "output" : "terminal",
			    strerror(errno));
		break;
	case PROTO_DROPPED:
		if (proto_unpack_u64(m, &dropped) == 0)
			attach_notice("%llu bytes of output were dropped while "
			    "this terminal was behind",
			    (unsigned long long)dropped);
		break;
	case PROTO_NOTICE:
		attach_notice("%.*s", (int)m->len, m->data);
		break;
	case PROTO_TTY:
		if (proto_unpack_status(m, &e) == 0 && e.status == 1)
			attach_mode = ATTACH_HANDED;
		else {
			/* It cannot use our terminal: relay instead. */
			attach_mode = ATTACH_RELAY;
			attach_pfd[0].fd = STDIN_FILENO;
		}
		break;
	case PROTO_DETACHED:
		client_close(c);
		attach_exit(EXIT_OK, "[detached from %s]", c->name);
	default:
		break;
	}
}

static void
attach_send(struct client *c, uint32_t type, const void *data, size_t len)
{
	if (client_send(c, type, data, len) == -1)
		attach_exit(EXIT_FAIL, "lispd: lost session %s: %s", c->name,
		    strerror(errno));
}

/*
 * Before the terminal is restored, the server must let go of it, or it
 * could still write to it or read keys meant for the shell.
 */
static void
attach_release(struct client *c)
{
	struct proto_msg m;
	struct pollfd	 pfd;
	int		 n;

	if (attach_mode == ATTACH_RELAY || client_send(c, PROTO_DETACH, NULL,
	    0) == -1)
		return;
	pfd.fd = c->fd;
	pfd.events = POLLIN;
	for (;;) {
		while (client_next(c, &m)) {
			if (m.type == PROTO_DETACHED || m.type == PROTO_EXIT)
				return;
		}
		if (poll(&pfd, 1, ATTACH_RELEASE_WAIT) <= 0)
			return;
		n = client_read(c);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
			return;
	}
}

/* Can the server take this terminal? Input and output must be one. */
static int
attach_can_hand(const struct client *c)
{
	struct stat	in, out;

	return (c->server_version >= PROTO_VERSION_TTY &&
	    fstat(STDIN_FILENO, &in) == 0 && fstat(STDOUT_FILENO, &out) == 0 &&
	    in.st_rdev == out.st_rdev);
}

/* A process's parent and controlling terminal, from /proc/PID/stat. */
static int
attach_proc(pid_t pid, pid_t *ppid, unsigned long *tty)
{
	char		 buf[1024];
	const char	*p;
	int		 fd, parent;

	fd = pty_stat_open(pid);
	p = pty_stat(fd, buf, sizeof buf);
	if (fd != -1)
		close(fd);
	if (p == NULL || sscanf(p, "%*c %d %*d %*d %lu", &parent, tty) != 2)
		return (-1);
	*ppid = parent;
	return (0);
}

/*
 * Is our terminal the session's own pty? Then we run inside its image
 * (the image is the ancestor whose parent is the server, its pty is its
 * controlling terminal), and attaching would feed it its own output.
 */
static int
attach_own_pty(pid_t server)
{
	struct stat	 sb;
	pid_t		 pid = getpid(), ppid;
	unsigned long	 tty;

	if (server <= 0 || fstat(STDIN_FILENO, &sb) == -1)
		return (0);
	while (pid > 1 && attach_proc(pid, &ppid, &tty) == 0) {
		if (ppid == server)	/* the kernel's encoding of a dev_t */
			return (tty != 0 && makedev((tty >> 8) & 0xfff,
			    (tty & 0xff) | ((tty >> 12) & 0xfff00)) ==
			    sb.st_rdev);
		pid = ppid;
	}
	return (0);
}

static void
attach_resize(struct client *c)
{
	struct proto_resize	r;
	uint8_t			msg[16];
	u_short			rows, cols;
	size_t			n;

	attach_winsize(&rows, &cols);
	r.rows = rows;
	r.cols = cols;
	n = proto_pack_resize(msg, sizeof msg, &r);
	attach_send(c, PROTO_RESIZE, msg, n);
}

/*
 * One attachment, until the image exits or we detach (neither returns),
 * or SIGTSTP: then the server has let go of the terminal, which is as we
 * found it, and the connection is closed.
 */
static void
attach_session(struct client *c, const char *name,
    const struct attach_opts *opts, struct key *key, struct termios *raw)
{
	struct pollfd	*pfd = attach_pfd;
	struct proto_msg m;
	struct proto_attach a;
	uint8_t		 msg[32 + KEY_MAXLEN], in[4096];
	uint8_t		 out[4096 + KEY_MAXLEN];
	u_short		 rows, cols;
	size_t		 outlen, len;
	ssize_t		 n;
	int		 found, sig, rc;

	if (raw != NULL && tcsetattr(STDIN_FILENO, TCSADRAIN, raw) == -1)
		die(EXIT_FAIL, "cannot put the terminal in raw mode: %s",
		    strerror(errno));
	attach_raw = raw != NULL;
	key->nheld = 0;

	attach_mode = ATTACH_RELAY;
	pfd[0].fd = STDIN_FILENO;
	pfd[0].events = POLLIN;
	pfd[1].fd = c->fd;
	pfd[1].events = POLLIN;
	pfd[2].fd = attach_sigfd;
	pfd[2].events = POLLIN;

	attach_winsize(&rows, &cols);
	if (attach_piped)
		rows = cols = 0;	/* no size: the pty keeps its own */
	memset(&a, 0, sizeof a);
	a.flags = opts->readonly ? PROTO_ATTACH_READONLY : 0;
	a.rows = rows;
	a.cols = cols;
	/* Piped, all the scrollback: a buffer keeps what it is given. */
	a.replay = opts->history >= 0 ? (uint32_t)opts->history :
	    attach_piped ? UINT32_MAX : rows;
	if (!opts->relay && !attach_piped && attach_can_hand(c)) {
		/* Until the server answers, the keys are left to it. */
		attach_mode = ATTACH_ASKED;
		pfd[0].fd = -1;
		a.flags |= PROTO_ATTACH_TTY;
		a.key = key->seq;
		a.keylen = key->len;
		len = proto_pack_attach(msg, sizeof msg, &a);
		if (client_send_fd(c, PROTO_ATTACH, msg, len,
		    STDIN_FILENO) == -1)
			attach_exit(EXIT_FAIL, "lispd: lost session %s: %s",
			    name, strerror(errno));
	} else {
		len = proto_pack_attach(msg, sizeof msg, &a);
		attach_send(c, PROTO_ATTACH, msg, len);
	}

	for (;;) {
		rc = poll(pfd, 3, key->nheld != 0 ? ATTACH_KEY_WAIT : -1);
		if (rc == -1) {
			if (errno == EINTR)
				continue;
			attach_exit(EXIT_FAIL, "lispd: poll: %s",
			    strerror(errno));
		}
		if (rc == 0) {
			/* The rest of the detach key did not come: type it. */
			outlen = key_flush(key, out);
			attach_send(c, PROTO_INPUT, out, outlen);
			continue;
		}
		if (pfd[2].revents & POLLIN) {
			while (read(attach_sigfd, in, 1) == 1) {
				sig = in[0];
				if (attach_piped && sig == SIGINT) {
					/* C-c C-c in comint: the image's. */
					if (!opts->readonly)
						attach_send(c, PROTO_INPUT,
						    "\003", 1);
				} else if (sig == SIGWINCH)
					attach_resize(c);
				else if (sig == SIGCONT) {
					tcsetattr(STDIN_FILENO, TCSADRAIN,
					    raw);
					attach_resize(c);
				} else if (sig == SIGTSTP) {
					attach_release(c);
					client_close(c);
					attach_restore();
					return;
				} else {
					attach_release(c);
					attach_exit(128 + sig, "[lispd: "
					    "detached from %s by SIG%s]", name,
					    sigabbrev_np(sig));
				}
			}
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = client_read(c);
			if (n == 0 || (n == -1 && errno != EAGAIN))
				attach_exit(EXIT_FAIL, "lispd: lost session "
				    "%s: its server went away", name);
			while (client_next(c, &m))
				attach_dispatch(c, &m);
		}
		if (pfd[0].fd != -1 &&
		    pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(STDIN_FILENO, in, sizeof in);
			if (n == 0 && attach_piped) {
				/* End of input (comint's C-c C-d): detach. */
				client_close(c);
				attach_exit(EXIT_OK, "[detached from %s]", name);
			}
			if (n == 0 || (n == -1 && errno != EINTR &&
			    errno != EAGAIN))
				attach_exit(EXIT_FAIL, "[lispd: detached from "
				    "%s: the terminal went away]", name);
			if (n > 0) {
				found = key_scan(key, in, n, out, &outlen);
				if (outlen != 0)
					attach_send(c, PROTO_INPUT, out,
					    outlen);
				if (found) {
					client_close(c);
					attach_exit(EXIT_OK,
					    "[detached from %s]", name);
				}
			}
		}
	}
}

int
attach_main(const struct dir *d, const char *name,
    const struct attach_opts *opts)
{
	struct client	 c;
	struct key	 key;
	struct termios	 raw;
	const int	 sigs[] = { SIGWINCH, SIGTERM, SIGHUP, SIGINT,
			     SIGQUIT, SIGCONT, SIGTSTP };

	if (key_parse(&key, opts->detach, getenv("TERM")) == -1)
		die(EXIT_USAGE, "bad detach key '%s': write it as C-x, M-x or "
		    "F1..F12 (for example C-\\ or C-])", opts->detach);
	client_connect(&c, d, name);
	if (opts->piped) {
		const int	psigs[] = { SIGTERM, SIGHUP, SIGINT, SIGQUIT };

		attach_piped = 1;
		signal(SIGPIPE, SIG_IGN);
		attach_sigfd = client_signals(psigs, nitems(psigs));
		attach_session(&c, name, opts, &key, NULL);
		exit(EXIT_OK);		/* not reached: no SIGTSTP here */
	}
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
		die(EXIT_USAGE, "attach needs a terminal: run it in one, use "
		    "'ssh -t', or -P for pipes (Emacs's lispd-console; for "
		    "typed input alone, see 'lispd send')");
	if (attach_own_pty(c.server_pid))
		die(EXIT_USAGE, "attach: this terminal is session %s's own "
		    "console: from inside its image, attach would feed the "
		    "image its own output; attach from another terminal", name);
	if (tcgetattr(STDIN_FILENO, &attach_saved) == -1)
		die(EXIT_FAIL, "cannot read the terminal settings: %s",
		    strerror(errno));

	attach_sigfd = client_signals(sigs, nitems(sigs));

	raw = attach_saved;
	cfmakeraw(&raw);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	for (;;) {
		attach_session(&c, name, opts, &key, &raw);
		/*
		 * Stopped from outside (kill -TSTP): the terminal is the
		 * shell's again, as on detach; fg attaches anew, with the
		 * replay a fresh attach has. SIGTSTP's default action, not
		 * SIGSTOP, as tmux does: in an orphaned process group (the
		 * shell gone, ssh -t) the kernel discards it, where a SIGSTOP
		 * would stop us with nobody left to continue us.
		 */
		attach_stop();
		client_connect(&c, d, name);
	}
}

static void
attach_stop(void)
{
	struct sigaction	sa, old;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTSTP, &sa, &old);
	kill(getpid(), SIGTSTP);
	sigaction(SIGTSTP, &old, NULL);
}

