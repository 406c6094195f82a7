/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * lispd start, run and wait: a session started in the background (start,
 * and lispd alone through attach) or the foreground (run), and the wait
 * until its image is ready.
 */

#include "config.h"

#include <sys/ioctl.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lispd.h"

static int		 opt_notify_fd = -1;	/* run --notify-fd */
static long		 opt_stop_timeout = DEFAULT_STOP_TIMEOUT;
static int		 opt_restart = RESTART_NEVER;
static const char	*opt_log;
static long long	 opt_log_size = DEFAULT_LOG_SIZE;
static int		 opt_log_keep = DEFAULT_LOG_KEEP;
static int		 opt_log_stamps;
static char		*opt_state;		/* -D, made absolute */
static int		 opt_keep_cores = DEFAULT_KEEP_CORES;
static int		 opt_resume;		/* -u, --resume */
static int		 opt_save_on_term;	/* -U, --save-on-term */

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

/* Start a session; lockfd is the lock if the caller took it, else -1. */
int
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
	o.bootstrap = (flags & START_BOOTSTRAP) != 0;
	o.no_swank = (flags & START_NOSWANK) != 0;
	o.notify_fd = opt_notify_fd;
	o.stop_timeout = opt_stop_timeout;
	o.restart = opt_restart;
	o.log = opt_log;
	o.log_size = opt_log_size;
	o.log_keep = opt_log_keep;
	o.log_stamps = opt_log_stamps;
	o.state = opt_state;
	o.keep_cores = opt_keep_cores;
	o.resume = opt_resume;
	o.save_on_term = opt_save_on_term;
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
	struct client_end end;
	struct pollfd	 pfd;
	long		 waited = 0;
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
			}
			if (client_ended(&c, &m, &end)) {
				if (end.exited)
					die(EXIT_FAIL, "session %s: the image %s "
					    "before it was ready", name, end.text);
				die(end.status, "%s", end.text);
			}
		}
	}
}

int
cmd_wait(const struct cmd_entry *self, int argc, char **argv)
{
	struct dir	 d;
	struct command_args a = { .n = 0 };
	const char	*name, *rname;
	char		*host;
	long		 timeout = -1;
	int		 ch;

	while ((ch = command_getopt(self, argc, argv)) != -1) {
		if (ch == 't')
			timeout = number(self->name, "--timeout", optarg, 1,
			    31536000);
	}
	name = command_only_name(self, argc, argv);
	if ((host = command_remote(self, name, &rname)) != NULL) {
		if (timeout != -1)
			command_arg_number(&a, "-t", timeout);
		return (command_forward(self, host, rname, &a, 0, NULL, 0));
	}
	dir_open(&d, opt_dir);
	dir_check_name(&d, name);
	return (wait_ready(&d, name, timeout, 0));
}

static int
start_command(const struct cmd_entry *self, int argc, char **argv,
    int foreground)
{
	const char	*cmd = self->name, *name;
	struct dir	 d;
	char		 path[PATH_MAX];
	size_t		 scrollback = DEFAULT_SCROLLBACK;
	int		 ch, flags = 0;

	while ((ch = command_getopt(self, argc, argv)) != -1) {
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
		case 'D':
			/* The server runs in /: an absolute path. */
			free(opt_state);
			if (optarg[0] == '/')
				opt_state = xstrdup(optarg);
			else if (getcwd(path, sizeof path) != NULL)
				xasprintf(&opt_state, "%s/%s", path, optarg);
			else
				die(EXIT_USAGE, "%s: -D %s: %s: give an "
				    "absolute path", cmd, optarg,
				    strerror(errno));
			break;
		case 'K':
			opt_keep_cores = number(cmd, "--keep-cores", optarg, 1,
			    1000);
			break;
		case 'u':
			opt_resume = 1;
			break;
		case 'U':
			opt_save_on_term = 1;
			break;
		}
	}
	argc -= optind;
	argv += optind;
	dir_open(&d, opt_dir);
	name = command_name(self, &argc, &argv);
	return (start_session(&d, name, argc > 0 ? argv : NULL, scrollback,
	    foreground, flags, -1));
}

int
cmd_start(const struct cmd_entry *self, int argc, char **argv)
{
	return (start_command(self, argc, argv, 0));
}

int
cmd_run(const struct cmd_entry *self, int argc, char **argv)
{
	return (start_command(self, argc, argv, 1));
}
