/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * lispd: the command table, and main. Each command parses its own options
 * (its entry says which); -S and -s are accepted before the command and
 * after it. The usage is made from the table, in the table's order.
 */

#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "lispd.h"

static const struct cmd_entry cmd_table[] = {
	{ "start", NULL,
	  { { "[-BNmuU] [-b bytes] [-s name] [-w swank] [--restart policy]\n"
	      "[-l file] [-z size] [-k n] [-D dir] [-K n] [-- command ...]",
	      "start a session in the background (default: sbcl)\n"
	      "and return once the image is ready" } },
	  "BD:F:K:NT:Ub:k:l:mr:uw:z:", CMD_NAMEOPT, cmd_start },
	{ "run", NULL,
	  { { "[-BNmuU] [-b bytes] [-s name] [-w swank] [--restart policy]\n"
	      "[-l file|-] [-z size] [-k n] [-D dir] [-K n] [--notify-fd n]\n"
	      "[--stop-timeout seconds] [-- command ...]",
	      "the same in the foreground, for supervisors;\n"
	      "exits with the image's status" } },
	  "BD:F:K:NT:Ub:k:l:mr:uw:z:", CMD_NAMEOPT, cmd_run },
	{ "attach", "a",
	  { { "[-PrR] [-e key] [-n lines] [name]",
	      "attach the terminal to the console; C-\\ detaches;\n"
	      "-P: through pipes, no terminal (Emacs's comint)" } },
	  "PrRe:n:", CMD_REMOTE, cmd_attach },
	{ "ls", "list",
	  { { "[[user@]host:]",
	      "list sessions" } },
	  "", CMD_REMOTE, cmd_ls },
	{ "eval", NULL,
	  { { "[-v] [-s name] [-p package] [-t seconds] form ... | -",
	      "evaluate forms in the image (- reads them from\n"
	      "stdin): output as printed, then the last values" } },
	  "p:t:v", CMD_REMOTE|CMD_NAMEOPT|CMD_STDIN, cmd_eval },
	{ "wait", NULL,
	  { { "[-t seconds] [name]",
	      "return once the image is ready" } },
	  "t:", CMD_REMOTE, cmd_wait },
	{ "ping", NULL,
	  { { "[-v] [-t seconds] [name]",
	      "a round trip to the image through its control\n"
	      "channel: exit 0 if it answers within seconds (5),\n"
	      "else 1 and why; -v: the time it took, in us" } },
	  "t:v", CMD_REMOTE, cmd_ping },
	{ "log", NULL,
	  { { "[-f] [-n lines] [name]",
	      "the console's recent output (the scrollback);\n"
	      "-f: then follow it" } },
	  "fn:", CMD_REMOTE, cmd_log },
	{ "swank", NULL,
	  { { "[-n] [-w loader] [name]",
	      "join stdin and stdout to the image's swank\n"
	      "(NAME.swank), for Emacs or any swank client;\n"
	      "-w: first have it serve the swank of loader (a\n"
	      "swank-loader.lisp), loaded in place of its own\n"
	      "if no swank client is connected; -n: only that,\n"
	      "printing the version served" },
	    { "-c version | -C version",
	      "the swank sources of that version kept for\n"
	      "editors that come through ssh: -c prints its\n"
	      "loader's path (exit 1 if none), -C keeps a tar\n"
	      "archive of them read from stdin" } },
	  "c:C:nw:", CMD_REMOTE, cmd_swank },
	{ "send", NULL,
	  { { "[-n] [name] text ... | -",
	      "type text (a newline is added unless -n; - reads\n"
	      "stdin as it is)" } },
	  "n", CMD_REMOTE|CMD_STDIN, cmd_send },
	{ "stop", NULL,
	  { { "[-W] [-t seconds] [name]",
	      "SIGTERM the image, SIGKILL after a timeout (10 s);\n"
	      "-W, --save: save its core first, and stop only\n"
	      "if it was saved" } },
	  "Wt:", CMD_REMOTE, cmd_stop },
	{ "kill", NULL,
	  { { "[name]",
	      "SIGKILL the image now" } },
	  "", CMD_REMOTE, cmd_kill },
	{ "save", NULL,
	  { { "[-t seconds] [name]",
	      "save the image's core into the state directory\n"
	      "(SBCL), the image going on; its threads get\n"
	      "seconds (10) to stop" } },
	  "t:", CMD_REMOTE, cmd_save },
};

/* After the commands: what they share, and what lispd says back. */
static const char usage_tail[] =
"options:\n"
"  -S dir     socket directory (else $LISPD_DIR, else /tmp/lispd-UID)\n"
"  -s name    session name, [A-Za-z0-9._-]+ not beginning with -\n"
"             (default \"default\")\n"
"  -b bytes   scrollback kept for attaching clients (default 65536)\n"
"  -B, --with-bootstrap  the command calls (lispd:serve) itself: wait for it\n"
"  -N, --no-swank       no swank in the image (NAME.swank says so)\n"
"  --notify-fd n        run: a newline on fd n, then close it, once the image\n"
"                       is ready (s6); READY=1 to $NOTIFY_SOCKET (systemd)\n"
"  --stop-timeout s     on SIGTERM, SIGKILL the image after s seconds (10)\n"
"  -l, --log file|-     every byte of console output to file, or stdout (run)\n"
"  -z, --log-size size  rotate the log past size (10M; 0: never)\n"
"  -k, --log-keep n     rotated logs kept: file.1 .. file.n (5)\n"
"  -m, --log-time       a timestamp at the start of each logged line\n"
"  -D, --state dir      where save keeps the cores (else $LISPD_STATE, else\n"
"                       $XDG_STATE_HOME/lispd, else ~/.local/state/lispd)\n"
"  -K, --keep-cores n   cores kept of each session (2)\n"
"  -u, --resume         start the image from the newest saved core that\n"
"                       starts (else the one before, else the command afresh),\n"
"                       each restart too; each step is said, and in ls\n"
"  -U, --save-on-term   on SIGTERM (a supervisor's stop), save a core first\n"
"  --restart policy     never, on-failure or always: run the image again\n"
"                       when it ends (backoff 1 s doubling to 60 s)\n"
"  -w, --swank path     the swank to load: a swank-loader.lisp, or a directory\n"
"                       with swank.asd (else $LISPD_SWANK, else ASDF finds it)\n"
"  -r         read-only: the server ignores this client's input\n"
"  -R         relay: keep the terminal instead of handing it to the server\n"
"  -e key     detach key, e.g. C-\\, C-], M-d, F12 (default C-\\)\n"
"  -n lines   lines of history shown on attach (default: the screen's height)\n"
"  -p, --package name   package the forms are read in (default CL-USER)\n"
"  -t, --timeout seconds  eval: interrupt it then (exit 124); wait: give up\n"
"  -v, --verbose        eval: a backtrace with an error\n"
"  -h, --help     this text;  -V, --version  the version\n"
"\n"
"output: a client more than 1 MiB behind loses output, is told how much,\n"
"and gets the newest lines again; when the image floods, reading it comes\n"
"first and clients get what the server has time for.\n"
"\n"
"remote: attach, eval, swank, log, send, stop, kill, ping and wait take\n"
"[user@]host:NAME and run there through ssh ($LISPD_SSH, else ssh; the\n"
"remote lispd is $LISPD_REMOTE, else lispd), forms and text on stdin;\n"
"ls takes [user@]host:.\n"
"\n"
"exit status: 0 ok, 1 failed, 2 usage, 3 no such session, 4 session exists,\n"
"5 protocol error, 6 unsafe socket directory, 126 command not executable,\n"
"127 command not found; attach and run: the image's status when it\n"
"exits (128+N for signal N); eval: 1 an error, 2 a form that does not read,\n"
"3 no session, no bootstrap or no control channel in the image, 124 timed\n"
"out, 130 interrupted (143 SIGTERM, 129 SIGHUP while eval - reads stdin).\n"
"Killing a server hangs up the pty and ends the image. See lispd(1).\n";

#define USAGE_HELP_COL	29	/* where what a command does is said */
#define USAGE_MORE_COL	12	/* a long synopsis's further lines */

/*
 * One form of a command: "lispd name args", the synopsis's further lines
 * under it, then what it does at USAGE_HELP_COL: on the same line if the
 * synopsis is one line that leaves room.
 */
static void
usage_form(const char *name, const char *args, const char *help)
{
	const char	*s;
	size_t		 n;
	int		 col;

	col = printf("  lispd");
	if (name != NULL)
		col += printf(" %s", name);
	for (s = args; s != NULL; s = s[n] == '\n' ? s + n + 1 : NULL) {
		n = strcspn(s, "\n");
		if (s == args)
			col += printf(" %.*s", (int)n, s);
		else
			col = printf("\n%*s%.*s", USAGE_MORE_COL, "", (int)n,
			    s) - 1;
	}
	for (s = help; s != NULL; s = s[n] == '\n' ? s + n + 1 : NULL) {
		n = strcspn(s, "\n");
		if (s != help || col >= USAGE_HELP_COL) {
			putchar('\n');
			col = 0;
		}
		printf("%*s%.*s", USAGE_HELP_COL - col, "", (int)n, s);
	}
	putchar('\n');
}

static void
usage(void)
{
	const struct cmd_entry	*e;
	size_t			 i, j;

	fputs("usage: lispd [-S dir] [command [options] [args]]\n\n", stdout);
	usage_form(NULL, NULL, "attach to session \"default\", starting it "
	    "first");
	for (i = 0; i < nitems(cmd_table); i++) {
		e = &cmd_table[i];
		for (j = 0; j < nitems(e->usage) && e->usage[j].help != NULL;
		    j++)
			usage_form(e->name, e->usage[j].args, e->usage[j].help);
	}
	fputs("\n", stdout);
	fputs(usage_tail, stdout);
}

static const struct cmd_entry *
cmd_find(const char *name)
{
	const struct cmd_entry	*e;
	size_t			 i;

	for (i = 0; i < nitems(cmd_table); i++) {
		e = &cmd_table[i];
		if (strcmp(e->name, name) == 0 ||
		    (e->alias != NULL && strcmp(e->alias, name) == 0))
			return (e);
	}
	return (NULL);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const struct cmd_entry	*cmd;
	int			 ch;

	client_init(argc, argv);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:hS:s:V", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'h':
			usage();
			return (EXIT_OK);
		case 'S':
			opt_dir = optarg;
			break;
		case 's':
			opt_name = optarg;
			break;
		case 'V':
			printf("lispd %s (protocol %d)\n", PACKAGE_VERSION,
			    PROTO_VERSION);
			return (EXIT_OK);
		case ':':
			usage_error(NULL, "-%c needs an argument", optopt);
		default:
			usage_error(NULL, "unknown option '%s'",
			    argv[optind - 1]);
		}
	}
	argc -= optind;
	argv += optind;
	optind = 1;	/* each command's getopt starts at its own argv[1] */

	if (argc == 0)
		return (cmd_attach_default(cmd_find("attach")));
	if (strcmp(argv[0], "help") == 0) {
		usage();
		return (EXIT_OK);
	}
	if ((cmd = cmd_find(argv[0])) == NULL)
		usage_error(NULL, "unknown command '%s'", argv[0]);
	return (cmd->exec(cmd, argc, argv));
}
