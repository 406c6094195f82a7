/* SPDX-License-Identifier: ISC; Copyright (c) 2026 the lispd authors */
/*
 * systemd's watchdog (WatchdogSec=): with $WATCHDOG_USEC set for this
 * process, once the image is ready WATCHDOG=1 goes to $NOTIFY_SOCKET every
 * half period, but only if the image answered the last ping through its
 * control channel (lispd ping's round trip), so that systemd restarts an
 * image that is wedged, not merely one that has exited. While a core is
 * saved the image is busy, not wedged: it counts as answering. Neither
 * variable reaches the image.
 */

#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "lispd.h"

static struct {
	uint64_t	 usec;		/* WatchdogSec, or 0: none */
	struct event	*timer;
	uint32_t	 id;		/* the last ping sent */
	int		 answered;	/* since the last tick */
} watchdog;

/* Take the period from the environment, for this process only. */
void
watchdog_init(void)
{
	const char	*usec = getenv("WATCHDOG_USEC");
	const char	*pid = getenv("WATCHDOG_PID");
	char		*end;
	unsigned long long v;

	memset(&watchdog, 0, sizeof watchdog);
	if (usec != NULL && *usec != '\0' && (pid == NULL || *pid == '\0' ||
	    strtol(pid, NULL, 10) == (long)getpid())) {
		v = strtoull(usec, &end, 10);
		if (*end == '\0' && v >= 2000 && v <= 86400ULL * 1000000)
			watchdog.usec = v;
		else
			log_warnx("WATCHDOG_USEC=%s is not a period lispd can "
			    "keep: no watchdog", usec);
	}
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

static void
watchdog_ping(void)
{
	uint8_t	msg[4];
	size_t	n;

	watchdog.id = WATCHDOG_ID | ((watchdog.id + 1) & ~WATCHDOG_ID);
	n = proto_pack_u32(msg, sizeof msg, watchdog.id);
	if (control_up())
		(void)control_send(CTL_PING, msg, n, NULL, 0);
}

static void
watchdog_tick_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd; (void)events; (void)arg;
	if (watchdog.answered || save_busy())
		(void)server_notify_send("WATCHDOG=1");
	else
		log_warnx("%s: the image did not answer its watchdog ping: "
		    "no WATCHDOG=1", server.name);
	watchdog.answered = 0;
	watchdog_ping();
}

/* The image is ready (READY=1 was sent): the first WATCHDOG=1 now. */
void
watchdog_start(void)
{
	struct timeval	tv;

	if (watchdog.usec == 0 || watchdog.timer != NULL)
		return;
	tv.tv_sec = watchdog.usec / 2 / 1000000;
	tv.tv_usec = watchdog.usec / 2 % 1000000;
	watchdog.timer = event_new(server.base, -1, EV_PERSIST,
	    watchdog_tick_cb, NULL);
	evtimer_add(watchdog.timer, &tv);
	(void)server_notify_send("WATCHDOG=1");
	watchdog_ping();
}

/* A CTL_PONG of ours came: answered, if it is for the last ping. */
void
watchdog_pong(uint32_t id)
{
	if (id == watchdog.id)
		watchdog.answered = 1;
}

void
watchdog_free(void)
{
	if (watchdog.timer != NULL)
		event_free(watchdog.timer);
	watchdog.timer = NULL;
}
