/*
 * data_end.c - a whole message to the store (submit.h), and the end of
 * DATA that hands an SMTP session's message to it.  The verdict on the
 * message (clean data, header policy, quota, routing rules), then its
 * stored form (data_assemble.c), the "received" event, and the hand-off
 * to the content policies (content.c, on a worker: refuse, defer,
 * quarantine, redact, tag; notify.c), signing and the store thread; the
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
#include "content.h"
#include "event.h"
#include "fbl.h"
#include "gwd.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"
#include "msg.h"
#include "notify.h"
#include "cluster.h"
#include "policy.h"
#include "queue.h"
#include "quota.h"
#include "session_priv.h"
#include "sign_each.h"
#include "signer.h"
#include "store.h"
#include "util.h"
#include "volume.h"
#include "window.h"

/* A message counted toward its subaccount's quota was not stored. */
static void
quota_release(const struct qmsg *m)
{
	window_add(m->subaccount, WIN_ACCEPTED, m->received_us, -1);
	cluster_quota_refund(m->subaccount);
}

static void
committed(struct store_op *op)
{
	struct submit_waiter *w = op->arg;
	struct qmsg *m = op->insert;
	char r[80];

	/* The queue keeps (or drops) the body by its own measure now. */
	session_memory -= m->bodylen;
	queue_notice_stored(op);
	if (op->failed) {
		log_warnx("qid=%s not queued: %s", m->qid, op->error);
		quota_release(m);
		metrics_reject(REJ_DATA_STORAGE);
		if (w)
			w->answer(w, "451 4.3.0 Error: queue file write error",
			    NULL, REJ_DATA_STORAGE);
		qmsg_free(m);
	} else {
		log_debug("qid=%s queued size=%zu rcpts=%d", m->qid, m->size,
		    m->nrcpt);
		gm.messages_received_total++;
		gm.bytes_received_total += m->size;
		gm.recipients_received_total += (uint64_t)m->nrcpt;
		metrics_sub_add(m->subaccount, GM_SUB_ACCEPTED, 1);
		volume_add(m->subaccount, m->received_us, 1);
		if (w) {
			snprintf(r, sizeof(r), "250 2.0.0 Ok: queued as %s",
			    m->qid);
			w->answer(w, r, m->qid, REJ_COUNT);
		}
		queue_add(m);
	}
	journal_stored(op);
	store_op_free(op);
}

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
 * A message handed off is not stored after all: reply r ("451 4.3.0
 * ...", "550 5.7.1 ...") to the waiter if it is still there, count it
 * under rej, log the refusal with why, and give back what the message
 * held (memory, quota).  sj: a signing plan not run, or NULL.
 */
static void
drop(struct store_op *op, struct sign_job *sj, enum gm_reject rej,
    const char *r, const char *why)
{
	struct submit_waiter *w = op->arg;
	struct qmsg *m = op->insert;
	struct audit_event *ev;

	session_memory -= m->bodylen;
	quota_release(m);
	metrics_reject(rej);
	if (op->also) {
		qmsg_free(op->also);
		op->also = NULL;
	}
	ev = audit_new(event_name(EV_REJECTED), m->qid);
	ev->sender = xstrdup(m->sender);
	ev->subaccount = xstrdup(m->subaccount);
	ev->reply_code = atoi(r);
	ev->reply_status = xstrndup(r + 4, strcspn(r + 4, " "));
	ev->reply_text = xstrdup(why);
	store_event(ev);
	if (w)
		w->answer(w, r, NULL, rej);
	qmsg_free(m);
	store_op_free(op);
	if (sj)
		sign_job_free(sj);
}

/*
 * The worker has signed (or failed to sign) the message of op: put the
 * signatures on top and queue it.  op->arg is NULL when the client went
 * away meanwhile; the message is queued all the same, as it would be
 * after a commit the client did not wait for.
 */
static void
signed_msg(struct sign_job *j)
{
	struct store_op *op = j->arg;
	struct qmsg *m = op->insert;
	struct audit_event *ev;
	char why[300];

	if (j->failed) {
		log_warnx("qid=%s: DKIM signing failed: %s", m->qid, j->err);
		snprintf(why, sizeof(why), "DKIM signing failed: %s", j->err);
		drop(op, j, REJ_DATA_DKIM, "451 4.3.0 Error: DKIM signing "
		    "failed; try again later", why);
		return;
	}
	/* Each recipient's copy has its own signatures already
	 * (sign_each.c): the body goes as it is. */
	if (m->prefix == NULL) {
		session_memory += signer_prepend(j, &m->body, &m->bodylen);
		m->size = m->bodylen;
	}
	gm.dkim_signed_total++;
	ev = store_op_event(op, event_name(EV_SIGNED), m->qid);
	ev->sender = xstrdup(m->sender);
	ev->subaccount = xstrdup(m->subaccount);
	ev->detail = xstrdup(j->detail);
	sign_job_free(j);
	journal_attach(op);
	store_submit(op);
}

/* The keys that will sign m, or NULL with the "unsigned" event (why
 * not) added to op. */
static struct sign_job *
sign_plan(const struct subaccount *sa, struct store_op *op,
    const struct msg_info *mi)
{
	struct qmsg *m = op->insert;
	struct sign_job *j;
	struct audit_event *ev;
	char dom[256], why[400];

	signer_domain(mi, m->sender, dom, sizeof(dom));
	j = signer_plan(dom, sa ? sa->dkim_org : NULL, why, sizeof(why));
	if (j == NULL) {
		gm.dkim_unsigned_total++;
		ev = store_op_event(op, event_name(EV_UNSIGNED), m->qid);
		ev->sender = xstrdup(m->sender);
		ev->subaccount = xstrdup(m->subaccount);
		ev->detail = xstrdup(why);
	}
	return j;
}

/* Sign on a worker when a key applies (j), then queue. */
static void
sign_and_store(struct store_op *op, struct sign_job *j)
{
	struct qmsg *m = op->insert;

	if (j == NULL) {
		journal_attach(op);
		store_submit(op);
		return;
	}
	if (m->prefix != NULL) {
		sign_each(j, m, signed_msg, op);
		return;
	}
	j->done = signed_msg;
	j->arg = op;
	signer_run(j, m->body, m->bodylen, now_us() / 1000000);
}

static void
sign_and_store_next(struct store_op *op, void *sj)
{
	sign_and_store(op, sj);
}

/* A message waiting for its content scan, and its signing plan. */
struct scan_wait {
	struct store_op	*op;
	struct sign_job	*sj;
};

/* Put "X-GW-Policy: names" on top of m, before it is signed. */
static void
policy_tag(struct qmsg *m, const char *names)
{
	char *h = xasprintf("X-GW-Policy: %s\r\n", names);
	size_t hl = strlen(h);
	char *body = xmalloc(hl + m->bodylen);

	memcpy(body, h, hl);
	memcpy(body + hl, m->body, m->bodylen);
	free(m->body);
	free(h);
	m->body = body;
	m->bodylen += hl;
	m->size = m->bodylen;
	session_memory += hl;
}

/* A content policy redacted m: the new text replaces the message, before
 * it is tagged and signed. */
static void
policy_redact(struct qmsg *m, struct content_job *cj)
{
	session_memory += cj->redlen;
	session_memory -= m->bodylen;
	free(m->body);
	m->body = cj->redacted;
	m->bodylen = cj->redlen;
	m->size = m->bodylen;
	cj->redacted = NULL;
}

/*
 * A content policy quarantines m (what: "NAME (DETECTOR)"): it is
 * accepted and stored held, never delivered until an admin releases it
 * (gwctl quarantine release), and deleted after policy.quarantine_days
 * (quarantine.c).
 */
static void
policy_quarantine(struct store_op *op, const char *what)
{
	struct qmsg *m = op->insert;
	struct audit_event *ev;

	m->held = QMSG_QUARANTINED;
	ev = store_op_event(op, event_name(EV_QUARANTINED), m->qid);
	ev->sender = xstrdup(m->sender);
	ev->subaccount = xstrdup(m->subaccount);
	ev->detail = xasprintf("quarantined by content policy %s until "
	    "released (gwctl quarantine release %s)", what, m->qid);
}

/*
 * The content policies have decided (content.c, on its worker): refuse
 * with 550 5.7.1 naming the blocking policy (never what matched), defer
 * (451: rspamd), or quarantine, redact, tag, and go on to signing.  Whom
 * the policies name is told (notify.c), in the same commit as the
 * message (a refused one's on its own).  Every decision is a "scanned"
 * event.
 */
static void
scanned(struct content_job *cj)
{
	struct scan_wait *sw = cj->arg;
	struct store_op *op = sw->op;
	struct qmsg *m = op->insert;
	struct audit_event *ev;
	char r[200];

	if (cj->failed) {
		log_warnx("qid=%s: content scan failed: %s", m->qid, cj->err);
		drop(op, sw->sj, REJ_DATA_CONTENT_POLICY, "451 4.3.0 Error: "
		    "content scan failed; try again later", cj->err);
		goto out;
	}
	ev = cj->block || cj->defer ? audit_new(event_name(EV_SCANNED),
	    m->qid) : store_op_event(op, event_name(EV_SCANNED), m->qid);
	ev->sender = xstrdup(m->sender);
	ev->subaccount = xstrdup(m->subaccount);
	ev->detail = xstrdup(cj->detail);
	if (cj->block || cj->defer) {
		if (cj->block)
			snprintf(r, sizeof(r), "550 5.7.1 Message refused by "
			    "content policy %s", cj->block);
		else
			snprintf(r, sizeof(r), "%s", cj->defer);
		store_event(ev);
		gm.messages_rejected_total++;
		if (cj->block)
			notify_send(cj, m, "refused", NULL, NULL, NULL);
		drop(op, sw->sj, REJ_DATA_CONTENT_POLICY, r, r + 10);
		goto out;
	}
	if (cj->quarantine)
		policy_quarantine(op, cj->quarantine);
	if (cj->redacted)
		policy_redact(m, cj);
	if (cj->tag)
		policy_tag(m, cj->tag);
	/* The notification (if any) is signed first, then the message. */
	if (notify_send(cj, m, cj->quarantine ? "quarantined" :
	    cj->nredacted ? "redacted" : cj->tag ? "tagged" : "accepted", op,
	    sign_and_store_next, sw->sj) == 0)
		sign_and_store(op, sw->sj);
out:
	free(sw);
	content_job_free(cj);
}

/*
 * The content policies that apply, on their worker; then sign and store.
 * NULL, or the refusal when the scan cannot even start (*sj: the signing
 * plan to give back): the caller resets the transaction, then drops.
 */
static const char *
policy_sign_store(struct incoming *in, struct store_op *op,
    struct sign_job **sj)
{
	struct qmsg *m = op->insert;
	struct content_job *cj;
	struct scan_wait *sw;

	*sj = sign_plan(in->sa, op, &in->mi);
	cj = content_plan(in->sa->name, in->t->mail.path.addr, in->t->rcpt,
	    in->t->nrcpt);
	if (cj == NULL) {
		sign_and_store(op, *sj);
		return NULL;
	}
	content_job_client(cj, in->o->ip, in->o->helo, m->qid);
	sw = xmalloc(sizeof(*sw));
	sw->op = op;
	sw->sj = *sj;
	cj->subject = in->mi.subject[0] ? xstrdup(in->mi.subject) : NULL;
	cj->done = scanned;
	cj->arg = sw;
	if (content_run(cj, m->body, m->bodylen) == -1) {
		free(sw);
		content_job_free(cj);
		return "451 4.3.0 Error: too many messages being scanned; try "
		    "again later";
	}
	return NULL;
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
	op->done = committed;
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
	busy = policy_sign_store(in, op, &sj);
	w->held(w, op);
	if (busy)
		drop(op, sj, REJ_DATA_CONTENT_POLICY, busy,
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
