/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
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

/* Looking for a marker string in the text scan_feed() passes on. */
struct match {
	const char	*marker;
	size_t		 idx;		/* marker characters matched so far */
	int		 done;
};

/* The "user's terminal": a pty whose slave runs an attach client. */
struct client {
	int		 fd;		/* pty master */
	pid_t		 pid;		/* client process */
	struct scan	 sc;
};

uint64_t	 now_ns(void);
long long	 number(const char *, long long, long long);
int		 bench_timeopt(int, const char *, int *, int *);
char		**bench_command(int, char **, void (*)(void));
void		 tty_makeraw(struct termios *);
int		 pty_open(int *, int *, const struct winsize *);
pid_t		 pty_spawn(int, int, int, char **);
ssize_t		 writeall(int, const void *, size_t);

void		 scan_feed(struct scan *, const char *, size_t, scan_fn *,
		    void *);
size_t		 match_feed(struct match *, const char *, size_t);
void		 match_fn(const char *, size_t, void *);

void		 client_start(struct client *, char **);
ssize_t		 client_read(struct client *, char *, size_t, int);
void		 client_put(struct client *, const char *);
void		 client_wait(struct client *, int, int);
void		 client_drain(struct client *);
long long	 client_until(struct client *, const char *, int);
void		 client_ready(struct client *, int);
int		 client_stop(struct client *);

#endif /* BENCHPTY_H */
