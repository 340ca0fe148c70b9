/*
 * metrics_http.c - the metrics listener (metrics.listen), plain HTTP on
 * http.c's MHD: GET /metrics answers the Prometheus text
 * (metrics_report.c), GET /health "ok" or a 503 saying why not
 * (starting, shutting down, storage full); any other path a 404, any
 * other method a 405.  Answers are HTTP/1.0 and close the connection,
 * as Prometheus and health checkers expect of an exporter.
 * Exposure: requests from anyone who reaches metrics.listen, without
 * authentication: http.c caps them (metrics.connections,
 * metrics.idle_timeout, the descriptors kept for SMTP); no body is
 * read.
 * Diagnostics: dies only when memory runs out; metrics_http_bind()
 * returns -1 with the reason in err at start-up.
 */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "cluster.h"
#include "ctlproto.h"
#include "gwd.h"
#include "http.h"
#include "metrics.h"
#include "metrics_http.h"
#include "metrics_report.h"
#include "store.h"

/* An HTTP answer: /metrics grows with the pools and subaccounts in
 * gw.db (about 250 bytes each), so as far as the control socket's
 * answers; memory is taken only as the answer needs it. */
#define OUT_MAX		CTL_REPLY_MAX

#define TEXT		"text/plain; version=0.0.4; charset=utf-8"

static struct http_server *srv;

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

static enum MHD_Result
metrics_answer(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **req_cls)
{
	struct buf body;
	unsigned status = MHD_HTTP_OK;
	const char *why;
	enum MHD_Result r;

	buf_init(&body, OUT_MAX);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		buf_puts(&body, "only GET\n");
	} else if (strcmp(url, "/metrics") == 0)
		metrics_report_prometheus(&body);
	else if (strcmp(url, "/health") == 0) {
		if ((why = unhealthy()) != NULL) {
			status = MHD_HTTP_SERVICE_UNAVAILABLE;
			buf_printf(&body, "%s\n", why);
		} else
			buf_puts(&body, "ok\n");
		/* Degraded still relays (each node to its share of the
		 * limits): a load balancer should keep sending. */
		if (cluster_state())
			buf_printf(&body, "cluster: %s\n", cluster_state());
	} else {
		status = MHD_HTTP_NOT_FOUND;
		buf_puts(&body, "not found: try /metrics or /health\n");
	}
	r = http_reply(c, status, TEXT, buf_ptr(&body), buf_len(&body),
	    HTTP_CLOSE);
	buf_free(&body);
	return r;
}

static const char *
metrics_address(void)
{
	return gcfg->metrics_listen;
}

static int
metrics_connections(void)
{
	return gcfg->metrics_connections;
}

static int64_t
metrics_idle(void)
{
	return gcfg->metrics_idle_timeout_ms;
}

static const struct http_site metrics_site = {
	.setting = "metrics.listen",
	.default_port = 9465,
	.busy = "HTTP/1.0 503 Service Unavailable\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 5\r\n"
	    "Connection: close\r\n\r\nbusy\n",
	.address = metrics_address,
	.connections = metrics_connections,
	.idle_ms = metrics_idle,
	.handler = metrics_answer,
};

int
metrics_http_bind(char *err, size_t errsz)
{
	srv = http_bind(&metrics_site, err, errsz);
	return srv == NULL && err[0] ? -1 : 0;
}

int
metrics_http_start(char *err, size_t errsz)
{
	return srv ? http_start(srv, err, errsz) : 0;
}
