/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * Unit tests for where the bootstrap goes in an sbcl command line
 * (src/bootstrap.c).
 */

#include "config.h"

#include <stdlib.h>

#include "lispd.h"
#include "tap.h"

#define BOOT	"/b/lispd.lisp"

/* The command, with "--load BOOT" where it should go, as one string. */
static const char *
inject(const char *cmd, int *how)
{
	static char	 out[512];
	char		*argv[32], buf[512], **v;
	int		 n = 0, i;

	snprintf(buf, sizeof buf, "%s", cmd);
	for (argv[n] = strtok(buf, " "); argv[n] != NULL;
	    argv[n] = strtok(NULL, " "))
		n++;
	v = bootstrap_argv(argv, BOOT, how);
	if (v == NULL)
		return ("(none)");
	out[0] = '\0';
	for (i = 0; v[i] != NULL; i++) {
		if (i != 0)
			strcat(out, " ");
		strcat(out, v[i]);
	}
	free(v);
	return (out);
}

#define is_inject(cmd, want, wanthow) do {				\
	int how_ = -1;							\
	const char *got_ = inject(cmd, &how_);				\
	ok(strcmp(got_, want) == 0 && how_ == (wanthow), "%s", cmd);	\
	if (strcmp(got_, want) != 0)					\
		printf("#   got  '%s'\n#   want '%s'\n", got_, want);	\
} while (0)

int
main(void)
{
	is_inject("sbcl", "sbcl --load " BOOT, BOOTSTRAP_LOADED);
	is_inject("/usr/bin/sbcl --noinform",
	    "/usr/bin/sbcl --noinform --load " BOOT, BOOTSTRAP_LOADED);
	is_inject("sbcl --dynamic-space-size 4096 --control-stack-size 8 "
	    "--noinform --load app.lisp",
	    "sbcl --dynamic-space-size 4096 --control-stack-size 8 "
	    "--noinform --load " BOOT " --load app.lisp", BOOTSTRAP_LOADED);
	is_inject("sbcl --core my.core --tls-limit 8192 --eval (start)",
	    "sbcl --core my.core --tls-limit 8192 --load " BOOT
	    " --eval (start)", BOOTSTRAP_LOADED);
	is_inject("sbcl --noinform --end-runtime-options --noinform",
	    "sbcl --noinform --end-runtime-options --load " BOOT
	    " --noinform", BOOTSTRAP_LOADED);
	is_inject("sbcl --disable-ldb --lose-on-corruption --merge-core-pages "
	    "--eval (x)", "sbcl --disable-ldb --lose-on-corruption "
	    "--merge-core-pages --load " BOOT " --eval (x)", BOOTSTRAP_LOADED);
	is_inject("sbcl --dynamic-space-size", "sbcl --dynamic-space-size "
	    "--load " BOOT, BOOTSTRAP_LOADED);
	is_inject("sbcl --script app.lisp", "(none)", BOOTSTRAP_NOREPL);
	is_inject("sbcl --noinform --non-interactive --load x", "(none)",
	    BOOTSTRAP_NOREPL);
	is_inject("sbcl --end-toplevel-options --script", "sbcl --load " BOOT
	    " --end-toplevel-options --script", BOOTSTRAP_LOADED);
	is_inject("ccl", "(none)", BOOTSTRAP_OTHER);
	is_inject("./my-app --noinform", "(none)", BOOTSTRAP_OTHER);
	is_inject("sbcl-wrapper", "(none)", BOOTSTRAP_OTHER);

	{
		char	*a[] = { (char *)"/usr/bin/sbcl", (char *)"--noinform",
			    NULL };
		char	*b[] = { (char *)"ccl", NULL };
		char	**v = bootstrap_sbcl_runtime(a);

		ok(v != NULL && strcmp(v[0], "/usr/bin/sbcl") == 0 &&
		    strcmp(v[1], "--disable-ldb") == 0 &&
		    strcmp(v[2], "--lose-on-corruption") == 0 &&
		    strcmp(v[3], "--noinform") == 0 && v[4] == NULL,
		    "a restarted sbcl gets --disable-ldb --lose-on-corruption "
		    "first");
		free(v);
		ok(bootstrap_sbcl_runtime(b) == NULL,
		    "another Lisp's command is left alone");
	}

	return (tap_done());
}
