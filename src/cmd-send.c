/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * lispd send, stop, kill and save: text typed into the console, the image
 * ended, and its core saved, each answered by the server.
 */

#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lispd.h"

static char *
read_all(int fd, size_t max, size_t *lenp)
{
	char	*buf = xmalloc(max + 1);
	size_t	 len = 0;
	ssize_t	 n;

	for (;;) {
		n = read(fd, buf + len, max + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die(EXIT_FAIL, "send: reading stdin: %s",
			    strerror(errno));
		if (n == 0)
			break;
		len += n;
		if (len > max)
			die(EXIT_USAGE, "send: more than %zu bytes on stdin: "
			    "send it in parts", max);
	}
	*lenp = len;
	return (buf);
}

/* Wait for the server's answer; a notice is shown, OK or EXIT ends it. */
static int
await_reply(struct client *c)
{
	struct proto_msg	m;
	struct client_end	end;

	while (client_recv(c, &m)) {
		if (client_ended(c, &m, &end)) {
			if (!end.exited) {
				fprintf(stderr, "lispd: %s\n", end.text);
				return (end.status);
			}
			fprintf(stderr, "lispd: %s: the image %s\n", c->name,
			    end.text);
			return (EXIT_OK);
		}
		switch (m.type) {
		case PROTO_OK:
			return (EXIT_OK);
		case PROTO_NOTICE:
			fprintf(stderr, "lispd: %s: %.*s\n", c->name,
			    (int)m.len, m.data);
			break;
		}
	}
	die(EXIT_FAIL, "session %s closed the connection without an answer",
	    c->name);
}

/* The arguments as one line of text, with a newline unless -n. */
static char *
send_text(int argc, char **argv, int newline, size_t *lenp)
{
	char	*text;
	size_t	 len = 0;
	int	 i;

	for (i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	text = xcalloc(1, len + 1);
	for (i = 0; i < argc; i++) {
		if (i != 0)
			strcat(text, " ");
		strcat(text, argv[i]);
	}
	if (newline)
		strcat(text, "\n");
	len = strlen(text);
	if (len > PROTO_MAXLEN)
		die(EXIT_USAGE, "send: the text is %zu bytes, more than the %d "
		    "one send takes: send it in parts", len, PROTO_MAXLEN);
	*lenp = len;
	return (text);
}

int
cmd_send(const struct cmd_entry *self, int argc, char **argv)
{
	struct client	 c;
	struct dir	 d;
	const char	*name, *rname;
	char		*text, *host;
	size_t		 len = 0;
	int		 ch, newline = 1, status, in;

	while ((ch = command_getopt(self, argc, argv)) != -1) {
		if (ch == 'n')
			newline = 0;
	}
	argc -= optind;
	argv += optind;
	name = command_name(self, &argc, &argv);
	if (argc == 0)
		usage_error(self->name, "no text: give it as arguments, or - "
		    "to read stdin");
	in = argc == 1 && strcmp(argv[0], "-") == 0;
	if ((host = command_remote(self, name, &rname)) != NULL) {
		/* The text goes on ssh's stdin, never in the command line. */
		if (in)
			return (command_forward(self, host, rname, NULL, 0,
			    NULL, 0));
		text = send_text(argc, argv, newline, &len);
		return (command_forward(self, host, rname, NULL, 0, text,
		    len));
	}
	dir_open(&d, opt_dir);
	dir_check_name(&d, name);
	/* First: a re-run as the server's binary must find stdin unread. */
	client_connect(&c, &d, name);
	if (in)
		text = read_all(STDIN_FILENO, PROTO_MAXLEN, &len);
	else
		text = send_text(argc, argv, newline, &len);
	if (client_send(&c, PROTO_SEND, text, len) == -1)
		die(EXIT_FAIL, "send: %s", strerror(errno));
	status = await_reply(&c);
	client_close(&c);
	free(text);
	return (status);
}

/* stop, kill or save (PROTO_STOP, PROTO_KILL or PROTO_SAVE) */
static int
stop_command(const struct cmd_entry *self, int argc, char **argv,
    uint32_t type)
{
	const char	*cmd = self->name;
	struct client	 c;
	struct dir	 d;
	struct command_args a = { .n = 0 };
	const char	*name, *rname;
	char		*host;
	uint8_t		 msg[8];
	size_t		 n;
	long		 timeout = DEFAULT_STOP_TIMEOUT;
	int		 ch, status, timeset = 0, save = 0;

	while ((ch = command_getopt(self, argc, argv)) != -1) {
		if (ch == 't') {
			timeout = number(cmd, "-t", optarg, 0, 86400);
			timeset = 1;
		} else if (ch == 'W')
			save = 1;
	}
	name = command_only_name(self, argc, argv);
	if ((host = command_remote(self, name, &rname)) != NULL) {
		if (timeset)
			command_arg_number(&a, "-t", timeout);
		if (save)
			command_arg(&a, "-W");
		return (command_forward(self, host, rname, &a, 0, NULL, 0));
	}
	dir_open(&d, opt_dir);
	dir_check_name(&d, name);
	client_connect(&c, &d, name);
	n = proto_pack_u32(msg, sizeof msg, (uint32_t)timeout);
	if (save)
		n += proto_pack_u32(msg + n, sizeof msg - n, PROTO_STOP_SAVE);
	if (client_send(&c, type, msg, type == PROTO_KILL ? 0 : n) == -1)
		die(EXIT_FAIL, "%s: %s", cmd, strerror(errno));
	status = await_reply(&c);
	client_close(&c);
	return (status);
}

int
cmd_stop(const struct cmd_entry *self, int argc, char **argv)
{
	return (stop_command(self, argc, argv, PROTO_STOP));
}

int
cmd_kill(const struct cmd_entry *self, int argc, char **argv)
{
	return (stop_command(self, argc, argv, PROTO_KILL));
}

int
cmd_save(const struct cmd_entry *self, int argc, char **argv)
{
	return (stop_command(self, argc, argv, PROTO_SAVE));
}
