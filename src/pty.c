/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * The image's pseudo-terminal: a new one per image run, its termios set so
 * that no keystroke stops or kills the image by accident.
 */

#include "config.h"

#include <sys/ioctl.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "lispd.h"

/* Open a master (non-blocking, close-on-exec); the slave's name goes in name. */
int
pty_open(const struct winsize *ws, char *name, size_t len)
{
	int	fd;

	fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1)
		return (-1);
	if (grantpt(fd) == -1 || unlockpt(fd) == -1 ||
	    ptsname_r(fd, name, len) != 0 ||
	    ioctl(fd, TIOCSWINSZ, ws) == -1) {
		close(fd);
		return (-1);
	}
	return (fd);
}

/*
 * ^\ (VQUIT) would kill SBCL with SIGQUIT and ^Z (VSUSP) would stop it in an
 * orphaned process group; C-c (VINTR) stays, to interrupt the Lisp.
 */
static int
pty_termios(int fd)
{
	struct termios	tio;

	if (tcgetattr(fd, &tio) == -1)
		return (-1);
	tio.c_cc[VQUIT] = _POSIX_VDISABLE;
	tio.c_cc[VSUSP] = _POSIX_VDISABLE;
	tio.c_iflag |= IUTF8;
	return (tcsetattr(fd, TCSANOW, &tio));
}

static void
pty_child(const char *slave, char *const *argv, int ctlfd, int swankfd,
    const char *name, const char *cwd, int errfd)
{
	sigset_t	set;
	char		num[16];
	int		fd, sig, err, first = 3;

	/* Out of the way of the fds the image is given. */
	if ((errfd = fcntl(errfd, F_DUPFD_CLOEXEC, SWANK_FD + 1)) == -1)
		goto fail;
	if (ctlfd != -1 &&
	    (ctlfd = fcntl(ctlfd, F_DUPFD_CLOEXEC, SWANK_FD + 1)) == -1)
		goto fail;
	if (swankfd != -1 &&
	    (swankfd = fcntl(swankfd, F_DUPFD_CLOEXEC, SWANK_FD + 1)) == -1)
		goto fail;
	if (setsid() == -1)
		goto fail;
	if ((fd = open(slave, O_RDWR)) == -1)
		goto fail;
	if (ioctl(fd, TIOCSCTTY, 0) == -1 || pty_termios(fd) == -1)
		goto fail;
	if (dup2(fd, 0) == -1 || dup2(fd, 1) == -1 || dup2(fd, 2) == -1)
		goto fail;
	if (fd > 2)
		close(fd);
	/* The caller's directory: the server keeps none (lispd start). */
	if (cwd != NULL && chdir(cwd) == -1)
		dprintf(STDERR_FILENO, "lispd: cannot enter %s: %s; the image "
		    "starts in the server's directory\r\n", cwd,
		    strerror(errno));

	/* The control channel, for the bootstrap (src/lispd.lisp). */
	if (ctlfd != -1) {
		if (dup2(ctlfd, CTL_FD) == -1)
			goto fail;
		snprintf(num, sizeof num, "%d", CTL_FD);
		if (setenv("LISPD_CONTROL_FD", num, 1) == -1 ||
		    setenv("LISPD_SESSION", name, 1) == -1)
			goto fail;
		first = CTL_FD + 1;
	}
	/* The swank socket, listening (non-blocking), for the bootstrap. */
	if (ctlfd != -1 && swankfd != -1) {
		if (dup2(swankfd, SWANK_FD) == -1)
			goto fail;
		snprintf(num, sizeof num, "%d", SWANK_FD);
		if (setenv("LISPD_SWANK_FD", num, 1) == -1)
			goto fail;
		first = SWANK_FD + 1;
	}

	/* Nothing else of lispd's reaches the image: fds, signal state. */
	if (close_range(first, ~0U, CLOSE_RANGE_CLOEXEC) == -1) {
		for (fd = first; fd < 4096; fd++)
			if (fd != errfd)
				close(fd);
	}
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);

	execvp(argv[0], argv);
fail:
	err = errno;
	(void)!write(errfd, &err, sizeof err);
	_exit(EXIT_NOTFOUND);
}

/*
 * Fork the image on the slave, in cwd (NULL: ours). Returns its pid, or -1
 * with *err set to the
 * errno of the failed exec (reported through a close-on-exec pipe, so a
 * command that cannot run is an error here and not a quick exit later).
 */
pid_t
pty_spawn(int master, const char *slave, char *const *argv, int ctlfd,
    int swankfd, const char *name, const char *cwd, int *err)
{
	pid_t	pid;
	int	p[2], status;
	ssize_t	n;

	*err = 0;
	if (pipe2(p, O_CLOEXEC) == -1) {
		*err = errno;
		return (-1);
	}
	switch (pid = fork()) {
	case -1:
		*err = errno;
		close(p[0]);
		close(p[1]);
		return (-1);
	case 0:
		close(master);
		close(p[0]);
		pty_child(slave, argv, ctlfd, swankfd, name, cwd, p[1]);
		/* NOTREACHED */
	}
	close(p[1]);
	do
		n = read(p[0], err, sizeof *err);
	while (n == -1 && errno == EINTR);
	close(p[0]);
	if (n == (ssize_t)sizeof *err) {
		while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
			;
		return (-1);
	}
	*err = 0;
	return (pid);
}

int
pty_resize(int fd, u_short rows, u_short cols)
{
	struct winsize	ws;

	memset(&ws, 0, sizeof ws);
	ws.ws_row = rows;
	ws.ws_col = cols;
	return (ioctl(fd, TIOCSWINSZ, &ws));
}

/* /proc/PID/stat, opened to be read with pty_stat(); -1 if it is not. */
int
pty_stat_open(pid_t pid)
{
	char	 path[64];

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	return (open(path, O_RDONLY | O_CLOEXEC));
}

/*
 * The fields of the /proc/PID/stat open on fd after the command's name,
 * which may hold anything but the last ')': "S ppid pgrp sid tty_nr
 * tpgid ...", in buf.  NULL if it cannot be read.
 */
const char *
pty_stat(int fd, char *buf, size_t size)
{
	ssize_t	 n;
	char	*p;

	if (fd == -1 || (n = pread(fd, buf, size - 1, 0)) <= 0)
		return (NULL);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ' || p[2] == '\0')
		return (NULL);
	return (p + 2);
}

/* Is the process stopped (SIGSTOP, a debugger)? From /proc/PID/stat. */
int
pty_stopped(pid_t pid)
{
	char		 buf[512];
	const char	*p;
	int		 fd;

	fd = pty_stat_open(pid);
	p = pty_stat(fd, buf, sizeof buf);
	if (fd != -1)
		close(fd);
	return (p != NULL && (p[0] == 'T' || p[0] == 't'));
}

/* The VEOF character while the line discipline is canonical, else -1. */
int
pty_eof(int fd)
{
	struct termios	tio;

	if (tcgetattr(fd, &tio) == -1 || !(tio.c_lflag & ICANON) ||
	    tio.c_cc[VEOF] == _POSIX_VDISABLE)
		return (-1);
	return (tio.c_cc[VEOF]);
}

/* A slave fd of the master's own, not a controlling tty; -1 if none. */
int
pty_peer(int fd)
{
	char	name[128];
	int	sfd;

	sfd = ioctl(fd, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK |
	    O_CLOEXEC);
	if (sfd == -1 && ptsname_r(fd, name, sizeof name) == 0)
		sfd = open(name, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	return (sfd);
}
