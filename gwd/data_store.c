/*
 * data_store.c - a message past its verdict (data_end.c), on to the
 * store: the content policies (content.c, on a worker: refuse, defer,
 * quarantine, redact, tag; notify.c), then signing and the store
 * thread; the 250 (or 451, or the policies' 550) goes back to the
 * waiter (submit.h) from here, and a message not stored after all gives
 * back its memory and quota.
 * Standards: RFC 5322.
 * Exposure: the message is untrusted input from an authenticated client;
 * here it is only carried (the content worker and the signer read it).
 * Diagnostics: a failed scan or signature refuses the message with a
 * 451, counted like any refusal; nothing here is fatal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "cluster.h"
#include "content.h"
#include "event.h"
#include "gwd.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "queue.h"
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

/* The commit of a message (submit_message()'s op) is done: answer the
 * waiter, queue the message or give back what it held. */
void
data_store_committed(struct store_op *op)
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

/*
 * A message handed off is not stored after all: reply r ("451 4.3.0
 * ...", "550 5.7.1 ...") to the waiter if it is still there, count it
 * under rej, log the refusal with why, and give back what the message
 * held (memory, quota).  sj: a signing plan not run, or NULL.
 */
void
data_store_drop(struct store_op *op, struct sign_job *sj,
    enum gm_reject rej, const char *r, const char *why)
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
		data_store_drop(op, j, REJ_DATA_DKIM, "451 4.3.0 Error: DKIM "
		    "signing failed; try again later", why);
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
	journal_submit(op);
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
		journal_submit(op);
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
		data_store_drop(op, sw->sj, REJ_DATA_CONTENT_POLICY,
		    "451 4.3.0 Error: content scan failed; try again later",
		    cj->err);
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
		data_store_drop(op, sw->sj, REJ_DATA_CONTENT_POLICY, r, r + 10);
		goto out;
	}
	if (cj->quarantine)
		policy_quarantine(op, cj->quarantine);
	if (cj->redacted)
		policy_redact(m, cj);
	if (cj->tag)
		policy_tag(m, cj->tag);
	/* Hashed for signing on the content worker (content.h): on to the
	 * key process.  Else the notification (if any) is signed first,
	 * then the message. */
	if (cj->presigned) {
		sw->sj->done = signed_msg;
		sw->sj->arg = op;
		signer_send(sw->sj);
	} else if (notify_send(cj, m, cj->quarantine ? "quarantined" :
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
const char *
data_store_begin(struct incoming *in, struct store_op *op,
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
	/* Signed whole (not per recipient, sign_each.c): the content
	 * worker may hash it for signing in its hop. */
	if (m->prefix == NULL)
		cj->sign = *sj;
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
