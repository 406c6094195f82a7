/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * lispd log: the console's scrollback, and then what follows if -f.
 */

#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "lispd.h"

/*
 * lispd log: the console's recent output to stdout, as it is; with follow,
 * then what the image prints, until it exits or we are stopped.
 */
static int
cmd_log_read(const struct dir *d, const char *name, uint32_t history, int follow)
{
	struct client		 c;
	struct proto_msg	 m;
	struct proto_attach	 a;
	struct client_end	 end;
	uint8_t			 msg[32];
	uint64_t		 dropped;
	size_t			 len;

	client_connect(&c, d, name);
	memset(&a, 0, sizeof a);
	a.flags = PROTO_ATTACH_LOG | (follow ? 0 : PROTO_ATTACH_ONCE);
	a.replay = history;
	len = proto_pack_attach(msg, sizeof msg, &a);
	if (client_send(&c, PROTO_ATTACH, msg, len) == -1)
		die(EXIT_FAIL, "log: lost session %s: %s", name,
		    strerror(errno));
	while (client_recv(&c, &m)) {
		if (client_ended(&c, &m, &end)) {
			if (!end.exited)
				die(end.status, "log: %s", end.text);
			warnmsg("log: %s: the image %s", name, end.text);
			client_close(&c);
			return (EXIT_OK);
		}
		switch (m.type) {
		case PROTO_OUTPUT:
			if (client_write_all(STDOUT_FILENO, m.data, m.len) == -1)
				die(EXIT_FAIL, "log: cannot write stdout: %s",
				    strerror(errno));
			break;
		case PROTO_DROPPED:
			if (proto_unpack_u64(&m, &dropped) == 0)
				warnmsg("log: %s: %llu bytes of output were "
				    "dropped while this reader was behind",
				    name, (unsigned long long)dropped);
			break;
		case PROTO_NOTICE:
			warnmsg("log: %s: %.*s", name, (int)m.len, m.data);
			break;
		case PROTO_OK:
			client_close(&c);
			return (EXIT_OK);
		}
	}
	die(EXIT_FAIL, "log: lost session %s: its server went away", name);
}

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
	return (cmd_log_read(&d, name, lines >= 0 ? (uint32_t)lines : UINT32_MAX,
	    follow));
}
