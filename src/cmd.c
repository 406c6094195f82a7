/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * What the commands share: their errors, numbers and getopt (-S and -s
 * are accepted after any command, as before it), how one finds its
 * session, here or [user@]host:NAME on another host, and how it runs
 * there.
 */

#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lispd.h"

/* The options, and the command, -s NAME or NAME, "-" and the NULL. */
#define COMMAND_FORWARD_MAX	(nitems(((struct command_args *)0)->v) + 5)

const char	*opt_dir;	/* -S */
const char	*opt_name;	/* -s */

void
usage_error(const char *cmd, const char *fmt, ...)
{
	va_list	ap;

	/* NULL: about lispd's own command line, said once. */
	fputs("lispd: ", stderr);
	if (cmd != NULL)
		fprintf(stderr, "%s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": see 'lispd --help'\n");
	exit(EXIT_USAGE);
}

/* A size in bytes, with K, M or G after it if wanted; 0 means never. */
long long
size_number(const char *cmd, const char *what, const char *s)
{
	char		*end;
	long long	 v;

	errno = 0;
	v = strtoll(s, &end, 10);
	switch (*end) {
	case 'K': case 'k': v *= 1024; end++; break;
	case 'M': case 'm': v *= 1024 * 1024; end++; break;
	case 'G': case 'g': v *= 1024 * 1024 * 1024; end++; break;
	}
	if (*s == '\0' || *end != '\0' || errno != 0 || v < 0 ||
	    (v > 0 && v < 1024))
		usage_error(cmd, "%s must be 0 (never) or a size of at least "
		    "1024 bytes, with K, M or G if wanted, not '%s'", what, s);
	return (v);
}

long
number(const char *cmd, const char *what, const char *s, long min, long max)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		usage_error(cmd, "%s must be a number from %ld to %ld, not '%s'",
		    what, min, max, s);
	return (v);
}

/*
 * getopt over a command's arguments, with the options in its table entry;
 * -S and -s are common to all. A long option is there for the commands
 * that have its short one.
 */
int
command_getopt(const struct cmd_entry *self, int argc, char **argv)
{
	static const struct option all[] = {
		{ "package", required_argument, NULL, 'p' },
		{ "with-bootstrap", no_argument, NULL, 'B' },
		{ "no-swank", no_argument, NULL, 'N' },
		{ "swank", required_argument, NULL, 'w' },
		{ "notify-fd", required_argument, NULL, 'F' },
		{ "stop-timeout", required_argument, NULL, 'T' },
		{ "restart", required_argument, NULL, 'r' },
		{ "log", required_argument, NULL, 'l' },
		{ "log-size", required_argument, NULL, 'z' },
		{ "log-keep", required_argument, NULL, 'k' },
		{ "log-time", no_argument, NULL, 'm' },
		{ "state", required_argument, NULL, 'D' },
		{ "keep-cores", required_argument, NULL, 'K' },
		{ "resume", no_argument, NULL, 'u' },
		{ "save-on-term", no_argument, NULL, 'U' },
		{ "save", no_argument, NULL, 'W' },
		{ "timeout", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
	};
	struct option	longopts[nitems(all) + 1];
	const char	*cmd = self->name, *optstring = self->getopt;
	char		opts[64];
	size_t		i, n = 0;
	int		ch;

	snprintf(opts, sizeof opts, "+:S:s:%s", optstring);
	memset(longopts, 0, sizeof longopts);
	for (i = 0; i < nitems(all); i++) {
		if (strchr(optstring, all[i].val) != NULL)
			longopts[n++] = all[i];
	}
	for (;;) {
		ch = getopt_long(argc, argv, opts, longopts, NULL);
		switch (ch) {
		case 'S':
			opt_dir = optarg;
			continue;
		case 's':
			opt_name = optarg;
			continue;
		case ':':
			usage_error(cmd, "-%c needs an argument", optopt);
		case '?':
			if (optopt != 0)
				usage_error(cmd, "unknown option -%c", optopt);
			usage_error(cmd, "unknown option %s", argv[optind - 1]);
		}
		return (ch);
	}
}

/*
 * The session named by -s, or the first argument, or "default". The first
 * argument is not a name for a command whose arguments are something else
 * (CMD_NAMEOPT), nor when it is all the text a CMD_STDIN command has.
 */
const char *
command_name(const struct cmd_entry *self, int *argc, char ***argv)
{
	if (opt_name != NULL)
		return (opt_name);
	if ((self->flags & CMD_NAMEOPT) == 0 && *argc > 0 &&
	    ((self->flags & CMD_STDIN) == 0 || *argc > 1)) {
		(*argc)--;
		return (*(*argv)++);
	}
	return (DEFAULT_SESSION);
}

/* After the options, the session's name and nothing else. */
const char *
command_only_name(const struct cmd_entry *self, int argc, char **argv)
{
	const char	*name;

	argc -= optind;
	argv += optind;
	name = command_name(self, &argc, &argv);
	if (argc > 0)
		usage_error(self->name, "unexpected argument '%s'", argv[0]);
	return (name);
}

/*
 * A session on another host, as [user@]host:NAME: its host, or NULL (also
 * for a command that runs only here: the name is then refused as a name).
 */
char *
command_remote(const struct cmd_entry *self, const char *target,
    const char **name)
{
	char	*host;

	if ((self->flags & CMD_REMOTE) == 0 ||
	    !remote_split(target, &host, name))
		return (NULL);
	/* A leading - would be an option to the remote lispd. */
	if (**name == '\0' || **name == '-' || !remote_safe(*name))
		die(EXIT_USAGE, "bad session name in '%s': names are "
		    "[A-Za-z0-9._-]+, not beginning with -", target);
	return (host);
}

/*
 * A word for the lispd on another host: a fixed option word, or a value
 * the command checked with remote_safe.
 */
void
command_arg(struct command_args *a, const char *word)
{
	if (a->n == (int)nitems(a->v))
		fatalx("%s: too many words", __func__);
	a->v[a->n++] = word;
}

/* An option and its number, as the remote lispd reads it. */
void
command_arg_number(struct command_args *a, const char *opt, long v)
{
	if (a->nnum == (int)nitems(a->num))
		fatalx("%s: too many numbers", __func__);
	snprintf(a->num[a->nnum], sizeof a->num[0], "%ld", v);
	command_arg(a, opt);
	command_arg(a, a->num[a->nnum++]);
}

/*
 * Run the command on host as "lispd CMD [-s NAME] args [NAME] [-]" through
 * ssh (remote.c): exec'd, or fed input on its stdin if not NULL. Only
 * words no shell can take for anything else reach the remote shell's
 * command line: fixed option words, numbers, values the command checked
 * and the name command_remote checked, checked again here all together.
 * Forms and text (CMD_STDIN) go on stdin and "-" tells the remote so.
 */
int
command_forward(const struct cmd_entry *self, const char *host,
    const char *name, const struct command_args *args, int tty,
    const char *input, size_t len)
{
	char	*v[COMMAND_FORWARD_MAX];
	int	 n = 0, i;

	v[n++] = (char *)self->name;
	if (name != NULL && (self->flags & CMD_NAMEOPT)) {
		v[n++] = (char *)"-s";
		v[n++] = (char *)name;
	}
	for (i = 0; args != NULL && i < args->n; i++)
		v[n++] = (char *)args->v[i];
	if (name != NULL && (self->flags & CMD_NAMEOPT) == 0)
		v[n++] = (char *)name;
	if (self->flags & CMD_STDIN)
		v[n++] = (char *)"-";
	v[n] = NULL;
	for (i = 0; i < n; i++) {
		/* An empty word would vanish: the next would take its place. */
		if (*v[i] == '\0')
			die(EXIT_USAGE, "%s: an empty argument%s%s cannot "
			    "reach %s (ssh would drop it): give it a value",
			    self->name, i > 0 ? " after " : "",
			    i > 0 ? v[i - 1] : "", host);
		if (!remote_safe(v[i]))
			die(EXIT_USAGE, "%s: '%s' is not safe in a remote "
			    "command line", self->name, v[i]);
	}
	return (remote_run(host, v, tty, input, len));
}
