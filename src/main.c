/*
 * lispd: command line. Each command parses its own options; -S and -s are
 * accepted before the command and after it.
 */

#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "lispd.h"

static const char usage_text[] =
"usage: lispd [-S dir] [command [options] [args]]\n"
"\n"
"  lispd                      attach to session \"default\", starting it first\n"
"  lispd start [-BNm] [-b bytes] [-s name] [-w swank] [--restart policy]\n"
"            [-l file] [-z size] [-k n] [-- command ...]\n"
"                             start a session in the background (default: sbcl)\n"
"                             and return once the image is ready\n"
"  lispd run [-BNm] [-b bytes] [-s name] [-w swank] [--restart policy]\n"
"            [-l file|-] [-z size] [-k n] [--notify-fd n]\n"
"            [--stop-timeout seconds] [-- command ...]\n"
"                             the same in the foreground, for supervisors;\n"
"                             exits with the image's status\n"
"  lispd attach [-PrR] [-e key] [-n lines] [name]\n"
"                             attach the terminal to the console; C-\\ detaches;\n"
"                             -P: through pipes, no terminal (Emacs's comint)\n"
"  lispd ls [[user@]host:]    list sessions\n"
"  lispd eval [-v] [-s name] [-p package] [-t seconds] form ... | -\n"
"                             evaluate forms in the image (- reads them from\n"
"                             stdin): output as printed, then the last values\n"
"  lispd wait [-t seconds] [name]\n"
"                             return once the image is ready\n"
"  lispd log [-f] [-n lines] [name]\n"
"                             the console's recent output (the scrollback);\n"
"                             -f: then follow it\n"
"  lispd swank [-n] [-w loader] [name]\n"
"                             join stdin and stdout to the image's swank\n"
"                             (NAME.swank), for Emacs or any swank client;\n"
"                             -w: first have it serve the swank of loader (a\n"
"                             swank-loader.lisp), loaded in place of its own\n"
"                             if no swank client is connected; -n: only that,\n"
"                             printing the version served\n"
"  lispd swank -c version | -C version\n"
"                             the swank sources of that version kept for\n"
"                             editors that come through ssh: -c prints its\n"
"                             loader's path (exit 1 if none), -C keeps a tar\n"
"                             archive of them read from stdin\n"
"  lispd send [-n] [name] text ... | -\n"
"                             type text (a newline is added unless -n; - reads\n"
"                             stdin as it is)\n"
"  lispd stop [-t seconds] [name]\n"
"                             SIGTERM the image, SIGKILL after a timeout (10 s)\n"
"  lispd kill [name]          SIGKILL the image now\n"
"\n"
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
"remote: attach, eval, swank, log, send, stop, kill and wait take\n"
"[user@]host:NAME and run there through ssh ($LISPD_SSH, else ssh; the\n"
"remote lispd is $LISPD_REMOTE, else lispd), forms and text on stdin;\n"
"ls takes [user@]host:.\n"
"\n"
"exit status: 0 ok, 1 failed, 2 usage, 3 no such session, 4 session exists,\n"
"5 protocol error, 6 unsafe socket directory, 126 command not executable,\n"
"127 command not found; attach and run: the image's status when it\n"
"exits (128+N for signal N); eval: 1 an error, 2 a form that does not read,\n"
"3 no session or no bootstrap in the image, 124 timed out, 130 interrupted.\n"
"Killing a server hangs up the pty and ends the image. See lispd(1).\n";

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*cmd;
	int		 ch;

	client_init(argc, argv);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:hS:s:V", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'h':
			fputs(usage_text, stdout);
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

	if (argc == 0) {
		char	*none[] = { (char *)"attach", NULL };

		return (cmd_attach(1, none, 1));
	}
	cmd = argv[0];
	if (strcmp(cmd, "start") == 0)
		return (cmd_start(argc, argv, 0));
	if (strcmp(cmd, "run") == 0)
		return (cmd_start(argc, argv, 1));
	if (strcmp(cmd, "attach") == 0 || strcmp(cmd, "a") == 0)
		return (cmd_attach(argc, argv, 0));
	if (strcmp(cmd, "ls") == 0 || strcmp(cmd, "list") == 0)
		return (cmd_ls(argc, argv));
	if (strcmp(cmd, "eval") == 0)
		return (cmd_eval(argc, argv));
	if (strcmp(cmd, "wait") == 0)
		return (cmd_wait(argc, argv));
	if (strcmp(cmd, "swank") == 0)
		return (cmd_swank(argc, argv));
	if (strcmp(cmd, "log") == 0)
		return (cmd_log(argc, argv));
	if (strcmp(cmd, "send") == 0)
		return (cmd_send(argc, argv));
	if (strcmp(cmd, "stop") == 0)
		return (cmd_stop(argc, argv, 0));
	if (strcmp(cmd, "kill") == 0)
		return (cmd_stop(argc, argv, 1));
	if (strcmp(cmd, "help") == 0) {
		fputs(usage_text, stdout);
		return (EXIT_OK);
	}
	usage_error(NULL, "unknown command '%s'", cmd);
}

