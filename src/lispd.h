/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * lispd: keep a Lisp image alive on a pseudo-terminal, reachable through
 * UNIX-domain sockets.
 */

#ifndef LISPD_H
#define LISPD_H

#include <sys/types.h>
#include <sys/queue.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "proto.h"

#ifndef TAILQ_FOREACH_SAFE	/* glibc's sys/queue.h lacks it */
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

#ifndef nitems
#define nitems(a)	(sizeof (a) / sizeof (a)[0])
#endif

struct event;
struct event_base;
struct evbuffer;
struct winsize;
struct iovec;
struct server_client;

/* Exit statuses, as documented in lispd(1). */
#define EXIT_OK		0
#define EXIT_FAIL	1	/* the operation failed */
#define EXIT_USAGE	2	/* bad command line */
#define EXIT_NOSESSION	3	/* no such session */
#define EXIT_EXISTS	4	/* session already running */
#define EXIT_PROTO	5	/* the server spoke something we do not */
#define EXIT_DIR	6	/* unsafe or unusable socket directory */
#define EXIT_NOEXEC	126	/* command found but not executable */
#define EXIT_NOTFOUND	127	/* command not found */

#define DEFAULT_SESSION		"default"
#define DEFAULT_COMMAND		"sbcl"
#define DEFAULT_DETACH		"C-\\"
#define DEFAULT_SCROLLBACK	(64 * 1024)
#define DEFAULT_STOP_TIMEOUT	10	/* seconds */
#define DEFAULT_LOG_SIZE	(10 * 1024 * 1024)
#define DEFAULT_LOG_KEEP	5

#define CLIENT_QUEUE_MAX	(1024 * 1024)	/* output held per client */
#define CLIENT_ANSWER_MAX	(2 * CLIENT_QUEUE_MAX)	/* then not read */
#define DROPPED_LINES	24	/* lines sent again after drops, no size */
#define NOTICE_MAX	512	/* bytes of a notice's text */
/*
 * Output read in pieces of at least BULK_MIN is a burst: it is held for a
 * client until CORK_MAX bytes wait or CORK_WAIT us pass, so that many
 * clients cost the server few large writes, not a write per read.
 */
#define BULK_MIN	2048
#define CORK_MAX	(64 * 1024)
#define CORK_WAIT	1000
/*
 * In a flood (less than CORK_WAIT ago, a bulk read left more waiting on
 * the pty: the image is ahead of the server) the image comes first:
 * writing to clients may take FANOUT_SHARE times the time spent reading
 * the image, and what a client does not get meanwhile queues and drops as
 * for a slow client. Outside a flood clients are written at once. With 1,
 * 50 terminals cost the image 0.8 of its speed with one (2: 0.55), and a
 * single terminal draining a 100 MB flood still gets about 90% of it.
 */
#define FANOUT_SHARE	1
#define FANOUT_CREDIT_MAX	2000000	/* ns of writing saved up, at most */
#define INPUT_QUEUE_MAX		(1024 * 1024)	/* input held for the image */
#define TTY_LINE_MAX		4095	/* N_TTY's canonical line */
#define ACCEPT_PAUSE		1	/* s not accepting when accept fails */
#define SERVER_CLIENTS_MAX	10000	/* clients at once, at most */
#define SERVER_FDS_KEPT		32	/* fds of the limit not for clients */

/* log.c */
void	 log_init(int, const char *);
void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn, format(printf, 1, 2)))
void	 fatal(const char *, ...);
__attribute__((noreturn, format(printf, 1, 2)))
void	 fatalx(const char *, ...);
__attribute__((noreturn, format(printf, 2, 3)))
void	 die(int, const char *, ...);
void	 warnmsg(const char *, ...) __attribute__((format(printf, 1, 2)));
size_t	 notice_format(char *, size_t, int, const char *, va_list)
	     __attribute__((format(printf, 4, 0)));

/* xmalloc.c */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
int	 xasprintf(char **, const char *, ...)
	     __attribute__((format(printf, 2, 3)));

/* dir.c */
struct dir {
	char	*path;
};
int	 dir_open(struct dir *, const char *);
int	 dir_check_name(const struct dir *, const char *);
char	*dir_path(const struct dir *, const char *, const char *);
int	 dir_lock(const struct dir *, const char *);
void	 dir_unlock(const struct dir *, const char *, int);
int	 dir_locked(const struct dir *, const char *, int);
void	 dir_lock_write(int);
pid_t	 dir_lock_pid(const struct dir *, const char *);
int	 dir_answers(const struct dir *, const char *, const char *, pid_t *);
int	 dir_connect(const struct dir *, const char *, const char *);
int	 dir_listen(const struct dir *, const char *, const char *);
void	 dir_unlisten(const struct dir *, const char *, const char *, int);
int	 dir_mkdirs(char *);

/* ring.c */
struct ring {
	char	*buf;
	size_t	 size;
	size_t	 used;
	size_t	 head;		/* next byte written here */
};
void	 ring_init(struct ring *, size_t);
void	 ring_free(struct ring *);
void	 ring_add(struct ring *, const void *, size_t);
size_t	 ring_tail(const struct ring *, u_int, const char **, size_t *,
	     const char **, size_t *);

/* key.c */
#define KEY_MAXLEN	16
struct key {
	uint8_t	 seq[KEY_MAXLEN];
	size_t	 len;
	uint8_t	 held[KEY_MAXLEN];
	size_t	 nheld;
};
int	 key_parse(struct key *, const char *, const char *);
int	 key_set(struct key *, const uint8_t *, size_t);
int	 key_scan(struct key *, const uint8_t *, size_t, uint8_t *,
	     size_t *);
size_t	 key_flush(struct key *, uint8_t *);

/* bootstrap.c */
#define BOOTSTRAP_LOADED	0	/* sbcl, with --load of the bootstrap */
#define BOOTSTRAP_OTHER		1	/* another command: (lispd:serve) */
#define BOOTSTRAP_NOREPL	2	/* sbcl --script or --non-interactive */
char	**bootstrap_argv(char *const *, const char *, int *);
char	**bootstrap_sbcl_runtime(char *const *);
const char *bootstrap_path(void);

/* pty.c */
int	 pty_open(const struct winsize *, char *, size_t);
pid_t	 pty_spawn(int, const char *, char *const *, int, int, const char *,
	     const char *, int *);
int	 pty_resize(int, u_short, u_short);
int	 pty_stat_open(pid_t);
const char *pty_stat(int, char *, size_t);
int	 pty_stopped(pid_t);
int	 pty_eof(int);
int	 pty_peer(int);

/* control.c */
struct control_msg {
	uint32_t	 type;
	uint32_t	 version;
	uint32_t	 id;
	uint32_t	 status;
	int		 stream;
	const char	*text;
	size_t		 len;
};
int	 control_decode(const struct proto_msg *, struct control_msg *);
int	 control_open(int);
void	 control_free(void);
void	 control_close(const char *);
void	 control_gone(const char *);
void	 control_drain(void);
int	 control_up(void);
const char *control_lisp(void);
uint32_t control_next_id(void);
int	 control_can_eval(char *, size_t);
int	 control_send(uint32_t, const void *, size_t, const void *, size_t);
int	 control_room(void);
void	 control_hold(void);
void	 control_release(void);
void	 control_ack(uint32_t, uint32_t);

/* save.c */
#define DEFAULT_KEEP_CORES	2
#define SAVE_GO_ON	0	/* how a save ends: the image goes on */
#define SAVE_THEN_STOP	1	/* it stops, if it was saved */
#define SAVE_STOP_ANYWAY 2	/* it stops, saved or not */
void	 save_request(struct server_client *, u_int, int, u_int);
char	**save_resume_argv(void);
int	 save_resume_failed(const char *);
void	 save_resume_ready(void);
void	 save_resume_tell(struct server_client *);
int	 save_busy(void);
void	 save_done(int, const char *, size_t);
void	 save_gone(const char *);
void	 save_info(struct evbuffer *);
void	 save_free(void);

/* swank.c */
int	 swank_open(const struct dir *, const char *, int, int);
void	 swank_close(const struct dir *, const char *);
void	 swank_recreate(void);
void	 swank_loading(void);
void	 swank_up(const char *, size_t);
void	 swank_down(const char *);
int	 swank_is_loading(void);
int	 swank_fd(void);
void	 swank_reclaim(void);
const char *swank_version(void);
const char *swank_why(void);
const char *swank_describe(void);
int	 swank_main(const struct dir *, const char *, const char *, int);

/* swank-cache.c */
int	 swank_cache_find(const char *);
int	 swank_cache_put(const char *);
struct swank_scan {
	const char	*word;		/* counted: frames beginning with it */
	u_int		 count;
	int		 broken;	/* not swank's framing */
	int		 hlen;		/* header digits read */
	size_t		 len;
	size_t		 left;		/* of the payload */
	size_t		 seen;		/* of its first bytes, against word */
	int		 match;
};
void	 swank_scan(struct swank_scan *, const char *, size_t);

/* console.c */
int	 console_open(const char *, off_t, int, int);
void	 console_close(void);
void	 console_reopen(void);
void	 console_output(const char *, size_t);
void	 console_break(void);

/* server.c */
struct server_opts {
	const char	*name;
	char *const	*argv;
	size_t		 scrollback;
	int		 bootstrap;	/* the command serves the channel */
	int		 no_swank;
	int		 notify_fd;	/* a newline there when ready, or -1 */
	long		 stop_timeout;	/* on SIGTERM */
	const char	*log;		/* console log file, "-", or NULL */
	off_t		 log_size;	/* rotate past it; 0: never */
	int		 log_keep;
	int		 log_stamps;
	int		 restart;
#define RESTART_NEVER		0
#define RESTART_ON_FAILURE	1
#define RESTART_ALWAYS		2
	u_short		 rows;		/* the pty's size until a client's */
	u_short		 cols;
	char		*cwd;		/* the image's, or NULL: the server's */
	const char	*state;		/* -D: the state directory, or NULL */
	int		 keep_cores;	/* cores kept by lispd save */
	int		 resume;	/* --resume: start from the newest core */
	int		 save_on_term;	/* --save-on-term: SIGTERM saves first */
};

struct server_client {
	int			 fd;
	struct event		*rd;
	struct event		*wr;
	struct event		*gone;		/* closed while not read */
	struct evbuffer		*in;
	struct evbuffer		*out;
	int			 passfd;	/* a terminal sent along, or -1 */
	int			 flags;
#define SC_HELLO	0x1	/* said hello */
#define SC_ATTACHED	0x2	/* receives console output */
#define SC_READONLY	0x4
#define SC_WAITEXIT	0x8	/* stop or kill: wants the exit status */
#define SC_DROPPING	0x10	/* queue was full: dropping until drained */
#define SC_CLOSING	0x20	/* close once the queue is written */
#define SC_DEAD		0x40	/* to be freed by the reaper */
#define SC_TOLDRO	0x80	/* told its input is ignored */
#define SC_EXITING	0x200	/* exit status sent once the output is out */
#define SC_WAITREADY	0x400	/* wants PROTO_OK when the image is ready */
#define SC_WANTINFO	0x800	/* wants PROTO_INFO */
#define SC_LOG		0x1000	/* lispd log: output only, not a terminal */
#define SC_CORKED	0x2000	/* output held back for a larger write */
#define SC_PAUSED	0x4000	/* not read: the image has forms enough */
#define SC_EVALGO	0x8000	/* its evaluation was sent to the image */
#define SC_UNREAD	0x10000	/* not read until its answers are */
#define SC_WAITSAVE	0x20000	/* lispd save: wants how it went */
#define SC_SAVESTOP	0x40000	/* stop --save: then the exit status */
	u_short			 rows;
	u_short			 cols;
	uint64_t		 dropped;

	/* An evaluation (lispd eval), sent on to the image. */
	uint32_t		 eval_id;	/* 0: none */
	uint32_t		 ping_id;	/* lispd ping's CTL_PING, or 0 */
	uint64_t		 ping_t0;
	uint32_t		 eval_flags;
	char			*eval_package;
	uint32_t		 eval_unacked;	/* output not yet acknowledged */

	/* A handed-over terminal (server-tty.c), or ttyfd -1. */
	int			 ttyfd;
	struct event		*tty_rd;
	struct event		*tty_key;	/* a part of the key waits */
	struct event		*tty_wr;	/* its output: server-client.c */
	struct evbuffer		*tty_out;
	struct key		 key;
	int			 tty_statfd;	/* /proc/PID/stat of the client */
	dev_t			 tty_dev;
	int			 tty_stopped;	/* it is: the tty is left alone */
	uint64_t		 tty_looked;	/* ns: when it was looked at */
	struct event		*tty_cont;	/* looks if it continued */
	TAILQ_ENTRY(server_client) entry;
};
TAILQ_HEAD(server_clients, server_client);

enum server_state {
	SERVER_RUNNING,
	SERVER_STOPPING,
	SERVER_RESTARTING,	/* the image exited; another soon */
	SERVER_EXITED,
};

struct server {
	struct event_base	*base;
	const struct server_opts *opts;
	const struct dir	*dir;
	const char		*name;
	char			*command;
	int			 lockfd;
	int			 listenfd;
	struct event		*listen_ev;
	struct event		*accept_ev;	/* listens again after a pause */
	struct event		*reap_ev;
	struct event		*stop_ev;
	struct event		*linger_ev;
	struct event		*cork_ev;	/* writes held output */

	int			 ptyfd;
	struct event		*pty_rd;
	struct event		*pty_wr;
	struct evbuffer		*pty_in;
	size_t			 pty_line;	/* of a line the pty has */
	int			 pty_peer;	/* a slave fd, to see it read */
	struct event		*pty_taken_ev;	/* looks if it was */
	long			 pty_taken_us;
	pid_t			 pid;
	time_t			 started;
	enum server_state	 state;
	int			 status;
	u_short			 rows;
	u_short			 cols;
	struct ring		 ring;

	struct server_client	*active;	/* its size is the pty's */
	struct server_clients	 clients;
	u_int			 nclients;

	long			 stop_left;	/* seconds from SIGTERM to KILL */
	struct event		*restart_ev;
	int			 restarts;
	int			 backoff;	/* quick failures in a row */
	int			 last_status;	/* of the image run before */
	struct event		*info_ev;
	int			 ready;
	int			 ldb;		/* SBCL's LDB took over */
	int			 notify_fd;	/* told of readiness, or -1 */
	char			*notify_socket;	/* $NOTIFY_SOCKET, or NULL */
	long			 stop_timeout;
};
extern struct server server;

int	 server_main(struct dir *, const struct server_opts *, int, int);
void	 server_daemon(struct dir *, struct server_opts *, int, int);
void	 server_ready(void);
void	 server_list(struct server_client *);
void	 server_image_info(const char *, size_t);
void	 server_input(struct server_client *, const void *, size_t);
int	 server_input_room(size_t);
void	 server_resize(struct server_client *);
void	 server_stop(u_int);
void	 server_notice_all(const char *);
void	 server_client_pong(uint32_t);
int	 server_notify_send(const char *);

/* watchdog.c */
#define WATCHDOG_ID	0x80000000U	/* its CTL_PINGs; lispd ping's are below */
void	 watchdog_init(void);
void	 watchdog_start(void);
void	 watchdog_pong(uint32_t);
void	 watchdog_free(void);
int	 server_env_seconds(const char *, int);
const char *server_unnamed(const char *);
void	 server_kill(void);
void	 server_reap(void);
uint64_t server_now(void);
int	 server_fanout_ok(void);
void	 server_fanout_spent(uint64_t);
void	 server_cork(void);
void	 server_accept_failed(const char *);

/* server-client.c */
void	 server_client_create(int);
void	 server_client_free(struct server_client *);
void	 server_client_lost(struct server_client *);
void	 server_client_flush(struct server_client *);
void	 server_client_write(struct server_client *, uint32_t, const void *,
	     size_t);
void	 server_client_error(struct server_client *, int, const char *, ...)
	     __attribute__((format(printf, 3, 4)));
void	 server_client_notice(struct server_client *, const char *, ...)
	     __attribute__((format(printf, 2, 3)));
void	 server_client_output(struct server_client *, const void *, size_t,
	    int);
void	 server_client_uncork(struct server_client *);
void	 server_client_exit(struct server_client *);
void	 server_client_keys(struct server_client *, const void *, size_t);
void	 server_client_detach(struct server_client *);
void	 server_client_eval_out(struct server_client *, int, const void *,
	     size_t);
void	 server_client_eval_done(struct server_client *, uint32_t,
	     const void *, size_t);
struct server_client *server_client_by_eval(uint32_t);
void	 server_client_eval_end_all(int, const char *);
void	 server_client_resume_all(void);

/* server-tty.c */
int	 server_tty_open(struct server_client *, int, const uint8_t *,
	     size_t, char *, size_t);
void	 server_tty_close(struct server_client *);
void	 server_tty_free(struct server_client *);
int	 server_tty_stopped(struct server_client *);

/* client.c */
struct client {
	int		 fd;
	pid_t		 server_pid;
	uint32_t	 server_version;
	const char	*name;
	uint8_t		*buf;
	size_t		 len;
	size_t		 off;
	int		 corked;	/* frames wait in obuf */
	uint8_t		*obuf;
	size_t		 olen;
};
/* How a conversation with a server ended (client_ended). */
struct client_end {
	int		 exited;	/* 1: the image ended; 0: refused */
	int		 status;	/* its wait status; else lispd's exit */
	char		 text[NOTICE_MAX]; /* how it ended; else why, named */
};
void	 client_init(int, char **);
void	 client_stay(void);
int	 client_connect(struct client *, const struct dir *, const char *);
void	 client_open(struct client *, const struct dir *, const char *, int);
int	 client_hello(struct client *);
void	 client_close(struct client *);
int	 client_send(struct client *, uint32_t, const void *, size_t);
int	 client_uncork(struct client *);
int	 client_send_fd(struct client *, uint32_t, const void *, size_t, int);
ssize_t	 client_sendmsg_fd(int, struct iovec *, int, int, int);
int	 client_recv(struct client *, struct proto_msg *);
int	 client_signals(const int *, size_t);
int	 client_write_all(int, const void *, size_t);
int	 client_read(struct client *);
int	 client_next(struct client *, struct proto_msg *);
int	 client_exit_status(int);
void	 client_named(const struct client *, const char *, size_t, char *,
	     size_t);
int	 client_ended(const struct client *, const struct proto_msg *,
	     struct client_end *);
const char *client_info_get(const char *, const char *, char *, size_t);
void	 client_describe_exit(int, char *, size_t);

/* eval.c */
struct eval_opts {
	const char	*package;	/* "": CL-USER */
	long		 timeout;	/* seconds, 0: none */
	int		 verbose;
	int		 out_fd;	/* for what it prints; 0: stdout */
};
int	 eval_main(const struct dir *, const char *, const struct eval_opts *,
	     char **, int);

/* remote.c */
int	 remote_split(const char *, char **, const char **);
int	 remote_safe(const char *);
int	 remote_run(const char *, char *const *, int, const char *, size_t);

/* attach.c */
struct attach_opts {
	int		 readonly;
	int		 relay;		/* keep the terminal, relay bytes */
	const char	*detach;
	int		 history;
	int		 piped;		/* -P: no terminal, lines through pipes */
};
int	 attach_main(const struct dir *, const char *,
	     const struct attach_opts *);

/*
 * The command line, as tmux has it: main.c (the command table, the usage
 * made from it, main), cmd.c (what the commands share), and a cmd-*.c per
 * command or close family.
 */

/* main.c: the command table, the usage made from it, main. */
struct cmd_usage {
	const char	*args;		/* after the name: lines, \n between */
	const char	*help;		/* what it does: lines, \n between */
};
struct cmd_entry {
	const char	*name;
	const char	*alias;		/* another name for it, or NULL */
	struct cmd_usage usage[2];	/* a second form, or none */
	const char	*getopt;	/* its options, besides -S and -s */
	int		 flags;
#define CMD_REMOTE	0x1	/* takes [user@]host:NAME (ls: host:) */
#define CMD_NAMEOPT	0x2	/* the session only by -s: no name argument */
#define CMD_STDIN	0x4	/* forms or text, on a remote's stdin */
	int		(*exec)(const struct cmd_entry *, int, char **);
};

/* cmd.c: errors, numbers, getopt, the session named, a remote run. */
extern const char *opt_dir;
extern const char *opt_name;
__attribute__((noreturn, format(printf, 2, 3)))
void	 usage_error(const char *, const char *, ...);
long	 number(const char *, const char *, const char *, long, long);
long long size_number(const char *, const char *, const char *);
int	 command_getopt(const struct cmd_entry *, int, char **);
const char *command_name(const struct cmd_entry *, int *, char ***);
const char *command_only_name(const struct cmd_entry *, int, char **);
char	*command_remote(const struct cmd_entry *, const char *,
	     const char **);
struct command_args {	/* options for the lispd on another host */
	const char	*v[12];
	int		 n;
	char		 num[2][24];
	int		 nnum;
};
void	 command_arg(struct command_args *, const char *);
void	 command_arg_number(struct command_args *, const char *, long);
int	 command_forward(const struct cmd_entry *, const char *, const char *,
	     const struct command_args *, int, const char *, size_t);

/* cmd-start.c: start, run, wait; a session started (attach too). */
#define START_BOOTSTRAP	0x1	/* -B: the command serves the channel */
#define START_NOSWANK	0x2	/* -N: no swank in the image */
int	 start_session(struct dir *, const char *, char **, size_t, int, int,
	     int);
int	 cmd_start(const struct cmd_entry *, int, char **);
int	 cmd_run(const struct cmd_entry *, int, char **);
int	 cmd_wait(const struct cmd_entry *, int, char **);
int	 cmd_ping(const struct cmd_entry *, int, char **);

/* cmd-attach.c: attach, and lispd alone (attach.c does it). */
int	 cmd_attach(const struct cmd_entry *, int, char **);
int	 cmd_attach_default(const struct cmd_entry *);

/* cmd-eval.c: eval (eval.c does it). */
int	 cmd_eval(const struct cmd_entry *, int, char **);

/* cmd-ls.c: ls, the sessions and what is wrong with them. */
int	 cmd_ls(const struct cmd_entry *, int, char **);

/* cmd-log.c: log, the scrollback and what follows. */
int	 cmd_log(const struct cmd_entry *, int, char **);

/* cmd-swank.c: swank, the bridge or the cache of sources. */
int	 cmd_swank(const struct cmd_entry *, int, char **);

/* cmd-send.c: send, stop and kill, each answered by the server. */
int	 cmd_send(const struct cmd_entry *, int, char **);
int	 cmd_stop(const struct cmd_entry *, int, char **);
int	 cmd_kill(const struct cmd_entry *, int, char **);
int	 cmd_save(const struct cmd_entry *, int, char **);

#endif
