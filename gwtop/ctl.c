/*
 * ctl.c - talking to gwd's control socket: one command line per
 * connection, "key value" lines back.  Whether the socket accepts is
 * gwd's state; what it answers fills the live counters (`stats`) and the
 * destinations (`destinations`).  The answers are gwd's, but a
 * destination's error is a remote server's text: it is only ever shown
 * through view_put(), which cleans it.
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "gwtop.h"
#include "util.h"

/* A socket that accepts but does not answer within CTL_MS still means
 * gwd is running (without numbers). */
#define CTL_MS	300

static size_t
ctl_read(int fd, char *buf, size_t bufsz)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int64_t end = mono_ms() + CTL_MS;
	size_t got = 0;
	ssize_t n;

	while (got < bufsz - 1 && mono_ms() < end &&
	    poll(&pfd, 1, (int)(end - mono_ms())) > 0) {
		if ((n = read(fd, buf + got, bufsz - 1 - got)) <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	return got;
}

const char *
ctl_ask(const char *path, const char *cmd, char *buf, size_t bufsz)
{
	struct sockaddr_un sun;
	size_t len = strlen(cmd);
	int fd, r, e;

	buf[0] = '\0';
	if (*path == '\0' || strlen(path) >= sizeof(sun.sun_path))
		return "unknown";
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		return "unknown";
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	e = errno;
	if (r == -1 && e != EAGAIN && e != EINPROGRESS) {
		close(fd);
		return e == ENOENT || e == ECONNREFUSED ? "stopped" :
		    "unknown";
	}
	if (send(fd, cmd, len, MSG_NOSIGNAL) == (ssize_t)len &&
	    send(fd, "\n", 1, MSG_NOSIGNAL) == 1 &&
	    ctl_read(fd, buf, bufsz) > 0 && strncmp(buf, "error", 5) == 0)
		buf[0] = '\0';
	close(fd);
	return "running";
}

void
ctl_stats(char *text, struct live *l)
{
	static const struct { const char *name; size_t off; } keys[] = {
		{ "uptime_seconds", offsetof(struct live, uptime_s) },
		{ "sessions", offsetof(struct live, sessions) },
		{ "connections_out", offsetof(struct live, connections_out) },
		{ "messages_received_total",
		    offsetof(struct live, received_total) },
		{ "delivered_total", offsetof(struct live, delivered_total) },
		{ "deferred_total", offsetof(struct live, deferred_total) },
		{ "bounced_total", offsetof(struct live, bounced_total) },
	};
	char *line, *save = NULL, name[64];
	long long v;

	memset(l, 0, sizeof(*l));
	if (*text == '\0')
		return;
	for (line = strtok_r(text, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%63s %lld", name, &v) != 2)
			continue;
		for (size_t i = 0; i < nitems(keys); i++)
			if (strcmp(name, keys[i].name) == 0)
				*(int64_t *)(void *)((char *)l + keys[i].off) = v;
	}
	l->ok = 1;
}

/*
 * "dest NAME queued=N active=N waiting=N connections=N next_attempt=T
 * age=a,b,c,d,e,f error=TEXT": the error is last and runs to the end.
 */
static int
ctl_dest(const char *line, struct dest *d)
{
	long long q, a, w, c, t, g[DEST_AGES];
	const char *err;
	int used = 0;

	memset(d, 0, sizeof(*d));
	if (sscanf(line, "dest %255s queued=%lld active=%lld waiting=%lld "
	    "connections=%lld next_attempt=%lld age=%lld,%lld,%lld,%lld,%lld,"
	    "%lld %n", d->name, &q, &a, &w, &c, &t, &g[0], &g[1], &g[2], &g[3],
	    &g[4], &g[5], &used) != 12 || used == 0)
		return -1;
	d->queued = q;
	d->active = a;
	d->waiting = w;
	d->connections = c;
	d->next_attempt = t;
	for (int i = 0; i < DEST_AGES; i++)
		d->age[i] = g[i];
	if ((err = strstr(line + used, "error=")) != NULL &&
	    strcmp(err + 6, "-") != 0)
		gw_strlcpy(d->error, err + 6, sizeof(d->error));
	return 0;
}

int
ctl_destinations(char *text, struct dest *d, int max)
{
	char *line, *save = NULL;
	int n = 0;

	for (line = strtok_r(text, "\n", &save); line && n < max;
	    line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "dest ", 5) == 0 &&
		    ctl_dest(line, &d[n]) == 0)
			n++;
	return n;
}
