/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * The swank sources an editor brought, kept by version: an editor that
 * reaches a session through ssh needs its own SLIME's swank on that host
 * (swank -w), and sends it once, as a tar archive on stdin (swank -C), to
 * $XDG_CACHE_HOME/lispd/swank/VERSION (else ~/.cache/...). A copy is
 * unpacked beside its place and renamed there whole, and it is checked
 * before each use: its loader is there and says that version.
 */

#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lispd.h"

/* A version names a directory: nothing that could leave it. */
static void
swank_cache_check_version(const char *version)
{
	const char	*p;

	if (*version == '\0' || *version == '.' || strlen(version) > 64)
		goto bad;
	for (p = version; *p != '\0'; p++) {
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && strchr("._+-", *p) == NULL)
			goto bad;
	}
	return;
bad:
	die(EXIT_USAGE, "swank: '%s' is not a swank version (letters, digits "
	    "and ._+- only, at most 64)", version);
}

/* The cache directory, made (0700) if need be; path has PATH_MAX. */
static void
swank_cache_dir(char *path)
{
	const char	*base = getenv("XDG_CACHE_HOME"), *home;
	int		 n;

	if (base != NULL && *base == '/')
		n = snprintf(path, PATH_MAX, "%s/lispd/swank", base);
	else if ((home = getenv("HOME")) != NULL && *home == '/')
		n = snprintf(path, PATH_MAX, "%s/.cache/lispd/swank", home);
	else
		die(EXIT_FAIL, "swank: no cache directory: set HOME or "
		    "XDG_CACHE_HOME");
	if (n < 0 || n >= PATH_MAX - 80)
		die(EXIT_FAIL, "swank: the cache directory's path is too long");
	if (dir_mkdirs(path) == -1)
		die(EXIT_FAIL, "swank: cannot make %s: %s", path,
		    strerror(errno));
}

/*
 * The first line of dir/name that begins with prefix, what follows the
 * prefix trimmed of blanks, in out; 0 if the file has no such line.
 */
static int
swank_cache_line(const char *dir, const char *name, const char *prefix,
    char *out, size_t len)
{
	char	 path[PATH_MAX], line[4096], *p;
	FILE	*f;
	size_t	 n;
	int	 bol = 1, found = 0;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((f = fopen(path, "r")) == NULL)
		return (0);
	while (!found && fgets(line, sizeof line, f) != NULL) {
		/* Only at the start of a line: a long one comes in parts. */
		if (bol && strncmp(line, prefix, strlen(prefix)) == 0) {
			p = line + strlen(prefix);
			p += strspn(p, " \t");
			n = strlen(p);
			while (n > 0 && strchr(" \t\r\n", p[n - 1]) != NULL)
				n--;
			snprintf(out, len, "%.*s", (int)n, p);
			found = 1;
		}
		bol = line[strlen(line) - 1] == '\n';
	}
	fclose(f);
	return (found);
}

/*
 * The version of the swank in dir, as its loader works it out: Debian's
 * from the first line of slime-version, SLIME's own from the ";; Version:"
 * line of slime.el; "" if neither says. The bootstrap's loader-version
 * has the same rule (t/swank-version.sh checks both on the same files).
 */
static void
swank_cache_version(const char *dir, char *out, size_t len)
{
	if (swank_cache_line(dir, "slime-version", "", out, len) &&
	    *out != '\0')
		return;
	if (!swank_cache_line(dir, "slime.el", ";; Version:", out, len))
		*out = '\0';
}

/* Is the copy in dir whole, and of version? */
static int
swank_cache_good(const char *dir, const char *version)
{
	char		path[PATH_MAX], have[128];
	struct stat	st;

	snprintf(path, sizeof path, "%s/swank-loader.lisp", dir);
	if (stat(path, &st) == -1 || !S_ISREG(st.st_mode))
		return (0);
	swank_cache_version(dir, have, sizeof have);
	return (strcmp(have, version) == 0);
}

/* -c: the cached loader of version, printed; exit 1 if none. */
int
swank_cache_find(const char *version)
{
	char	dir[PATH_MAX];

	swank_cache_check_version(version);
	swank_cache_dir(dir);
	strcat(dir, "/");
	strcat(dir, version);
	if (!swank_cache_good(dir, version))
		die(EXIT_FAIL, "swank: no swank %s in %s: send its sources "
		    "with 'lispd swank -C %s' (a tar archive on stdin)",
		    version, dir, version);
	printf("%s/swank-loader.lisp\n", dir);
	return (EXIT_OK);
}

static void
swank_cache_remove(const char *dir)
{
	pid_t	pid;
	int	status;

	if ((pid = fork()) == 0) {
		execlp("rm", "rm", "-rf", "--", dir, (char *)NULL);
		_exit(127);
	}
	while (pid > 0 && waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
}

/*
 * -C: a SLIME's swank sources, a tar archive on stdin, kept as version;
 * the loader's path printed. Unpacked beside its place, checked, then
 * renamed: a copy is there whole, or not at all.
 */
int
swank_cache_put(const char *version)
{
	char	 dir[PATH_MAX], tmp[PATH_MAX], have[128];
	pid_t	 pid;
	int	 status;

	swank_cache_check_version(version);
	swank_cache_dir(dir);
	if (snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, version) >=
	    (int)sizeof tmp)
		die(EXIT_FAIL, "swank: the cache directory's path is too long");
	strcat(dir, "/");
	strcat(dir, version);
	if (mkdtemp(tmp) == NULL)
		die(EXIT_FAIL, "swank: cannot make a directory beside %s: %s",
		    dir, strerror(errno));
	if ((pid = fork()) == -1)
		die(EXIT_FAIL, "swank: fork: %s", strerror(errno));
	if (pid == 0) {
		execlp("tar", "tar", "-x", "--no-same-owner", "-f", "-", "-C",
		    tmp, (char *)NULL);
		fprintf(stderr, "lispd: swank: cannot run tar: %s\n",
		    strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR)
			die(EXIT_FAIL, "swank: waiting for tar: %s",
			    strerror(errno));
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		swank_cache_remove(tmp);
		die(EXIT_FAIL, "swank: the sources of swank %s did not unpack "
		    "(tar said why above): nothing was kept", version);
	}
	if (!swank_cache_good(tmp, version)) {
		swank_cache_version(tmp, have, sizeof have);
		swank_cache_remove(tmp);
		die(EXIT_FAIL, "swank: the archive is not swank %s (%s): send "
		    "the directory of a SLIME's swank-loader.lisp, whose "
		    "slime-version or slime.el says %s", version,
		    *have != '\0' ? have : "no swank-loader.lisp or no version",
		    version);
	}
	if (rename(tmp, dir) == -1) {
		/* Another got there first, or an old copy is in the way. */
		if (swank_cache_good(dir, version))
			swank_cache_remove(tmp);
		else {
			swank_cache_remove(dir);
			if (rename(tmp, dir) == -1) {
				swank_cache_remove(tmp);
				die(EXIT_FAIL, "swank: cannot keep %s: %s", dir,
				    strerror(errno));
			}
		}
	}
	printf("%s/swank-loader.lisp\n", dir);
	return (EXIT_OK);
}
