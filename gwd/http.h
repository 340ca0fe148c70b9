/*
 * http.h - gwd's HTTP listeners on libmicrohttpd: the metrics listener
 * (metrics_http.c: /metrics, /health; plain HTTP) and the HTTPS
 * listener (unsubscribe.c: /u/TOKEN).
 *
 * MHD runs inside gwd's loop, never on a thread of its own: its epoll
 * descriptor is one more descriptor of the loop, MHD_run() is called
 * when that is readable and when MHD_get_timeout() says, so handlers
 * run on the main thread like the rest of gwd.  Connections are
 * accepted by admin_listen.c, which keeps descriptors for SMTP, then
 * handed to MHD (MHD_add_connection); each is capped in number and
 * closed its idle_timeout after it connected, began a request or was
 * answered, whichever came last.
 */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

/* What one listener serves, and under which settings. */
struct http_site {
	const char	*setting;	/* "metrics.listen", for messages */
	int		 default_port;
	int		 tls;		/* HTTPS with tls.certificate/key */
	const char	*busy;		/* written to a refused client, or
					   NULL (TLS: just closed) */
	const char	*(*address)(void);	/* NULL or "": not listening */
	int		 (*connections)(void);	/* at once */
	int64_t		 (*idle_ms)(void);	/* activity to close */
	/* The request handler (cls: the struct http_server) and, when it
	 * keeps per-request state in *req_cls, what frees it. */
	MHD_AccessHandlerCallback	handler;
	MHD_RequestCompletedCallback	completed;
};

struct http_server;

/* On http.listen (https.c), every request's state (*req_cls) starts
 * with this member, so the completion knows whose it is. */
struct https_req {
	int	 api;		/* 1: the send API's (api.c); 0: a link's */
};

/* Bind the site's address (before privileges are dropped) and read its
 * certificate and key: NULL with err "" when the site is not
 * configured, NULL with the reason in err when it cannot be served. */
struct http_server *http_bind(const struct http_site *, char *err,
	    size_t errsz);
/* Start MHD and serve from the loop: 0, or -1 with err. */
int	 http_start(struct http_server *, char *err, size_t errsz);
/* Let MHD run soon: after a suspended connection was resumed. */
void	 http_kick(struct http_server *);
/* Accept no more connections (those held go on). */
void	 http_stop_accepting(struct http_server *);

/* Flags of http_reply(). */
#define HTTP_CLOSE	0x01	/* HTTP/1.0, Connection: close */
#define HTTP_NOSTORE	0x02	/* a page about one person: not cached */

/* Queue a response of len bytes (copied) on c. */
enum MHD_Result http_reply(struct MHD_Connection *, unsigned status,
	    const char *content_type, const char *body, size_t len,
	    int flags);

#endif
