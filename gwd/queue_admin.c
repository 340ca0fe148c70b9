/*
 * queue_admin.c - admin actions on queued messages (gwctl queue flush,
 * hold, release, delete, bounce through the control socket).
 * Exposure: requests come from root or gwd's group (control.c) and are
 * parsed by ctlproto.c; they name queue ids, never addresses to trust.
 * Diagnostics: what cannot be done goes back to the admin (QA_UNCHANGED,
 * QA_BUSY and why); a failed commit reaches done().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dsn.h"
#include "event.h"
#include "log.h"
#include "metrics.h"
#include "queue.h"
#include "queue_int.h"
#include "schedule.h"
#include "smtp_dsn.h"
#include "store.h"
#include "util.h"

/*
 * Admin actions (gwctl queue, through the control socket).  Each takes
 * effect in memory at once; its store op makes it durable and writes
 * its audit events, and the admin hears back when that op committed.
 */

struct qa_waiter {
	void	(*fn)(void *, int failed, const char *error);
	void	*arg;
};

/* m's ready recipients leave their destinations' lists, the caller's
 * to move (waiting ones leave the retry heap as they move). */
static void
msg_unschedule(struct qmsg *m)
{
	for (int i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].state == QR_READY)
			dest_unready(&m->rcpt[i]);
}

static void
admin_committed(struct store_op *op)
{
	struct qa_waiter *w = op->arg;

	if (op->insert)
		dsn_queue_stored(op);
	w->fn(w->arg, op->failed, op->error);
	free(w);
	store_op_free(op);
}

static struct store_op *
admin_op(void (*fn)(void *, int, const char *), void *arg)
{
	struct store_op *op = store_op_new();
	struct qa_waiter *w = xcalloc(1, sizeof(*w));

	w->fn = fn;
	w->arg = arg;
	op->arg = w;
	op->done = admin_committed;
	return op;
}

static struct audit_event *
admin_event(struct store_op *op, enum event_action action,
    const struct qmsg *m, const struct qrcpt *r, const char *detail)
{
	struct audit_event *ev = store_op_event(op, event_name(action),
	    m->qid);

	ev->sender = xstrdup(m->sender);
	ev->subaccount = xstrdup(m->subaccount);
	if (r)
		ev->recipient = xstrdup(r->addr);
	ev->detail = xstrdup(detail);
	return ev;
}

static int
admin_hold(struct qmsg *m, struct store_op *op, const char **why)
{
	int active = queue_msg_active(m);

	if (m->held) {
		*why = "already held";
		return QA_UNCHANGED;
	}
	msg_unschedule(m);
	for (int i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].state == QR_WAITING ||
		    m->rcpt[i].state == QR_READY)
			rcpt_move(&m->rcpt[i], QR_HELD);
	routing_arm_retry();
	qmsg_set_held(m, 1);
	qmsg_maybe_drop_body(m);
	op->held_msg = m->dbid;
	op->held = 1;
	admin_event(op, EV_HELD, m, NULL, active ? "held by admin; "
	    "recipients in delivery now finish their attempt" :
	    "held by admin");
	if (active)
		*why = "recipients in delivery now finish their attempt";
	return QA_DONE;
}

static int
admin_release(struct qmsg *m, struct store_op *op, const char **why)
{
	int64_t now = sched_unix_s();
	int quarantined = m->held == QMSG_QUARANTINED;

	if (!m->held) {
		*why = "not held";
		return QA_UNCHANGED;
	}
	qmsg_set_held(m, 0);
	m->released = 1;
	for (int i = 0; i < m->nrcpt; i++) {
		struct qrcpt *r = &m->rcpt[i];

		if (r->state != QR_HELD)
			continue;
		if (r->next_attempt <= now)
			routing_place(r, 0);	/* msg_kick() follows */
		else
			rcpt_move(r, QR_WAITING);
	}
	routing_arm_retry();
	op->held_msg = m->dbid;
	op->held = 2;		/* released: no rule holds it again */
	admin_event(op, EV_RELEASED, m, NULL, quarantined ? "released from "
	    "quarantine by admin" : "released by admin");
	return QA_DONE;
}

/* Waiting recipients (of `domain` when not "") go now. */
static int
admin_flush(struct qmsg *m, const char *domain, struct store_op *op,
    const char **why)
{
	int64_t now = sched_unix_s();
	char detail[128];
	int n = 0;

	if (m->held) {
		*why = "held (release it first)";
		return QA_UNCHANGED;
	}
	for (int i = 0; i < m->nrcpt; i++) {
		struct qrcpt *r = &m->rcpt[i];

		if (r->state != QR_WAITING || (*domain &&
		    strcasecmp(r->domain, domain) != 0))
			continue;
		r->next_attempt = now;	/* the heap lets it go by slot */
		routing_place(r, 0);		/* msg_kick() follows */
		n++;
	}
	routing_arm_retry();
	if (n == 0) {
		*why = "nothing waiting for a retry";
		return QA_UNCHANGED;
	}
	snprintf(detail, sizeof(detail), "flushed by admin: %d recipient%s "
	    "retried now", n, n == 1 ? "" : "s");
	admin_event(op, EV_FLUSHED, m, NULL, detail);
	return QA_DONE;
}

/* Start the destinations of m's ready recipients (a kick never frees
 * anything: outcomes are applied from the loop). */
static void
msg_kick(struct qmsg *m)
{
	for (int i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].state == QR_READY)
			dest_kick(m->rcpt[i].dest);
}

/* Every pending recipient of m is done: forget it, durably. */
static void
admin_finish(struct qmsg *m, struct store_op *op)
{
	for (int i = 0; i < m->nrcpt; i++) {
		struct qrcpt *r = &m->rcpt[i];

		if (r->state == QR_DONE)
			continue;
		rcpt_move(r, QR_DONE);
		store_op_del_rcpt(op, r->dbid);
	}
	routing_arm_retry();
	op->del_msg = m->dbid;
}

/* reason: the admin's (--reason), or the quarantine's retention. */
static int
admin_delete(struct qmsg *m, const char *reason, struct store_op *op,
    const char **why)
{
	char *detail = xasprintf("deleted %s without delivery%s%s",
	    m->held == QMSG_QUARANTINED ? "from quarantine" : "by admin",
	    *reason ? ": " : "", reason);

	msg_unschedule(m);
	for (int i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].state != QR_DONE)
			admin_event(op, EV_DELETED, m, &m->rcpt[i], detail);
	free(detail);
	admin_finish(m, op);
	return QA_DONE;
}

/* Fail every pending recipient and tell the sender (a DSN), of those
 * whose client did not say NOTIFY=NEVER (or leave FAILURE out). */
static int
admin_bounce(struct qmsg *m, struct store_op *op, const char **why)
{
	struct dsn_rcpt *fr = xcalloc((size_t)m->nrcpt, sizeof(*fr));
	char **diag = xcalloc((size_t)m->nrcpt, sizeof(char *));
	int nfr = 0, nowant = 0;

	msg_unschedule(m);
	for (int i = 0; i < m->nrcpt; i++) {
		struct qrcpt *r = &m->rcpt[i];
		struct audit_event *ev;

		if (r->state == QR_DONE)
			continue;
		if (asprintf(&diag[nfr], "returned to the sender by the "
		    "administrator%s%s", r->last_reply ? "; last error: " : "",
		    r->last_reply ? r->last_reply : "") == -1)
			fatal("asprintf");
		ev = admin_event(op, EV_BOUNCED, m, r, "bounced by admin");
		ev->reply_status = xstrdup("5.0.0");
		metrics_delivery(m->flags & QMSG_DSN ? NULL : m->subaccount,
		    GM_BOUNCED, BC_OTHER, m->received_us);
		if (!dsn_wanted(r, DSN_NOTIFY_FAILURE)) {
			free(diag[nfr]);
			diag[nfr] = NULL;
			nowant++;
			continue;
		}
		fr[nfr].orcpt = r->dsn_orcpt;
		fr[nfr].address = r->addr;
		fr[nfr].action = "failed";
		fr[nfr].status = "5.0.0";
		fr[nfr].reason = diag[nfr];
		nfr++;
	}
	dsn_queue_build(op, m, fr, nfr);
	/* dsn_queue_build() sets its own completion; ours also reports back. */
	op->done = admin_committed;
	if (op->insert == NULL)
		*why = m->sender[0] == '\0' || (m->flags & QMSG_DSN) ?
		    "no DSN: the null sender" : nfr == 0 && nowant > 0 ?
		    "no DSN: its client asked for none (NOTIFY)" :
		    "no DSN: it could not be built";
	for (int i = 0; i < nfr; i++)
		free(diag[i]);
	free(diag);
	free(fr);
	admin_finish(m, op);
	return QA_DONE;
}

int
queue_admin(struct qmsg *m, const struct ctl_queue_cmd *cmd,
    void (*done)(void *, int failed, const char *error), void *arg,
    const char **why)
{
	struct store_op *op = admin_op(done, arg);
	enum ctl_verb verb = cmd->verb;
	int r;

	*why = NULL;
	if (cmd->quarantined && m->held != QMSG_QUARANTINED) {
		*why = "not quarantined";
		r = QA_UNCHANGED;
	} else if ((verb == CTL_Q_DELETE || verb == CTL_Q_BOUNCE) &&
	    queue_msg_active(m)) {
		*why = "being delivered now; try again when the attempt ends";
		r = QA_BUSY;
	} else if (verb == CTL_Q_HOLD)
		r = admin_hold(m, op, why);
	else if (verb == CTL_Q_RELEASE)
		r = admin_release(m, op, why);
	else if (verb == CTL_Q_FLUSH)
		r = admin_flush(m, cmd->domain, op, why);
	else if (verb == CTL_Q_DELETE)
		r = admin_delete(m, cmd->reason, op, why);
	else if (verb == CTL_Q_BOUNCE)
		r = admin_bounce(m, op, why);
	else {
		*why = "not an action";
		r = QA_UNCHANGED;
	}
	if (r != QA_DONE) {
		free(op->arg);
		store_op_free(op);
		return r;
	}
	dsn_queue_submit(op);
	if (m->npending == 0)
		qmsg_forget(m);
	else if (verb == CTL_Q_FLUSH || verb == CTL_Q_RELEASE)
		msg_kick(m);
	return r;
}
