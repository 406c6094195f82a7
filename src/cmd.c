/*
 * What the commands share: their errors, numbers and getopt (-S and -s
 * are accepted after any command, as before it), and how one finds its
 * session, here or [user@]host:NAME on another host.
 */

#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lispd.h"

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

/* The session named by -s, or the first argument, or "default". */
const char *
command_name(int *argc, char ***argv, int positional)
{
	if (opt_name != NULL)
		return (opt_name);
	if (positional && *argc > 0) {
		(*argc)--;
		return (*(*argv)++);
	}
	return (DEFAULT_SESSION);
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

void
radd(struct rargs *a, const char *s)
{
	a->v[a->n++] = (char *)s;
	a->v[a->n] = NULL;
}

void
radd_num(struct rargs *a, const char *opt, long v)
{
	char	*buf = a->num[a->n % 2];

	snprintf(buf, sizeof a->num[0], "%ld", v);
	radd(a, opt);
	radd(a, buf);
}
