/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * A raw client for the tests: connect to a socket, write the bytes given in
 * hex, then print each frame the server sends ("TYPE LEN TEXT") until it
 * closes the connection (exit 0) or is silent for a second (exit 1).
 *
 * With -n COUNT FRAME: after the bytes, write the frame (hex) COUNT times
 * and never read; when all is written or the server has taken nothing for
 * two seconds, print "wrote BYTES" and wait to be killed.
 *
 * With -k COUNT SECONDS: open COUNT connections, write the bytes on each,
 * print "held COUNT", keep them SECONDS, then exit 0 (none is read).
 * With -t SECONDS: silence for that long, not a second, is a timeout.
 */

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	return (-1);
}

static uint8_t *
unhex(const char *s, size_t *n)
{
	uint8_t	*out;
	size_t	 i;
	int	 hi, lo;

	out = malloc(strlen(s) / 2 + 1);
	*n = 0;
	for (i = 0; s[i] != '\0' && s[i + 1] != '\0'; i += 2) {
		if ((hi = hexval(s[i])) < 0 || (lo = hexval(s[i + 1])) < 0)
			exit(2);
		out[(*n)++] = hi << 4 | lo;
	}
	return (out);
}

/* Write frame count times, never reading. */
static void
flood(int fd, const uint8_t *frame, size_t flen, unsigned long count)
{
	static uint8_t		 buf[1 << 16];
	struct pollfd		 pfd;
	unsigned long long	 wrote = 0;
	size_t			 per = sizeof buf / flen, i, n, off = 0, len = 0;
	ssize_t			 r;

	for (i = 0; i < per; i++)
		memcpy(buf + i * flen, frame, flen);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	pfd.fd = fd;
	pfd.events = POLLOUT;
	while (count > 0 || off < len) {
		if (off == len) {
			n = count < per ? count : per;
			count -= n;
			off = 0;
			len = n * flen;
		}
		r = write(fd, buf + off, len - off);
		if (r > 0) {
			off += r;
			wrote += r;
		} else if ((r == -1 && errno != EAGAIN) ||
		    poll(&pfd, 1, 2000) <= 0)
			break;
	}
	printf("wrote %llu\n", wrote);
	fflush(stdout);
	for (;;)
		pause();
}

static int
dial(const char *path)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		perror("connect");
		exit(1);
	}
	return (fd);
}

int
main(int argc, char **argv)
{
	static uint8_t		 buf[1 << 20];
	uint8_t			*out;
	size_t			 len = 0, n = 0, i, plen;
	ssize_t			 r;
	struct pollfd		 pfd;
	int			 fd, ch, wait_ms = 1000;
	unsigned long		 count = 0, hold = 0, k;
	uint8_t			*frame = NULL;
	size_t			 flen = 0;

	while ((ch = getopt(argc, argv, "k:n:t:")) != -1) {
		switch (ch) {
		case 'k':
			hold = strtoul(optarg, NULL, 10);
			break;
		case 'n':
			count = strtoul(optarg, NULL, 10);
			break;
		case 't':
			wait_ms = atoi(optarg) * 1000;
			break;
		default:
			return (2);
		}
	}
	argc -= optind;
	argv += optind;
	if (hold != 0 && argc == 3) {
		/* -k COUNT SECONDS socket hexbytes: SECONDS comes first. */
		wait_ms = atoi(argv[0]) * 1000;
		argc--;
		argv++;
	}
	if (count != 0 && argc == 3)
		frame = unhex(argv[2], &flen);
	if (argc < 2 || argc > 3 || (argc == 3 && frame == NULL) ||
	    (frame != NULL && flen == 0)) {
		fprintf(stderr, "usage: rawclient [-t seconds] [-n count | "
		    "-k count seconds] socket hexbytes [frame]\n");
		return (2);
	}
	out = unhex(argv[1], &n);
	/* A server that refuses us may close first: then read the EOF. */
	signal(SIGPIPE, SIG_IGN);
	if (hold != 0) {
		for (k = 0; k < hold; k++) {
			fd = dial(argv[0]);
			if (n != 0)
				(void)!write(fd, out, n);
		}
		printf("held %lu\n", hold);
		fflush(stdout);
		poll(NULL, 0, wait_ms);
		return (0);
	}
	fd = dial(argv[0]);
	if (n != 0)
		(void)!write(fd, out, n);
	if (frame != NULL)
		flood(fd, frame, flen, count);
	pfd.fd = fd;
	pfd.events = POLLIN;
	i = 0;
	for (;;) {
		if (poll(&pfd, 1, wait_ms) <= 0) {
			printf("timeout\n");
			return (1);
		}
		r = read(fd, buf + len, sizeof buf - len);
		if (r <= 0)
			break;
		len += r;
		for (; i + 8 <= len; i += 8 + plen) {
			plen = (size_t)buf[i + 4] << 24 | buf[i + 5] << 16 |
			    buf[i + 6] << 8 | buf[i + 7];
			if (i + 8 + plen > len)
				break;
			printf("%u %zu ", buf[i] << 24 | buf[i + 1] << 16 |
			    buf[i + 2] << 8 | buf[i + 3], plen);
			fwrite(buf + i + 8, 1, plen, stdout);
			printf("\n");
			fflush(stdout);
		}
	}
	printf("closed\n");
	return (0);
}
