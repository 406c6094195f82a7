/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * lispd log: the console's scrollback, and then what follows if -f.
 */

#include "config.h"

#include <stdint.h>
#include <unistd.h>

#include "lispd.h"

int
cmd_log(const struct cmd_entry *self, int argc, char **argv)
{
	struct dir	 d;
	struct command_args a = { .n = 0 };
	const char	*name, *rname;
	char		*host;
	long		 lines = -1;
	int		 ch, follow = 0;

	while ((ch = command_getopt(self, argc, argv)) != -1) {
		switch (ch) {
		case 'f':
			follow = 1;
			break;
		case 'n':
			lines = number(self->name, "-n", optarg, 0, 100000000);
			break;
		}
	}
	name = command_only_name(self, argc, argv);
	if ((host = command_remote(self, name, &rname)) != NULL) {
		if (follow)
			command_arg(&a, "-f");
		if (lines >= 0)
			command_arg_number(&a, "-n", lines);
		return (command_forward(self, host, rname, &a, 0, NULL, 0));
	}
	dir_open(&d, opt_dir);
	dir_check_name(&d, name);
	return (attach_log(&d, name, lines >= 0 ? (uint32_t)lines : UINT32_MAX,
	    follow));
}
