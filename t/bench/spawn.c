/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * spawn: run a command many times, each to its end, and print the median
 * and 90th percentile of the wall time in microseconds.
 *
 *	spawn [-n runs] -- command [arg ...]
 *
 * The command's stdout and stderr go to /dev/null; a run that exits
 * non-zero is an error, so a broken target cannot look fast.
 */

#include <sys/wait.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int
cmp(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x < y ? -1 : x > y);
}

int
main(int argc, char **argv)
{
	struct timespec	 t0, t1;
	double		*us;
	pid_t		 pid;
	int		 ch, n = 200, i, status, null;

	while ((ch = getopt(argc, argv, "+n:")) != -1) {
		switch (ch) {
		case 'n':
			n = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: spawn [-n runs] -- command\n");
			return (2);
		}
	}
	argv += optind;
	if (*argv == NULL || n < 1) {
		fprintf(stderr, "usage: spawn [-n runs] -- command\n");
		return (2);
	}
	if ((null = open("/dev/null", O_WRONLY)) == -1 ||
	    (us = calloc(n, sizeof *us)) == NULL) {
		perror("spawn");
		return (1);
	}
	for (i = 0; i < n; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		switch (pid = fork()) {
		case -1:
			perror("fork");
			return (1);
		case 0:
			dup2(null, 1);
			dup2(null, 2);
			execvp(argv[0], argv);
			_exit(127);
		}
		if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0) {
			fprintf(stderr, "spawn: %s failed (status %#x)\n",
			    argv[0], status);
			return (1);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		us[i] = (t1.tv_sec - t0.tv_sec) * 1e6 +
		    (t1.tv_nsec - t0.tv_nsec) / 1e3;
	}
	qsort(us, n, sizeof *us, cmp);
	printf("runs=%d p50_us=%.1f p90_us=%.1f\n", n, us[n / 2],
	    us[n * 9 / 10]);
	return (0);
}
