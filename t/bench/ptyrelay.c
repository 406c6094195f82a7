/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * ptyrelay - the "bare pty" baseline
 *
 *	ptyrelay [--] command [arg ...]
 *
 * Runs command on a new pty (own session, pty as controlling terminal)
 * and copies stdin to the pty and the pty to stdout with a plain
 * poll/read/write loop.  This is what any terminal multiplexer has to
 * do at least, minus the socket hop, so it is the physical limit.
 *
 * If stdin is a terminal it is put in raw mode and its window size is
 * given to the pty.  Exits with the command's status.
 */

#define _XOPEN_SOURCE	700

#include <sys/ioctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "benchpty.h"

static struct termios	 saved;
static int		 restore;

static void
usage(void)
{
	fprintf(stderr, "usage: ptyrelay [--] command [arg ...]\n");
	exit(2);
}

static void
cooked(void)
{
	if (restore)
		tcsetattr(STDIN_FILENO, TCSADRAIN, &saved);
	restore = 0;
}

int
main(int argc, char *argv[])
{
	struct pollfd	 pfd[2];
	struct winsize	 ws, *wsp = NULL;
	struct termios	 t;
	char		 buf[65536];
	ssize_t		 n;
	pid_t		 pid;
	int		 m, s, status, intty;

	if (argc > 1 && strcmp(argv[1], "--") == 0) {
		argc--;
		argv++;
	}
	if (argc < 2)
		usage();

	intty = isatty(STDIN_FILENO);
	if (intty && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
		wsp = &ws;
	if (pty_open(&m, &s, wsp) == -1)
		err(1, "pty");
	if (intty && tcgetattr(STDIN_FILENO, &saved) == 0) {
		t = saved;
		tty_makeraw(&t);
		if (tcsetattr(STDIN_FILENO, TCSADRAIN, &t) == -1)
			err(1, "tcsetattr");
		restore = 1;
	}
	signal(SIGPIPE, SIG_IGN);
	pid = pty_spawn(m, s, 1, argv + 1);
	close(s);

	pfd[0].fd = STDIN_FILENO;
	pfd[0].events = POLLIN;
	pfd[1].fd = m;
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			cooked();
			err(1, "poll");
		}
		if (pfd[1].revents != 0) {
			/* EIO: the command and all its children are gone. */
			if ((n = read(m, buf, sizeof(buf))) == -1 &&
			    errno == EINTR)
				continue;
			if (n <= 0 || writeall(STDOUT_FILENO, buf, n) == -1)
				break;
		}
		if (pfd[0].revents != 0) {
			if ((n = read(STDIN_FILENO, buf, sizeof(buf))) == -1 &&
			    errno == EINTR)
				continue;
			if (n <= 0) {
				/* Our terminal hung up: so does the pty. */
				if (intty)
					break;
				pfd[0].fd = -1;
			} else if (writeall(m, buf, n) == -1)
				break;
		}
	}
	cooked();
	close(m);
	kill(-pid, SIGHUP);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			err(1, "waitpid");
	if (WIFSIGNALED(status))
		return (128 + WTERMSIG(status));
	return (WEXITSTATUS(status));
}
