/*
 * control.c - one request to gwd over its control socket.
 *
 * The protocol is gwd's (gwd/control.c): one command line in, "key
 * value" lines out, then gwd closes.  Used for what only gwd may change
 * or knows: its own state in queue.db, the queue (queue.c).
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "buf.h"
#include "gwctl.h"
#include "log.h"
#include "util.h"

#define CONTROL_TIMEOUT_MS	30000

/* Connected to gwd's control socket with req sent, or -1 (errno). */
int
control_open(const char *path, const char *req)
{
	struct sockaddr_un sun;
	size_t len = strlen(req);
	int fd, e;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (gw_strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len ||
	    send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* The reply up to EOF, within ms: 0, or -1 (errno; ETIMEDOUT). */
int
control_read(int fd, struct buf *reply, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char tmp[65536];
	ssize_t n;
	int r;

	for (;;) {
		r = poll(&pfd, 1, ms);
		if (r == -1 && errno == EINTR)
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

/* Connect to gwd, send one request, read the reply; say what failed. */
int
control_exchange(struct ctx *ctx, const char *req, struct buf *reply,
    int ms)
{
	const char *path;
	int fd, r;

	if ((r = ctx_state(ctx)) != EX_OK)
		return r;
	path = ctx->cfg.control_socket ? ctx->cfg.control_socket : "";
	if (*path == '\0') {
		log_warnx("%s: control_socket is empty", ctx->cfg.path);
		return EX_CONFIG;
	}
	if ((fd = control_open(path, req)) == -1) {
		if (errno == ENOENT || errno == ECONNREFUSED) {
			log_warnx("gwd is not running (nothing answers on %s)",
			    path);
			return EX_UNAVAILABLE;
		}
		r = errno == EACCES ? EX_NOPERM : EX_UNAVAILABLE;
		log_warn("%s", path);
		return r;
	}
	r = control_read(fd, reply, ms);
	if (r == -1)
		log_warn("%s: reading gwd's reply", path);
	close(fd);
	return r == 0 ? EX_OK : EX_TEMPFAIL;
}

/* A short exchange into out (subaccount resume, suppression delete). */
int
control_request(struct ctx *ctx, const char *line, char *out, size_t outsz)
{
	struct buf reply;
	int r;

	buf_init(&reply, outsz > 0 ? outsz - 1 : 0);
	r = control_exchange(ctx, line, &reply, CONTROL_TIMEOUT_MS);
	if (r == EX_OK && buf_len(&reply) == 0) {
		log_warnx("gwd closed the control socket without an answer "
		    "(gwd stopping?)");
		r = EX_UNAVAILABLE;
	}
	if (outsz > 0)
		gw_strlcpy(out, r == EX_OK ? buf_cstr(&reply) : "", outsz);
	buf_free(&reply);
	if (r == EX_OK && strncmp(out, "error ", 6) == 0) {
		out[strcspn(out, "\n")] = '\0';
		log_warnx("gwd: %s", out + 6);
		return EX_SOFTWARE;
	}
	return r;
}
