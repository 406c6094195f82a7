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
 * are kept. A save may end in a stop: lispd stop --save stops only once
 * saved; SIGTERM with --save-on-term stops whatever came of the save.
 *
 * With --resume every start of the image, the first and each restart,
 * runs the newest core of the session (its own runtime: the core is an
 * executable); if it exits or is not ready within RESUME_WAIT, the one
 * before, and so on; then the session's command, afresh. Each step is a
 * line in the log, a notice to whoever waits (the first lispd wait, which
 * lispd start is, gets those said before it came) and, once it ends, in ls.
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
#include <signal.h>
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
/* Seconds a resumed core has to be ready ($LISPD_RESUME_WAIT). */
#define RESUME_WAIT	60

static struct {
	char		*dir;		/* STATE/NAME, once made */
	char		*tmp;		/* the core being written, or NULL */
	char		*core;		/* its name once whole */
	uint64_t	 t0;		/* when it was asked for */
	struct event	*timer;		/* the image has not answered */
	char		*last;		/* the newest core this server saved */
	time_t		 last_at;
	long long	 last_size;
	int		 then;		/* SAVE_GO_ON, _THEN_STOP, _STOP_ANYWAY */
	u_int		 stop_timeout;

	/* --resume */
	u_long		*cores;		/* the cores to try, newest first */
	size_t		 ncores;
	size_t		 next;		/* the one to try next */
	int		 seq;		/* trying them, one after another */
	int		 trying;	/* cores[next - 1] runs, not yet ready */
	char		*resuming;	/* its path */
	uint64_t	 resume_t0;
	struct event	*resume_timer;	/* it is not ready in time */
	char		*resumed;	/* for ls: how the last start went */
	struct evbuffer	*said;		/* the steps, for the first wait */
	int		 told;		/* a wait has had them */
} save;

static void	 save_end(int, int, const char *);


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

/* save.dir, STATE/NAME, named: 0, or -1 if there is no state directory. */
static int
save_dir_name(void)
{
	char	*state;

	if (save.dir != NULL)
		return (0);
	if ((state = save_state_dir(server.opts->state)) == NULL)
		return (-1);
	xasprintf(&save.dir, "%s/%s", state, server.name);
	free(state);
	return (0);
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
	char		*tmp, *made;
	u_long		*v;
	long long	 avail, need;
	size_t		 n;
	int		 fd;

	if (save_dir_name() == -1) {
		snprintf(why, len, "no state directory: set LISPD_STATE or "
		    "HOME, or start the session with -D DIR");
		return (-1);
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
 * Ask the image for a core; its threads get seconds to stop. 0, or -1 with
 * why it cannot be.
 */
static int
save_begin(u_int seconds, char *why, size_t len)
{
	struct proto_text	 t;
	struct timeval		 tv;
	const char		*lisp = control_lisp();
	char			 can[512];
	uint8_t			 head[8];
	size_t			 n;

	if (!control_up()) {
		if (control_can_eval(can, sizeof can) == -1)
			snprintf(why, len, "%s", server_unnamed(can));
		else
			snprintf(why, len, "the image is not ready yet: save "
			    "once 'lispd wait %s' returns", server.name);
		return (-1);
	}
	if (lisp == NULL || strncmp(lisp, "SBCL", 4) != 0) {
		snprintf(why, len, "the image is %s, and lispd saves SBCL "
		    "images only", lisp != NULL ? lisp : "not SBCL");
		return (-1);
	}
	if (save_ready_dir(why, len) == -1)
		return (-1);
	t.id = seconds;
	t.data = NULL;		/* the id alone: the path follows */
	t.len = strlen(save.tmp);
	n = proto_pack_ctl_text(head, sizeof head, &t);
	if (control_send(CTL_SAVE, head, n, save.tmp, t.len) == -1) {
		unlink(save.tmp);
		free(save.tmp);
		save.tmp = NULL;
		snprintf(why, len, "the image is not reading its control "
		    "channel");
		return (-1);
	}
	control_hold();
	if (save.timer == NULL)
		save.timer = evtimer_new(server.base, save_timeout_cb, NULL);
	tv.tv_sec = (time_t)seconds + SAVE_WAIT;
	tv.tv_usec = 0;
	evtimer_add(save.timer, &tv);
	save.t0 = server_now();
	log_info("%s: saving the image into %s", server.name, save.core);
	return (0);
}

/*
 * A save is asked for: by a client (lispd save, or stop --save with then
 * SAVE_THEN_STOP), or by SIGTERM with --save-on-term (c NULL, then
 * SAVE_STOP_ANYWAY). Whoever asks is answered once it is done, or at once
 * if it cannot be; one asked while another is made is answered with it.
 */
void
save_request(struct server_client *c, u_int seconds, int then,
    u_int stop_timeout)
{
	char	why[512];

	if (c != NULL)
		c->flags |= SC_WAITSAVE |
		    (then == SAVE_THEN_STOP ? SC_SAVESTOP : 0);
	if (then > save.then) {
		save.then = then;
		save.stop_timeout = stop_timeout;
	}
	if (save.tmp != NULL)
		return;		/* told with the other */
	if (save_begin(seconds, why, sizeof why) == -1) {
		log_warnx("%s: cannot save: %s", server.name, why);
		save_end(1, 0, why);
	}
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

/*
 * Every client waiting for the save: OK with the notice, or an error; one
 * that stops after it waits on for the exit, unless the save failed and
 * the stop is off. With all, the attached clients are told too. Then the
 * stop, if one was asked for and is still on.
 */
static void
save_end(int status, int all, const char *text)
{
	struct server_client	*c;
	int			 stop;

	stop = save.then == SAVE_STOP_ANYWAY ||
	    (save.then == SAVE_THEN_STOP && status == 0);
	TAILQ_FOREACH(c, &server.clients, entry) {
		if (c->flags & SC_DEAD)
			continue;
		if (c->flags & SC_WAITSAVE) {
			if ((c->flags & SC_SAVESTOP) && stop) {
				server_client_notice(c, "%s%s", status != 0 ?
				    "cannot save: " : "", text);
				c->flags |= SC_WAITEXIT;
			} else if (status != 0)
				server_client_error(c, EXIT_FAIL, "cannot "
				    "save: %s%s", text, c->flags & SC_SAVESTOP ?
				    "; not stopped, the image goes on ('lispd "
				    "stop' stops it unsaved)" : "");
			else {
				server_client_notice(c, "%s", text);
				server_client_write(c, PROTO_OK, NULL, 0);
			}
			c->flags &= ~(SC_WAITSAVE | SC_SAVESTOP);
		} else if (all &&
		    (c->flags & (SC_ATTACHED | SC_LOG)) == SC_ATTACHED)
			server_client_notice(c, "%s%s", status != 0 ?
			    "cannot save: " : "", text);
	}
	save.then = SAVE_GO_ON;
	if (stop)
		server_stop(save.stop_timeout);
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
		snprintf(why, sizeof why, "saved %s (%lld MB) in %.1f s into "
		    "%s; %s", server.name, (size + (1 << 19)) >> 20, secs,
		    save.last, save.then != SAVE_GO_ON ? "stopping" :
		    "the image goes on");
		status = 0;
	} else {
		if (status != 0)
			snprintf(why, sizeof why, "%.*s", (int)len, text);
		unlink(save.tmp);
		log_warnx("%s: cannot save: %s", server.name, why);
		status = 1;
	}
	free(save.tmp);
	save.tmp = NULL;
	free(save.core);
	save.core = NULL;
	save_end(status, 1, why);
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
	if (save.resumed != NULL)
		evbuffer_add_printf(b, "resume=%s\n", save.resumed);
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
	if (save.resume_timer != NULL)
		event_free(save.resume_timer);
	if (save.said != NULL)
		evbuffer_free(save.said);
	free(save.cores);
	free(save.resuming);
	free(save.resumed);
	free(save.tmp);
	free(save.core);
	free(save.dir);
	free(save.last);
	memset(&save, 0, sizeof save);
}

/*
 * --resume
 */

#define SAVE_CORE_MAGIC	0x5342434cU	/* "LCBS": SBCL's core_magic */

/* The low 32 bits of a little-endian word (SBCL's on this machine). */
static uint32_t
save_le32(const uint8_t *p)
{
	return ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24);
}

/*
 * Does the file end as an SBCL executable with its core does: the core's
 * offset, the magic, and the magic again at that offset? A core cut short
 * does not, and its runtime would quietly start SBCL's own core instead.
 * NULL if it does, else what is wrong.
 */
static const char *
save_core_whole(const char *path)
{
	struct stat	sb;
	uint8_t		tail[16], head[8];
	uint64_t	off;
	int		fd, i;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return (strerror(errno));
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return ("not a regular file");
	}
	if (sb.st_uid != geteuid() || (sb.st_mode & 022) != 0) {
		close(fd);
		return ("not the session's user's own, or writable by others");
	}
	if (sb.st_size < (off_t)(sizeof tail + sizeof head) ||
	    pread(fd, tail, sizeof tail, sb.st_size - sizeof tail) !=
	    (ssize_t)sizeof tail) {
		close(fd);
		return ("too short for a core");
	}
	for (off = 0, i = 7; i >= 0; i--)
		off = off << 8 | tail[i];
	if (save_le32(tail + 8) != SAVE_CORE_MAGIC ||
	    off > (uint64_t)sb.st_size - sizeof tail - sizeof head ||
	    pread(fd, head, sizeof head, (off_t)off) != (ssize_t)sizeof head ||
	    save_le32(head) != SAVE_CORE_MAGIC) {
		close(fd);
		return ("it does not end as a whole SBCL core does (cut short?)");
	}
	close(fd);
	return (NULL);
}

/* A step of a resume: in the log, and to whoever waits or is attached. */
static void
save_say(const char *fmt, ...)
{
	struct server_client	*c;
	char			 line[NOTICE_MAX];
	va_list			 ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	TAILQ_FOREACH(c, &server.clients, entry) {
		if (c->flags & SC_WAITREADY)
			save.told = 1;	/* lispd start is told as it goes */
	}
	server_notice_all(line);
	/* Kept for the first start only: a restart loop under run, with no
	 * client ever waiting, would grow it for ever. */
	if (!save.told && server.restarts == 0) {
		if (save.said == NULL)
			save.said = evbuffer_new();
		evbuffer_add_printf(save.said, "%s\n", line);
	}
}

/* The first lispd wait (lispd start's) hears the steps said before it. */
void
save_resume_tell(struct server_client *c)
{
	char	*line;
	size_t	 n;

	if (save.told || save.said == NULL)
		return;
	save.told = 1;
	while ((line = evbuffer_readln(save.said, &n, EVBUFFER_EOL_LF)) !=
	    NULL) {
		server_client_notice(c, "%s", line);
		free(line);
	}
}

/* How the start went, for ls: "resumed from CORE", or why afresh. */
static void
save_resumed(const char *fmt, ...)
{
	va_list	ap;

	free(save.resumed);
	va_start(ap, fmt);
	if (vasprintf(&save.resumed, fmt, ap) == -1)
		save.resumed = NULL;
	va_end(ap);
	save.seq = 0;
}

/* RESUME_WAIT, or $LISPD_RESUME_WAIT for a slow start. */
static int
save_resume_wait(void)
{
	return (server_env_seconds("LISPD_RESUME_WAIT", RESUME_WAIT));
}

static void
save_resume_timeout_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd; (void)events; (void)arg;
	if (!save.trying)
		return;
	save_say("the core %s is not ready after %d s: ending it",
	    save.resuming, save_resume_wait());
	kill(server.pid, SIGKILL);
}

/*
 * The command for this start of the image: with --resume, the next core
 * to try (a vector of its own), or NULL for the session's command.
 */
char **
save_resume_argv(void)
{
	static char	*argv[4];
	struct timeval	 tv = { save_resume_wait(), 0 };
	struct stat	 sb;
	const char	*bad;
	char		 when[32];

	if (!server.opts->resume)
		return (NULL);
	if (!save.seq) {
		/* A new start, the first or a restart: the cores as now. */
		free(save.cores);
		save.cores = NULL;
		save.ncores = save.next = 0;
		save.seq = 1;
		if (save_dir_name() == 0)
			save.ncores = save_cores(&save.cores);
		if (save.ncores == 0) {
			save_say("no saved core in %s: starting afresh",
			    save.dir != NULL ? save.dir : "any state directory");
			save_resumed("started afresh: no saved core");
			return (NULL);
		}
	}
	while (save.next < save.ncores) {
		free(save.resuming);
		xasprintf(&save.resuming, "%s/%s-%lu.core", save.dir,
		    server.name, save.cores[save.next++]);
		if ((bad = save_core_whole(save.resuming)) != NULL) {
			save_say("the core %s cannot be used: %s%s",
			    save.resuming, bad, save.next < save.ncores ?
			    "" : "; starting afresh");
			continue;
		}
		if (stat(save.resuming, &sb) == -1 || strftime(when,
		    sizeof when, "%Y-%m-%d %H:%M:%S",
		    localtime(&sb.st_mtime)) == 0)
			snprintf(when, sizeof when, "?");
		save_say("resuming from %s (saved %s)", save.resuming, when);
		save.trying = 1;
		save.resume_t0 = server_now();
		if (save.resume_timer == NULL)
			save.resume_timer = evtimer_new(server.base,
			    save_resume_timeout_cb, NULL);
		evtimer_add(save.resume_timer, &tv);
		argv[0] = save.resuming;
		argv[1] = (char *)"--no-sysinit";	/* in the core already */
		argv[2] = (char *)"--no-userinit";
		argv[3] = NULL;
		return (argv);
	}
	save_resumed("started afresh: none of the %zu saved cores started",
	    save.ncores);
	return (NULL);
}

/*
 * The image ended, or could not be run (how): if it was a core being
 * tried, say so and return 1, the next to be started at once.
 */
int
save_resume_failed(const char *how)
{
	if (!save.trying)
		return (0);
	save.trying = 0;
	evtimer_del(save.resume_timer);
	save_say("the core %s did not start: the image %s before it was "
	    "ready%s", save.resuming, how, save.next < save.ncores ? "" :
	    "; starting afresh");
	return (1);
}

/* The image is ready: a core tried has resumed. */
void
save_resume_ready(void)
{
	if (!save.trying)
		return;
	save.trying = 0;
	evtimer_del(save.resume_timer);
	save_say("resumed from %s in %.2f s", save.resuming,
	    (server_now() - save.resume_t0) / 1e9);
	save_resumed("resumed from %s", save.resuming);
}

/* Is a core being written? The image is busy, not wedged. */
int
save_busy(void)
{
	return (save.tmp != NULL);
}
