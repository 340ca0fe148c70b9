/*
 * metrics_http.c - the metrics listener (metrics.listen): just enough
 * HTTP/1.0 for Prometheus and health checks.  GET /metrics answers the
 * Prometheus text (metrics_report.c), GET /health "ok" or a 503 saying
 * why not (starting, shutting down, storage full); anything else a 404
 * or 405.
 * Exposure: HTTP request lines from anyone who reaches metrics.listen,
 * without authentication: so at most metrics.connections clients at
 * once, each closed metrics.idle_timeout after it connected, whatever
 * it did meanwhile, and none while descriptors run short
 * (admin_listen.c); one line of less than REQ_MAX bytes is read and
 * nothing after it.
 * Diagnostics: dies only when memory runs out; metrics_http_bind()
 * returns -1 with the reason in err at start-up.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin_listen.h"
#include "buf.h"
#include "cidr.h"
#include "conn.h"
#include "gwd.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "metrics_http.h"
#include "metrics_report.h"
#include "store.h"
#include "util.h"

/* An HTTP answer: /metrics grows with the pools and subaccounts in
 * gw.db (about 250 bytes each), so as far as the control socket's
 * answers; memory is taken only as the answer needs it. */
#define OUT_MAX		CTL_REPLY_MAX

struct http_client {
	struct conn	*c;
	struct ev_timer	 deadline;
};

static void	 http_take(struct admin_listener *, int fd);

static struct admin_listener http = {
	.name = "metrics.listen",
	.fd = -1,
	.take = http_take,
	.busy = "HTTP/1.0 503 Service Unavailable\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 5\r\n"
	    "Connection: close\r\n\r\nbusy\n",
};
static int	 nhttp;		/* metrics clients connected now */

/* Why gwd is not healthy, or NULL. */
static const char *
unhealthy(void)
{
	if (gm.stopping)
		return "shutting down";
	if (!gm.ready)
		return "starting";
	/* Commits are about to fail, or fail: send mail elsewhere. */
	if (store_space_short(0) || store_blocked())
		return "storage full";
	return NULL;
}

static void
answer_http(struct conn *c, const char *line)
{
	struct buf body;
	const char *status = "200 OK", *why;

	buf_init(&body, OUT_MAX);
	if (strncmp(line, "GET /metrics ", 13) == 0 ||
	    strcmp(line, "GET /metrics") == 0)
		metrics_report_prometheus(&body);
	else if (strncmp(line, "GET /health ", 12) == 0 ||
	    strcmp(line, "GET /health") == 0) {
		if ((why = unhealthy()) != NULL) {
			status = "503 Service Unavailable";
			buf_printf(&body, "%s\n", why);
		} else
			buf_puts(&body, "ok\n");
	} else if (strncmp(line, "GET ", 4) == 0) {
		status = "404 Not Found";
		buf_puts(&body, "not found: try /metrics or /health\n");
	} else {
		status = "405 Method Not Allowed";
		buf_puts(&body, "only GET\n");
	}
	conn_printf(c, "HTTP/1.0 %s\r\nContent-Type: text/plain; "
	    "version=0.0.4; charset=utf-8\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n", status, buf_len(&body));
	conn_write(c, buf_ptr(&body), buf_len(&body));
	buf_free(&body);
	conn_close_after_flush(c);
}

static void
http_deadline(struct ev_timer *t)
{
	struct http_client *h = t->arg;

	conn_close(h->c);
}

static void
http_on_read(struct conn *c)
{
	char *line;

	if ((line = admin_listen_line(c)) != NULL)
		answer_http(c, line);
}

static void
on_error(struct conn *c)
{
	conn_close(c);
}

static void
http_on_close(struct conn *c)
{
	struct http_client *h = c->arg;

	timer_del(&h->deadline);
	nhttp--;
	free(h);
}

static const struct conn_ops http_ops = {
	.on_read = http_on_read,
	.on_error = on_error,
	.on_close = http_on_close,
};

static void
http_take(struct admin_listener *l, int fd)
{
	struct http_client *h;

	if (nhttp >= gcfg->metrics_connections) {
		admin_listen_refuse(l, fd, "metrics.connections reached");
		return;
	}
	h = xcalloc(1, sizeof(*h));
	if ((h->c = conn_new(fd, &http_ops, h, REQ_MAX, OUT_MAX)) == NULL) {
		close(fd);
		free(h);
		return;
	}
	nhttp++;
	timer_init(&h->deadline, http_deadline, h);
	timer_add(&h->deadline, gcfg->metrics_idle_timeout_ms);
}

int
metrics_http_bind(char *err, size_t errsz)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (gcfg->metrics_listen == NULL || gcfg->metrics_listen[0] == '\0')
		return 0;
	if (sockaddr_parse(gcfg->metrics_listen, 9465, &ss, &len) == -1) {
		snprintf(err, errsz, "%s: metrics.listen: \"%s\" is not an "
		    "address (IP:port or [IPv6]:port)", gcfg->path,
		    gcfg->metrics_listen);
		return -1;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errsz, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, 64) == -1) {
		snprintf(err, errsz, "metrics.listen %s: %s",
		    gcfg->metrics_listen, strerror(errno));
		close(fd);
		return -1;
	}
	http.fd = fd;
	log_info("metrics on http://%s/metrics", gcfg->metrics_listen);
	return 0;
}

void
metrics_http_start(void)
{
	admin_listen_start(&http);
}
