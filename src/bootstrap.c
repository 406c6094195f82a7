/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * How the bootstrap (lispd.lisp) gets into the image. For a plain sbcl the
 * server adds "--load BOOTSTRAP" after the runtime options, which are
 * parsed as SBCL parses them, so that it is the first toplevel option and
 * the user's own --load and --eval run after it. Any other command is left
 * as it is: an image with its own toplevel calls (lispd:serve) itself.
 */

#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lispd.h"

/* SBCL's runtime options (src/runtime/runtime.c), and which take a value. */
static const struct {
	const char	*name;
	int		 arg;
} bootstrap_runtime[] = {
	{ "--core", 1 },
	{ "--dynamic-space-size", 1 },
	{ "--control-stack-size", 1 },
	{ "--tls-limit", 1 },
	{ "--debug-environment", 0 },
	{ "--disable-ldb", 0 },
	{ "--lose-on-corruption", 0 },
	{ "--merge-core-pages", 0 },
	{ "--no-merge-core-pages", 0 },
	{ "--noinform", 0 },
	{ "--help", 0 },
	{ "--version", 0 },
};

static int
bootstrap_is_sbcl(const char *cmd)
{
	const char	*base = strrchr(cmd, '/');

	return (strcmp(base != NULL ? base + 1 : cmd, "sbcl") == 0);
}

/*
 * The command to run: argv itself, or a new vector with the bootstrap
 * loaded. *how says which: BOOTSTRAP_LOADED, BOOTSTRAP_OTHER (not sbcl),
 * or BOOTSTRAP_NOREPL (--script or --non-interactive: the image would not
 * stay, so it is left alone).
 */
char **
bootstrap_argv(char *const *argv, const char *path, int *how)
{
	char	**v;
	size_t	  argc, i, j, at;

	for (argc = 0; argv[argc] != NULL; argc++)
		;
	if (argc == 0 || !bootstrap_is_sbcl(argv[0])) {
		*how = BOOTSTRAP_OTHER;
		return (NULL);
	}
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--end-toplevel-options") == 0)
			break;
		if (strcmp(argv[i], "--script") == 0 ||
		    strcmp(argv[i], "--non-interactive") == 0) {
			*how = BOOTSTRAP_NOREPL;
			return (NULL);
		}
	}

	/* Skip the runtime options; the toplevel ones begin at "at". */
	at = 1;
	while (at < argc) {
		if (strcmp(argv[at], "--end-runtime-options") == 0) {
			at++;
			break;
		}
		for (j = 0; j < nitems(bootstrap_runtime); j++) {
			if (strcmp(argv[at], bootstrap_runtime[j].name) == 0)
				break;
		}
		if (j == nitems(bootstrap_runtime))
			break;
		at += 1 + bootstrap_runtime[j].arg;
	}
	if (at > argc)
		at = argc;	/* a value missing: SBCL will say so */

	v = xcalloc(argc + 3, sizeof *v);
	for (i = 0, j = 0; i < argc; i++) {
		if (i == at) {
			v[j++] = (char *)"--load";
			v[j++] = (char *)path;
		}
		v[j++] = argv[i];
	}
	if (at == argc) {
		v[j++] = (char *)"--load";
		v[j++] = (char *)path;
	}
	*how = BOOTSTRAP_LOADED;
	return (v);
}

/*
 * For a plain sbcl under a restart policy: the command with
 * --disable-ldb --lose-on-corruption first, so that a heap exhausted or
 * corrupted ends the image (to be restarted) instead of leaving it in the
 * low-level debugger for ever. NULL for another command.
 */
char **
bootstrap_sbcl_runtime(char *const *argv)
{
	char	**v;
	size_t	  argc, i;

	if (argv[0] == NULL || !bootstrap_is_sbcl(argv[0]))
		return (NULL);
	for (argc = 0; argv[argc] != NULL; argc++)
		;
	v = xcalloc(argc + 3, sizeof *v);
	v[0] = argv[0];
	v[1] = (char *)"--disable-ldb";
	v[2] = (char *)"--lose-on-corruption";
	for (i = 1; i < argc; i++)
		v[i + 2] = argv[i];
	return (v);
}

/*
 * Where lispd.lisp is: $LISPD_BOOTSTRAP; the source tree's for a binary
 * run from its build tree, so that a build is tested with its own
 * bootstrap; else the installed one.
 */
const char *
bootstrap_path(void)
{
	static char	 path[PATH_MAX];
	char		 exe[PATH_MAX];
	const char	*env;
	ssize_t		 n;
	size_t		 len = strlen(LISPD_BUILDDIR);

	if ((env = getenv("LISPD_BOOTSTRAP")) != NULL && *env != '\0')
		return (env);
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		if (strncmp(exe, LISPD_BUILDDIR, len) == 0 &&
		    exe[len] == '/') {
			/* Canonical, for the file names the image records. */
			snprintf(exe, sizeof exe, "%s/src/lispd.lisp",
			    LISPD_SRCDIR);
			if (realpath(exe, path) == NULL)
				snprintf(path, sizeof path, "%s", exe);
			return (path);
		}
	}
	snprintf(path, sizeof path, "%s/lispd.lisp", LISPD_PKGDATADIR);
	return (path);
}
