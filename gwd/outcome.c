/*
 * outcome.c - the end of a delivery attempt: each recipient's reply is
 * classified (delivered, deferred, expired, bounced, or put back),
 * recorded (audit event, metrics, suppression, bounce rate, the store
 * op that makes it durable) and the recipient moves on.
 * Standards: RFC 5321 4.5.4 (retry strategy), RFC 3463, RFC 3461 (which
 * reports the sender asked for).
 * Exposure: none from the network directly; remote replies arrive
 * already parsed (reply.c) and are only copied into logs and DSNs.
 * Diagnostics: allocation failure is fatal; whether the op commits is
 * the store's to say (its done()).
 *
 * Each outcome is made durable by a store op before the recipient is
 * forgotten; a bounce's DSN is inserted in the same op, so a crash can
 * neither lose it nor send it twice.  outcome_apply() runs from the loop
 * only (dest.c's finished jobs), so the messages it frees are never
 * in use by a caller up the stack.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "alertstat.h"
#include "bounce.h"
#include "config.h"
#include "dsn.h"
#include "event.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "pause.h"
#include "queue_int.h"
#include "rules.h"
#include "schedule.h"
#include "smtp_dsn.h"
#include "store.h"
#include "suppress.h"
#include "util.h"

/*
 * What one reply means for its recipient.  An expired recipient failed
 * like a bounced one (its sender gets a DSN, pools count it bounced);
 * its attempt is logged as the deferral it was, then "expired".
 */
enum outcome {
	OC_UNTRIED,	/* code 0: not attempted, put back at once */
	OC_DELIVERED,
	OC_DEFERRED,	/* tried again later */
	OC_EXPIRED,	/* temporary failure past the queue lifetime */
	OC_BOUNCED,
};

static const struct {
	enum event_action event;	/* the attempt's audit event */
	enum gm_result	 metric;
	int		 failed;	/* final, and the sender hears */
} oc[] = {
	[OC_DELIVERED] = { EV_DELIVERED, GM_DELIVERED, 0 },
	[OC_DEFERRED] = { EV_DEFERRED, GM_DEFERRED, 0 },
	[OC_EXPIRED] = { EV_DEFERRED, GM_EXPIRED, 1 },
	[OC_BOUNCED] = { EV_BOUNCED, GM_BOUNCED, 1 },
};

/* What one job's outcomes gather: one store op, one DSN. */
struct attempt {
	struct job	*j;
	struct store_op	*op;
	struct dsn_rcpt	*fr;		/* failed recipients */
	char		**frtext;	/* their diagnostics, when built */
	int		 nfr;
	int		 throttled;	/* a reply asked for less mail */
	int		 delivered;	/* some were delivered */
	int		 requeue;	/* some were put back */
	int64_t		 now, expires;	/* unix seconds */
};

static enum outcome
classify(const struct job_result *res, int64_t now, int64_t expires)
{
	if (res->code == 0)
		return OC_UNTRIED;
	if (res->code >= 200 && res->code < 300)
		return OC_DELIVERED;
	if (res->code < 500)
		return now < expires ? OC_DEFERRED : OC_EXPIRED;
	return OC_BOUNCED;
}

static int64_t
backoff_s(int attempts)
{
	int64_t ms = gcfg->queue.retry_min_ms;

	for (int i = 1; i < attempts && ms < gcfg->queue.retry_max_ms; i++)
		ms *= 2;
	if (ms > gcfg->queue.retry_max_ms)
		ms = gcfg->queue.retry_max_ms;
	return ms_to_s_up(ms);
}

static void
fill_attempt(struct audit_event *ev, const struct job *j,
    const struct job_result *res, const struct qrcpt *r,
    enum bounce_class cls)
{
	ev->recipient = xstrdup(r->addr);
	ev->sender = xstrdup(j->msg->sender);
	mta_audit_hop(ev, &j->hop, j->dest);
	if (j->dest != NULL && j->hop.ip[0] != '\0' &&
	    ev->tls_policy != NULL) {
		j->dest->tls_last = ev->tls_policy;
		j->dest->tls_last_verified = ev->tls_verified;
	}
	ev->reply_code = res->code;
	if (res->status[0])
		ev->reply_status = xstrdup(res->status);
	ev->reply_text = xstrdup(res->text ? res->text : "");
	if (res->code >= 300)
		ev->bounce_class = bounce_class_name(cls);
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

static void
pool_count_add(struct pool_count *pc, enum outcome o)
{
	if (o == OC_DELIVERED)
		pc->delivered++;
	else if (o == OC_DEFERRED)
		pc->deferred++;
	else
		pc->bounced++;
}

/* Record what happened to r: its reply, the destination's backoff, the
 * metrics, the audit events, suppression and the bounce rate. */
static void
record(struct attempt *a, struct qrcpt *r, const struct job_result *res,
    enum outcome o)
{
	struct job *j = a->j;
	struct qmsg *m = j->msg;
	enum bounce_class cls = bounce_classify(res->code, res->status,
	    res->text);
	struct audit_event *ev;
	char *reply = reply_string(res);

	qrcpt_set_reply(r, reply);
	free(reply);
	/* "Slow down" (421, rate limits): the whole destination backs
	 * off, once per attempt (and once per burst: throttle.c).  Any
	 * other class, greylisting included, is this recipient's alone. */
	if (j->dest && !a->throttled && cls == BC_THROTTLED) {
		throttle_backoff(j->dest, j->started_ms, res->code,
		    res->status, res->text);
		a->throttled = 1;
	}
	a->delivered += o == OC_DELIVERED;
	metrics_delivery(m->flags & QMSG_DSN ? NULL : m->subaccount,
	    oc[o].metric, cls, m->received_us);
	/* Not gwd's own mail (DSNs, alert notices): an alert about
	 * bounces must not be eased, or fed, by its own notices. */
	if (!(m->flags & QMSG_DSN))
		alertstat_outcome(m->subaccount, r->addr, oc[o].metric, cls,
		    m->received_us, now_us());
	if (j->dest && j->dest->pcount)
		pool_count_add(j->dest->pcount, o);
	ev = store_op_event(a->op, event_name(oc[o].event), m->qid);
	fill_attempt(ev, j, res, r, cls);
	/* A mailbox that does not exist stays so: later mail of the
	 * subaccount to it is refused at RCPT.  Not for DSNs: the
	 * subaccount did not send them. */
	if (o == OC_BOUNCED && cls == BC_HARD && !(m->flags & QMSG_DSN))
		suppress_bounce(a->op, m->subaccount, r->addr, r->last_reply);
	/* The subaccount's bounce rate: its null-sender mail counts, the
	 * DSNs gwd makes are not its mail. */
	if (o != OC_DEFERRED && !(m->flags & QMSG_DSN))
		pause_outcome(a->op, m->subaccount, o == OC_BOUNCED, ev->ts);
	if (o == OC_EXPIRED) {
		ev = store_op_event(a->op, event_name(EV_EXPIRED), m->qid);
		ev->recipient = xstrdup(r->addr);
		ev->sender = xstrdup(m->sender);
		ev->subaccount = xstrdup(m->subaccount);
		ev->reply_text = xstrdup(r->last_reply);
		ev->bounce_class = bounce_class_name(BC_EXPIRED);
	}
}

/* The hops the attempt tried and could not use, before the one that
 * answered (or none did): one event each. */
static void
hops_failed(struct attempt *a)
{
	struct job *j = a->j;

	for (int i = 0; i < j->ntried; i++) {
		const struct hop_fail *f = &j->tried[i];
		struct audit_event *ev = store_op_event(a->op,
		    event_name(EV_HOST_FAILED), j->msg->qid);

		ev->sender = xstrdup(j->msg->sender);
		ev->subaccount = xstrdup(j->msg->subaccount);
		if (f->host[0])
			ev->remote_host = xstrdup(f->host);
		if (f->ip[0])
			ev->remote_ip = xstrdup(f->ip);
		ev->reply_text = xstrdup(f->why);
		if (j->dest)
			ev->tls_policy = tls_policy_name(j->dest->tls);
	}
}

/* r's entry in the DSN of this attempt: what happened and where. */
static struct dsn_rcpt *
dsn_add(struct attempt *a, const struct qrcpt *r,
    const struct job_result *res, const char *action, const char *status)
{
	struct dsn_rcpt *f = &a->fr[a->nfr++];

	f->address = r->addr;
	f->orcpt = r->dsn_orcpt;
	f->action = action;
	f->status = status;
	f->remote_mta = a->j->hop.host[0] ? a->j->hop.host : NULL;
	f->diagnostic = res->reply;
	f->reason = r->last_reply;
	f->last_attempt = a->now;
	return f;
}

/* r failed for good: its part of the DSN, unless its client said
 * NOTIFY=NEVER or left FAILURE out. */
static void
dsn_entry(struct attempt *a, const struct qrcpt *r,
    const struct job_result *res, enum outcome o)
{
	struct dsn_rcpt *f;

	if (!dsn_wanted(r, DSN_NOTIFY_FAILURE))
		return;
	f = dsn_add(a, r, res, "failed", res->status[0] ? res->status :
	    res->code < 500 ? "4.4.7" : "5.0.0");
	if (o == OC_EXPIRED) {
		if (asprintf(&a->frtext[a->nfr - 1], "delivery time expired; "
		    "last error: %s", r->last_reply) == -1)
			fatal("asprintf");
		f->reason = a->frtext[a->nfr - 1];
	}
}

/*
 * r was delivered, and its client asked to hear so (NOTIFY=SUCCESS), but
 * the receiver offered no DSN to pass the request on to: gw reports
 * "relayed" itself (RFC 3461 6.2.1.1).
 */
static void
dsn_relayed(struct attempt *a, const struct qrcpt *r,
    const struct job_result *res)
{
	if (a->j->dsn_passed || !dsn_wanted(r, DSN_NOTIFY_SUCCESS))
		return;
	dsn_add(a, r, res, "relayed", res->status[0] == '2' ? res->status :
	    "2.0.0");
}

/*
 * r was deferred past queue.delay_warning and its client asked for
 * delay notices (NOTIFY=DELAY): one "delayed" report, marked in r (and
 * stored with its retry) so that it is the only one.
 */
static void
dsn_delayed(struct attempt *a, struct qrcpt *r, const struct job_result *res)
{
	int64_t warn_s = gcfg->queue.delay_warning_ms / 1000;

	if (gcfg->queue.delay_warning_ms <= 0 ||
	    (r->dsn_notify & DSN_DELAY_SENT) ||
	    !dsn_wanted(r, DSN_NOTIFY_DELAY) ||
	    a->now - us_to_s(a->j->msg->received_us) < warn_s)
		return;
	r->dsn_notify |= DSN_DELAY_SENT;
	dsn_add(a, r, res, "delayed", res->status[0] == '4' ? res->status :
	    "4.0.0");
}

/* Where r goes after its outcome: back, to wait, or done. */
static void
move_on(struct attempt *a, struct qrcpt *r, const struct job_result *res,
    enum outcome o)
{
	struct qmsg *m = a->j->msg;

	switch (o) {
	case OC_UNTRIED:
		if (m->held)			/* held meanwhile */
			rcpt_move(r, QR_HELD);
		else {
			routing_place(r, 0);
			a->requeue = 1;
		}
		return;
	case OC_DEFERRED:
		dsn_delayed(a, r, res);
		r->attempts++;
		r->next_attempt = a->now + backoff_s(r->attempts);
		if (r->next_attempt > a->expires)
			r->next_attempt = a->expires;
		store_op_upd_rcpt(a->op, r);
		rcpt_move(r, m->held ? QR_HELD : QR_WAITING);
		return;
	default:
		if (oc[o].failed)
			dsn_entry(a, r, res, o);
		else
			dsn_relayed(a, r, res);
		rcpt_move(r, QR_DONE);
		store_op_del_rcpt(a->op, r->dbid);
	}
}

/*
 * Apply the results of one attempt: each recipient's reply is
 * classified, recorded, and the recipient moves on.  One store op makes
 * it all durable, the DSN included.
 */
void
outcome_apply(struct job *j)
{
	struct qmsg *m = j->msg;
	struct attempt a = {
		.j = j,
		.op = store_op_new(),
		.fr = xcalloc((size_t)j->nrcpt, sizeof(*a.fr)),
		.frtext = xcalloc((size_t)j->nrcpt, sizeof(char *)),
		.now = sched_unix_s(),
		.expires = msg_expires_s(m),
	};

	hops_failed(&a);
	for (int i = 0; i < j->nrcpt; i++) {
		enum outcome o = classify(&j->res[i], a.now, a.expires);

		if (o != OC_UNTRIED)
			record(&a, j->rcpt[i], &j->res[i], o);
		move_on(&a, j->rcpt[i], &j->res[i], o);
	}
	dsn_queue_build(a.op, m, a.fr, a.nfr);
	for (int i = 0; i < a.nfr; i++)
		free(a.frtext[i]);
	free(a.frtext);
	free(a.fr);
	if (m->npending == 0)
		a.op->del_msg = m->dbid;
	dsn_queue_submit(a.op);
	if (m->npending == 0)
		qmsg_forget(m);
	else
		qmsg_maybe_drop_body(m);
	/* A delivery with no complaint loosens a backing-off destination. */
	if (j->dest && (a.requeue || (a.delivered && !a.throttled &&
	    throttle_success(j->dest, j->started_ms))))
		dest_kick(j->dest);
	routing_arm_retry();
}
