/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * NAME.swank, the image's swank server on a UNIX-domain socket. The server
 * makes the listening socket (0600, in the session's directory) and hands
 * it to the image, where the bootstrap serves swank on it; while no image
 * serves it (loading, swank missing or failed, --no-swank, the image gone)
 * the server accepts and closes each connection itself, so that no client
 * hangs on a socket nobody accepts. `lispd swank` joins stdin and stdout
 * to the socket, for Emacs or any swank client, locally or through ssh.
 */

#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "lispd.h"

enum swank_state {
	SWANK_DOWN,		/* nobody serves it: why says why */
	SWANK_LOADING,
	SWANK_UP,
};

/* NAME.swank and who serves it: reached only through swank_*(). */
static struct {
	int			 fd;
	struct event		*ev;
	struct event		*resume_ev;	/* after a pause at the fd limit */
	enum swank_state	 state;
	char			*why;
	char			*version;	/* of the swank the image serves */
	int			 stale;		/* the image listens at the path */
	int			 rebind;	/* SIGUSR1 while swank loaded */
} swank = { .fd = -1 };

static void	swank_accept_cb(evutil_socket_t, short, void *);
static void	swank_set_version(const char *, size_t);

/* Make NAME.swank; -1 (with the reason kept for ls) if it cannot be. */
int
swank_open(const struct dir *d, const char *name, int on, int bootstrap)
{
	char	why[256];

	swank.fd = dir_listen(d, name, ".swank");
	if (swank.fd == -1) {
		snprintf(why, sizeof why, "cannot listen on %s/%s.swank: %s",
		    d->path, name, strerror(errno));
		log_warnx("%s: %s", name, why);
		swank_down(why);
		return (-1);
	}
	swank.ev = event_new(server.base, swank.fd,
	    EV_READ | EV_PERSIST, swank_accept_cb, NULL);
	if (!on)
		swank_down("started with --no-swank");
	else if (!bootstrap)
		swank_down("the image has no lispd bootstrap to serve it");
	else
		swank_loading();
	return (on ? swank.fd : -1);
}

/*
 * SIGUSR1: NAME.swank again, for a tmp cleaner deleted it. An image that
 * serves the old socket is asked to listen at the path itself; the server
 * makes its own again before it runs the next image.
 */
void
swank_recreate(void)
{
	char	*path;
	pid_t	 pid;
	int	 fd;

	if (swank.fd == -1)
		return;
	if (swank.state == SWANK_LOADING) {
		/* It will serve the socket it has: rebind once it is up. */
		swank.rebind = 1;
		return;
	}
	if (swank.state == SWANK_UP) {
		path = dir_path(server.dir, server.name, ".swank");
		if (control_send(CTL_REBIND, NULL, 0, path, strlen(path)) == 0)
			swank.stale = 1;
		else
			log_warnx("%s: cannot ask the image to listen on %s "
			    "again", server.name, path);
		free(path);
		return;
	}
	if ((fd = dir_listen(server.dir, server.name, ".swank")) == -1) {
		if (errno != EADDRINUSE || !dir_answers(server.dir,
		    server.name, ".swank", &pid) || pid != getpid())
			log_warn("%s: cannot listen on %s/%s.swank",
			    server.name, server.dir->path, server.name);
		return;	/* or it is ours, still there */
	}
	event_free(swank.ev);
	close(swank.fd);
	swank.fd = fd;
	swank.stale = 0;
	swank.ev = event_new(server.base, fd, EV_READ | EV_PERSIST,
	    swank_accept_cb, NULL);
	if (swank.state != SWANK_UP)
		event_add(swank.ev, NULL);
}

void
swank_close(const struct dir *d, const char *name)
{
	if (swank.fd == -1)
		return;
	event_free(swank.ev);
	dir_unlisten(d, name, ".swank", swank.fd);
	swank.fd = -1;
	free(swank.why);
	swank.why = NULL;
	swank_set_version(NULL, 0);
	if (swank.resume_ev != NULL)
		event_free(swank.resume_ev);
	swank.resume_ev = NULL;
}

/* The version swank said it is, if it said one that fits a line of ls. */
static void
swank_set_version(const char *version, size_t len)
{
	free(swank.version);
	swank.version = NULL;
	if (len != 0 && len <= 64 && memchr(version, '\n', len) == NULL)
		xasprintf(&swank.version, "%.*s", (int)len, version);
}

static void
swank_state(enum swank_state state, const char *why)
{
	swank.state = state;
	if (state != SWANK_UP)
		swank_set_version(NULL, 0);
	free(swank.why);
	swank.why = why != NULL ? xstrdup(why) : NULL;
	if (swank.fd == -1)
		return;
	if (state == SWANK_UP)
		event_del(swank.ev);
	else
		event_add(swank.ev, NULL);
}

void
swank_loading(void)
{
	swank_state(SWANK_LOADING, "swank is loading in the image");
}

/* The image serves swank now: the server lets it accept. */
void
swank_up(const char *version, size_t len)
{
	swank_set_version(version, len);
	log_info("%s: swank %s is up", server.name, swank.version != NULL ?
	    swank.version : "(of a version it did not say)");
	swank_state(SWANK_UP, NULL);
	if (swank.rebind) {
		/* SIGUSR1 came while it loaded, on the socket it inherited. */
		swank.rebind = 0;
		swank_recreate();
	}
}

/* Nobody in the image serves swank, for why: the server answers. */
void
swank_down(const char *why)
{
	if (swank.state == SWANK_UP || swank.why == NULL)
		log_info("%s: swank is not up: %s", server.name, why);
	swank_state(SWANK_DOWN, why);
}

static void
swank_resume_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd; (void)events; (void)arg;
	if (swank.fd != -1 && swank.state != SWANK_UP)
		event_add(swank.ev, NULL);
}

/* A connection nobody in the image would take: close it, not leave it. */
static void
swank_accept_cb(evutil_socket_t fd, short events, void *arg)
{
	struct timeval	tv = { ACCEPT_PAUSE, 0 };
	int		cfd;

	(void)events; (void)arg;
	while ((cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) != -1)
		close(cfd);
	if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
		return;
	/* At the fd limit: a pause, not a spin. */
	server_accept_failed("swank");
	event_del(swank.ev);
	if (swank.resume_ev == NULL)
		swank.resume_ev = evtimer_new(server.base, swank_resume_cb,
		    NULL);
	evtimer_add(swank.resume_ev, &tv);
}

/* Is swank loading in the image, not yet said to be up or not? */
int
swank_is_loading(void)
{
	return (swank.state == SWANK_LOADING);
}

/* The socket the image is to serve, or -1. */
int
swank_fd(void)
{
	return (swank.fd);
}

/*
 * Before the next image: NAME.swank is the server's own again if the last
 * image was asked to listen at the path itself.
 */
void
swank_reclaim(void)
{
	if (swank.stale)
		swank_recreate();
}

/* The version of the swank the image serves, or NULL. */
const char *
swank_version(void)
{
	return (swank.version);
}

/* Why nobody in the image serves swank, or NULL. */
const char *
swank_why(void)
{
	return (swank.why);
}

const char *
swank_describe(void)
{
	switch (swank.state) {
	case SWANK_UP:
		return ("up");
	case SWANK_LOADING:
		return ("loading");
	default:
		return ("off");
	}
}

/*
 * After stdin ends, swank may still answer, but it drops a connection as
 * soon as it reads EOF: so the socket stays open until every request sent
 * (:emacs-rex) has its :return, and then until swank has sent nothing for
 * this long (it may still say more); also once it entered its debugger,
 * whose questions nobody is left to answer.
 */
#define SWANK_IDLE_MS	2000

/*
 * Count the swank frames in a stream, as it comes, whose payload begins
 * with a word: 6 hex digits of length, then the payload. Pure.
 */
void
swank_scan(struct swank_scan *sc, const char *buf, size_t n)
{
	size_t	wlen = strlen(sc->word), take;
	int	v;

	while (n > 0) {
		if (sc->left == 0 && sc->hlen < 6) {
			/* The header, a digit at a time. */
			v = *buf >= '0' && *buf <= '9' ? *buf - '0' :
			    *buf >= 'a' && *buf <= 'f' ? *buf - 'a' + 10 :
			    *buf >= 'A' && *buf <= 'F' ? *buf - 'A' + 10 : -1;
			if (v == -1) {
				sc->broken = 1;
				return;
			}
			sc->len = sc->len * 16 + v;
			buf++;
			n--;
			if (++sc->hlen == 6) {
				sc->left = sc->len;
				sc->seen = 0;
				sc->match = 1;
				if (sc->left == 0)
					sc->hlen = sc->len = 0;
			}
			continue;
		}
		take = n < sc->left ? n : sc->left;
		/* The payload's first bytes, against the word. */
		while (sc->seen < wlen && take > 0 && sc->match) {
			if (*buf != sc->word[sc->seen])
				sc->match = 0;
			sc->seen++;
			buf++;
			n--;
			sc->left--;
			take--;
		}
		if (sc->match && sc->seen == wlen) {
			sc->count++;
			sc->match = 0;
		}
		buf += take;
		n -= take;
		sc->left -= take;
		if (sc->left == 0)
			sc->hlen = sc->len = 0;
	}
}

static uint64_t
swank_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/*
 * -w: the image serves the swank of loader, a swank-loader.lisp, loading
 * it in place of its own if need be (the bootstrap's swank-want, through
 * eval). What it says goes to out_fd: stdout with -n, else stderr, for
 * stdout is then swank's stream. Returns only if it serves that swank.
 */
static void
swank_want(const struct dir *d, const char *name, const char *loader,
    int out_fd)
{
	struct eval_opts o = { "", 0, 0, out_fd };
	char		 path[PATH_MAX], *form, *forms[1], *p;
	const char	*s;
	int		 st;

	/* The image's directory is not ours: a path it can find. */
	if (realpath(loader, path) == NULL)
		die(EXIT_USAGE, "swank: -w %s: %s: name the swank-loader.lisp "
		    "of your SLIME (its slime-backend)", loader,
		    strerror(errno));
	/* A Lisp string: \ and " escaped. */
	p = form = xmalloc(2 * strlen(path) + 32);
	p += sprintf(p, "(lispd::swank-want \"");
	for (s = path; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			*p++ = '\\';
		*p++ = *s;
	}
	strcpy(p, "\")");
	forms[0] = form;	/* which eval_main moves along */
	st = eval_main(d, name, &o, forms, 1);
	free(form);
	/* Its signal pipe is nobody's now: the relay ends as they say. */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (st != EXIT_OK)
		exit(st);
}

/*
 * lispd swank: stdin to the socket, the socket to stdout, until either
 * ends (stdin: as above). A session whose swank is not up is named with
 * the reason. With loader (-w), the image serves that swank first; without
 * relay (-n), that is all.
 */
int
swank_main(const struct dir *d, const char *name, const char *loader,
    int relay)
{
	struct client	 c;
	struct proto_msg m;
	struct pollfd	 pfd[2];
	char		 buf[65536], state[64], why[512];
	ssize_t		 n;
	uint64_t	 idle_at = 0;
	int		 fd, done_in = 0, wait;
	struct swank_scan rex = { .word = "(:emacs-rex " };
	struct swank_scan ret = { .word = "(:return " };
	struct swank_scan dbg = { .word = "(:debug " };

	if (loader != NULL)
		swank_want(d, name, loader, relay ? STDERR_FILENO :
		    STDOUT_FILENO);
	if (!relay)
		return (EXIT_OK);
	signal(SIGPIPE, SIG_IGN);
	/* Ask the session first: a closed door deserves a reason. */
	client_connect(&c, d, name);
	if (client_send(&c, PROTO_LIST, NULL, 0) == -1 || !client_recv(&c, &m) ||
	    m.type != PROTO_INFO)
		die(EXIT_FAIL, "swank: session %s did not answer", name);
	snprintf(buf, sizeof buf, "%.*s", (int)m.len, m.data);
	client_close(&c);
	client_info_get(buf, "swank_why", why, sizeof why);
	if (strcmp(client_info_get(buf, "swank", state, sizeof state),
	    "up") != 0)
		die(EXIT_FAIL, "swank: session %s: swank is not up: %s", name,
		    strcmp(why, "-") != 0 ? why : "(the server did not say why)");

	if ((fd = dir_connect(d, name, ".swank")) == -1)
		die(EXIT_FAIL, "swank: cannot connect to %s/%s.swank: %s",
		    d->path, name, strerror(errno));
	pfd[0].fd = STDIN_FILENO;
	pfd[0].events = POLLIN;
	pfd[1].fd = fd;
	pfd[1].events = POLLIN;
	for (;;) {
		wait = -1;
		if (done_in && (ret.count >= rex.count || dbg.count != 0 ||
		    rex.broken || ret.broken)) {
			if (swank_ms() >= idle_at)
				return (EXIT_OK);	/* swank is done */
			wait = (int)(idle_at - swank_ms());
		}
		if (poll(pfd, 2, wait) == -1) {
			if (errno == EINTR)
				continue;
			die(EXIT_FAIL, "swank: poll: %s", strerror(errno));
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(fd, buf, sizeof buf);
			if (n <= 0)
				return (EXIT_OK);	/* swank closed */
			if (client_write_all(STDOUT_FILENO, buf, n) == -1)
				return (EXIT_OK);	/* the reader went */
			swank_scan(&ret, buf, n);
			swank_scan(&dbg, buf, n);
			idle_at = swank_ms() + SWANK_IDLE_MS;
		}
		if (!done_in && pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(STDIN_FILENO, buf, sizeof buf);
			if (n <= 0) {
				/* Our end is done; swank may still answer. */
				done_in = 1;
				pfd[0].fd = -1;
				idle_at = swank_ms() + SWANK_IDLE_MS;
				continue;
			}
			if (client_write_all(fd, buf, n) == -1)
				return (EXIT_OK);
			swank_scan(&rex, buf, n);
		}
	}
}
