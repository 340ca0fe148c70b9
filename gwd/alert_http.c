/*
 * alert_http.c - alert notifications to Slack and PagerDuty through
 * httpc (see alert_http.h).
 * Standards: PagerDuty Events API v2 (enqueue); Slack incoming webhooks.
 * Exposure: the replies of the servers alerts name (status and at most
 * the first line of a body, escaped, reach an admin's `alert test`).
 * Diagnostics: dies only when memory runs out; a notification that
 * cannot be sent is logged with the reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert_http.h"
#include "buf.h"
#include "gwd.h"
#include "httpc.h"
#include "json.h"
#include "log.h"
#include "loop.h"
#include "util.h"

#define HTTP_TRIES	5
#define HTTP_RETRY_MS	5000		/* doubled at each try */

struct hsend {
	char			*target;	/* for messages */
	char			*url;
	char			*body;
	int			 tries;
	alert_http_done_fn	*done;
	void			*arg;
	struct ev_timer		 timer;
	/* the last reply */
	long			 status;
	char			*result;
};

static void
hsend_free(struct hsend *h)
{
	free(h->target);
	free(h->url);
	free(h->body);
	free(h->result);
	free(h);
}

static void	hsend_replied(struct hsend *);

/* httpc's done(), on the loop: what came back, in words. */
static void
hsend_reply(void *arg, const struct httpc_reply *r)
{
	struct hsend *h = arg;
	char esc[200];
	size_t n;

	if (r->stopping) {		/* gwd is stopping: no retry */
		hsend_free(h);
		return;
	}
	h->status = r->status;
	if (r->status == 0)
		h->result = xasprintf("failed: %s", r->error ? r->error :
		    "no reply");
	else {
		n = strcspn(r->body, "\r\n");
		log_escape(r->body, n > 120 ? 120 : n, esc, sizeof(esc));
		h->result = xasprintf("HTTP %ld%s%s", r->status, *esc ? ": " :
		    "", esc);
	}
	hsend_replied(h);
}

static void	hsend_try(struct hsend *);

static void
hsend_retry(struct ev_timer *t)
{
	hsend_try(t->arg);
}

/* What a reply means. */
static void
hsend_replied(struct hsend *h)
{
	int ok = h->status >= 200 && h->status < 300;

	if (h->done) {
		h->done(h->arg, h->target, ok, h->result);
		hsend_free(h);
		return;
	}
	if (ok) {
		log_info("alert notification to %s: %s", h->target, h->result);
		hsend_free(h);
		return;
	}
	if (h->tries >= HTTP_TRIES) {
		log_warnx("alert notification to %s dropped after %d tries: "
		    "%s", h->target, h->tries, h->result);
		hsend_free(h);
		return;
	}
	log_warnx("alert notification to %s: %s; trying again", h->target,
	    h->result);
	free(h->result);
	h->result = NULL;
	timer_init(&h->timer, hsend_retry, h);
	timer_add(&h->timer, (int64_t)HTTP_RETRY_MS << (h->tries - 1));
}

static void
hsend_try(struct hsend *h)
{
	static const char *const headers[] = {
		"Content-Type: application/json",
		"User-Agent: gwd/" GW_VERSION,
		NULL
	};
	struct httpc_request rq;

	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.url = h->url;
	rq.headers = headers;
	rq.body = h->body;
	rq.body_len = strlen(h->body);
	rq.ca_file = gcfg->alerts.ca_file;
	rq.done = hsend_reply;
	rq.arg = h;
	h->tries++;
	if (httpc_submit(&rq) == -1) {
		h->status = 0;
		h->result = xstrdup("failed: the HTTP client does not take "
		    "it (stopping, or not an http(s) URL)");
		hsend_replied(h);
	}
}

/* {"routing_key":..., "event_action":..., "dedup_key":...,
 *  "payload":{"summary":..., "source":..., "severity":..., ...}} */
static char *
pagerduty_body(const char *key, const char *summary, const char *dedup,
    int fired)
{
	struct json_obj o, p;
	struct buf b, pb;
	char *s;
	size_t n;

	buf_init(&pb, 0);
	json_obj_begin(&p, &pb);
	json_obj_str(&p, "summary", summary);
	json_obj_str(&p, "source", gcfg->hostname);
	json_obj_str(&p, "severity", "critical");
	json_obj_str(&p, "component", "gwd");
	json_obj_str(&p, "class", "gw-alert");
	if (json_obj_end(&p) == -1)
		fatalx("alert payload too long");
	buf_init(&b, 0);
	json_obj_begin(&o, &b);
	json_obj_str(&o, "routing_key", key);
	json_obj_str(&o, "event_action", fired ? "trigger" : "resolve");
	json_obj_str(&o, "dedup_key", dedup);
	json_obj_raw(&o, "payload", buf_cstr(&pb));
	if (json_obj_end(&o) == -1)
		fatalx("alert payload too long");
	buf_free(&pb);
	buf_cstr(&b);
	s = buf_steal(&b, &n);
	return s;
}

static char *
slack_body(const char *summary)
{
	struct json_obj o;
	struct buf b;
	size_t n;

	buf_init(&b, 0);
	json_obj_begin(&o, &b);
	json_obj_str(&o, "text", summary);
	if (json_obj_end(&o) == -1)
		fatalx("alert payload too long");
	buf_cstr(&b);
	return buf_steal(&b, &n);
}

void
alert_http_send(enum alert_target_kind kind, const char *target,
    const char *name, const char *summary, const char *dedup, int fired,
    alert_http_done_fn *done, void *arg)
{
	struct hsend *h = xcalloc(1, sizeof(*h));

	h->done = done;
	h->arg = arg;
	if (kind == AT_PAGERDUTY) {
		h->target = xasprintf("pagerduty:%s", target);
		h->url = xstrdup(gcfg->alerts.pagerduty_url);
		h->body = pagerduty_body(target, summary, dedup, fired);
	} else {
		h->target = xstrdup(target);
		h->url = xstrdup(target);
		h->body = slack_body(summary);
	}
	hsend_try(h);
}
