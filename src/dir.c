/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * The socket directory and the names in it: NAME.sock for clients and
 * NAME.lock, held by the server for its whole life (its pid in it), so
 * that two starts of one name make one session and a socket left by a
 * killed server is known to be stale.
 */

#include "config.h"

#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lispd.h"

#define DIR_LONGEST_SUFFIX	".swank"

/* Open (creating if needed) and vet the socket directory. */
int
dir_open(struct dir *d, const char *path)
{
	struct stat	 sb;
	uid_t		 uid = geteuid();

	if (path == NULL || *path == '\0')
		path = getenv("LISPD_DIR");
	if (path == NULL || *path == '\0')
		xasprintf(&d->path, "/tmp/lispd-%ld", (long)uid);
	else
		d->path = xstrdup(path);

	if (mkdir(d->path, 0700) == -1 && errno != EEXIST)
		die(EXIT_DIR, "cannot create socket directory %s: %s: "
		    "create it with mode 700, or name another with -S DIR",
		    d->path, strerror(errno));
	if (lstat(d->path, &sb) == -1)
		die(EXIT_DIR, "socket directory %s: %s", d->path,
		    strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		die(EXIT_DIR, "socket directory %s is not a directory: "
		    "remove it, or name another with -S DIR", d->path);
	if (sb.st_uid != uid)
		die(EXIT_DIR, "socket directory %s belongs to uid %ld, not to "
		    "you (uid %ld): name one of your own with -S DIR",
		    d->path, (long)sb.st_uid, (long)uid);
	if ((sb.st_mode & 077) != 0)
		die(EXIT_DIR, "socket directory %s is open to group or others "
		    "(mode %04o): chmod 700 %s", d->path,
		    (unsigned)(sb.st_mode & 07777), d->path);
	return (0);
}

static void
dir_safe_copy(char *dst, size_t len, const char *src)
{
	size_t	i;

	for (i = 0; src[i] != '\0' && i + 1 < len; i++)
		dst[i] = (src[i] > 0x20 && src[i] < 0x7f) ? src[i] : '?';
	dst[i] = '\0';
}

/*
 * Names are [A-Za-z0-9._-]+, not beginning with -, and must fit a socket
 * path in the directory.
 */
int
dir_check_name(const struct dir *d, const char *name)
{
	struct sockaddr_un	 sun;
	const char		*p;
	char			 shown[64];
	size_t			 room;

	dir_safe_copy(shown, sizeof shown, name);
	if (*name == '\0')
		die(EXIT_USAGE, "empty session name: names are made of "
		    "A-Z a-z 0-9 . _ -");
	/* Else "kill -x" and "attach -x" take it for an option. */
	if (*name == '-')
		die(EXIT_USAGE, "bad session name '%s': names are "
		    "[A-Za-z0-9._-]+, not beginning with -", shown);
	for (p = name; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
		    *p == '-')
			continue;
		die(EXIT_USAGE, "bad session name '%s': names are made of "
		    "A-Z a-z 0-9 . _ -", shown);
	}
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		die(EXIT_USAGE, "bad session name '%s': choose a name other "
		    "than . or ..", name);
	room = sizeof sun.sun_path - 1;
	if (strlen(d->path) + 1 + strlen(DIR_LONGEST_SUFFIX) >= room)
		die(EXIT_DIR, "socket directory %s is too long for a socket "
		    "path: name a shorter one with -S DIR", d->path);
	room -= strlen(d->path) + 1 + strlen(DIR_LONGEST_SUFFIX);
	if (strlen(name) > room)
		die(EXIT_USAGE, "session name '%s' is too long for a socket in "
		    "%s: use at most %zu characters, or a shorter -S DIR",
		    shown, d->path, room);
	return (0);
}

char *
dir_path(const struct dir *d, const char *name, const char *suffix)
{
	char	*path;

	xasprintf(&path, "%s/%s%s", d->path, name, suffix);
	return (path);
}

/*
 * Take NAME.lock. Returns the locked fd, or -1 with errno EWOULDBLOCK when
 * a live server holds it. The inode is checked after locking because the
 * previous owner may have unlinked the file between our open and flock.
 */
int
dir_lock(const struct dir *d, const char *name)
{
	struct stat	 fsb, sb;
	char		*path;
	int		 fd = -1, saved;

	path = dir_path(d, name, ".lock");
	for (;;) {
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		    0600);
		if (fd == -1)
			break;
		if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
			saved = errno;
			close(fd);
			fd = -1;
			errno = saved;
			break;
		}
		if (fstat(fd, &fsb) == 0 && stat(path, &sb) == 0 &&
		    fsb.st_dev == sb.st_dev && fsb.st_ino == sb.st_ino)
			break;
		close(fd);
	}
	free(path);
	return (fd);
}

/* Is fd the file at NAME.lock still (a tmp cleaner may have deleted it)? */
int
dir_locked(const struct dir *d, const char *name, int fd)
{
	struct stat	 fsb, sb;
	char		*path;
	int		 same;

	path = dir_path(d, name, ".lock");
	same = fstat(fd, &fsb) == 0 && stat(path, &sb) == 0 &&
	    fsb.st_dev == sb.st_dev && fsb.st_ino == sb.st_ino;
	free(path);
	return (same);
}

/* The server's pid in its lock, for those who find it without a socket. */
void
dir_lock_write(int fd)
{
	char	buf[32];
	int	n;

	n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, n, 0) != n)
		log_warn("%s: cannot write the pid to the lock", __func__);
}

/* The pid NAME.lock names, if that process lives; else 0. */
pid_t
dir_lock_pid(const struct dir *d, const char *name)
{
	char	*path, buf[32];
	ssize_t	 n;
	long	 pid = 0;
	int	 fd;

	path = dir_path(d, name, ".lock");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(path);
	if (fd == -1)
		return (0);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return (0);
	buf[n] = '\0';
	pid = strtol(buf, NULL, 10);
	if (pid <= 0 || (kill(pid, 0) == -1 && errno != EPERM))
		return (0);
	return ((pid_t)pid);
}

/* Let go of the lock; its file goes too unless it is another's now. */
void
dir_unlock(const struct dir *d, const char *name, int fd)
{
	char	*path;

	if (dir_locked(d, name, fd)) {
		path = dir_path(d, name, ".lock");
		unlink(path);
		free(path);
	}
	close(fd);
}

static int
dir_address(const struct dir *d, const char *name, const char *suffix,
    struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	if ((size_t)snprintf(sun->sun_path, sizeof sun->sun_path, "%s/%s%s",
	    d->path, name, suffix) >= sizeof sun->sun_path) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	return (0);
}

/*
 * Does a server answer at NAME.sock or NAME.swank (suffix)? 1 with its pid
 * in *pid (0 if unknown: its backlog is full), or 0. Non-blocking, so a
 * server at its fd limit cannot hold us.
 */
int
dir_answers(const struct dir *d, const char *name, const char *suffix,
    pid_t *pid)
{
	struct sockaddr_un	sun;
	struct ucred		cred;
	socklen_t		len = sizeof cred;
	int			fd, live;

	*pid = 0;
	if (dir_address(d, name, suffix, &sun) == -1)
		return (0);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return (0);
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0) {
		live = 1;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
			*pid = cred.pid;
	} else
		live = (errno == EAGAIN);
	close(fd);
	return (live);
}

/*
 * Stop listening on NAME.sock or NAME.swank (suffix), on fd: the file goes
 * only if it is still ours (SO_PEERCRED names the process that listens),
 * or nobody answers on it.  A tmp cleaner may have deleted it and another
 * server made it again: that server's socket stays.
 */
void
dir_unlisten(const struct dir *d, const char *name, const char *suffix,
    int fd)
{
	struct sockaddr_un	sun;
	pid_t			pid;

	if (dir_address(d, name, suffix, &sun) == 0 &&
	    (!dir_answers(d, name, suffix, &pid) || pid == getpid()))
		unlink(sun.sun_path);
	close(fd);
}

/*
 * mkdir -p: path and each directory above it made 0700 if need be. -1
 * with errno and path cut at the directory that could not be made.
 */
int
dir_mkdirs(char *path)
{
	char	*p;

	for (p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) == -1 && errno != EEXIST)
			return (-1);
		*p = '/';
	}
	return (mkdir(path, 0700) == -1 && errno != EEXIST ? -1 : 0);
}

int
dir_connect(const struct dir *d, const char *name, const char *suffix)
{
	struct sockaddr_un	sun;
	int			fd, saved;

	if (dir_address(d, name, suffix, &sun) == -1)
		return (-1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return (-1);
	}
	return (fd);
}

/*
 * Listen on NAME.sock or NAME.swank (suffix). The caller holds the lock,
 * but a tmp cleaner may have deleted the lock of a live server: an old
 * socket is unlinked only if nobody answers on it (else -1, EADDRINUSE).
 */
int
dir_listen(const struct dir *d, const char *name, const char *suffix)
{
	struct sockaddr_un	sun;
	mode_t			mask;
	pid_t			pid;
	int			fd, saved;

	if (dir_address(d, name, suffix, &sun) == -1)
		return (-1);
	if (dir_answers(d, name, suffix, &pid)) {
		errno = EADDRINUSE;
		return (-1);
	}
	if (unlink(sun.sun_path) == -1 && errno != ENOENT)
		return (-1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return (-1);
	mask = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1 ||
	    chmod(sun.sun_path, 0600) == -1 || listen(fd, 128) == -1) {
		saved = errno;
		umask(mask);
		close(fd);
		errno = saved;
		return (-1);
	}
	umask(mask);
	return (fd);
}
