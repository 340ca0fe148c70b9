/*
 * data_end.c - a whole message to the store (submit.h), and the end of
 * DATA that hands an SMTP session's message to it.  The verdict on the
 * message (clean data, header policy, quota, routing rules), then its
 * stored form (data_assemble.c), the "received" event, and the hand-off
 * to data_store.c (content policies, signing, the store thread); the
 * 250 (or 451, or the policies' 550) comes back from there to the
 * waiter: the SMTP session, or the HTTP API's request (api.c).
 * Standards: RFC 5322.
 * Exposure: the message is untrusted input from an authenticated client.
 * Diagnostics: a message that cannot be built (no memory) is refused
 * with a 451 and counted like any refusal; nothing here is fatal.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "event.h"
#include "fbl.h"
#include "gwd.h"
#include "journal.h"
#include "metrics.h"
#include "msg.h"
#include "cluster.h"
#include "policy.h"
#include "queue.h"
#include "quota.h"
#include "session_priv.h"
#include "store.h"
#include "util.h"
#include "window.h"

static int
owns_domain(const void *sa, const char *domain)
{
	return account_owns_domain(sa, domain);
}

/* Policy on the header section; NULL when the message may go. */
static const char *
check_headers(const struct incoming *in, const struct msg_info *mi, char *buf,
    size_t bufsz)
{
	const struct subaccount *sa = in->sa;

	if (mi->nreceived >= gcfg->limits.received_headers)
		return "554 5.4.6 Error: too many Received headers (mail loop?)";
	if (mi->nfrom == 0 && in->t->mail.path.len == 0)
		return "554 5.6.0 Error: message has no From header";
	if (sa == NULL || !sa->enabled)
		return "550 5.7.1 Error: subaccount is disabled or gone";
	/* From: and Sender: read whole, every address owned. */
	return msg_check_authors(mi, in->t->mail.smtputf8, owns_domain, sa,
	    sa->name, buf, bufsz);
}

/*
 * A routing rule (r, for recipient rcpt) holds the message for review
 * (quarantine): it is stored held, until `gwctl queue release`.
 */
static void
quarantine(struct qmsg *m, struct store_op *op, const struct rule *r,
    const char *rcpt)
{
	struct audit_event *ev;

	m->held = 1;
	ev = store_op_event(op, event_name(EV_QUARANTINED), m->qid);
	ev->recipient = xstrdup(rcpt);
	ev->sender = xstrdup(m->sender);
	ev->subaccount = xstrdup(m->subaccount);
	ev->detail = xasprintf("held by routing rule %lld until released "
	    "(gwctl queue release %s)", (long long)r->id, m->qid);
}

/*
 * The message path as stages.  Each looks at the message and returns a
 * verdict: go on, refuse with a reply, or hold for review (the first
 * hold wins, a later refusal still refuses).  A new check is one
 * function and one line in stages[].
 */
static enum verdict
refuse_with(struct incoming *in, enum gm_reject rej, const char *r,
    const char *rcpt, enum bounce_class cls)
{
	in->rej = rej;
	in->reply = r;
	in->rcpt = rcpt;
	in->cls = cls;
	return V_REPLY;
}

/* Bare CR or LF, NUL, overlong lines, too big (smtp_proto.c's flags). */
static enum verdict
stage_data(struct incoming *in)
{
	const char *r = data_flags_reply(in->t->dp.flags);

	return r ? refuse_with(in, REJ_DATA_CONTENT, r, NULL, BC_NONE) :
	    V_CONTINUE;
}

static enum verdict
stage_headers(struct incoming *in)
{
	const char *r;

	msg_scan(buf_ptr(&in->t->data), buf_len(&in->t->data), &in->mi);
	r = check_headers(in, &in->mi, in->rbuf, sizeof(in->rbuf));
	return r ? refuse_with(in, REJ_DATA_HEADERS, r, NULL, BC_NONE) :
	    V_CONTINUE;
}

/* Again: sessions in DATA side by side all passed MAIL. */
static enum verdict
stage_quota(struct incoming *in)
{
	const char *r;

	r = quota_check(in->sa, in->now, in->rbuf, sizeof(in->rbuf));
	return r ? refuse_with(in, REJ_DATA_QUOTA, r, NULL, BC_THROTTLED) :
	    V_CONTINUE;
}

/*
 * The routing rules, once per recipient, with headers and size: one that
 * rejects refuses the whole message (after DATA there is no refusing one
 * recipient); the first that holds quarantines it.  Each decision goes
 * into the queue with its recipient.
 */
static enum verdict
stage_rules(struct incoming *in)
{
	struct tx *t = in->t;

	in->route = xcalloc((size_t)t->nrcpt, sizeof(*in->route));
	for (int i = 0; i < t->nrcpt; i++) {
		struct rule_msg rm = { in->sa->name, t->mail.path.addr,
		    t->rcpt[i], (int64_t)buf_len(&t->data), buf_ptr(&t->data),
		    buf_len(&t->data) };
		const struct rule *ru = routing_decide(&rm, &in->route[i]);

		if (ru && ru->action == RULE_REJECT)
			return refuse_with(in, REJ_DATA_POLICY, ru->reply,
			    t->rcpt[i], BC_NONE);
		if (ru && ru->action == RULE_ROUTE && ru->bulk)
			in->bulk = 1;
		/* Archived when any recipient's rule (or archive.all) says
		 * so: a compliance copy errs on the side of keeping. */
		if (ru && ru->archive >= 0 ? ru->archive : gcfg->archive.all)
			in->archive = 1;
		if (ru && ru->action == RULE_HOLD && in->hold == NULL) {
			in->hold = ru;
			in->hold_rcpt = t->rcpt[i];
		}
	}
	return in->hold ? V_QUARANTINE : V_CONTINUE;
}

static enum verdict (*const stages[])(struct incoming *) = {
	stage_data,
	stage_headers,
	stage_quota,
	stage_rules,
};

/* Every stage in order, up to the first refusal: V_REPLY, or whether
 * the message goes (V_CONTINUE) or is held (V_QUARANTINE, in->hold). */
static enum verdict
data_end_verdict(struct incoming *in)
{
	for (size_t i = 0; i < nitems(stages); i++)
		if (stages[i](in) == V_REPLY)
			return V_REPLY;
	return in->hold ? V_QUARANTINE : V_CONTINUE;
}

/* The stored form (data_assemble.c), or the refusal of the message. */
static struct qmsg *
assemble(struct incoming *in)
{
	struct qmsg *m = data_assemble(in);

	if (m == NULL)
		refuse_with(in, REJ_DATA_STORAGE, in->reply, NULL, BC_NONE);
	return m;
}

/* What the compliance archive keeps of m (journal.h): the envelope as
 * the "received" event ev has it, the origin as in->o says it (an SMTP
 * session or the HTTP API). */
static struct archive_req *
data_end_archive(struct incoming *in, const struct qmsg *m,
    const struct audit_event *ev)
{
	struct journal_env e = { m->qid, m->received_us, m->sender,
	    ev->rcpts, ev->nrcpts, in->sa->name, in->o->ip, in->o->auth,
	    in->mi.message_id };

	return journal_plan(&e);
}

/* The commit of m, carrying its "received" event (and "quarantined"). */
static struct store_op *
submit_event(struct incoming *in, struct qmsg *m, struct submit_waiter *w)
{
	const struct submit_origin *o = in->o;
	struct tx *t = in->t;
	struct store_op *op;
	struct audit_event *ev;

	op = store_op_new();
	op->insert = m;
	op->refusable = 1;
	op->done = data_store_committed;
	op->arg = w;
	ev = store_op_event(op, event_name(EV_RECEIVED), m->qid);
	ev->ts = in->now;
	ev->subaccount = xstrdup(in->sa->name);
	ev->client_ip = xstrdup(o->ip);
	ev->sender = xstrdup(m->sender);
	ev->message_id = xstrdup(in->mi.message_id);
	ev->subject = xstrdup(in->mi.subject);
	ev->from_addr = xstrdup(in->mi.from);
	ev->size = (int64_t)m->size;
	ev->tls = o->tlsdesc[0] ? xstrdup(o->tlsdesc) : NULL;
	ev->rcpts = xcalloc((size_t)t->nrcpt, sizeof(char *));
	ev->nrcpts = t->nrcpt;
	for (int i = 0; i < t->nrcpt; i++)
		ev->rcpts[i] = xstrdup(t->rcpt[i]);
	ev->recipient = in->rcpt_list;
	in->rcpt_list = NULL;
	ev->detail = xstrdup(o->detail);
	if (in->hold)
		quarantine(m, op, in->hold, in->hold_rcpt);
	if (in->archive)
		op->archive = data_end_archive(in, m, ev);
	return op;
}

int
submit_message(struct incoming *in, struct submit_waiter *w)
{
	struct sign_job *sj;
	const char *busy;
	struct store_op *op;
	struct qmsg *m;

	if (data_end_verdict(in) == V_REPLY || (m = assemble(in)) == NULL) {
		free(in->route);
		in->route = NULL;
		gm.messages_rejected_total++;
		metrics_reject(in->rej);
		return -1;
	}
	free(in->route);
	in->route = NULL;
	op = submit_event(in, m, w);
	/* Held until committed (or refused): counted with the sessions'. */
	session_memory += m->bodylen;
	/* Counted now, so the next MAIL sees it; given back if the message
	 * is not stored after all. */
	window_add(m->subaccount, WIN_ACCEPTED, in->now, 1);
	/* The cluster's quota (cluster.h): the token MAIL took is spent;
	 * a message that took none (no Redis at MAIL) is counted there
	 * afterwards. */
	if (in->t->cq_held)
		in->t->cq_held = 0;
	else
		cluster_quota_unshared(m->subaccount);
	busy = data_store_begin(in, op, &sj);
	w->held(w, op);
	if (busy)
		data_store_drop(op, sj, REJ_DATA_CONTENT_POLICY, busy,
		    "content scan queue full");
	return 0;
}

/* The session's message is stored (or not): say so, and read on. */
static void
session_answer(struct submit_waiter *w, const char *reply, const char *qid,
    enum gm_reject rej)
{
	struct session *s = (struct session *)((char *)w -
	    offsetof(struct session, w));

	session_reply(s, "%s", reply);
	if (qid)
		s->accepted++;
	s->op = NULL;
	session_resume(s);
}

/* Handed over: wait for the answer, reading nothing meanwhile.  The
 * transaction is over for the session (the message has what it needs). */
static void
session_held(struct submit_waiter *w, struct store_op *op)
{
	struct session *s = (struct session *)((char *)w -
	    offsetof(struct session, w));

	s->op = op;
	s->state = SS_WAIT;
	conn_pause_read(s->c, 1);
	session_tx_reset(s);
}

static const char *
trace_proto(const struct session *s)
{
	/* RFC 3848 */
	if (!s->esmtp)
		return "SMTP";
	if (s->tls)
		return s->authed == AUTH_SASL ? "ESMTPSA" : "ESMTPS";
	return s->authed == AUTH_SASL ? "ESMTPA" : "ESMTP";
}

/*
 * End of DATA: the message to submit_message(), whose answer comes to
 * session_answer(); a refusal at once is answered here.
 */
void
data_end(struct session *s)
{
	struct submit_origin o = { .subaccount = s->subaccount, .ip = s->ip,
	    .helo = s->helo_name, .proto = trace_proto(s) };
	struct incoming in = { .o = &o, .t = &s->tx, .now = now_us() };
	char *detail, auth[48];

	if (fbl_session(s)) {
		fbl_data_end(s);	/* a report: read, never queued */
		return;
	}
	timer_del(&s->timer);
	conn_tls_desc(s->c, o.tlsdesc, sizeof(o.tlsdesc));
	/* Which credential let it in: the IP allowlist, a password, or
	 * an API key (by its id, never the key). */
	o.detail = detail = xasprintf("helo=%s auth=%s%s%s", s->helo_name,
	    s->authed == AUTH_IP ? "ip" : s->key_id[0] ? "apikey" :
	    "password", s->key_id[0] ? " key_id=" : "", s->key_id);
	snprintf(auth, sizeof(auth), "%s%s%s", s->authed == AUTH_IP ? "ip" :
	    s->key_id[0] ? "apikey" : "password", s->key_id[0] ? " " : "",
	    s->key_id);
	o.auth = auth;
	s->w.held = session_held;
	s->w.answer = session_answer;
	if ((in.sa = session_account(s)) == NULL || !in.sa->enabled) {
		in.reply = "550 5.7.1 Error: subaccount is disabled or gone";
		in.rej = REJ_DATA_HEADERS;
		gm.messages_rejected_total++;
		metrics_reject(in.rej);
	} else if (submit_message(&in, &s->w) == 0) {
		free(detail);
		return;
	}
	free(detail);
	session_refuse(s, in.t->mail.path.addr, in.rcpt, in.cls, "%s",
	    in.reply);
	session_tx_reset(s);
	session_resume(s);
}
