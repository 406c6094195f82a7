/*
 * lispd: command line. Each command parses its own options; -S and -s are
 * accepted before the command and after it.
 */

#include "config.h"

#include <sys/ioctl.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lispd.h"

static int		 opt_notify_fd = -1;	/* run --notify-fd */
static long		 opt_stop_timeout = DEFAULT_STOP_TIMEOUT;
static int		 opt_restart = RESTART_NEVER;
static const char	*opt_log;
static long long	 opt_log_size = DEFAULT_LOG_SIZE;
static int		 opt_log_keep = DEFAULT_LOG_KEEP;
static int		 opt_log_stamps;

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

/* Arguments for the lispd on another host (remote.c). */
struct rargs {
	char	*v[24];
	int	 n;
	char	 num[2][24];
};

static void
radd(struct rargs *a, const char *s)
{
	a->v[a->n++] = (char *)s;
	a->v[a->n] = NULL;
}

static void
radd_num(struct rargs *a, const char *opt, long v)
{
	char	*buf = a->num[a->n % 2];

	snprintf(buf, sizeof a->num[0], "%ld", v);
	radd(a, opt);
	radd(a, buf);
}

static void
command_terminal_size(u_short *rows, u_short *cols)
{
	struct winsize	ws;

	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == -1 || ws.ws_row == 0 ||
	    ws.ws_col == 0) {
		ws.ws_row = 24;
		ws.ws_col = 80;
	}
	*rows = ws.ws_row;
	*cols = ws.ws_col;
}

static int	wait_ready(const struct dir *, const char *, long, int);

#define START_BOOTSTRAP	0x1	/* -B: the command serves the channel */
#define START_NOSWANK	0x2	/* -N: no swank in the image */

/* Start a session; lockfd is the lock if the caller took it, else -1. */
static int
start_session(struct dir *d, const char *name, char **cmdv, size_t scrollback,
    int foreground, int flags, int lockfd)
{
	static char		*defv[] = { (char *)DEFAULT_COMMAND, NULL };
	struct server_opts	 o;
	char			 buf[600], *msg;
	ssize_t			 n;
	size_t			 len = 0;
	pid_t			 pid;
	int			 p[2], status, fd;

	dir_check_name(d, name);
	memset(&o, 0, sizeof o);
	o.name = name;
	o.argv = (cmdv != NULL && cmdv[0] != NULL) ? cmdv : defv;
	o.scrollback = scrollback;
	o.foreground = foreground;
	o.bootstrap = (flags & START_BOOTSTRAP) != 0;
	o.no_swank = (flags & START_NOSWANK) != 0;
	o.notify_fd = opt_notify_fd;
	o.stop_timeout = opt_stop_timeout;
	o.restart = opt_restart;
	o.log = opt_log;
	o.log_size = opt_log_size;
	o.log_keep = opt_log_keep;
	o.log_stamps = opt_log_stamps;
	command_terminal_size(&o.rows, &o.cols);

	if (lockfd == -1 && (lockfd = dir_lock(d, name)) == -1) {
		status = errno;
		if (status == EWOULDBLOCK && !dir_answers(d, name, ".sock",
		    &pid) && (pid = dir_lock_pid(d, name)) > 0)
			die(EXIT_EXISTS, "session %s is already running (server "
			    "pid %ld), but its socket %s/%s.sock is gone: make "
			    "it again with 'kill -USR1 %ld'", name, (long)pid,
			    d->path, name, (long)pid);
		errno = status;
		if (errno == EWOULDBLOCK)
			die(EXIT_EXISTS, "session %s is already running: attach "
			    "with 'lispd attach %s', or name another with -s",
			    name, name);
		die(EXIT_DIR, "cannot lock %s/%s.lock: %s", d->path, name,
		    strerror(errno));
	}

	if (foreground) {
		log_init(1, "lispd");
		return (server_main(d, &o, lockfd, -1));
	}

	if (pipe2(p, O_CLOEXEC) == -1)
		die(EXIT_FAIL, "pipe: %s", strerror(errno));
	switch (fork()) {
	case -1:
		die(EXIT_FAIL, "fork: %s", strerror(errno));
	case 0:
		close(p[0]);
		setsid();
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			dup2(fd, STDIN_FILENO);
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			if (fd > STDERR_FILENO)
				close(fd);
		}
		server_daemon(d, &o, lockfd, p[1]);
		log_init(0, "lispd");
		_exit(server_main(d, &o, lockfd, p[1]));
	}
	close(p[1]);
	close(lockfd);
	while (len < sizeof buf - 1) {
		n = read(p[0], buf + len, sizeof buf - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	close(p[0]);
	buf[len] = '\0';
	if (len == 0)
		die(EXIT_FAIL, "the server of session %s exited before the "
		    "image started: see the system log", name);
	buf[strcspn(buf, "\n")] = '\0';
	status = (int)strtol(buf, &msg, 10);
	if (status != 0)
		die(status, "%s", msg + (*msg == ' '));
	strtol(msg, &msg, 10);	/* the image's pid; then any warning */
	if (*msg == ' ')
		warnmsg("%s: %s", name, msg + 1);
	return (wait_ready(d, name, -1, 1));
}

/*
 * Wait until the image is ready (its bootstrap said so; at once for an
 * image without one), showing the seconds on a terminal so that a slow
 * first start never looks like a hang. timeout -1 waits for ever.
 */
static int
wait_ready(const struct dir *d, const char *name, long timeout, int progress)
{
	struct client	 c;
	struct proto_msg m;
	struct pollfd	 pfd;
	uint32_t	 status;
	long		 waited = 0;
	char		 how[64];
	int		 n, shown = 0;

	progress = progress && isatty(STDERR_FILENO);
	client_connect(&c, d, name);
	if (client_send(&c, PROTO_WAIT, NULL, 0) == -1)
		die(EXIT_FAIL, "session %s: %s", name, strerror(errno));
	pfd.fd = c.fd;
	pfd.events = POLLIN;
	for (;;) {
		n = poll(&pfd, 1, 1000);
		if (n == -1 && errno != EINTR)
			die(EXIT_FAIL, "poll: %s", strerror(errno));
		if (n == 0) {
			waited++;
			if (timeout != -1 && waited >= timeout) {
				if (shown)
					fputc('\n', stderr);
				die(EVAL_TIMEOUT, "session %s is not ready after "
				    "%ld s: see its console with 'lispd attach "
				    "%s'", name, waited, name);
			}
			if (progress) {
				fprintf(stderr, "\rlispd: %s: the image is "
				    "loading (%ld s)", name, waited);
				shown = 1;
			}
			continue;
		}
		if (n == -1)
			continue;
		n = client_read(&c);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
			die(EXIT_FAIL, "session %s: its server went away",
			    name);
		while (client_next(&c, &m)) {
			if (shown && (m.type == PROTO_OK ||
			    m.type == PROTO_EXIT || m.type == PROTO_NOTICE ||
			    m.type == PROTO_ERROR)) {
				fprintf(stderr, "\r%60s\r", "");
				shown = 0;
			}
			switch (m.type) {
			case PROTO_NOTICE:
				/* A restart: the server then says it failed. */
				fprintf(stderr, "lispd: %s: %.*s\n", name,
				    (int)m.len, m.data);
				break;
			case PROTO_OK:
				client_close(&c);
				return (EXIT_OK);
			case PROTO_EXIT:
				if (proto_get32(&m, 0, &status) != 0)
					status = 0;
				client_describe_exit(status, how, sizeof how);
				die(EXIT_FAIL, "session %s: the image %s before "
				    "it was ready", name, how);
			case PROTO_ERROR:
				if (proto_get32(&m, 0, &status) != 0)
					status = EXIT_PROTO;
				die(status, "%.*s", m.len > 4 ?
				    (int)m.len - 4 : 0, m.data + 4);
			}
		}
	}
}

static int
cmd_wait(int argc, char **argv)
{
	struct dir	 d;
	struct rargs	 a = { .n = 0 };
	const char	*name, *rname;
	char		*host;
	long		 timeout = -1;
	int		 ch;

	while ((ch = command_getopt("wait", argc, argv, "t:")) != -1) {
		if (ch == 't')
			timeout = number("wait", "--timeout", optarg, 1,
			    31536000);
	}
	argc -= optind;
	argv += optind;
	name = command_name(&argc, &argv, 1);
	if (argc > 0)
		usage_error("wait", "unexpected argument '%s'", argv[0]);
	if ((host = command_remote(name, &rname)) != NULL) {
		radd(&a, "wait");
		if (timeout != -1)
			radd_num(&a, "-t", timeout);
		radd(&a, rname);
		return (remote_run(host, a.v, 0, NULL, 0));
	}
	dir_open(&d, opt_dir);
	dir_check_name(&d, name);
	return (wait_ready(&d, name, timeout, 0));
}

static int
cmd_log(int argc, char **argv)
{
	struct dir	 d;
	struct rargs	 a = { .n = 0 };
	const char	*name, *rname;
	char		*host;
	long		 lines = -1;
	int		 ch, follow = 0;

	while ((ch = command_getopt("log", argc, argv, "fn:")) != -1) {
		switch (ch) {
		case 'f':
			follow = 1;
			break;
		case 'n':
			lines = number("log", "-n", optarg, 0, 100000000);
			break;
		}
	}
	argc -= optind;
	argv += optind;
	name = command_name(&argc, &argv, 1);
	if (argc > 0)
		usage_error("log", "unexpected argument '%s'", argv[0]);
	if ((host = command_remote(name, &rname)) != NULL) {
		radd(&a, "log");
		if (follow)
			radd(&a, "-f");
		if (lines >= 0)
			radd_num(&a, "-n", lines);
		radd(&a, rname);
		return (remote_run(host, a.v, 0, NULL, 0));
	}
	dir_open(&d, opt_dir);
	dir_check_name(&d, name);
	return (attach_log(&d, name, lines >= 0 ? (uint32_t)lines : UINT32_MAX,
	    follow));
}

static int
cmd_swank(int argc, char **argv)
{
	struct dir	 d;
	struct rargs	 a = { .n = 0 };
	const char	*name, *rname, *loader = NULL, *find = NULL, *put = NULL;
	char		*host;
	int		 ch, relay = 1;

	while ((ch = command_getopt("swank", argc, argv, "c:C:nw:")) != -1) {
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
			usage_error("swank", "-c and -C take a version, and "
			    "nothing else");
		return (find != NULL ? swank_cache_find(find) :
		    swank_cache_put(put));
	}
	name = command_name(&argc, &argv, 1);
	if (argc > 0)
		usage_error("swank", "unexpected argument '%s'", argv[0]);
	if (!relay && loader == NULL)
		usage_error("swank", "-n is for -w: alone it would do nothing");
	if ((host = command_remote(name, &rname)) != NULL) {
		radd(&a, "swank");
		if (loader != NULL) {
			if (!remote_safe(loader))
				die(EXIT_USAGE, "swank: -w %s is not safe in a "
				    "remote command line: a path of letters, "
				    "digits and ._-+=%%/:,@ only", loader);
			radd(&a, "-w");
			radd(&a, loader);
		}
		if (!relay)
			radd(&a, "-n");
		radd(&a, rname);
		return (remote_run(host, a.v, 0, NULL, 0));
	}
	dir_open(&d, opt_dir);
	dir_check_name(&d, name);
	return (swank_main(&d, name, loader, relay));
}

static int
cmd_eval(int argc, char **argv)
{
	struct eval_opts o = { "", 0, 0, 0 };
	struct dir	 d;
	struct rargs	 a = { .n = 0 };
	const char	*name, *rname;
	char		*host, *text;
	size_t		 len = 0;
	int		 ch, i;

	while ((ch = command_getopt("eval", argc, argv, "p:t:v")) != -1) {
		switch (ch) {
		case 'p':
			o.package = optarg;
			break;
		case 't':
			o.timeout = number("eval", "--timeout", optarg, 1,
			    31536000);
			break;
		case 'v':
			o.verbose = 1;
			break;
		}
	}
	argc -= optind;
	argv += optind;
	name = command_name(&argc, &argv, 0);
	if (argc == 0)
		usage_error("eval", "no forms: give them as arguments, or - "
		    "to read them from stdin");
	if ((host = command_remote(name, &rname)) != NULL) {
		/* The forms go on ssh's stdin, never in the command line. */
		radd(&a, "eval");
		radd(&a, "-s");
		radd(&a, rname);
		if (*o.package != '\0') {
			if (!remote_safe(o.package))
				die(EXIT_USAGE, "eval: package name '%s' is not "
				    "safe in a remote command line: use its "
				    "plain name, or (in-package ...) among the "
				    "forms", o.package);
			radd(&a, "-p");
			radd(&a, o.package);
		}
		if (o.timeout > 0)
			radd_num(&a, "-t", o.timeout);
		if (o.verbose)
			radd(&a, "-v");
		radd(&a, "-");
		if (argc == 1 && strcmp(argv[0], "-") == 0)
			return (remote_run(host, a.v, 0, NULL, 0));
		for (i = 0; i < argc; i++)
			len += strlen(argv[i]) + 1;
		text = xcalloc(1, len + 1);
		for (i = 0; i < argc; i++) {
			strcat(text, argv[i]);
			strcat(text, "\n");
		}
		return (remote_run(host, a.v, 0, text, len));
	}
	dir_open(&d, opt_dir);
	dir_check_name(&d, name);
	return (eval_main(&d, name, &o, argv, argc));
}

static int
cmd_start(int argc, char **argv, int foreground)
{
	const char	*cmd = foreground ? "run" : "start";
	struct dir	 d;
	char		 path[PATH_MAX];
	size_t		 scrollback = DEFAULT_SCROLLBACK;
	int		 ch, flags = 0;

	while ((ch = command_getopt(cmd, argc, argv, "BF:NT:b:k:l:mr:w:z:")) !=
	    -1) {
		switch (ch) {
		case 'l':
			opt_log = optarg;
			break;
		case 'z':
			opt_log_size = size_number(cmd, "--log-size", optarg);
			break;
		case 'k':
			opt_log_keep = number(cmd, "--log-keep", optarg, 0, 1000);
			break;
		case 'm':
			opt_log_stamps = 1;
			break;
		case 'r':
			if (strcmp(optarg, "never") == 0)
				opt_restart = RESTART_NEVER;
			else if (strcmp(optarg, "on-failure") == 0)
				opt_restart = RESTART_ON_FAILURE;
			else if (strcmp(optarg, "always") == 0)
				opt_restart = RESTART_ALWAYS;
			else
				usage_error(cmd, "--restart %s: say never, "
				    "on-failure or always", optarg);
			break;
		case 'F':
			opt_notify_fd = number(cmd, "--notify-fd", optarg, 3,
			    1024);
			if (fcntl(opt_notify_fd, F_GETFD) == -1)
				die(EXIT_USAGE, "%s: --notify-fd %d: no such "
				    "open file descriptor (s6 opens the one "
				    "named in the service's notification-fd)",
				    cmd, opt_notify_fd);
			break;
		case 'T':
			opt_stop_timeout = number(cmd, "--stop-timeout", optarg,
			    0, 86400);
			break;
		case 'w':
			/* The image inherits it through the server. */
			if (realpath(optarg, path) == NULL)
				die(EXIT_USAGE, "%s: --swank %s: %s: give a "
				    "swank-loader.lisp or a directory with "
				    "swank.asd", cmd, optarg, strerror(errno));
			setenv("LISPD_SWANK", path, 1);
			break;
		case 'B':
			flags |= START_BOOTSTRAP;
			break;
		case 'N':
			flags |= START_NOSWANK;
			break;
		case 'b':
			scrollback = number(cmd, "-b", optarg, 1024,
			    256L * 1024 * 1024);
			break;
		}
	}
	argc -= optind;
	argv += optind;
	dir_open(&d, opt_dir);
	return (start_session(&d, opt_name != NULL ? opt_name :
	    DEFAULT_SESSION, argc > 0 ? argv : NULL, scrollback, foreground,
	    flags, -1));
}

static int
cmd_attach(int argc, char **argv, int autostart)
{
	struct attach_opts	 o = { 0, 0, DEFAULT_DETACH, -1, 0 };
	struct dir		 d;
	struct rargs		 a = { .n = 0 };
	const char		*name, *rname;
	char			*host;
	int			 ch, fd, lockfd, keyset = 0;

	while ((ch = command_getopt("attach", argc, argv, "PrRe:n:")) != -1) {
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
			o.history = number("attach", "-n", optarg, 0, 1000000);
			break;
		}
	}
	argc -= optind;
	argv += optind;
	name = command_name(&argc, &argv, 1);
	if (argc > 0)
		usage_error("attach", "unexpected argument '%s'", argv[0]);
	if (!autostart && (host = command_remote(name, &rname)) != NULL) {
		radd(&a, "attach");
		if (o.readonly)
			radd(&a, "-r");
		if (o.relay)
			radd(&a, "-R");
		if (o.piped)
			radd(&a, "-P");
		if (keyset) {
			if (!remote_safe(o.detach))
				die(EXIT_USAGE, "detach key '%s' is not safe in a "
				    "remote command line: use C-x with a letter "
				    "or digit, M-x or F1..F12", o.detach);
			radd(&a, "-e");
			radd(&a, o.detach);
		}
		if (o.history >= 0)
			radd_num(&a, "-n", o.history);
		radd(&a, rname);
		return (remote_run(host, a.v, !o.piped, NULL, 0));
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

#define LS_WAIT	5	/* seconds a server has to answer ls */

/*
 * The next frame, as client_recv, but a bad or missing one is a reason in
 * why, not an exit: ls goes on with the other sessions. 1, or 0.
 */
static int
session_recv(struct client *c, struct proto_msg *m, char *why, size_t len)
{
	struct pollfd	pfd;
	int		n;

	pfd.fd = c->fd;
	pfd.events = POLLIN;
	for (;;) {
		n = proto_parse(c->buf + c->off, c->len - c->off, m);
		if (n > 0) {
			c->off += n;
			return (1);
		}
		if (n == -1) {
			snprintf(why, len, "its server (pid %ld) sent a frame "
			    "over the %d-byte limit (an older lispd sends a "
			    "long command line whole): restart the session "
			    "with this lispd", (long)c->server_pid,
			    PROTO_MAXLEN);
			return (0);
		}
		if (poll(&pfd, 1, LS_WAIT * 1000) == 0) {
			snprintf(why, len, "its server (pid %ld) did not "
			    "answer within %d s", (long)c->server_pid, LS_WAIT);
			return (0);
		}
		n = client_read(c);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
			snprintf(why, len, "its server (pid %ld) closed the "
			    "connection without an answer",
			    (long)c->server_pid);
			return (0);
		}
	}
}

/*
 * Ask a session for its info; 0, -1 if it is not there to ask, or 1 if it
 * is but its answer cannot be read (why says why).
 */
static int
session_info(const struct dir *d, const char *name, char *buf, size_t len,
    char *why, size_t wlen)
{
	struct client		c;
	struct proto_msg	m;
	int			fd;

	if ((fd = dir_connect(d, name, ".sock")) == -1)
		return (-1);
	close(fd);
	if (client_connect(&c, d, name) == -1) {
		/* Another lispd's session: not a reason to re-run all of ls. */
		snprintf(buf, len, "pid=-\nstate=other\ncommand=(another "
		    "lispd's protocol: list it with /proc/%ld/exe ls)\n",
		    (long)c.server_pid);
		client_close(&c);
		return (0);
	}
	if (client_send(&c, PROTO_LIST, NULL, 0) == -1) {
		client_close(&c);
		return (-1);
	}
	do {
		if (!session_recv(&c, &m, why, wlen)) {
			client_close(&c);
			return (1);
		}
	} while (m.type != PROTO_INFO);	/* unknown types are ignored */
	snprintf(buf, len, "%.*s", (int)m.len, m.data);
	client_close(&c);
	return (0);
}


static void
format_uptime(long secs, char *buf, size_t len)
{
	if (secs < 0)
		secs = 0;
	if (secs < 3600)
		snprintf(buf, len, "%ldm%02lds", secs / 60, secs % 60);
	else if (secs < 86400)
		snprintf(buf, len, "%ldh%02ldm", secs / 3600,
		    (secs % 3600) / 60);
	else
		snprintf(buf, len, "%ldd%02ldh", secs / 86400,
		    (secs % 86400) / 3600);
}

/* Bytes as a person reads them: 812K, 41M, 3.2G; "-" stays. */
static void
format_size(const char *s, char *buf, size_t len)
{
	double	b;
	char	*end;

	b = strtod(s, &end);
	if (*s == '\0' || *end != '\0') {
		snprintf(buf, len, "-");
		return;
	}
	if (b < 1024.0 * 1024)
		snprintf(buf, len, "%.0fK", b / 1024);
	else if (b < 1024.0 * 1024 * 1024)
		snprintf(buf, len, "%.0fM", b / (1024 * 1024));
	else
		snprintf(buf, len, "%.1fG", b / (1024 * 1024 * 1024));
}

static int
name_cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

static int
cmd_ls(int argc, char **argv)
{
	struct dir	 d;
	struct rargs	 a = { .n = 0 };
	DIR		*dp;
	struct dirent	*de;
	char		**names = NULL, info[PROTO_MAXLEN + 1], v[8][256];
	char		 up[32], heap[16], why[256], swank[256];
	char		 *notes = NULL, *line, *host;
	const char	*rname;
	size_t		 n = 0, i, len;

	if (command_getopt("ls", argc, argv, "") != -1)
		usage_error("ls", "takes no options");
	argc -= optind;
	argv += optind;
	if (argc == 1 && argv[0][0] != '\0' &&
	    argv[0][strlen(argv[0]) - 1] == ':') {
		/* [user@]host: lists the sessions there. */
		remote_split(argv[0], &host, &rname);
		radd(&a, "ls");
		return (remote_run(host, a.v, 0, NULL, 0));
	}
	if (argc > 0)
		usage_error("ls", "takes no arguments but [user@]host:");
	client_stay();
	dir_open(&d, opt_dir);
	if ((dp = opendir(d.path)) == NULL)
		die(EXIT_DIR, "cannot read %s: %s", d.path, strerror(errno));
	while ((de = readdir(dp)) != NULL) {
		len = strlen(de->d_name);
		if (len <= 5 || strcmp(de->d_name + len - 5, ".sock") != 0)
			continue;
		names = xreallocarray(names, n + 1, sizeof *names);
		names[n] = xstrdup(de->d_name);
		names[n++][len - 5] = '\0';
	}
	closedir(dp);
	if (n == 0) {
		printf("no sessions in %s\n", d.path);
		return (EXIT_OK);
	}
	qsort(names, n, sizeof *names, name_cmp);
	printf("%-16s %7s %-8s %9s %7s %6s %7s %-7s %-18s %s\n", "NAME",
	    "PID", "STATE", "UPTIME", "CLIENTS", "HEAP", "THREADS", "SWANK",
	    "LISP", "COMMAND");
	for (i = 0; i < n; i++) {
		switch (session_info(&d, names[i], info, sizeof info, why,
		    sizeof why)) {
		case -1:
			printf("%-16s %7s %-8s %9s %7s %6s %7s %-7s %-18s %s\n",
			    names[i], "-", "stale", "-", "-", "-", "-", "-", "-",
			    "(server gone: the next start replaces it)");
			free(names[i]);
			continue;
		case 1:
			printf("%-16s %7s %-8s %9s %7s %6s %7s %-7s %-18s %s\n",
			    names[i], "-", "unknown", "-", "-", "-", "-", "-",
			    "-", "(its info cannot be read: see below)");
			xasprintf(&line, "%s%s: its info cannot be read: %s\n",
			    notes != NULL ? notes : "", names[i], why);
			free(notes);
			notes = line;
			free(names[i]);
			continue;
		}
		if (strcmp(client_info_get(info, "started", v[0], sizeof v[0]),
		    "-") == 0)
			snprintf(up, sizeof up, "-");
		else
			format_uptime((long)(time(NULL) - strtoll(v[0], NULL,
			    10)), up, sizeof up);
		client_info_get(info, "state", v[2], sizeof v[2]);
		if (strcmp(v[2], "running") == 0 &&
		    strcmp(client_info_get(info, "ready", v[5], sizeof v[5]), "0") == 0)
			snprintf(v[2], sizeof v[2], "starting");
		format_size(client_info_get(info, "heap", v[5], sizeof v[5]), heap,
		    sizeof heap);
		/* Up, swank says which: the version the editor must match. */
		client_info_get(info, "swank_version", swank, sizeof swank);
		if (strcmp(client_info_get(info, "swank", v[0], sizeof v[0]),
		    "up") != 0 || strcmp(swank, "-") == 0)
			snprintf(swank, sizeof swank, "%s", v[0]);
		printf("%-16s %7s %-8s %9s %7s %6s %7s %-7s %-18s %s\n",
		    names[i], client_info_get(info, "pid", v[1], sizeof v[1]), v[2],
		    up, client_info_get(info, "clients", v[3], sizeof v[3]), heap,
		    client_info_get(info, "threads", v[4], sizeof v[4]), swank,
		    client_info_get(info, "lisp", v[6], sizeof v[6]),
		    client_info_get(info, "command", v[7], sizeof v[7]));
		if (strcmp(client_info_get(info, "restarts", v[5], sizeof v[5]),
		    "-") != 0) {
			xasprintf(&line, "%s%s: restarted %s times; the last "
			    "image %s\n", notes != NULL ? notes : "",
			    names[i], v[5], client_info_get(info, "last", v[6],
			    sizeof v[6]));
			free(notes);
			notes = line;
		}
		if (strcmp(v[2], "ldb") == 0) {
			xasprintf(&line, "%s%s: the image is in LDB, SBCL's "
			    "low-level debugger (the heap exhausted?): Lisp no "
			    "longer runs; 'lispd stop %s' ends it\n",
			    notes != NULL ? notes : "", names[i], names[i]);
			free(notes);
			notes = line;
		}
		if (strcmp(v[0], "up") != 0 && strcmp(client_info_get(info,
		    "swank_why", v[0], sizeof v[0]), "-") != 0) {
			/* Said after the table, a line each. */
			xasprintf(&line, "%s%s: swank is not up: %s\n",
			    notes != NULL ? notes : "", names[i], v[0]);
			free(notes);
			notes = line;
		}
		free(names[i]);
	}
	free(names);
	if (notes != NULL)
		printf("\n%s", notes);
	free(notes);
	return (EXIT_OK);
}

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
	uint32_t		status;
	char			how[64];

	while (client_recv(c, &m)) {
		switch (m.type) {
		case PROTO_OK:
			return (EXIT_OK);
		case PROTO_NOTICE:
			fprintf(stderr, "lispd: %s: %.*s\n", c->name,
			    (int)m.len, m.data);
			break;
		case PROTO_ERROR:
			if (proto_get32(&m, 0, &status) != 0)
				status = EXIT_PROTO;
			fprintf(stderr, "lispd: %.*s\n",
			    m.len > 4 ? (int)m.len - 4 : 0, m.data + 4);
			return (status);
		case PROTO_EXIT:
			if (proto_get32(&m, 0, &status) != 0)
				return (EXIT_PROTO);
			client_describe_exit(status, how, sizeof how);
			fprintf(stderr, "lispd: %s: the image %s\n", c->name,
			    how);
			return (EXIT_OK);
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

static int
cmd_send(int argc, char **argv)
{
	struct client	 c;
	struct dir	 d;
	struct rargs	 a = { .n = 0 };
	const char	*name, *rname;
	char		*text, *host;
	size_t		 len = 0;
	int		 ch, newline = 1, status, in;

	while ((ch = command_getopt("send", argc, argv, "n")) != -1) {
		if (ch == 'n')
			newline = 0;
	}
	argc -= optind;
	argv += optind;
	name = command_name(&argc, &argv, argc > 1);
	if (argc == 0)
		usage_error("send", "no text: give it as arguments, or - to "
		    "read stdin");
	in = argc == 1 && strcmp(argv[0], "-") == 0;
	if ((host = command_remote(name, &rname)) != NULL) {
		/* The text goes on ssh's stdin, never in the command line. */
		radd(&a, "send");
		radd(&a, rname);
		radd(&a, "-");
		if (in)
			return (remote_run(host, a.v, 0, NULL, 0));
		text = send_text(argc, argv, newline, &len);
		return (remote_run(host, a.v, 0, text, len));
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

static int
cmd_stop(int argc, char **argv, int killnow)
{
	const char	*cmd = killnow ? "kill" : "stop";
	struct client	 c;
	struct dir	 d;
	struct rargs	 a = { .n = 0 };
	const char	*name, *rname;
	char		*host;
	uint8_t		 msg[4];
	long		 timeout = DEFAULT_STOP_TIMEOUT;
	int		 ch, status, timeset = 0;

	while ((ch = command_getopt(cmd, argc, argv, killnow ? "" : "t:")) !=
	    -1) {
		if (ch == 't') {
			timeout = number(cmd, "-t", optarg, 0, 86400);
			timeset = 1;
		}
	}
	argc -= optind;
	argv += optind;
	name = command_name(&argc, &argv, 1);
	if (argc > 0)
		usage_error(cmd, "unexpected argument '%s'", argv[0]);
	if ((host = command_remote(name, &rname)) != NULL) {
		radd(&a, cmd);
		if (timeset)
			radd_num(&a, "-t", timeout);
		radd(&a, rname);
		return (remote_run(host, a.v, 0, NULL, 0));
	}
	dir_open(&d, opt_dir);
	dir_check_name(&d, name);
	client_connect(&c, &d, name);
	proto_put32(msg, (uint32_t)timeout);
	if (client_send(&c, killnow ? PROTO_KILL : PROTO_STOP, msg,
	    killnow ? 0 : sizeof msg) == -1)
		die(EXIT_FAIL, "%s: %s", cmd, strerror(errno));
	status = await_reply(&c);
	client_close(&c);
	return (status);
}

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
