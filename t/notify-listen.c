/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * notify-listen PATH SECONDS [all]: bind a datagram socket at PATH
 * ("@name" for an abstract one), as systemd does for NOTIFY_SOCKET, and
 * print the first datagram that comes. Exit 0 with it, 1 if none came in
 * time. With "all", print every one that comes in SECONDS, a line each as
 * it comes (the watchdog's). The socket is ready once the path exists (or,
 * abstract, once "ready" is printed on stderr).
 */

#include <sys/socket.h>
#include <sys/un.h>

#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	struct sockaddr_un	sun;
	struct pollfd		pfd;
	socklen_t		len;
	char			buf[4096];
	ssize_t			n;
	time_t			t0;
	int			fd;

	if (argc != 3 && !(argc == 4 && strcmp(argv[3], "all") == 0)) {
		fprintf(stderr, "usage: notify-listen path seconds [all]\n");
		return (2);
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", argv[1]);
	len = offsetof(struct sockaddr_un, sun_path) + strlen(argv[1]);
	if (sun.sun_path[0] == '@')
		sun.sun_path[0] = '\0';
	if ((fd = socket(AF_UNIX, SOCK_DGRAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, len) == -1) {
		perror("notify-listen");
		return (2);
	}
	fprintf(stderr, "ready\n");
	pfd.fd = fd;
	pfd.events = POLLIN;
	if (argc == 4) {
		setvbuf(stdout, NULL, _IOLBF, 0);
		t0 = time(NULL);
		while (time(NULL) - t0 < atoi(argv[2])) {
			if (poll(&pfd, 1, 100) != 1)
				continue;
			if ((n = recv(fd, buf, sizeof buf - 1, 0)) <= 0)
				return (1);
			buf[n] = '\0';
			printf("%s\n", buf);
		}
		return (0);
	}
	if (poll(&pfd, 1, atoi(argv[2]) * 1000) != 1)
		return (1);
	if ((n = recv(fd, buf, sizeof buf - 1, 0)) <= 0)
		return (1);
	buf[n] = '\0';
	printf("%s\n", buf);
	return (0);
}
