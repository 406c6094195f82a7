/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * lispd eval: forms evaluated in the image (eval.c), or on another host
 * with the forms on ssh's stdin.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lispd.h"

int
cmd_eval(const struct cmd_entry *self, int argc, char **argv)
{
	struct eval_opts o = { "", 0, 0, 0 };
	struct dir	 d;
	struct command_args a = { .n = 0 };
	const char	*name, *rname;
	char		*host, *text;
	size_t		 len = 0;
	int		 ch, i;

	while ((ch = command_getopt(self, argc, argv)) != -1) {
		switch (ch) {
		case 'p':
			o.package = optarg;
			break;
		case 't':
			o.timeout = number(self->name, "--timeout", optarg, 1,
			    31536000);
			break;
		case 'v':
			o.verbose = 1;
			break;
		}
	}
	argc -= optind;
	argv += optind;
	name = command_name(self, &argc, &argv);
	if (argc == 0)
		usage_error(self->name, "no forms: give them as arguments, or "
		    "- to read them from stdin");
	if ((host = command_remote(self, name, &rname)) != NULL) {
		/* The forms go on ssh's stdin, never in the command line. */
		if (*o.package != '\0') {
			if (!remote_safe(o.package))
				die(EXIT_USAGE, "eval: package name '%s' is not "
				    "safe in a remote command line: use its "
				    "plain name, or (in-package ...) among the "
				    "forms", o.package);
			command_arg(&a, "-p");
			command_arg(&a, o.package);
		}
		if (o.timeout > 0)
			command_arg_number(&a, "-t", o.timeout);
		if (o.verbose)
			command_arg(&a, "-v");
		if (argc == 1 && strcmp(argv[0], "-") == 0)
			return (command_forward(self, host, rname, &a, 0, NULL,
			    0));
		for (i = 0; i < argc; i++)
			len += strlen(argv[i]) + 1;
		text = xcalloc(1, len + 1);
		for (i = 0; i < argc; i++) {
			strcat(text, argv[i]);
			strcat(text, "\n");
		}
		return (command_forward(self, host, rname, &a, 0, text, len));
	}
	dir_open(&d, opt_dir);
	dir_check_name(&d, name);
	return (eval_main(&d, name, &o, argv, argc));
}
