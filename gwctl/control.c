/*
 * control.c - one request to gwd over its control socket.
 *
 * The protocol is gwd's (gwd/control.c): one command line in, "key
 * value" lines out, then gwd closes.  Used for what only gwd may change:
 * its own state in queue.db.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "gwctl.h"
#include "log.h"
#include "util.h"

#define CONTROL_TIMEOUT_S	30

static int
control_connect(struct ctx *ctx)
{
	struct sockaddr_un sun;
	struct timeval tv = { CONTROL_TIMEOUT_S, 0 };
	const char *path = ctx->cfg.control_socket;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (path == NULL || *path == '\0' ||
	    gw_strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		log_warnx("%s: control_socket is not set or too long",
		    ctx->cfg.path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("socket");
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		log_warnx("gwd is not running (control socket %s: %s)", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
control_request(struct ctx *ctx, const char *line, char *out, size_t outsz)
{
	size_t len = 0;
	ssize_t n;
	int fd, r;

	if ((r = ctx_config(ctx)) != EX_OK)
		return r;
	if ((fd = control_connect(ctx)) == -1)
		return EX_UNAVAILABLE;
	if (dprintf(fd, "%s\n", line) < 0) {
		log_warn("control socket %s", ctx->cfg.control_socket);
		close(fd);
		return EX_UNAVAILABLE;
	}
	while (len + 1 < outsz &&
	    (n = read(fd, out + len, outsz - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	out[len] = '\0';
	if (len == 0) {
		log_warnx("gwd closed the control socket without an answer "
		    "(timeout %d s or gwd stopping)", CONTROL_TIMEOUT_S);
		return EX_UNAVAILABLE;
	}
	if (strncmp(out, "error ", 6) == 0) {
		out[strcspn(out, "\n")] = '\0';
		log_warnx("gwd: %s", out + 6);
		return EX_SOFTWARE;
	}
	return EX_OK;
}
