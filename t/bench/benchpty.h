/*
 * benchpty.h - pty helpers shared by the lispd benchmark harnesses
 */

#ifndef BENCHPTY_H
#define BENCHPTY_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <termios.h>

struct winsize;

#define BENCH_COLS	80
#define BENCH_ROWS	24

/* Escape sequence filter state: only text outside sequences is matched. */
struct scan {
	int	 state;
};

/* Called on every run of plain text found by scan_feed(). */
typedef void	 scan_fn(const char *, size_t, void *);

/* The "user's terminal": a pty whose slave runs an attach client. */
struct client {
	int		 fd;		/* pty master */
	pid_t		 pid;		/* client process */
	struct scan	 sc;
};

uint64_t	 now_ns(void);
void		 tty_makeraw(struct termios *);
int		 pty_open(int *, int *, const struct winsize *);
pid_t		 pty_spawn(int, int, int, char **);
ssize_t		 writeall(int, const void *, size_t);

void		 scan_feed(struct scan *, const char *, size_t, scan_fn *,
		    void *);

void		 client_start(struct client *, char **);
ssize_t		 client_read(struct client *, char *, size_t, int);
void		 client_put(struct client *, const char *);
void		 client_wait(struct client *, int, int);
void		 client_drain(struct client *);
void		 client_ready(struct client *, int);
int		 client_stop(struct client *);

#endif /* BENCHPTY_H */
