/*
 * Logging. In the foreground everything goes to stderr; a detached server
 * logs to syslog. Messages are escaped so that nothing a peer sends can
 * drive the terminal they are read on.
 */

#include "config.h"

#include <errno.h>
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

void
log_warn(const char *fmt, ...)
{
	va_list	ap;
	int	err = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, fmt, ap, err);
	va_end(ap);
	errno = err;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, fmt, ap, 0);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_INFO, fmt, ap, 0);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (getenv("LISPD_DEBUG") == NULL)
		return;
	va_start(ap, fmt);
	log_vwrite(LOG_DEBUG, fmt, ap, 0);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	err = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, fmt, ap, err);
	va_end(ap);
	exit(EXIT_FAIL);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, fmt, ap, 0);
	va_end(ap);
	exit(EXIT_FAIL);
}

/* A user error: one line on stderr, then the documented status. */
void
die(int status, const char *fmt, ...)
{
	va_list	ap;

	fputs("lispd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

void
warnmsg(const char *fmt, ...)
{
	va_list	ap;

	fputs("lispd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
