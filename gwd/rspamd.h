/*
 * rspamd.h - a message checked by rspamd over its HTTP protocol
 * (POST /checkv2 with the envelope in headers), from a content-scan
 * worker: libcurl's easy interface blocks that worker, never the loop,
 * for at most the timeout.
 */
#ifndef GW_RSPAMD_H
#define GW_RSPAMD_H

#include <stddef.h>
#include <stdint.h>

#include "rspamd_reply.h"

struct rspamd_req {
	const char	*url;		/* "http://127.0.0.1:11333" */
	int64_t		 timeout_ms;	/* connect, send, answer: all */
	const char	*from;		/* envelope sender; "" for <> */
	char *const	*rcpt;
	int		 nrcpt;
	const char	*ip;		/* the client's; NULL: unknown */
	const char	*helo;
	const char	*user;		/* the subaccount */
	const char	*qid;
};

/* libcurl's global start, on the main thread before any worker asks. */
void	 rspamd_global_init(void);
/* Check msg[0..len): 0 with rspamd's answer in *r, or -1 with the reason
 * in err (no connection, timeout, an HTTP status but 200, an answer that
 * does not parse). */
int	 rspamd_check(const struct rspamd_req *, const char *msg, size_t len,
	    struct rspamd_reply *r, char *err, size_t errsz);

#endif
