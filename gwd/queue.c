/*
 * queue.c - the scheduler: pending recipients, retries, destinations,
 * jobs, and the outcome of every delivery attempt.
 * Standards: RFC 5321 4.5.4 (retry strategy), RFC 3464 (DSN), RFC 3463.
 * Exposure: none from the network directly; remote replies arrive
 * already parsed (reply.c) and are only copied into logs and DSNs.
 *
 * Every recipient is in exactly one place: waiting in the retry heap,
 * ready in a job of its destination, active in a transaction, or done.
 * Each outcome is made durable by a store op before the recipient is
 * forgotten; a bounce's DSN is inserted in the same op, so a crash can
 * neither lose it nor send it twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "dsn.h"
#include "heap.h"
#include "hmap.h"
#include "log.h"
#include "metrics.h"
#include "pause.h"
#include "loop.h"
#include "queue.h"
#include "route.h"
#include "schedule.h"
#include "store.h"
#include "suppress.h"
#include "util.h"

#define BODY_CACHE_MAX	((size_t)256 << 20)
#define ROUTE_TTL_MS	60000
#define SMARTHOST_DEST	"[smarthost]"

static struct hmap	 dests;
/* Recipients waiting for a retry, by next_attempt. */
static struct heap	 retries = HEAP_INITIALIZER(struct qrcpt, next_attempt,
			    heap_idx);
static struct ev_timer	 retry_timer;
static struct ev_timer	 gc_timer;
static size_t		 body_bytes;
static int		 nmessages, nrcpts, nactive;
/* Every queued message, in arrival order (the oldest is first). */
static struct qmsg	*qhead, *qtail;

void
qid_make(char out[QID_LEN + 1])
{
	static uint64_t last;
	uint64_t v = (uint64_t)now_us() << 8;

	/* Strictly increasing within the process, ordered by time. */
	if (v <= last)
		v = last + 1;
	last = v;
	snprintf(out, QID_LEN + 1, "%016llX", (unsigned long long)v);
}

struct qmsg *
qmsg_new(const char *sender, const char *subaccount, int nrcpt)
{
	struct qmsg *m = xcalloc(1, sizeof(*m));

	m->sender = xstrdup(sender ? sender : "");
	m->subaccount = xstrdup(subaccount ? subaccount : "");
	m->nrcpt = m->npending = nrcpt;
	m->rcpt = xcalloc((size_t)(nrcpt ? nrcpt : 1), sizeof(*m->rcpt));
	for (int i = 0; i < nrcpt; i++) {
		m->rcpt[i].msg = m;
		m->rcpt[i].heap_idx = -1;
	}
	return m;
}

struct qmsg *
queue_msg_new(const char *sender, const char *subaccount, int nrcpt)
{
	struct qmsg *m = qmsg_new(sender, subaccount, nrcpt);

	qid_make(m->qid);
	return m;
}

void
qmsg_free(struct qmsg *m)
{
	for (int i = 0; i < m->nrcpt; i++) {
		free(m->rcpt[i].addr);
		free(m->rcpt[i].domain);
		free(m->rcpt[i].last_reply);
	}
	free(m->rcpt);
	free(m->sender);
	free(m->subaccount);
	free(m->message_id);
	free(m->body);
	free(m);
}

/* Bodies: kept while deliveries need them, reloaded otherwise. */

int
queue_load_body(struct qmsg *m)
{
	if (m->body == NULL) {
		if (store_load_body(m) == -1)
			return -1;
		body_bytes += m->bodylen;
	}
	m->body_users++;
	return 0;
}

static void
drop_body(struct qmsg *m)
{
	if (m->body) {
		body_bytes -= m->bodylen;
		free(m->body);
		m->body = NULL;
	}
}

void
queue_release_body(struct qmsg *m)
{
	m->body_users--;
}

/* No one is delivering it and nothing is ready: the body can go. */
static void
maybe_drop_body(struct qmsg *m)
{
	if (m->body_users > 0)
		return;
	for (int i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].state == QR_READY ||
		    m->rcpt[i].state == QR_ACTIVE)
			return;
	drop_body(m);
}

static void
msg_forget(struct qmsg *m)
{
	if (m->qprev)
		m->qprev->qnext = m->qnext;
	else
		qhead = m->qnext;
	if (m->qnext)
		m->qnext->qprev = m->qprev;
	else
		qtail = m->qprev;
	drop_body(m);
	nmessages--;
	qmsg_free(m);
}

static void
arm_retry_timer(void)
{
	int64_t now = now_us() / 1000, when;

	if (heap_top(&retries) == NULL) {
		timer_del(&retry_timer);
		return;
	}
	when = heap_key(&retries, heap_top(&retries)) * 1000 - now;
	timer_add(&retry_timer, when < 0 ? 0 : when);
}

/* Destinations and jobs. */

static struct dest *
dest_get(const char *domain)
{
	const char *key = gcfg->relay.mode == RELAY_SMARTHOST ?
	    SMARTHOST_DEST : domain;
	struct dest *d = hmap_get(&dests, key);

	if (d == NULL) {
		d = xcalloc(1, sizeof(*d));
		d->name = xstrdup(key);
		hmap_put(&dests, key, d);
	}
	d->last_used = loop_now();
	return d;
}

static struct job *
job_new(struct dest *d, struct qmsg *m)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->dest = d;
	j->msg = m;
	j->rcpt = xcalloc((size_t)gcfg->limits.recipients, sizeof(*j->rcpt));
	if (d->jobs_last)
		d->jobs_last->next = j;
	else
		d->jobs = j;
	d->jobs_last = j;
	d->njobs++;
	return j;
}

static void
job_free(struct job *j)
{
	if (j->res)
		for (int i = 0; i < j->nrcpt; i++)
			free(j->res[i].text);
	free(j->res);
	free(j->rcpt);
	free(j);
}

static struct job *
dest_pop(struct dest *d)
{
	struct job *j = d->jobs;

	if (j == NULL)
		return NULL;
	if ((d->jobs = j->next) == NULL)
		d->jobs_last = NULL;
	d->njobs--;
	j->next = NULL;
	return j;
}

static void dest_kick(struct dest *);

/* A recipient may go now: into a job of its destination. */
static void
rcpt_ready(struct qrcpt *r, int kick)
{
	struct dest *d = dest_get(r->domain);
	struct job *j;

	r->state = QR_READY;
	/* Recipients of one message to one destination share a job (one
	 * transaction) up to the per-message recipient limit. */
	j = d->jobs_last;
	if (j == NULL || j->msg != r->msg || j->nrcpt ==
	    gcfg->limits.recipients)
		j = job_new(d, r->msg);
	j->rcpt[j->nrcpt++] = r;
	if (kick)
		dest_kick(d);
}

static void
rcpt_wait(struct qrcpt *r)
{
	r->state = QR_WAITING;
	heap_insert(&retries, r);
}

static void
retry_due(struct ev_timer *t)
{
	int64_t now = now_us() / 1000000;
	struct hmap touched;
	struct qrcpt *r;

	hmap_init(&touched);
	while ((r = heap_top(&retries)) != NULL && r->next_attempt <= now) {
		heap_remove(&retries, r);
		rcpt_ready(r, 0);
		hmap_put(&touched, r->domain, r);
	}
	/* Kick each destination once, after all its jobs are in. */
	for (size_t i = 0; i < touched.nb; i++)
		for (struct hmap_entry *e = touched.b[i]; e; e = e->next)
			dest_kick(dest_get(e->key));
	hmap_free(&touched, NULL);
	arm_retry_timer();
}

/* Outcomes. */

static int64_t
backoff_s(int attempts)
{
	int64_t ms = gcfg->queue.retry_min_ms;

	for (int i = 1; i < attempts && ms < gcfg->queue.retry_max_ms; i++)
		ms *= 2;
	if (ms > gcfg->queue.retry_max_ms)
		ms = gcfg->queue.retry_max_ms;
	return (ms + 999) / 1000;
}

static void
dsn_committed(struct store_op *op)
{
	struct qmsg *dsn = op->insert;

	if (op->failed) {
		log_warnx("DSN qid=%s not stored: %s", dsn->qid, op->error);
		qmsg_free(dsn);
	} else
		queue_add(dsn);
	store_op_free(op);
}

/*
 * Build the DSN for the failed recipients of m, to be inserted by op.
 * Never for the null sender or for a DSN (no bounce loops).
 */
static void
make_dsn(struct store_op *op, struct qmsg *m, const struct dsn_rcpt *fr,
    int nfr)
{
	struct dsn d;
	struct buf out;
	struct qmsg *n;
	struct audit_event *ev;
	char mid[300], boundary[64], pm[300];
	unsigned char rb[8];
	char rhex[17];

	if (nfr == 0 || m->sender[0] == '\0' || (m->flags & QMSG_DSN))
		return;
	if (m->body == NULL && queue_load_body(m) == 0)
		queue_release_body(m);
	n = queue_msg_new("", m->subaccount, 1);
	random_bytes(rb, sizeof(rb));
	hex_encode(rb, sizeof(rb), rhex);
	snprintf(mid, sizeof(mid), "<%s.%s@%s>", n->qid, rhex, gcfg->hostname);
	snprintf(boundary, sizeof(boundary), "%s.%s/%s", n->qid, rhex,
	    "gw");
	snprintf(pm, sizeof(pm), "MAILER-DAEMON@%s", gcfg->hostname);
	memset(&d, 0, sizeof(d));
	d.reporting_mta = gcfg->hostname;
	d.postmaster = pm;
	d.to = m->sender;
	d.message_id = mid;
	d.boundary = boundary;
	d.qid = m->qid;
	d.arrival = m->received_us / 1000000;
	d.now = now_us() / 1000000;
	d.original = m->body ? m->body : "";
	d.original_len = m->body ? m->bodylen : 0;
	d.rcpts = fr;
	d.nrcpts = nfr;
	buf_init(&out, 0);
	if (dsn_build(&d, &out) == -1) {
		log_warnx("qid=%s: cannot build DSN", m->qid);
		buf_free(&out);
		qmsg_free(n);
		return;
	}
	n->flags = QMSG_DSN;
	n->received_us = now_us();
	n->body = buf_steal(&out, &n->bodylen);
	n->size = n->bodylen;
	n->message_id = xstrdup(mid);
	n->rcpt[0].addr = xstrdup(m->sender);
	n->rcpt[0].domain = xstrdup(strrchr(m->sender, '@') ?
	    strrchr(m->sender, '@') + 1 : "");
	n->rcpt[0].next_attempt = n->received_us / 1000000;
	op->insert = n;
	op->done = dsn_committed;
	gm.dsn_total++;

	ev = store_op_event(op, "dsn", m->qid);
	ev->recipient = xstrdup(m->sender);
	if (asprintf(&ev->detail, "dsn_qid=%s", n->qid) == -1)
		ev->detail = NULL;
	ev = store_op_event(op, "received", n->qid);
	ev->subaccount = xstrdup(m->subaccount);
	ev->sender = xstrdup("");
	ev->recipient = xstrdup(m->sender);
	ev->rcpts = xcalloc(1, sizeof(char *));
	ev->rcpts[0] = xstrdup(m->sender);
	ev->nrcpts = 1;
	ev->message_id = xstrdup(mid);
	ev->subject = xstrdup("Undelivered Mail Returned to Sender");
	ev->from_addr = xstrdup(pm);
	ev->size = (int64_t)n->size;
	if (asprintf(&ev->detail, "dsn for %s", m->qid) == -1)
		ev->detail = NULL;
}

static void
fill_attempt(struct audit_event *ev, const struct job *j,
    const struct job_result *res, const struct qrcpt *r)
{
	ev->recipient = xstrdup(r->addr);
	ev->sender = xstrdup(j->msg->sender);
	if (j->host[0])
		ev->remote_host = xstrdup(j->host);
	if (j->ip[0])
		ev->remote_ip = xstrdup(j->ip);
	if (j->tls[0])
		ev->tls = xstrdup(j->tls);
	ev->reply_code = res->code;
	if (res->status[0])
		ev->reply_status = xstrdup(res->status);
	ev->reply_text = xstrdup(res->text ? res->text : "");
	if (res->code >= 300)
		ev->bounce_class = bounce_class_name(bounce_classify(res->code,
		    res->status, res->text));
	ev->duration_ms = loop_now() - j->started_ms;
	ev->subaccount = xstrdup(j->msg->subaccount);
	if (j->maybe_dup)
		ev->detail = xstrdup("possible duplicate: no reply after end "
		    "of data");
}

static char *
reply_string(const struct job_result *res)
{
	char *s;

	if (asprintf(&s, "%d%s%s %s", res->code, res->status[0] ? " " : "",
	    res->status, res->text ? res->text : "") == -1)
		fatal("asprintf");
	return s;
}

/*
 * Apply the results of one attempt: every recipient of the job is
 * delivered, deferred (or expired), bounced, or put back.
 */
static void
apply_results(struct job *j)
{
	struct qmsg *m = j->msg;
	struct store_op *op = store_op_new();
	struct dsn_rcpt *fr = xcalloc((size_t)j->nrcpt, sizeof(*fr));
	char **frtext = xcalloc((size_t)j->nrcpt, sizeof(char *));
	int nfr = 0, requeue = 0;
	int64_t now = now_us() / 1000000;
	int64_t expires = m->received_us / 1000000 +
	    gcfg->queue.lifetime_ms / 1000;

	for (int i = 0; i < j->nrcpt; i++) {
		struct qrcpt *r = j->rcpt[i];
		struct job_result *res = &j->res[i];
		struct audit_event *ev;
		const char *action;

		nactive--;
		if (res->code == 0) {		/* not attempted */
			rcpt_ready(r, 0);
			requeue = 1;
			continue;
		}
		free(r->last_reply);
		r->last_reply = reply_string(res);
		if (res->code >= 200 && res->code < 300)
			action = "delivered";
		else if (res->code < 500 && now < expires)
			action = "deferred";
		else
			action = res->code < 500 ? "expired" : "bounced";
		if (strcmp(action, "delivered") == 0)
			gm.delivered_total++;
		else if (strcmp(action, "deferred") == 0)
			gm.deferred_total++;
		else if (strcmp(action, "bounced") == 0)
			gm.bounced_total++;
		else
			gm.expired_total++;
		ev = store_op_event(op, strcmp(action, "expired") == 0 ?
		    "deferred" : action, m->qid);
		fill_attempt(ev, j, res, r);
		/* A mailbox that does not exist stays so: later mail of the
		 * subaccount to it is refused at RCPT.  Not for DSNs: the
		 * subaccount did not send them. */
		if (strcmp(action, "bounced") == 0 && ev->bounce_class &&
		    strcmp(ev->bounce_class, bounce_class_name(BC_HARD)) == 0 &&
		    !(m->flags & QMSG_DSN))
			suppress_bounce(op, m->subaccount, r->addr,
			    r->last_reply);
		/* The subaccount's bounce rate (DSNs are not its mail). */
		if (strcmp(action, "deferred") != 0 && m->sender[0] != '\0' &&
		    !(m->flags & QMSG_DSN))
			pause_outcome(op, m->subaccount,
			    strcmp(action, "bounced") == 0, ev->ts);
		if (strcmp(action, "deferred") == 0) {
			r->attempts++;
			r->next_attempt = now + backoff_s(r->attempts);
			if (r->next_attempt > expires)
				r->next_attempt = expires;
			store_op_upd_rcpt(op, r);
			rcpt_wait(r);
			continue;
		}
		if (strcmp(action, "expired") == 0) {
			ev = store_op_event(op, "expired", m->qid);
			ev->recipient = xstrdup(r->addr);
			ev->sender = xstrdup(m->sender);
			ev->subaccount = xstrdup(m->subaccount);
			ev->reply_text = xstrdup(r->last_reply);
			ev->bounce_class = bounce_class_name(BC_EXPIRED);
		}
		if (strcmp(action, "delivered") != 0) {
			fr[nfr].address = r->addr;
			fr[nfr].action = "failed";
			fr[nfr].status = res->status[0] ? res->status :
			    res->code < 500 ? "4.4.7" : "5.0.0";
			fr[nfr].remote_mta = j->host[0] ? j->host : NULL;
			frtext[nfr] = strcmp(action, "expired") == 0 ?
			    xstrdup("delivery time expired; last error: ") :
			    NULL;
			if (frtext[nfr]) {
				char *t;

				if (asprintf(&t, "%s%s", frtext[nfr],
				    r->last_reply) == -1)
					fatal("asprintf");
				free(frtext[nfr]);
				frtext[nfr] = t;
			}
			fr[nfr].diagnostic = frtext[nfr] ? frtext[nfr] :
			    r->last_reply;
			fr[nfr].last_attempt = now;
			nfr++;
		}
		r->state = QR_DONE;
		m->npending--;
		nrcpts--;
		store_op_del_rcpt(op, r->dbid);
	}
	make_dsn(op, m, fr, nfr);
	for (int i = 0; i < nfr; i++)
		free(frtext[i]);
	free(frtext);
	free(fr);
	if (m->npending == 0)
		op->del_msg = m->dbid;
	store_submit(op);
	if (m->npending == 0)
		msg_forget(m);
	else
		maybe_drop_body(m);
	if (requeue)
		dest_kick(j->dest);
	arm_retry_timer();
}

/* Every job still waiting at a destination gets the same outcome. */
static void
fail_all_jobs(struct dest *d, int code, const char *status,
    const char *text, const char *host)
{
	struct job *j;

	while ((j = dest_pop(d)) != NULL) {
		j->res = xcalloc((size_t)j->nrcpt, sizeof(*j->res));
		for (int i = 0; i < j->nrcpt; i++) {
			j->rcpt[i]->state = QR_ACTIVE;
			nactive++;
			j->res[i].code = code;
			gw_strlcpy(j->res[i].status, status,
			    sizeof(j->res[i].status));
			j->res[i].text = xstrdup(text);
		}
		j->started_ms = loop_now();
		if (host)
			gw_strlcpy(j->host, host, sizeof(j->host));
		apply_results(j);
		job_free(j);
	}
}

static void
route_done(void *arg, const struct route_result *res)
{
	struct dest *d = arg;

	d->rreq = NULL;
	if (res->status != ROUTE_OK) {
		d->route_state = DR_NONE;
		log_info("dest=%s route %s: %d %s %s", d->name,
		    res->status == ROUTE_TEMPFAIL ? "tempfail" : "failed",
		    res->code, res->enh, res->text);
		fail_all_jobs(d, res->code, res->enh, res->text, NULL);
		return;
	}
	free(d->route);
	d->route = xmalloc(sizeof(*d->route));
	memcpy(d->route, res, sizeof(*res));
	d->route_state = DR_READY;
	d->route_expires = loop_now() + ROUTE_TTL_MS;
	dest_kick(d);
}

/* Hand jobs to idle connections; open more connections if needed. */
static void
dest_kick(struct dest *d)
{
	struct mta *m;

	while (d->jobs && (m = d->idle) != NULL) {
		d->idle = mta_next_idle(m);
		mta_set_idle(m, NULL);
		mta_run_job(m, dest_pop(d));
	}
	if (d->jobs == NULL)
		return;
	if (d->route_state == DR_READY && loop_now() >= d->route_expires &&
	    d->nconn == 0)
		d->route_state = DR_NONE;
	if (d->route_state == DR_NONE) {
		d->route_state = DR_RESOLVING;
		d->rreq = route_resolve(d->name, route_done, d);
		return;
	}
	if (d->route_state != DR_READY)
		return;
	while (d->njobs > d->nconnecting &&
	    d->nconn < gcfg->relay.connections) {
		d->nconn++;
		d->nconnecting++;
		mta_start(d, d->route);
	}
}

void
dest_conn_ready(struct dest *d, struct mta *m)
{
	struct job *j;

	if ((j = dest_pop(d)) != NULL) {
		mta_run_job(m, j);
		return;
	}
	mta_set_idle(m, d->idle);
	d->idle = m;
}

void
dest_idle_remove(struct dest *d, struct mta *m)
{
	struct mta *list = d->idle, *keep = NULL, *next;

	/* Idle lists are short (at most relay.connections): rebuild. */
	for (; list; list = next) {
		next = mta_next_idle(list);
		if (list == m)
			continue;
		mta_set_idle(list, keep);
		keep = list;
	}
	d->idle = keep;
	mta_set_idle(m, NULL);
}

void
dest_job_done(struct job *j, struct mta *m)
{
	struct dest *d = j->dest;

	if (j->body_held)
		queue_release_body(j->msg);
	apply_results(j);
	job_free(j);
	if (m != NULL)
		dest_conn_ready(d, m);
}

void
dest_conn_failed(struct dest *d, int code, const char *status,
    const char *text)
{
	/* The failing connection still counts in nconn and nconnecting.
	 * If no other connection is working, nothing here can be reached:
	 * what waits would meet the same fate, so it is deferred with this
	 * reason and retried later.  Otherwise the others carry on. */
	if (d->nconn - d->nconnecting > 0)
		return;
	log_info("dest=%s unreachable: %d %s %s", d->name, code, status, text);
	d->route_state = DR_NONE;	/* look it up afresh next time */
	fail_all_jobs(d, code, status, text, NULL);
}

void
dest_conn_closed(struct dest *d, struct mta *m)
{
	d->nconn--;
	dest_kick(d);
}

/* Start-up and new mail. */

static void
schedule_msg(struct qmsg *m, int64_t now)
{
	m->qnext = NULL;
	m->qprev = qtail;
	if (qtail)
		qtail->qnext = m;
	else
		qhead = m;
	qtail = m;
	nmessages++;
	nrcpts += m->nrcpt;
	for (int i = 0; i < m->nrcpt; i++) {
		struct qrcpt *r = &m->rcpt[i];

		r->msg = m;
		r->heap_idx = -1;
		if (r->next_attempt <= now)
			rcpt_ready(r, 1);
		else
			rcpt_wait(r);
	}
}

void
queue_add(struct qmsg *m)
{
	if (m->body) {
		if (body_bytes + m->bodylen > BODY_CACHE_MAX) {
			free(m->body);
			m->body = NULL;
		} else
			body_bytes += m->bodylen;
	}
	schedule_msg(m, now_us() / 1000000);
	maybe_drop_body(m);
	arm_retry_timer();
}

static void
loaded(struct qmsg *m, void *arg)
{
	schedule_msg(m, *(int64_t *)arg);
}

/* Forget destinations unused for a while (their route cache too). */
static int
gc_dest(const char *key, void *v, void *arg)
{
	struct dest *d = v;

	if (d->jobs || d->nconn || d->rreq || d->last_used + 600000 >
	    loop_now())
		return 0;
	free(d->route);
	free(d->name);
	free(d);
	return 1;
}

static void
gc(struct ev_timer *t)
{
	hmap_foreach(&dests, gc_dest, NULL);
	timer_add(t, 60000);
}

int
queue_init(char *err, size_t errsz)
{
	int64_t now = now_us() / 1000000;

	hmap_init(&dests);
	timer_init(&retry_timer, retry_due, NULL);
	timer_init(&gc_timer, gc, NULL);
	timer_add(&gc_timer, 60000);
	if (store_load_queue(loaded, &now, err, errsz) == -1)
		return -1;
	arm_retry_timer();
	return 0;
}

void
queue_stats(struct queue_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->messages = nmessages;
	st->recipients = nrcpts;
	st->active = nactive;
	st->deferred = retries.n;
	st->destinations = (int)hmap_count(&dests);
	st->connections = mta_count();
	st->oldest_us = qhead ? qhead->received_us : 0;
}

static int
shutdown_dest(const char *key, void *v, void *arg)
{
	struct dest *d = v;
	struct mta *m, *next;

	route_cancel(d->rreq);
	d->rreq = NULL;
	for (m = d->idle; m; m = next) {
		next = mta_next_idle(m);
		mta_shutdown(m);
	}
	d->idle = NULL;
	return 0;
}

void
queue_shutdown(void)
{
	hmap_foreach(&dests, shutdown_dest, NULL);
}

void
queue_job_started(struct job *j)
{
	for (int i = 0; i < j->nrcpt; i++) {
		j->rcpt[i]->state = QR_ACTIVE;
		nactive++;
	}
}
