/*
 * webhook.c - the webhook dispatcher (see webhook.h): reading the
 * outbox, batching, retries.  The webhooks themselves (gw.db's rows,
 * their metrics) are webhook_hooks.c's, a signed POST webhook_post.c's;
 * what they share is in webhook_priv.h.
 *
 * Each webhook (a row of gw.db's webhook table) reads its own events
 * from the outbox (its hook_pending rows, outbox.h) into a queue of
 * items, in outbox id order, and acknowledges each for itself when it
 * is done (sent, or given up): an event two webhooks want is two items
 * that never wait for each other.
 *
 * Sending.  A batch takes up to webhook.batch_max items of one
 * webhook, at most one per message (queue id), and none of a message
 * whose earlier event is still in flight or waiting for a retry: a
 * receiver never sees a message's later event before its earlier one
 * was acknowledged.  A batch leaves when it is full or its first item
 * has waited webhook.batch_wait.  At most webhook.concurrency batches
 * of a webhook are in flight, one while it fails.
 *
 * Failure.  Anything but a 2xx (no answer, a timeout, a 500) leaves
 * the batch's items where they were; the webhook waits 1 s, 2 s, 4 s
 * ... up to webhook.retry_max, then tries again from its oldest item.
 * Items of events older than webhook.retry_for are given up while it
 * fails: counted, logged, and recorded as one webhook_dropped event.
 *
 * Memory.  A webhook holds at most webhook.window items; past that its
 * reader waits and its events wait in the outbox, where it reads on
 * from its last item as they go.  So a webhook that is down for a day
 * holds that many, and the others read and send as if it were not
 * there.  While it fails, the events it reads that are already older
 * than webhook.retry_for are given up as they are read.
 *
 * Exposure: sends gwd's own events to URLs the admin set; what a
 * receiver answers is only logged (escaped, cut), never parsed.
 * Diagnostics: dies only when memory runs out; webhook_start() returns
 * -1 with the reason at start-up; a failing receiver is logged when it
 * begins to fail and when it answers again.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "event.h"
#include "evjson.h"
#include "gwd.h"
#include "hmap.h"
#include "hookset.h"
#include "httpc.h"
#include "json.h"
#include "log.h"
#include "loop.h"
#include "outbox.h"
#include "store.h"
#include "util.h"
#include "webhook.h"
#include "webhook_post.h"
#include "webhook_priv.h"

#define READ_MAX	500	/* outbox rows per read */
#define TICK_MS		100	/* reading and batching */
#define RETRY_MIN_MS	1000

struct hook		*webhook_list;
static struct outbox	 obx;
static sqlite3		*qdb;		/* the reader's, read-only */
static struct ev_timer	 tick;
static struct ev_timer	 replied;	/* after requests came back */
static int		 started, stopping;
/* Acknowledgements not yet handed to the store. */
static struct outbox_hook_ack *acks;
static int		 nacks, acks_cap;
int			 webhook_sweep;		/* the webhooks changed */

/* h is done with outbox row id. */
static void
ack(const struct hook *h, int64_t id)
{
	if (nacks == acks_cap) {
		acks_cap = acks_cap ? acks_cap * 2 : 64;
		acks = xreallocarray(acks, (size_t)acks_cap, sizeof(*acks));
	}
	acks[nacks].hook = h->id;
	acks[nacks++].id = id;
}

/* The acknowledgements so far, to the store thread in one op. */
void
webhook_flush_acks(void)
{
	struct store_op *op;

	if (nacks == 0 && !webhook_sweep)
		return;
	op = store_op_new();
	op->hook_ack = acks;
	op->nhook_ack = nacks;
	op->hook_sweep = webhook_sweep;
	acks = NULL;
	nacks = acks_cap = webhook_sweep = 0;
	store_submit(op);
}

static void
item_free(struct hook *h, struct item *it)
{
	ack(h, it->id);
	free(it->qid);
	free(it->json);
	free(it);
	h->nitems--;
}

/* Unlink and free the items that pred() picks: how many. */
static int
hook_remove(struct hook *h, int (*pred)(const struct item *, void *),
    void *arg)
{
	struct item **pp = &h->head, *it;
	int n = 0;

	while ((it = *pp) != NULL) {
		if (pred(it, arg)) {
			*pp = it->next;
			item_free(h, it);
			n++;
		} else
			pp = &it->next;
	}
	h->tail = pp;
	return n;
}

/* The items not in flight. */
static int
pick_idle(const struct item *it, void *arg)
{
	return it->inflight == NULL;
}

void
webhook_hook_free(struct hook *h)
{
	free(h->url);
	free(h->secret);
	free(h->subaccount);
	free(h->events);
	free(h);
}

/* Forget a deleted webhook: its items are done, but for those in
 * flight, which go when their request ends. */
void
webhook_hook_gone(struct hook *h)
{
	h->gone = 1;
	hook_remove(h, pick_idle, NULL);
}

/* ---- reading the outbox ---- */

/* The outbox row as evjson's event (the strings stay the row's). */
static void
to_event(const struct audit_event *a, struct event *e)
{
	memset(e, 0, sizeof(*e));
	e->id = a->id;
	e->ts = a->ts;
	e->qid = a->qid;
	e->action = (char *)a->action;
	e->subaccount = a->subaccount;
	e->client_ip = a->client_ip;
	e->sender = a->sender;
	e->recipient = a->recipient;
	e->message_id = a->message_id;
	e->subject = a->subject;
	e->from_addr = a->from_addr;
	e->tls = a->tls;
	e->remote_host = a->remote_host;
	e->remote_ip = a->remote_ip;
	e->reply_status = a->reply_status;
	e->reply_text = a->reply_text;
	e->detail = a->detail;
	e->bounce_class = (char *)a->bounce_class;
	e->tls_policy = (char *)a->tls_policy;
	e->tls_note = a->tls_note;
	e->username = a->username;
	e->size = a->size;
	e->has_size = a->size >= 0;
	e->reply_code = a->reply_code;
	e->has_reply_code = a->reply_code != 0;
	e->duration_ms = a->duration_ms;
	e->has_duration = a->duration_ms >= 0;
	e->tls_verified = a->tls_verified;
	e->has_tls_verified = a->tls_verified >= 0;
}

static char *
event_json(const struct audit_event *a)
{
	struct json_obj o;
	struct event e;
	struct buf b;

	to_event(a, &e);
	buf_init(&b, 0);
	json_obj_begin(&o, &b);
	evjson_fields(&o, &e, gcfg->hostname ? gcfg->hostname : "-");
	if (json_obj_end(&o) == -1)
		fatalx("webhook: event too long");
	return buf_steal(&b, NULL);
}

static void	 note_dropped(struct hook *, int, const char *);

/* A row of the hook's (arg): its item, or given up when the hook fails
 * and the event is older than webhook.retry_for already. */
static int
on_row(const struct audit_event *a, void *arg)
{
	struct hook *h = arg;
	struct item *it;

	if (h->fails > 0 && a->ts <= now_us() - gcfg->webhook.retry_for_ms *
	    1000) {
		ack(h, a->id);
		h->dropped++;
		return 0;
	}
	it = xcalloc(1, sizeof(*it));
	it->id = a->id;
	it->qid = a->qid ? xstrdup(a->qid) : NULL;
	it->json = event_json(a);
	it->ts = a->ts;
	it->queued = loop_now();
	*h->tail = it;
	h->tail = &it->next;
	h->nitems++;
	return 0;
}

/* The rows of h past its last, up to its window. */
static int
read_hook(struct hook *h)
{
	int room = gcfg->webhook.window - h->nitems, n;
	uint64_t dropped = h->dropped;

	if (room <= 0 || h->gone)
		return 0;
	n = outbox_read_hook(&obx, h->id, h->read_after, room < READ_MAX ?
	    room : READ_MAX, on_row, h, &h->read_after);
	if (h->dropped > dropped)
		note_dropped(h, (int)(h->dropped - dropped), h->why);
	return n;
}

/* Each webhook's new rows, in one read transaction. */
static void
read_outbox(void)
{
	if (sqlite3_exec(qdb, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return;
	for (struct hook *h = webhook_list; h; h = h->next)
		if (read_hook(h) == -1) {
			log_warnx("webhook %lld: reading the outbox: %s",
			    h->id, sqlite3_errmsg(qdb));
			break;
		}
	sqlite3_exec(qdb, "COMMIT", NULL, NULL, NULL);
}


/*
 * The items of h a batch may take now, at most max, into out: in
 * order, the first of each message that has none in flight.  Returns
 * how many; *oldest: when the first was read.
 */
static int
sendable(struct hook *h, struct item **out, int max, int64_t *oldest)
{
	struct hmap held;
	int n = 0;

	hmap_init(&held);
	for (struct item *it = h->head; it && n < max; it = it->next) {
		if (it->qid != NULL && hmap_get(&held, it->qid) != NULL)
			continue;
		if (it->qid != NULL)
			hmap_put(&held, it->qid, it);
		if (it->inflight != NULL)
			continue;
		if (n == 0)
			*oldest = it->queued;
		out[n++] = it;
	}
	hmap_free(&held, NULL);
	return n;
}

static void	 drop_expired(struct hook *, const char *);

static int64_t
backoff_ms(int fails)
{
	int64_t ms = RETRY_MIN_MS;

	while (--fails > 0 && ms < gcfg->webhook.retry_max_ms)
		ms *= 2;
	return ms < gcfg->webhook.retry_max_ms ? ms :
	    gcfg->webhook.retry_max_ms;
}

/* A request of h failed (why): back off, and give up what is too old. */
static void
hook_failed(struct hook *h, const char *why)
{
	h->failed++;
	snprintf(h->why, sizeof(h->why), "%s", why);
	if (h->fails++ == 0)
		log_warnx("webhook %lld: %s: %s; retrying", h->id, h->url, why);
	h->retry_at = loop_now() + backoff_ms(h->fails);
	drop_expired(h, why);
}

static httpc_done_fn	 on_reply;

/* Send one batch of h if one is due: 1 sent, 0 not now. */
static int
send_one(struct hook *h)
{
	int max = gcfg->webhook.batch_max, n;
	struct item **its = xcalloc((size_t)max, sizeof(*its));
	const char **objs;
	int64_t oldest = 0;
	struct batch *b;
	struct buf body;

	n = sendable(h, its, max, &oldest);
	/* Not full: wait for company, unless retrying. */
	if (n == 0 || (n < max && h->fails == 0 &&
	    loop_now() < oldest + gcfg->webhook.batch_wait_ms)) {
		free(its);
		return 0;
	}
	objs = xcalloc((size_t)n, sizeof(*objs));
	for (int i = 0; i < n; i++)
		objs[i] = its[i]->json;
	buf_init(&body, 0);
	webhook_batch_body(&body, objs, n);
	free(objs);
	b = xcalloc(1, sizeof(*b));
	b->h = h;
	b->items = its;
	b->n = n;
	if (webhook_post(h->url, h->secret, buf_ptr(&body), buf_len(&body),
	    on_reply, b) == -1) {
		buf_free(&body);
		free(its);
		free(b);
		hook_failed(h, "the HTTP client refused the request");
		return 0;
	}
	buf_free(&body);
	for (int i = 0; i < n; i++)
		its[i]->inflight = b;
	h->inflight++;
	return 1;
}

static int
pick_expired(const struct item *it, void *arg)
{
	return it->inflight == NULL && it->ts <= *(const int64_t *)arg;
}

/* While h fails: give up the events older than webhook.retry_for. */
static void
drop_expired(struct hook *h, const char *why)
{
	int64_t before = now_us() - gcfg->webhook.retry_for_ms * 1000;
	int n;

	if ((n = hook_remove(h, pick_expired, &before)) == 0)
		return;
	h->dropped += (uint64_t)n;
	note_dropped(h, n, why);
}

/* n events of h were given up (why): the log and the audit trail. */
static void
note_dropped(struct hook *h, int n, const char *why)
{
	struct audit_event *ev;
	char detail[512];

	log_warnx("webhook %lld: %d events dropped, unacknowledged for "
	    "%lld s (webhook.retry_for): %s", h->id, n,
	    (long long)(gcfg->webhook.retry_for_ms / 1000), why);
	snprintf(detail, sizeof(detail), "webhook=%lld url=%s events=%d "
	    "last=%s", h->id, h->url, n, why);
	ev = audit_new(event_name(EV_WEBHOOK_DROPPED), NULL);
	ev->subaccount = h->subaccount ? xstrdup(h->subaccount) : NULL;
	ev->detail = xstrdup(detail);
	store_event(ev);
}

static void
pump(struct hook *h)
{
	int limit = h->fails ? 1 : gcfg->webhook.concurrency;

	if (stopping || h->gone || loop_now() < h->retry_at)
		return;
	while (h->inflight < limit && send_one(h))
		;
}

static int
pick_batch(const struct item *it, void *arg)
{
	return it->inflight == arg;
}

/* A request came back (status, or 0: why): 2xx acknowledges its
 * events. */
static void
batch_done(struct batch *b, long status, const char *why)
{
	struct hook *h = b->h;
	int ok = status >= 200 && status < 300;

	h->inflight--;
	if (ok) {
		h->sent += (uint64_t)hook_remove(h, pick_batch, b);
		if (h->fails > 0)
			log_info("webhook %lld: %s answers again (after %d "
			    "failed requests)", h->id, h->url, h->fails);
		h->fails = 0;
		h->retry_at = 0;
	} else {
		for (int i = 0; i < b->n; i++)
			b->items[i]->inflight = NULL;
		hook_failed(h, why);
	}
	free(b->items);
	free(b);
	if (h->gone) {
		hook_remove(h, pick_idle, NULL);
		if (h->inflight == 0) {
			struct hook **pp;

			for (pp = &webhook_list; *pp != h; pp = &(*pp)->next)
				;
			*pp = h->next;
			webhook_hook_free(h);
		}
	}
}

/*
 * httpc's done(), on the loop.  The webhooks are pumped and the
 * acknowledgements handed over once the requests that came back
 * together are all done (the `replied` timer, this turn of the loop);
 * after the loop, webhook_stop() hands them over.
 */
static void
on_reply(void *arg, const struct httpc_reply *r)
{
	char esc[REPLY_LOG], why[REPLY_LOG];

	if (r->status == 0)
		snprintf(why, sizeof(why), "%s", r->error ? r->error :
		    "no reply");
	else
		snprintf(why, sizeof(why), "status %ld: %s", r->status,
		    log_escape(r->body, r->body_len, esc, sizeof(esc)));
	batch_done(arg, r->status, why);
	timer_add(&replied, 0);
}

static void
pump_all(void)
{
	for (struct hook *h = webhook_list; h; h = h->next)
		pump(h);
	webhook_flush_acks();
}

static void
on_replied(struct ev_timer *t)
{
	pump_all();
}

static void
on_tick(struct ev_timer *t)
{
	read_outbox();
	pump_all();
	timer_add(&tick, TICK_MS);
}

int
webhook_start(const char *state_dir, char *err, size_t errsz)
{
	if ((qdb = db_open(state_dir, DB_QUEUE, DB_RDONLY, err, errsz)) ==
	    NULL)
		return -1;
	outbox_open(&obx, qdb);
	timer_init(&replied, on_replied, NULL);
	timer_init(&tick, on_tick, NULL);
	timer_add(&tick, 0);
	started = 1;
	return 0;
}

void
webhook_stop(void)
{
	struct hook *h, *next;

	if (!started)
		return;
	timer_del(&tick);
	timer_del(&replied);
	stopping = 1;
	/* What httpc_stop() delivered last acknowledged. */
	webhook_flush_acks();
	for (h = webhook_list; h; h = next) {
		next = h->next;
		hook_remove(h, pick_idle, NULL);
		webhook_hook_free(h);
	}
	webhook_list = NULL;
	/* Items dropped here were not sent: only what was acknowledged
	 * before goes to the store. */
	free(acks);
	acks = NULL;
	nacks = acks_cap = 0;
	/* The hook set stays until the store has stopped (main.c): the
	 * last events still get their webhooks' rows, and a sweep still
	 * queued must not take the set for empty. */
	outbox_close(&obx);
	db_close(qdb);
	started = 0;
}

