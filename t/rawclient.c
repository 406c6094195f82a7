/*
 * A raw client for the tests: connect to a socket, write the bytes given in
 * hex, then print each frame the server sends ("TYPE LEN TEXT") until it
 * closes the connection (exit 0) or is silent for a second (exit 1).
 */

#include <sys/socket.h>
#include <sys/un.h>

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

int
main(int argc, char **argv)
{
	struct sockaddr_un	 sun;
	static uint8_t		 buf[1 << 20];
	uint8_t			*out;
	size_t			 len = 0, n = 0, i, plen;
	ssize_t			 r;
	struct pollfd		 pfd;
	int			 fd, hi, lo;

	if (argc != 3) {
		fprintf(stderr, "usage: rawclient socket hexbytes\n");
		return (2);
	}
	out = malloc(strlen(argv[2]) / 2 + 1);
	for (i = 0; argv[2][i] != '\0' && argv[2][i + 1] != '\0'; i += 2) {
		if ((hi = hexval(argv[2][i])) < 0 ||
		    (lo = hexval(argv[2][i + 1])) < 0)
			return (2);
		out[n++] = hi << 4 | lo;
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", argv[1]);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		perror("connect");
		return (1);
	}
	/* A server that refuses us may close first: then read the EOF. */
	signal(SIGPIPE, SIG_IGN);
	if (n != 0)
		(void)!write(fd, out, n);
	pfd.fd = fd;
	pfd.events = POLLIN;
	i = 0;
	for (;;) {
		if (poll(&pfd, 1, 1000) <= 0) {
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
