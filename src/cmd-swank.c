/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * lispd swank: stdin and stdout joined to the image's swank, and the
 * cache of swank sources kept for editors that come through ssh.
 */

#include "config.h"

#include <stdlib.h>
#include <unistd.h>

#include "lispd.h"

int
cmd_swank(const struct cmd_entry *self, int argc, char **argv)
{
	struct dir	 d;
	struct command_args a = { .n = 0 };
	const char	*name, *rname, *loader = NULL, *find = NULL, *put = NULL;
	char		*host;
	int		 ch, relay = 1;

	while ((ch = command_getopt(self, argc, argv)) != -1) {
		switch (ch) {
		case 'c':
			find = optarg;
			break;
		case 'C':
			put = optarg;
			break;
		case 'n':
			relay = 0;
			break;
		case 'w':
			loader = optarg;
			break;
		}
	}
	argc -= optind;
	argv += optind;
	if (find != NULL || put != NULL) {
		/* The cache of swank sources: no session in it. */
		if (argc > 0 || loader != NULL || !relay ||
		    (find != NULL && put != NULL))
			usage_error(self->name, "-c and -C take a version, and "
			    "nothing else");
		return (find != NULL ? swank_cache_find(find) :
		    swank_cache_put(put));
	}
	name = command_name(self, &argc, &argv);
	if (argc > 0)
		usage_error(self->name, "unexpected argument '%s'", argv[0]);
	if (!relay && loader == NULL)
		usage_error(self->name, "-n is for -w: alone it would do "
		    "nothing");
	if ((host = command_remote(self, name, &rname)) != NULL) {
		if (loader != NULL) {
			if (!remote_safe(loader))
				die(EXIT_USAGE, "swank: -w %s is not safe in a "
				    "remote command line: a path of letters, "
				    "digits and ._-+=%%/:,@ only", loader);
			command_arg(&a, "-w");
			command_arg(&a, loader);
		}
		if (!relay)
			command_arg(&a, "-n");
		return (command_forward(self, host, rname, &a, 0, NULL, 0));
	}
	dir_open(&d, opt_dir);
	dir_check_name(&d, name);
	return (swank_main(&d, name, loader, relay));
}
