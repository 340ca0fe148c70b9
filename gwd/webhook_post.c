/*
 * webhook_post.c - a batch of events as webhooks receive it (webhook.h):
 * {"events":[...]} POSTed with its GW-Signature (whsig.h) through
 * httpc.c, for the dispatcher and for "gwctl webhook test".
 * Standards: RFC 9110 (POST), RFC 2104 (HMAC, in whsig.c).
 * Exposure: sends gwd's own events to URLs the admin set.
 */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "gwd.h"
#include "httpc.h"
#include "util.h"
#include "webhook_post.h"
#include "whsig.h"

void
webhook_batch_body(struct buf *out, const char *const *objs, int n)
{
	buf_puts(out, "{\"events\":[");
	for (int i = 0; i < n; i++) {
		if (i)
			buf_putc(out, ',');
		buf_puts(out, objs[i]);
	}
	buf_puts(out, "]}");
}

int
webhook_post(const char *url, const char *secret, const char *body,
    size_t len, void (*done)(void *, const struct httpc_reply *), void *arg)
{
	char sig[WHSIG_MAX], sighdr[sizeof("GW-Signature: ") + WHSIG_MAX];
	const char *headers[4];
	struct httpc_request rq;

	if (whsig_value(secret, now_us() / 1000000, body, len, sig,
	    sizeof(sig)) == -1)
		return -1;
	snprintf(sighdr, sizeof(sighdr), "GW-Signature: %s", sig);
	headers[0] = "Content-Type: application/json";
	headers[1] = "User-Agent: gwd/" GW_VERSION;
	headers[2] = sighdr;
	headers[3] = NULL;
	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.url = url;
	rq.headers = headers;
	rq.body = body;
	rq.body_len = len;
	rq.timeout_ms = (long)gcfg->webhook.timeout_ms;
	rq.ca_file = gcfg->webhook.ca_file;
	rq.done = done;
	rq.arg = arg;
	return httpc_submit(&rq);
}
