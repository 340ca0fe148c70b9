/*
 * webhook_ctl.c - the control socket's "webhook test ID" (gwctl webhook
 * test): one test event, signed and posted like any batch, and the
 * receiver's answer:
 *
 *   status N          the HTTP status (0: no answer)
 *   error TEXT        why there is no answer (status 0 only)
 *   seconds S         from the request to the answer
 *   reply TEXT        the start of the answer's body (escaped)
 *   end
 *
 * or "error unknown webhook ID" / "error ..." alone.  The test event
 * has event.action "test" and event.id "0" (man/gw-events.7); it is not
 * an audit event and is not retried.
 * Exposure: the ID comes from the control socket (checked: digits);
 * the receiver's reply is escaped before it is answered.
 * Diagnostics: dies only when memory runs out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conn.h"
#include "evjson.h"
#include "gwd.h"
#include "httpc.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "webhook.h"
#include "webhook_post.h"
#include "webhook_ctl.h"

#define REPLY_SHOW	1024	/* bytes of the receiver's body shown */

/* A test waiting for its receiver; c NULL once the client left. */
struct test {
	struct test	*next;
	struct conn	*c;
};

static struct test	*tests;

static void
answer(struct conn *c, const char *text)
{
	conn_write(c, text, strlen(text));
	conn_close_after_flush(c);
}

static void
test_unlink(struct test *t)
{
	struct test **pp;

	for (pp = &tests; *pp && *pp != t; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = t->next;
}

/* httpc's done(), on the loop: the answer, to the client if it is still
 * there and gwd is not stopping (its client goes with the loop). */
static void
test_reply(void *arg, const struct httpc_reply *r)
{
	struct test *t = arg;
	char esc[REPLY_SHOW * 4 + 1];
	struct buf out;

	test_unlink(t);
	if (t->c != NULL && !r->stopping) {
		buf_init(&out, 0);
		buf_printf(&out, "status %ld\n", r->status);
		if (r->status == 0)
			buf_printf(&out, "error %s\n", r->error ? r->error :
			    "no reply");
		buf_printf(&out, "seconds %.3f\n", r->seconds);
		if (r->status != 0) {
			log_escape(r->body, r->body_len < REPLY_SHOW ?
			    r->body_len : REPLY_SHOW, esc, sizeof(esc));
			buf_printf(&out, "reply %s\n", esc);
		}
		buf_puts(&out, "end\n");
		answer(t->c, buf_cstr(&out));
		buf_free(&out);
	}
	free(t);
}

/* The test event's JSON batch. */
static void
test_body(struct buf *b, long long id)
{
	struct json_obj o;
	struct event e;
	struct buf one;
	char detail[64];
	const char *objs[1];

	memset(&e, 0, sizeof(e));
	e.ts = now_us();
	e.action = (char *)"test";
	snprintf(detail, sizeof(detail), "webhook %lld test (gwctl)", id);
	e.detail = detail;
	buf_init(&one, 0);
	json_obj_begin(&o, &one);
	evjson_fields(&o, &e, gcfg->hostname ? gcfg->hostname : "-");
	if (json_obj_end(&o) == -1)
		fatalx("webhook test: out of memory");
	objs[0] = buf_cstr(&one);
	webhook_batch_body(b, objs, 1);
	buf_free(&one);
}

void
webhook_control(struct conn *c, const char *args)
{
	const char *url, *secret;
	struct test *t;
	struct buf body;
	long long id;
	char *end;

	if (strncmp(args, "test ", 5) != 0) {
		answer(c, "error usage: webhook test ID\n");
		return;
	}
	args += 5;
	id = strtoll(args, &end, 10);
	if (*args < '0' || *args > '9' || *end != '\0' || id <= 0) {
		answer(c, "error usage: webhook test ID\n");
		return;
	}
	if (webhook_lookup(id, &url, &secret) == -1) {
		answer(c, "error unknown webhook (gwd reads gw.db every "
		    "half second: try again)\n");
		return;
	}
	t = xcalloc(1, sizeof(*t));
	t->c = c;
	buf_init(&body, 0);
	test_body(&body, id);
	conn_pause_read(c, 1);
	t->next = tests;
	tests = t;
	if (webhook_post(url, secret, buf_ptr(&body), buf_len(&body),
	    test_reply, t) == -1) {
		test_unlink(t);
		free(t);
		answer(c, "error cannot send (HTTP client not running?)\n");
	}
	buf_free(&body);
}

void
webhook_control_gone(struct conn *c)
{
	for (struct test *t = tests; t; t = t->next)
		if (t->c == c)
			t->c = NULL;
}
