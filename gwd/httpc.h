/*
 * httpc.h - outbound HTTP(S) requests for gwd: webhooks, alert
 * notifications, policy fetches.  libcurl's multi interface runs on a
 * thread of its own, so a slow or dead server never holds gwd's loop,
 * a pool thread that does not wait for it, or another request.
 *
 * Any thread may submit.  A request is copied at submission; its
 * completion callback, done(), runs once, on the event loop's thread:
 * the httpc thread queues the reply and wakes the loop (loop_wakeup()),
 * so a caller's done() may touch the loop's state directly.  What is
 * still in flight or not yet delivered when the loop has ended runs its
 * done() inside httpc_stop(), with the reply's `stopping` set: the loop
 * turns no more, so such a done() should free what it holds and answer
 * nobody.  httpc_do() is the waiting form, for pool threads (never the
 * loop's): its reply does not go through the loop.
 *
 * Certificates are verified against the system's store (or the request's
 * ca_file); only http and https URLs are followed, never redirects.
 */
#ifndef GW_HTTPC_H
#define GW_HTTPC_H
#include <stddef.h>

/* A reply body is cut at this many bytes (body_truncated says so). */
#define HTTPC_BODY_MAX	(64 * 1024)

struct httpc_reply {
	long		 status;	/* HTTP status; 0 = no reply, see error */
	const char	*error;		/* why there is no reply, else NULL */
	const char	*body;		/* NUL-terminated, may be "" */
	size_t		 body_len;
	int		 body_truncated;
	int		 cert_invalid;	/* no reply: the server's certificate
					   did not verify */
	const char	*content_type;	/* or NULL */
	double		 seconds;	/* from submission to the reply */
	int		 stopping;	/* delivered by httpc_stop(), after
					   the loop ended (see above) */
};

typedef void httpc_done_fn(void *arg, const struct httpc_reply *);

struct httpc_request {
	const char		 *method;	/* "GET", "POST"; NULL = GET */
	const char		 *url;
	const char *const	 *headers;	/* "Name: value", NULL-ended */
	const void		 *body;
	size_t			  body_len;
	long			  timeout_ms;	/* whole exchange; 0 = 10 s */
	const char		 *ca_file;	/* NULL = the system's store */
	const char		 *connect_to;	/* "host:port" to connect to
						   instead of the URL's (its
						   name is still the one the
						   certificate must match);
						   NULL = the URL's */
	httpc_done_fn		 *done;		/* NULL: fire and forget */
	void			 *arg;
};

/* Start the thread; 0, or -1 with the reason logged.  On the loop's
 * thread, after loop_init(). */
int	 httpc_start(void);
/* Abandon what is in flight (each ends with an error), join the thread,
 * then run here every done() not yet run, with `stopping` set.  After
 * loop_run() has returned; safe when httpc_start() was never called. */
void	 httpc_stop(void);
/* Queue a request; 0, or -1 (not started, stopping, no memory, a URL
 * that is not http/https) in which case done() is never called. */
int	 httpc_submit(const struct httpc_request *);
/* Submit and wait.  The reply's strings stay valid until
 * httpc_reply_free().  Returns 0 when the server replied (any status),
 * -1 otherwise (reply->error says why). */
int	 httpc_do(const struct httpc_request *, struct httpc_reply *);
void	 httpc_reply_free(struct httpc_reply *);
#endif
