/*
 * outcome.c - the end of a delivery attempt: each recipient's reply is
 * classified (delivered, deferred, expired, bounced, or put back),
 * recorded (audit event, metrics, suppression, bounce rate, the store
 * op that makes it durable) and the recipient moves on.
 * Standards: RFC 5321 4.5.4 (retry strategy), RFC 3463.
 * Exposure: none from the network directly; remote replies arrive
 * already parsed (reply.c) and are only copied into logs and DSNs.
 *
 * Each outcome is made durable by a store op before the recipient is
 * forgotten; a bounce's DSN is inserted in the same op, so a crash can
 * neither lose it nor send it twice.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "config.h"
#include "dsn.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "pause.h"
#include "queue_int.h"
#include "rules.h"
#include "schedule.h"
#include "store.h"
#include "suppress.h"
#include "util.h"

/* A routing rule refuses this (active) recipient: that is its attempt. */
void
rule_refuses(struct qrcpt *r, const struct rule *ru)
{
	struct job *j = xcalloc(1, sizeof(*j));
	char status[16];
	const char *text;
	char err[64];

	j->msg = r->msg;
	j->rcpt = xcalloc(1, sizeof(*j->rcpt));
	j->res = xcalloc(1, sizeof(*j->res));
	j->rcpt[0] = r;
	j->nrcpt = 1;
	j->started_ms = loop_now();
	if (rules_parse_reply(ru->reply, &j->res[0].code, status,
	    sizeof(status), &text, err, sizeof(err)) == -1) {
		j->res[0].code = 550;
		snprintf(status, sizeof(status), "5.7.1");
		text = "refused by a routing rule";
	}
	gw_strlcpy(j->res[0].status, status, sizeof(j->res[0].status));
	j->res[0].text = xstrdup(text);
	gw_strlcpy(j->hop.host, "routing rule", sizeof(j->hop.host));
	apply_results(j);
	job_free(j);
}

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
fill_attempt(struct audit_event *ev, const struct job *j,
    const struct job_result *res, const struct qrcpt *r)
{
	ev->recipient = xstrdup(r->addr);
	ev->sender = xstrdup(j->msg->sender);
	mta_audit_hop(ev, &j->hop, j->dest);
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

/* An expired recipient is a bounce too: it failed and got a DSN. */
static void
pool_count_add(struct pool_count *pc, const char *action)
{
	if (strcmp(action, "delivered") == 0)
		pc->delivered++;
	else if (strcmp(action, "deferred") == 0)
		pc->deferred++;
	else
		pc->bounced++;
}

/*
 * Apply the results of one attempt: every recipient of the job is
 * delivered, deferred (or expired), bounced, or put back.
 */
void
apply_results(struct job *j)
{
	struct qmsg *m = j->msg;
	struct store_op *op = store_op_new();
	struct dsn_rcpt *fr = xcalloc((size_t)j->nrcpt, sizeof(*fr));
	char **frtext = xcalloc((size_t)j->nrcpt, sizeof(char *));
	int nfr = 0, requeue = 0, throttled = 0;
	int64_t now = now_us() / 1000000;
	int64_t expires = m->received_us / 1000000 +
	    gcfg->queue.lifetime_ms / 1000;

	for (int i = 0; i < j->nrcpt; i++) {
		struct qrcpt *r = j->rcpt[i];
		struct job_result *res = &j->res[i];
		struct audit_event *ev;
		const char *action;

		if (res->code == 0 && m->held) {	/* held meanwhile */
			rcpt_move(r, QR_HELD);
			continue;
		}
		if (res->code == 0) {		/* not attempted */
			rcpt_ready(r, 0);
			requeue = 1;
			continue;
		}
		free(r->last_reply);
		r->last_reply = reply_string(res);
		/* "Slow down" (421, rate limits): the whole destination
		 * backs off, once per attempt. */
		if (j->dest && !throttled && bounce_classify(res->code,
		    res->status, res->text) == BC_THROTTLED) {
			dest_throttled(j->dest, res);
			throttled = 1;
		}
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
		if (j->dest && j->dest->pcount)
			pool_count_add(j->dest->pcount, action);
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
			rcpt_move(r, m->held ? QR_HELD : QR_WAITING);
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
			fr[nfr].remote_mta = j->hop.host[0] ? j->hop.host :
			    NULL;
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
		rcpt_move(r, QR_DONE);
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
	if (requeue && j->dest)
		dest_kick(j->dest);
	arm_retry_timer();
}
