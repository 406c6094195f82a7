/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * lispd save: the image's core, kept in the session's state directory.
 *
 * The server checks what it can first (a bootstrap, SBCL, a state
 * directory it can write, the room for a core), names a temporary file and
 * asks the image (CTL_SAVE); the bootstrap stops the threads, forks, and
 * the child saves the core there while the image goes on (src/lispd.lisp).
 * Until the image answers (CTL_SAVED) the server holds what else it has
 * for the image, so that the bootstrap's reader can stop at a frame's end.
 * A core is renamed into place only once it is whole and synced: a crash
 * mid-save never leaves a broken newest core. The newest opts->keep_cores
 * are kept.
 *
 *	STATE/NAME/NAME-N.core		the cores, N counting up
 *	STATE/NAME/.NAME-N.core.tmp	one being written
 */

#include "config.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "lispd.h"

/* Room a core needs beyond what the image holds in memory. */
#define SAVE_SPARE	(64LL * 1024 * 1024)
/* Seconds the image has to answer, beyond those its threads get. */
#define SAVE_WAIT	120

static struct {
	char		*dir;		/* STATE/NAME, once made */
	char		*tmp;		/* the core being written, or NULL */
	char		*core;		/* its name once whole */
	uint64_t	 t0;		/* when it was asked for */
	struct event	*timer;		/* the image has not answered */
	char		*last;		/* the newest core this server saved */
	time_t		 last_at;
	long long	 last_size;
} save;

static void	 save_answer(int, const char *, ...)
		    __attribute__((format(printf, 2, 3)));


/*
 * The state directory: -D, else $LISPD_STATE, else $XDG_STATE_HOME/lispd,
 * else ~/.local/state/lispd. NULL if there is none to be had.
 */
static char *
save_state_dir(const char *opt)
{
	const char	*env;
	char		*path;

	if (opt != NULL && *opt != '\0')
		return (xstrdup(opt));
	if ((env = getenv("LISPD_STATE")) != NULL && *env != '\0')
		return (xstrdup(env));
	if ((env = getenv("XDG_STATE_HOME")) != NULL && *env == '/') {
		xasprintf(&path, "%s/lispd", env);
		return (path);
	}
	if ((env = getenv("HOME")) != NULL && *env == '/') {
		xasprintf(&path, "%s/.local/state/lispd", env);
		return (path);
	}
	return (NULL);
}

/* N of NAME-N.core, or 0 if the file is not a core of this session. */
static u_long
save_core_number(const char *file)
{
	size_t	 n = strlen(server.name);
	char	*end;
	u_long	 v;

	if (strncmp(file, server.name, n) != 0 || file[n] != '-' ||
	    file[n + 1] < '1' || file[n + 1] > '9')
		return (0);
	v = strtoul(file + n + 1, &end, 10);
	return (strcmp(end, ".core") == 0 ? v : 0);
}

/* The cores in save.dir, newest first, in *v (freed by the caller). */
static size_t
save_cores(u_long **v)
{
	DIR		*d;
	struct dirent	*e;
	size_t		 n = 0, size = 0, i, j;
	u_long		 k, t;

	*v = NULL;
	if ((d = opendir(save.dir)) == NULL)
		return (0);
	while ((e = readdir(d)) != NULL) {
		if ((k = save_core_number(e->d_name)) == 0)
			continue;
		if (n == size) {
			size = size == 0 ? 8 : size * 2;
			*v = xreallocarray(*v, size, sizeof **v);
		}
		(*v)[n++] = k;
	}
	closedir(d);
	for (i = 1; i < n; i++) {
		for (j = i; j > 0 && (*v)[j - 1] < (*v)[j]; j--) {
			t = (*v)[j];
			(*v)[j] = (*v)[j - 1];
			(*v)[j - 1] = t;
		}
	}
	return (n);
}

/* Bytes the image holds in memory (its resident set), or 0. */
static long long
save_image_bytes(void)
{
	char		 path[64];
	FILE		*f;
	long long	 size, resident;

	snprintf(path, sizeof path, "/proc/%ld/statm", (long)server.pid);
	if ((f = fopen(path, "r")) == NULL)
		return (0);
	if (fscanf(f, "%lld %lld", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (resident * sysconf(_SC_PAGESIZE));
}

/* "cannot VERB the state directory" and errno, in why: -1. */
static int
save_dir_error(char *why, size_t len, const char *verb)
{
	snprintf(why, len, "cannot %s the state directory %s: %s: start the "
	    "session with -D DIR (or LISPD_STATE) naming one it can write",
	    verb, save.dir, strerror(errno));
	return (-1);
}

/* Make STATE/NAME and see it can take a core: 0, or -1 with why. */
static int
save_ready_dir(char *why, size_t len)
{
	struct statvfs	 vfs;
	char		*state, *tmp, *made;
	u_long		*v;
	long long	 avail, need;
	size_t		 n;
	int		 fd;

	if (save.dir == NULL) {
		if ((state = save_state_dir(server.opts->state)) == NULL) {
			snprintf(why, len, "no state directory: set "
			    "LISPD_STATE or HOME, or start the session with "
			    "-D DIR");
			return (-1);
		}
		xasprintf(&save.dir, "%s/%s", state, server.name);
		free(state);
	}
	made = xstrdup(save.dir);
	if (dir_mkdirs(made) == -1) {
		free(made);
		return (save_dir_error(why, len, "make"));
	}
	free(made);
	n = save_cores(&v);
	free(save.core);
	xasprintf(&save.core, "%s/%s-%lu.core", save.dir, server.name,
	    n == 0 ? 1UL : v[0] + 1);
	free(v);
	xasprintf(&tmp, "%s/.%s.tmp", save.dir, strrchr(save.core, '/') + 1);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1) {
		free(tmp);
		return (save_dir_error(why, len, "write in"));
	}
	close(fd);
	need = save_image_bytes() + SAVE_SPARE;
	if (statvfs(save.dir, &vfs) == 0 &&
	    (avail = (long long)vfs.f_bavail * vfs.f_frsize) < need) {
		snprintf(why, len, "%lld MB free in %s, and the core needs "
		    "about %lld MB: free some, or start the session with -D "
		    "DIR on another disk", avail >> 20, save.dir, need >> 20);
		unlink(tmp);
		free(tmp);
		return (-1);
	}
	save.tmp = tmp;
	return (0);
}

static void
save_timeout_cb(evutil_socket_t fd, short events, void *arg)
{
	const char	*why = "the image did not answer in time: see its "
			    "console ('lispd log'), where the bootstrap says "
			    "what it waits for";

	(void)fd; (void)events; (void)arg;
	save_done(1, why, strlen(why));
}

/*
 * A client asks for a save; threads get seconds to stop. Answered at
 * once if it cannot be, else once the image says how it went.
 */
void
save_request(struct server_client *c, u_int seconds)
{
	struct proto_text	 t;
	struct timeval		 tv;
	const char		*lisp = control_lisp();
	char			 why[512];
	uint8_t			 head[8];
	size_t			 n;

	if (save.tmp != NULL) {
		c->flags |= SC_WAITSAVE;	/* told with the other */
		return;
	}
	if (!control_up()) {
		/* Its words name the session: the client names it once. */
		n = strlen(server.name);
		if (control_can_eval(why, sizeof why) == -1)
			server_client_error(c, EXIT_FAIL, "cannot save: %s",
			    strncmp(why, "session ", 8) == 0 &&
			    strncmp(why + 8, server.name, n) == 0 &&
			    strncmp(why + 8 + n, ": ", 2) == 0 ?
			    why + 10 + n : why);
		else
			server_client_error(c, EXIT_FAIL, "cannot save: the "
			    "image is not ready yet: save once 'lispd wait "
			    "%s' returns", server.name);
		return;
	}
	if (lisp == NULL || strncmp(lisp, "SBCL", 4) != 0) {
		server_client_error(c, EXIT_FAIL, "cannot save: the image is "
		    "%s, and lispd saves SBCL images only", lisp != NULL ?
		    lisp : "not SBCL");
		return;
	}
	if (save_ready_dir(why, sizeof why) == -1) {
		log_warnx("%s: cannot save: %s", server.name, why);
		server_client_error(c, EXIT_FAIL, "cannot save: %s", why);
		return;
	}
	t.id = seconds;
	t.data = NULL;		/* the id alone: the path follows */
	t.len = strlen(save.tmp);
	n = proto_pack_ctl_text(head, sizeof head, &t);
	if (control_send(CTL_SAVE, head, n, save.tmp, t.len) == -1) {
		unlink(save.tmp);
		free(save.tmp);
		save.tmp = NULL;
		server_client_error(c, EXIT_FAIL, "cannot save: the image is "
		    "not reading its control channel");
		return;
	}
	control_hold();
	if (save.timer == NULL)
		save.timer = evtimer_new(server.base, save_timeout_cb, NULL);
	tv.tv_sec = (time_t)seconds + SAVE_WAIT;
	tv.tv_usec = 0;
	evtimer_add(save.timer, &tv);
	save.t0 = server_now();
	c->flags |= SC_WAITSAVE;
	log_info("%s: saving the image into %s", server.name, save.core);
}

/* Write what the image has been saved as to the disk, and keep the
 * newest cores: 0, or -1 with why. */
static int
save_keep(long long *size, char *why, size_t len)
{
	struct stat	 sb;
	u_long		*v;
	size_t		 n, i;
	char		*old;
	int		 fd;

	if ((fd = open(save.tmp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1 ||
	    fstat(fd, &sb) == -1 || sb.st_size == 0 || fsync(fd) == -1) {
		snprintf(why, len, "the core %s is %s", save.tmp,
		    fd == -1 ? strerror(errno) : "empty or unreadable");
		if (fd != -1)
			close(fd);
		return (-1);
	}
	close(fd);
	if (rename(save.tmp, save.core) == -1) {
		snprintf(why, len, "cannot rename the core into %s: %s",
		    save.core, strerror(errno));
		return (-1);
	}
	if ((fd = open(save.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		fsync(fd);
		close(fd);
	}
	*size = sb.st_size;
	n = save_cores(&v);
	for (i = server.opts->keep_cores; i < n; i++) {
		xasprintf(&old, "%s/%s-%lu.core", save.dir, server.name, v[i]);
		if (unlink(old) == 0)
			log_info("%s: removed the old core %s", server.name,
			    old);
		free(old);
	}
	free(v);
	return (0);
}

/* Every client waiting for the save: OK with the notice, or an error. */
static void
save_answer(int status, const char *fmt, ...)
{
	struct server_client	*c;
	char			 text[NOTICE_MAX];
	va_list			 ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	TAILQ_FOREACH(c, &server.clients, entry) {
		if (c->flags & SC_DEAD)
			continue;
		if (c->flags & SC_WAITSAVE) {
			c->flags &= ~SC_WAITSAVE;
			if (status != 0)
				server_client_error(c, EXIT_FAIL, "%s", text);
			else {
				server_client_notice(c, "%s", text);
				server_client_write(c, PROTO_OK, NULL, 0);
			}
		} else if ((c->flags & (SC_ATTACHED | SC_LOG)) == SC_ATTACHED)
			server_client_notice(c, "%s", text);
	}
}

/* The end of a save (CTL_SAVED, or no answer): status 0, or why not. */
void
save_done(int status, const char *text, size_t len)
{
	char		 why[512];
	long long	 size = 0;
	double		 secs = (server_now() - save.t0) / 1e9;

	if (save.tmp == NULL)
		return;
	evtimer_del(save.timer);
	control_release();
	if (status == 0 && save_keep(&size, why, sizeof why) == 0) {
		free(save.last);
		save.last = save.core;
		save.core = NULL;
		save.last_at = time(NULL);
		save.last_size = size;
		log_info("%s: saved into %s (%lld bytes) in %.1f s",
		    server.name, save.last, size, secs);
		save_answer(0, "saved %s (%lld MB) in %.1f s into %s; the "
		    "image goes on", server.name, (size + (1 << 19)) >> 20,
		    secs, save.last);
	} else {
		if (status != 0)
			snprintf(why, sizeof why, "%.*s", (int)len, text);
		unlink(save.tmp);
		log_warnx("%s: cannot save: %s", server.name, why);
		save_answer(1, "cannot save: %s", why);
	}
	free(save.tmp);
	save.tmp = NULL;
	free(save.core);
	save.core = NULL;
}

/* The channel went while a save was being made. */
void
save_gone(const char *why)
{
	save_done(1, why, strlen(why));
}

/* For the info (ls): the newest core this server saved. */
void
save_info(struct evbuffer *b)
{
	if (save.last == NULL)
		return;
	evbuffer_add_printf(b, "core=%s\nsaved=%lld\ncore_size=%lld\n",
	    save.last, (long long)save.last_at, save.last_size);
}

void
save_free(void)
{
	if (save.tmp != NULL)
		unlink(save.tmp);
	if (save.timer != NULL)
		event_free(save.timer);
	free(save.tmp);
	free(save.core);
	free(save.dir);
	free(save.last);
	memset(&save, 0, sizeof save);
}
