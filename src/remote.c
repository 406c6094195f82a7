/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * [user@]host:NAME: a command for a session on another host runs the
 * remote lispd through ssh ($LISPD_SSH, else ssh; $LISPD_REMOTE, else
 * lispd). Forms and text go on ssh's stdin, never into the remote shell's
 * command line (a login shell may be csh or fish): what the command line
 * carries is fixed words, numbers and session names, which are made of
 * [A-Za-z0-9._-] and need no quoting in any shell.
 */

#include "config.h"

#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lispd.h"

#define REMOTE_ARGS_MAX	64

static volatile sig_atomic_t remote_sig;

/* C-c reaches ssh too; we wait for it, and remember. */
static void
remote_signal(int sig)
{
	remote_sig = sig;
}

/*
 * Split target into host and name: 1 if it names a remote session, 0 if
 * it is a plain name. A host that could pass for an ssh option is refused.
 */
int
remote_split(const char *target, char **host, const char **name)
{
	const char	*colon = strrchr(target, ':');
	char		*at;

	if (colon == NULL)
		return (0);
	if (colon == target || *target == '-')
		die(EXIT_USAGE, "bad host in '%s': write [user@]host:NAME",
		    target);
	*host = xstrdup(target);
	(*host)[colon - target] = '\0';
	if ((at = strrchr(*host, '@')) != NULL && (at[1] == '-' ||
	    at[1] == '\0'))
		die(EXIT_USAGE, "bad host in '%s': write [user@]host:NAME, "
		    "with a host not beginning with -", target);
	*name = colon + 1;
	return (1);
}

/* Words of a command from the environment, split on blanks. */
static size_t
remote_words(const char *var, const char *dflt, char **v, size_t n, size_t max)
{
	const char	*s = getenv(var);
	char		*copy, *w, *last;

	if (s == NULL || *s == '\0')
		s = dflt;
	copy = xstrdup(s);
	for (w = strtok_r(copy, " \t", &last); w != NULL;
	    w = strtok_r(NULL, " \t", &last)) {
		if (n == max - 1)
			die(EXIT_USAGE, "%s has too many words", var);
		v[n++] = w;
	}
	return (n);
}

/* Is s safe in any remote shell's command line, unquoted? */
int
remote_safe(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("._-+=%/:,@", *s) != NULL)
			continue;
		return (0);
	}
	return (1);
}

/*
 * Run the remote lispd with args: exec'd into ssh when input is NULL (its
 * stdio is ours; tty asks for a terminal, ssh -t), else ssh is forked,
 * input written to its stdin, and its status returned as a shell would
 * give it. C-c reaches ssh from the terminal; we wait for it.
 */
int
remote_run(const char *host, char *const *args, int tty, const char *input,
    size_t len)
{
	char			*v[REMOTE_ARGS_MAX];
	struct sigaction	 sa, oint, oquit;
	size_t			 n, i;
	pid_t			 pid;
	int			 p[2], status;

	n = remote_words("LISPD_SSH", "ssh", v, 0, REMOTE_ARGS_MAX);
	if (tty)
		v[n++] = (char *)"-t";
	v[n++] = (char *)host;
	n = remote_words("LISPD_REMOTE", "lispd", v, n, REMOTE_ARGS_MAX);
	for (i = 0; args[i] != NULL; i++) {
		if (n == REMOTE_ARGS_MAX - 1)
			die(EXIT_USAGE, "too many arguments for %s", host);
		v[n++] = args[i];
	}
	v[n] = NULL;

	if (input == NULL) {
		execvp(v[0], v);
		die(EXIT_NOTFOUND, "cannot run %s: %s (set LISPD_SSH)", v[0],
		    strerror(errno));
	}

	if (pipe(p) == -1)
		die(EXIT_FAIL, "pipe: %s", strerror(errno));
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = remote_signal;
	sigaction(SIGINT, &sa, &oint);
	sigaction(SIGQUIT, &sa, &oquit);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	switch (pid = fork()) {
	case -1:
		die(EXIT_FAIL, "fork: %s", strerror(errno));
	case 0:
		sigaction(SIGINT, &oint, NULL);
		sigaction(SIGQUIT, &oquit, NULL);
		dup2(p[0], STDIN_FILENO);
		close(p[0]);
		close(p[1]);
		execvp(v[0], v);
		fprintf(stderr, "lispd: cannot run %s: %s (set LISPD_SSH)\n",
		    v[0], strerror(errno));
		_exit(EXIT_NOTFOUND);
	}
	close(p[0]);
	(void)client_write_all(p[1], input, len);	/* ssh may be gone */
	close(p[1]);
	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR)
			die(EXIT_FAIL, "waitpid: %s", strerror(errno));
	}
	/* ssh says 255 when C-c ends it: the status is the interrupt's. */
	if (remote_sig != 0)
		return (128 + remote_sig);
	return (client_exit_status(status));
}
