/*
 * ctlclient.c - asking gwd over its control socket (see ctlclient.h).
 *
 * One connection per request, as gwd closes after each answer.  The
 * socket is blocking with SO_SNDTIMEO, so a gwd whose listen backlog is
 * full makes connect() give up (EAGAIN) at the deadline rather than
 * wait; the reply is read with poll() against the same deadline.
 * Exposure: the reply is gwd's, but parts of it (remote replies, pause
 * reasons) were written by strangers: callers clean what they show.
 * Diagnostics: see ctlclient.h.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "ctlclient.h"
#include "ctlproto.h"
#include "util.h"

static int
ctlclient_fail(int fd)
{
	int e = errno;

	if (fd != -1)
		close(fd);
	errno = e;
	return -1;
}

int
ctlclient_open(const char *path, const char *req, int ms)
{
	struct sockaddr_un sun;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	char line[CTL_REQ_MAX];
	int fd, n;
	ssize_t w;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (gw_strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	n = snprintf(line, sizeof(line), "%s %s\n", CTL_VERSION_WORD, req);
	if (strchr(req, '\n') || n < 0 || n >= CTL_REQ_MAX) {
		errno = EINVAL;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		return ctlclient_fail(fd);
	/* Far below the socket buffer: one send, or an error. */
	if ((w = send(fd, line, (size_t)n, MSG_NOSIGNAL)) != n) {
		if (w >= 0)
			errno = EIO;
		return ctlclient_fail(fd);
	}
	return fd;
}

int
ctlclient_read(int fd, struct buf *reply, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int64_t end = mono_ms() + ms, left;
	char tmp[65536];
	ssize_t n;
	int r;

	for (;;) {
		if ((left = end - mono_ms()) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if ((r = poll(&pfd, 1, (int)left)) == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			errno = r == 0 ? ETIMEDOUT : errno;
			return -1;
		}
		if ((n = read(fd, tmp, sizeof(tmp))) == 0)
			return 0;
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (buf_append(reply, tmp, (size_t)n) == -1) {
			errno = EMSGSIZE;
			return -1;
		}
	}
}

int
ctlclient_ask(const char *path, const char *req, struct buf *reply, int ms,
    int *connected)
{
	int64_t end = mono_ms() + ms;
	int fd, r;

	if (connected)
		*connected = 0;
	if ((fd = ctlclient_open(path, req, ms)) == -1)
		return -1;
	if (connected)
		*connected = 1;
	r = ctlclient_read(fd, reply, (int)(end - mono_ms()));
	if (r == -1)
		return ctlclient_fail(fd);
	close(fd);
	return 0;
}
