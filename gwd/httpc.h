/*
 * httpc.h - outbound HTTP(S) requests for gwd: webhooks, alert
 * notifications, policy fetches.  libcurl's multi interface runs on a
 * thread of its own, so a slow or dead server never holds gwd's loop,
 * a pool thread that does not wait for it, or another request.
 *
 * Any thread may submit.  A request is copied at submission; its
 * completion callback runs on the httpc thread, once, and must not
 * block (hand the reply to the loop with loop_wakeup() or to a waiting
 * thread).  httpc_do() is the waiting form, for pool threads.
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
	const char	*content_type;	/* or NULL */
	double		 seconds;	/* from submission to the reply */
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

/* Start the thread; 0, or -1 with the reason logged. */
int	 httpc_start(void);
/* Abandon what is in flight (each done() is called with an error) and
 * join the thread.  Safe when httpc_start() was never called. */
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
