/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * A terminal handed over by `lispd attach`, as tmux's client hands over
 * its own: the client sends its terminal with SCM_RIGHTS and the server
 * reads the keys and writes the output itself, one process hop fewer per
 * keystroke and per byte. The client keeps the terminal's settings and
 * restores them when the server lets go. This file takes the terminal,
 * reads its keys, watches whether its client is stopped, and lets it go;
 * what is written to it is queued and flushed with the client's socket
 * output, in server-client.c.
 *
 * The server reopens the terminal through /proc/self/fd, so O_NONBLOCK is
 * set on its own open file, never on the one the user's shell shares.
 */

#include "config.h"

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "lispd.h"

#define SERVER_TTY_KEY_WAIT	50000	/* us to wait for the rest of the key */
#define SERVER_TTY_LOOK_AGAIN	10000000 /* ns a client's state is trusted */
#define SERVER_TTY_CONT_WAIT	100000	/* us between looks at a stopped one */

static void	server_tty_read_cb(evutil_socket_t, short, void *);
static void	server_tty_key_cb(evutil_socket_t, short, void *);
static void	server_tty_cont_cb(evutil_socket_t, short, void *);

/*
 * Take the terminal fd came with, and detach on key. On failure, says why
 * in why and returns -1: the client then relays as before; or -2 if it is
 * the image's own pty, which nobody may attach (the image would read its
 * own output, for ever).
 */
int
server_tty_open(struct server_client *c, int fd, const uint8_t *key,
    size_t keylen, char *why, size_t len)
{
	struct stat	st, st2;
	struct ucred	cred;
	socklen_t	clen = sizeof cred;
	char		path[64];
	u_int		ptn;
	int		tfd;

	if (key_set(&c->key, key, keylen) == -1) {
		snprintf(why, len, "a detach key of %zu bytes", keylen);
		return (-1);
	}
	if (fstat(fd, &st) == -1 || !S_ISCHR(st.st_mode) || !isatty(fd)) {
		snprintf(why, len, "what came is not a terminal");
		return (-1);
	}
	if (server.ptyfd != -1 &&
	    ptsname_r(server.ptyfd, path, sizeof path) == 0 &&
	    stat(path, &st2) == 0 && st2.st_rdev == st.st_rdev) {
		snprintf(why, len, "this terminal is the session's own console "
		    "(%s): attach from another terminal", path);
		return (-2);
	}
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	tfd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (tfd == -1) {
		snprintf(why, len, "cannot open the terminal: %s",
		    strerror(errno));
		return (-1);
	}
	/* A pty master reopens as /dev/ptmx: a new pty, not this one. */
	if (ioctl(fd, TIOCGPTN, &ptn) == 0) {
		close(tfd);
		snprintf(why, len, "what came is a pty master");
		return (-1);
	}
	if (fstat(tfd, &st2) == -1 || st2.st_rdev != st.st_rdev) {
		close(tfd);
		snprintf(why, len, "the terminal reopens as another device");
		return (-1);
	}
	c->ttyfd = tfd;
	c->tty_dev = st.st_rdev;
	/* The client may be stopped (SIGSTOP): its pid, to look. */
	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0) {
		c->tty_statfd = pty_stat_open(cred.pid);
	}
	c->tty_rd = event_new(server.base, tfd, EV_READ | EV_PERSIST,
	    server_tty_read_cb, c);
	c->tty_key = evtimer_new(server.base, server_tty_key_cb, c);
	c->tty_cont = evtimer_new(server.base, server_tty_cont_cb, c);
	event_add(c->tty_rd, NULL);
	log_debug("%s: client %d has terminal %s", __func__, c->fd, path);
	return (0);
}

/*
 * Let go of the terminal at once (its output queue is server-client.c's).
 * The events may be in their own callbacks: they are freed with the client.
 */
void
server_tty_close(struct server_client *c)
{
	if (c->ttyfd == -1)
		return;
	event_del(c->tty_rd);
	evtimer_del(c->tty_key);
	evtimer_del(c->tty_cont);
	close(c->ttyfd);
	c->ttyfd = -1;
	if (c->tty_statfd != -1)
		close(c->tty_statfd);
	c->tty_statfd = -1;
	c->tty_stopped = 0;
}

void
server_tty_free(struct server_client *c)
{
	server_tty_close(c);
	if (c->tty_rd == NULL)
		return;
	event_free(c->tty_rd);
	event_free(c->tty_key);
	event_free(c->tty_cont);
}

/*
 * Is the client's process stopped, or out of its terminal's foreground
 * (its shell has it)? Looked at in /proc, now and then.
 */
static int
server_tty_look(struct server_client *c, int now)
{
	char		 buf[512], state;
	const char	*p;
	uint64_t	 t = server_now();
	u_int		 ttynr;
	int		 pgrp, tpgid;

	if (c->tty_statfd == -1 ||
	    (!now && t - c->tty_looked < SERVER_TTY_LOOK_AGAIN))
		return (c->tty_stopped);
	c->tty_looked = t;
	if ((p = pty_stat(c->tty_statfd, buf, sizeof buf)) == NULL ||
	    sscanf(p, "%c %*d %d %*d %u %d", &state, &pgrp, &ttynr,
	    &tpgid) != 4)
		return (0);
	if (state == 'T' || state == 't')
		return (1);
	return (tpgid > 0 && pgrp != tpgid &&
	    ((ttynr >> 8) & 0xfff) == major(c->tty_dev) &&
	    ((ttynr & 0xff) | ((ttynr >> 12) & 0xfff00)) == minor(c->tty_dev));
}

/*
 * A client stopped from outside (SIGSTOP, a debugger) cannot take back its
 * terminal, which is its shell's now: it is neither read (type-ahead is
 * the shell's) nor written until the client is in the foreground again.
 */
int
server_tty_stopped(struct server_client *c)
{
	struct timeval	tv = { 0, SERVER_TTY_CONT_WAIT };

	if (c->tty_stopped || !server_tty_look(c, 0))
		return (c->tty_stopped);
	log_debug("%s: client %d is stopped", __func__, c->fd);
	c->tty_stopped = 1;
	event_del(c->tty_rd);
	evtimer_add(c->tty_cont, &tv);
	return (1);
}

static void
server_tty_cont_cb(evutil_socket_t fd, short events, void *arg)
{
	struct server_client	*c = arg;
	struct timeval		 tv = { 0, SERVER_TTY_CONT_WAIT };

	(void)fd; (void)events;
	if (server_tty_look(c, 1)) {
		evtimer_add(c->tty_cont, &tv);
		return;
	}
	log_debug("%s: client %d goes on", __func__, c->fd);
	c->tty_stopped = 0;
	if (!(c->flags & SC_EXITING))
		event_add(c->tty_rd, NULL);
	server_client_flush(c);
}

static void
server_tty_read_cb(evutil_socket_t fd, short events, void *arg)
{
	struct server_client	*c = arg;
	struct timeval		 tv = { 0, SERVER_TTY_KEY_WAIT };
	uint8_t			 in[4096], out[sizeof in + KEY_MAXLEN];
	size_t			 outlen;
	ssize_t			 n;
	int			 found;

	(void)events;
	if (server_tty_stopped(c))
		return;
	n = read(fd, in, sizeof in);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* The terminal went away; its client gets SIGHUP. */
		server_client_lost(c);
		return;
	}
	evtimer_del(c->tty_key);
	found = key_scan(&c->key, in, n, out, &outlen);
	if (outlen != 0)
		server_client_keys(c, out, outlen);
	if (found)
		server_client_detach(c);
	else if (c->key.nheld != 0)
		evtimer_add(c->tty_key, &tv);
}

/* The rest of the detach key did not come: it was typed for the image. */
static void
server_tty_key_cb(evutil_socket_t fd, short events, void *arg)
{
	struct server_client	*c = arg;
	uint8_t			 out[KEY_MAXLEN];
	size_t			 len;

	(void)fd; (void)events;
	len = key_flush(&c->key, out);
	server_client_keys(c, out, len);
}
