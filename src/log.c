/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * Logging. In the foreground everything goes to stderr; a detached server
 * logs to syslog. Messages are escaped so that nothing a peer sends can
 * drive the terminal they are read on.
 */

#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "lispd.h"

static int		 log_foreground = 1;
static const char	*log_tag = "lispd";

void
log_init(int foreground, const char *tag)
{
	log_foreground = foreground;
	log_tag = tag;
	if (!foreground)
		openlog(tag, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static void
log_escape(char *dst, size_t dstlen, const char *src)
{
	size_t	i = 0;

	for (; *src != '\0' && i + 5 < dstlen; src++) {
		unsigned char c = *src;

		if (c >= 0x20 && c != 0x7f)
			dst[i++] = c;
		else
			i += snprintf(dst + i, dstlen - i, "\\%03o", c);
	}
	dst[i] = '\0';
}

static void
log_vwrite(int pri, const char *fmt, va_list ap, int err)
{
	char	raw[1024], msg[4096];

	vsnprintf(raw, sizeof raw, fmt, ap);
	log_escape(msg, sizeof msg, raw);
	if (log_foreground) {
		if (err)
			fprintf(stderr, "%s: %s: %s\n", log_tag, msg,
			    strerror(err));
		else
			fprintf(stderr, "%s: %s\n", log_tag, msg);
	} else {
		if (err)
			syslog(pri, "%s: %s", msg, strerror(err));
		else
			syslog(pri, "%s", msg);
	}
}

#define LOG_VA(pri, err) do {					\
	va_list	ap;							\
									\
	va_start(ap, fmt);						\
	log_vwrite(pri, fmt, ap, err);					\
	va_end(ap);							\
} while (0)

void
log_warn(const char *fmt, ...)
{
	int	err = errno;

	LOG_VA(LOG_WARNING, err);
	errno = err;
}

void
log_warnx(const char *fmt, ...)
{
	LOG_VA(LOG_WARNING, 0);
}

void
log_info(const char *fmt, ...)
{
	LOG_VA(LOG_INFO, 0);
}

void
log_debug(const char *fmt, ...)
{
	if (getenv("LISPD_DEBUG") != NULL)
		LOG_VA(LOG_DEBUG, 0);
}

void
fatal(const char *fmt, ...)
{
	LOG_VA(LOG_CRIT, errno);
	exit(EXIT_FAIL);
}

void
fatalx(const char *fmt, ...)
{
	LOG_VA(LOG_CRIT, 0);
	exit(EXIT_FAIL);
}

static void
log_user(const char *fmt, va_list ap)
{
	fputs("lispd: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/* A user error: one line on stderr, then the documented status. */
void
die(int status, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_user(fmt, ap);
	va_end(ap);
	exit(status);
}

void
warnmsg(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_user(fmt, ap);
	va_end(ap);
}

/*
 * A notice for a person at a terminal, as "[lispd: TEXT]" on a line of its
 * own, in buf; its length, cut to fit. CAN first ends an escape sequence
 * that lost output may have cut; through pipes (piped: Emacs's comint)
 * plain newlines. The one rendering of a notice, in the attach client and
 * in the server writing to a terminal handed over.
 */
size_t
notice_format(char *buf, size_t size, int piped, const char *fmt, va_list ap)
{
	const char	*pre = piped ? "\n[lispd: " : "\030\r\n[lispd: ";
	const char	*post = piped ? "]\n" : "]\r\n";
	size_t		 n, room;
	int		 w;

	n = strlen(pre);
	if (size < n + strlen(post) + 1) {
		if (size > 0)
			*buf = '\0';
		return (0);
	}
	memcpy(buf, pre, n);
	room = size - n - strlen(post);
	w = vsnprintf(buf + n, room, fmt, ap);
	if (w < 0)
		w = 0;
	if ((size_t)w >= room)
		w = room - 1;
	n += w;
	memcpy(buf + n, post, strlen(post) + 1);
	return (n + strlen(post));
}
