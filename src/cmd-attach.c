/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * lispd attach: the terminal joined to the console (attach.c); lispd
 * alone attaches to "default", starting it first.
 */

#include "config.h"

#include <errno.h>
#include <unistd.h>

#include "lispd.h"

/* autostart: lispd alone, which starts the session if it is not there. */
static int
attach_command(const struct cmd_entry *self, int argc, char **argv,
    int autostart)
{
	struct attach_opts	 o = { 0, 0, DEFAULT_DETACH, -1, 0 };
	struct dir		 d;
	struct command_args	 a = { .n = 0 };
	const char		*name, *rname;
	char			*host;
	int			 ch, fd, lockfd, keyset = 0;

	while ((ch = command_getopt(self, argc, argv)) != -1) {
		switch (ch) {
		case 'P':
			o.piped = 1;
			break;
		case 'r':
			o.readonly = 1;
			break;
		case 'R':
			o.relay = 1;
			break;
		case 'e':
			o.detach = optarg;
			keyset = 1;
			break;
		case 'n':
			o.history = number(self->name, "-n", optarg, 0,
			    1000000);
			break;
		}
	}
	name = command_only_name(self, argc, argv);
	if (!autostart && (host = command_remote(self, name, &rname)) != NULL) {
		if (o.readonly)
			command_arg(&a, "-r");
		if (o.relay)
			command_arg(&a, "-R");
		if (o.piped)
			command_arg(&a, "-P");
		if (keyset) {
			if (!remote_safe(o.detach))
				die(EXIT_USAGE, "detach key '%s' is not safe in a "
				    "remote command line: use C-x with a letter "
				    "or digit, M-x or F1..F12", o.detach);
			command_arg(&a, "-e");
			command_arg(&a, o.detach);
		}
		if (o.history >= 0)
			command_arg_number(&a, "-n", o.history);
		return (command_forward(self, host, rname, &a, !o.piped, NULL,
		    0));
	}
	dir_open(&d, opt_dir);
	dir_check_name(&d, name);
	if (autostart) {
		if ((fd = dir_connect(&d, name, ".sock")) != -1)
			close(fd);
		else if (errno == ENOENT || errno == ECONNREFUSED) {
			/* Lost a race to another start: attach to its image. */
			if ((lockfd = dir_lock(&d, name)) != -1)
				start_session(&d, name, NULL,
				    DEFAULT_SCROLLBACK, 0, 0, lockfd);
		}
	}
	return (attach_main(&d, name, &o));
}

int
cmd_attach(const struct cmd_entry *self, int argc, char **argv)
{
	return (attach_command(self, argc, argv, 0));
}

int
cmd_attach_default(const struct cmd_entry *self)
{
	char	*none[] = { (char *)self->name, NULL };

	return (attach_command(self, 1, none, 1));
}
