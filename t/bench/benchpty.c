/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * benchpty.c - pty helpers shared by the lispd benchmark harnesses
 *
 * A harness plays the user's terminal: it owns the master side of a
 * pty whose slave is the controlling terminal of an attach client
 * (ptyrelay, dtach -a, tmux attach, lispd attach), writes "keystrokes"
 * to the master and reads what the client draws.
 */

#define _XOPEN_SOURCE	700

#include <sys/ioctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "benchpty.h"

#define PROBE		'!'
#define PROBE_MS	50

enum {
	S_TEXT,		/* plain text */
	S_ESC,		/* after ESC */
	S_ESCINT,	/* ESC intermediate bytes, e.g. ESC ( B */
	S_CSI,		/* ESC [ ... final */
	S_STR,		/* OSC, DCS, APC, PM, SOS: up to BEL or ST */
	S_STRESC	/* ESC inside a string */
};

/*
 * What client_wait() looks for: ch as the last graphic character of
 * what was read so far.  A redrawing client may repeat older
 * characters when it repaints the screen, but it ends at the cursor.
 */
struct want {
	int	 ch;
	int	 last;
};

uint64_t
now_ns(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		err(1, "clock_gettime");
	return ((uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

long long
number(const char *s, long long min, long long max)
{
	char		*end;
	long long	 v;

	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < min || v > max)
		errx(2, "bad number: %s", s);
	return (v);
}

/*
 * The options the harnesses share: -t timeout_ms and, where readyms is
 * not NULL, -w ready_ms.  Returns 1 if ch was one of them.
 */
int
bench_timeopt(int ch, const char *arg, int *ms, int *readyms)
{
	if (ch == 't')
		*ms = number(arg, 1, INT_MAX);
	else if (ch == 'w' && readyms != NULL)
		*readyms = number(arg, 1, INT_MAX);
	else
		return (0);
	return (1);
}

/* The command after the options, or usage() if there is none. */
char **
bench_command(int argc, char **argv, void (*usage)(void))
{
	if (argc - optind < 1)
		usage();
	return (argv + optind);
}

void
tty_makeraw(struct termios *t)
{
	t->c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR |
	    ICRNL | IXON | IXOFF);
	t->c_oflag &= ~OPOST;
	t->c_lflag &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	t->c_cflag &= ~(CSIZE | PARENB);
	t->c_cflag |= CS8;
	t->c_cc[VMIN] = 1;
	t->c_cc[VTIME] = 0;
}

/*
 * Open a pty pair; both ends are close-on-exec.  The slave is opened
 * without becoming our controlling terminal.
 */
int
pty_open(int *masterp, int *slavep, const struct winsize *ws)
{
	char	*name;
	int	 m, s;

	if ((m = posix_openpt(O_RDWR | O_NOCTTY)) == -1)
		return (-1);
	if (grantpt(m) == -1 || unlockpt(m) == -1 ||
	    (name = ptsname(m)) == NULL ||
	    (s = open(name, O_RDWR | O_NOCTTY)) == -1) {
		close(m);
		return (-1);
	}
	if (fcntl(m, F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl(s, F_SETFD, FD_CLOEXEC) == -1 ||
	    (ws != NULL && ioctl(s, TIOCSWINSZ, ws) == -1)) {
		close(s);
		close(m);
		return (-1);
	}
	*masterp = m;
	*slavep = s;
	return (0);
}

/*
 * Run argv in a new session whose controlling terminal is the pty slave,
 * on stdin and stdout (and stderr if errtoo).  Returns the child's pid.
 */
pid_t
pty_spawn(int master, int slave, int errtoo, char **argv)
{
	pid_t	 pid;

	switch (pid = fork()) {
	case -1:
		err(1, "fork");
	case 0:
		close(master);
		if (setsid() == -1)
			err(127, "setsid");
		if (ioctl(slave, TIOCSCTTY, 0) == -1)
			err(127, "TIOCSCTTY");
		if (dup2(slave, STDIN_FILENO) == -1 ||
		    dup2(slave, STDOUT_FILENO) == -1 ||
		    (errtoo && dup2(slave, STDERR_FILENO) == -1))
			err(127, "dup2");
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[0], argv);
		err(127, "%s", argv[0]);
	}
	return (pid);
}

ssize_t
writeall(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	size_t		 off = 0;
	ssize_t		 n;

	while (off < len) {
		if ((n = write(fd, p + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		off += n;
	}
	return (off);
}

/*
 * Skip terminal escape sequences in buf and hand every run of the
 * remaining text to fn.  State is kept across calls.
 */
void
scan_feed(struct scan *sc, const char *buf, size_t len, scan_fn *fn,
    void *arg)
{
	const char	*p = buf, *end = buf + len, *e;
	unsigned char	 c;

	while (p < end) {
		if (sc->state == S_TEXT) {
			if ((e = memchr(p, 0x1b, end - p)) == NULL)
				e = end;
			if (e > p)
				fn(p, e - p, arg);
			if (e == end)
				return;
			sc->state = S_ESC;
			p = e + 1;
			continue;
		}
		c = *p++;
		switch (sc->state) {
		case S_ESC:
			if (c == '[')
				sc->state = S_CSI;
			else if (c == ']' || c == 'P' || c == '_' ||
			    c == '^' || c == 'X')
				sc->state = S_STR;
			else if (c >= 0x20 && c <= 0x2f)
				sc->state = S_ESCINT;
			else
				sc->state = S_TEXT;
			break;
		case S_ESCINT:
			if (c < 0x20 || c > 0x2f)
				sc->state = S_TEXT;
			break;
		case S_CSI:
			if (c >= 0x40 && c <= 0x7e)
				sc->state = S_TEXT;
			break;
		case S_STR:
			if (c == 0x07)
				sc->state = S_TEXT;
			else if (c == 0x1b)
				sc->state = S_STRESC;
			break;
		case S_STRESC:
			sc->state = (c == '\\') ? S_TEXT : S_STR;
			break;
		}
	}
}

/* Longest prefix of marker that is a suffix of marker[0..idx) + c. */
static size_t
match_step(const char *marker, size_t idx, char c)
{
	size_t	 k;

	if (marker[idx] == c)
		return (idx + 1);
	for (k = idx; k > 0; k--) {
		if (marker[k - 1] == c &&
		    memcmp(marker, marker + idx - k + 1, k - 1) == 0)
			return (k);
	}
	return (0);
}

/* Sets done once m->marker has gone by; returns the bytes looked at. */
size_t
match_feed(struct match *m, const char *p, size_t len)
{
	const char	*start = p, *q;

	while (len > 0 && !m->done) {
		if (m->idx == 0) {
			if ((q = memchr(p, m->marker[0], len)) == NULL)
				return (p - start + len);
			len -= q - p;
			p = q;
		}
		m->idx = match_step(m->marker, m->idx, *p);
		p++;
		len--;
		if (m->marker[m->idx] == '\0')
			m->done = 1;
	}
	return (p - start);
}

/* A scan_fn for match_feed(). */
void
match_fn(const char *p, size_t len, void *arg)
{
	match_feed(arg, p, len);
}

/*
 * Read the client's terminal until marker has gone by in its text; exits
 * if nothing comes for ms. Returns the bytes read.
 */
long long
client_until(struct client *c, const char *marker, int ms)
{
	struct match	 m;
	static char	 buf[65536];
	long long	 got = 0;
	ssize_t		 n;

	memset(&m, 0, sizeof(m));
	m.marker = marker;
	while (!m.done) {
		if ((n = client_read(c, buf, sizeof(buf), ms)) == 0)
			errx(1, "no output for %d ms after %lld bytes", ms,
			    got);
		got += n;
		scan_feed(&c->sc, buf, n, match_fn, &m);
	}
	return (got);
}

static void
want_fn(const char *p, size_t len, void *arg)
{
	struct want	*w = arg;
	unsigned char	 c;

	while (len-- > 0) {
		c = p[len];
		if (c > 0x20 && c < 0x7f) {
			w->last = c;
			return;
		}
	}
}

static void
client_gone(struct client *c)
{
	int	 status;

	if (waitpid(c->pid, &status, 0) == c->pid) {
		if (WIFEXITED(status))
			errx(1, "client exited with status %d",
			    WEXITSTATUS(status));
		if (WIFSIGNALED(status))
			errx(1, "client killed by signal %d",
			    WTERMSIG(status));
	}
	errx(1, "client went away");
}

/*
 * Start argv on a fresh 80x24 pty that is already in raw mode, so
 * nothing is echoed until the client relays it through the session.
 */
void
client_start(struct client *c, char **argv)
{
	struct winsize	 ws;
	struct termios	 t;
	int		 s;

	memset(&ws, 0, sizeof(ws));
	ws.ws_col = BENCH_COLS;
	ws.ws_row = BENCH_ROWS;
	if (pty_open(&c->fd, &s, &ws) == -1)
		err(1, "pty");
	if (tcgetattr(s, &t) == -1)
		err(1, "tcgetattr");
	tty_makeraw(&t);
	if (tcsetattr(s, TCSANOW, &t) == -1)
		err(1, "tcsetattr");
	signal(SIGPIPE, SIG_IGN);
	c->pid = pty_spawn(c->fd, s, 0, argv);
	close(s);
	c->sc.state = S_TEXT;
}

/*
 * Read what the client drew, waiting at most ms milliseconds (-1: for
 * ever).  Returns 0 on timeout; exits if the client went away.
 */
ssize_t
client_read(struct client *c, char *buf, size_t len, int ms)
{
	struct pollfd	 pfd;
	ssize_t		 n;

	pfd.fd = c->fd;
	pfd.events = POLLIN;
	for (;;) {
		switch (poll(&pfd, 1, ms)) {
		case -1:
			if (errno == EINTR)
				continue;
			err(1, "poll");
		case 0:
			return (0);
		}
		if ((n = read(c->fd, buf, len)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (errno != EIO)
				err(1, "read");
		}
		if (n <= 0)
			client_gone(c);
		return (n);
	}
}

void
client_put(struct client *c, const char *s)
{
	if (writeall(c->fd, s, strlen(s)) == -1)
		err(1, "write");
}

/* Wait until ch shows up as text in the client's output. */
void
client_wait(struct client *c, int ch, int ms)
{
	struct want	 w;
	char		 buf[8192];
	uint64_t	 deadline;
	ssize_t		 n;
	int		 left;

	w.ch = ch;
	w.last = -1;
	deadline = now_ns() + (uint64_t)ms * 1000000;
	while (w.last != w.ch) {
		left = (int)(((int64_t)(deadline - now_ns())) / 1000000);
		if (left < 0 || (n = client_read(c, buf, sizeof(buf),
		    left)) == 0)
			errx(1, "no echo of '%c' within %d ms", ch, ms);
		scan_feed(&c->sc, buf, n, want_fn, &w);
	}
}

/* Throw away whatever output is already there. */
void
client_drain(struct client *c)
{
	struct want	 w;
	char		 buf[8192];
	ssize_t		 n;

	w.ch = w.last = -1;
	while ((n = client_read(c, buf, sizeof(buf), 0)) > 0)
		scan_feed(&c->sc, buf, n, want_fn, &w);
}

/*
 * The session is ready when a probe keystroke comes back through it.
 * Probes are repeated in case the client flushes input while attaching.
 */
void
client_ready(struct client *c, int ms)
{
	struct want	 w;
	char		 buf[8192], probe[2] = { PROBE, '\0' };
	uint64_t	 start, next;
	int64_t		 left;
	ssize_t		 n;

	w.ch = PROBE;
	w.last = -1;
	start = now_ns();
	while (w.last != w.ch) {
		if (now_ns() - start > (uint64_t)ms * 1000000)
			errx(1, "session not ready within %d ms", ms);
		client_put(c, probe);
		next = now_ns() + PROBE_MS * 1000000;
		while (w.last != w.ch &&
		    (left = (int64_t)(next - now_ns())) > 0) {
			n = client_read(c, buf, sizeof(buf),
			    (int)(left / 1000000) + 1);
			if (n > 0)
				scan_feed(&c->sc, buf, n, want_fn, &w);
		}
	}
}

/*
 * Hang up the client's terminal and reap it, getting rougher if it
 * does not go.  Returns its wait status.
 */
int
client_stop(struct client *c)
{
	uint64_t	 start;
	pid_t		 r;
	int		 status = 0, sig = 0;

	close(c->fd);
	c->fd = -1;
	start = now_ns();
	for (;;) {
		if ((r = waitpid(c->pid, &status, WNOHANG)) == c->pid ||
		    (r == -1 && errno != EINTR))
			break;
		if (sig == 0 && now_ns() - start > 2000000000ULL) {
			sig = SIGTERM;
			kill(c->pid, sig);
		} else if (sig == SIGTERM &&
		    now_ns() - start > 4000000000ULL) {
			sig = SIGKILL;
			kill(c->pid, sig);
		}
		if (r == 0)
			poll(NULL, 0, 5);
	}
	return (status);
}
