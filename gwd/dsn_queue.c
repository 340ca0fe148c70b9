/*
 * dsn_queue.c - delivery status notifications to the sender: built for
 * the failed recipients of a message (dsn.c writes the report), inserted
 * by the same store op that ends them, queued once that op committed.
 * A DSN is DKIM-signed, like any message, when the domain of its From:
 * (dsn_from, or MAILER-DAEMON@hostname) or a parent has an active key:
 * on a worker, before the op that ends the recipients is submitted.
 * Standards: RFC 3464 (DSN), RFC 3461 (NOTIFY, RET, ENVID, ORCPT),
 * RFC 6376 (DKIM).
 * Exposure: remote replies (already parsed) are quoted in the report.
 * Diagnostics: a DSN that cannot be built or stored is logged and
 * dropped; the failed recipients still end.  One whose signing fails
 * goes unsigned, and the log says why.
 * Also the notices gwd sends itself (alerts, content-policy
 * notifications, TLS-RPT reports as multipart/report; queue.h's
 * queue_notice()): built, inserted and signed the same way, by the
 * domain of their From:.
 * Standards: RFC 6522 (multipart/report) too.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "base64.h"
#include "buf.h"
#include "config.h"
#include "dsn.h"
#include "event.h"
#include "log.h"
#include "metrics.h"
#include "mime7.h"
#include "queue.h"
#include "queue_int.h"
#include "schedule.h"
#include "signer.h"
#include "smtp_dsn.h"
#include "store.h"
#include "util.h"

static int	 signing;	/* DSN ops on a worker, not submitted yet */


int
queue_dsn_signing(void)
{
	return signing;
}

/* The DSN an op inserted is stored (queue it) or not (say so). */
void
dsn_queue_stored(struct store_op *op)
{
	struct qmsg *dsn = op->insert;

	op->insert = NULL;
	if (op->failed) {
		log_warnx("DSN qid=%s not stored: %s", dsn->qid, op->error);
		qmsg_free(dsn);
	} else
		routing_add(dsn);
}

static void
dsn_queue_committed(struct store_op *op)
{
	dsn_queue_stored(op);
	store_op_free(op);
}

/* RET=FULL returns messages up to this size whole; larger ones, their
 * header section only (gwd(8)). */
#define DSN_FULL_MAX	(1024 * 1024)

int
dsn_wanted(const struct qrcpt *r, int what)
{
	int n = r->dsn_notify & DSN_NOTIFY_MASK;

	if (n == 0)
		return what == DSN_NOTIFY_FAILURE;
	return (n & what) != 0;
}

/* The report returns the whole message: the sender said RET=FULL, a
 * recipient failed (RFC 3461 4.3), and it is not too large. */
static int
dsn_full(const struct qmsg *m, const struct dsn_rcpt *fr, int nfr)
{
	/* RFC 8689 5: a REQUIRETLS message's report goes back without
	 * REQUIRETLS, so it carries the headers only. */
	if (m->dsn_ret != DSN_RET_FULL || m->body == NULL ||
	    (m->flags & QMSG_REQUIRETLS) ||
	    m->bodylen > DSN_FULL_MAX)
		return 0;
	for (int i = 0; i < nfr; i++)
		if (strcmp(fr[i].action, "failed") == 0)
			return 1;
	return 0;
}

/*
 * The recipients' entries with their ORCPT decoded from xtext (as
 * stored) into orcpt[i], freed by the caller.  A value that does not
 * decode (it was checked at RCPT) is left out.
 */
static struct dsn_rcpt *
dsn_decoded(const struct dsn_rcpt *fr, int nfr, char **orcpt)
{
	struct dsn_rcpt *c = xcalloc((size_t)nfr, sizeof(*c));

	for (int i = 0; i < nfr; i++) {
		c[i] = fr[i];
		c[i].orcpt = NULL;
		if (fr[i].orcpt == NULL)
			continue;
		orcpt[i] = xmalloc(DSN_ORCPT_MAX + 1);
		if (xtext_decode(fr[i].orcpt, strlen(fr[i].orcpt), orcpt[i],
		    DSN_ORCPT_MAX + 1) == 0)
			c[i].orcpt = orcpt[i];
	}
	return c;
}

/*
 * Build the DSN for the recipients of m in fr (failed, delayed or
 * relayed), to be inserted by op.  Never for the null sender or for a
 * DSN (no bounce loops).
 */
void
dsn_queue_build(struct store_op *op, struct qmsg *m, const struct dsn_rcpt *fr,
    int nfr)
{
	struct dsn d;
	struct dsn_rcpt *dr;
	struct buf out;
	struct qmsg *n;
	struct audit_event *ev;
	char mid[300], boundary[64], pm[300], envid[DSN_ENVID_MAX + 1];
	char **orcpt;
	const char *subject;
	unsigned char rb[8];
	char rhex[17];
	int r;

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
	if (gcfg->dsn_from)
		gw_strlcpy(pm, gcfg->dsn_from, sizeof(pm));
	else
		snprintf(pm, sizeof(pm), "MAILER-DAEMON@%s", gcfg->hostname);
	memset(&d, 0, sizeof(d));
	d.reporting_mta = gcfg->hostname;
	d.postmaster = pm;
	d.to = m->sender;
	d.message_id = mid;
	d.boundary = boundary;
	d.qid = m->qid;
	d.arrival = us_to_s(m->received_us);
	d.now = sched_unix_s();
	d.original = m->body ? m->body : "";
	d.original_len = m->body ? m->bodylen : 0;
	d.full = dsn_full(m, fr, nfr);
	d.full_8bit = d.full && (m->flags & QMSG_8BIT);
	d.utf8 = (m->flags & QMSG_SMTPUTF8) != 0;
	if (m->dsn_envid && xtext_decode(m->dsn_envid, strlen(m->dsn_envid),
	    envid, sizeof(envid)) == 0)
		d.envid = envid;
	orcpt = xcalloc((size_t)nfr, sizeof(char *));
	dr = dsn_decoded(fr, nfr, orcpt);
	d.rcpts = dr;
	d.nrcpts = nfr;
	buf_init(&out, 0);
	r = dsn_build(&d, &out);
	subject = dsn_subject(&d);
	for (int i = 0; i < nfr; i++)
		free(orcpt[i]);
	free(orcpt);
	free(dr);
	if (r == -1) {
		log_warnx("qid=%s: cannot build DSN", m->qid);
		buf_free(&out);
		qmsg_free(n);
		return;
	}
	n->flags = QMSG_DSN | (d.full_8bit ? QMSG_8BIT : 0);
	/* A global DSN's UTF-8 goes as 8BITMIME (its parts may be made
	 * quoted-printable for a 7-bit receiver, RFC 6533 3.1). */
	if (d.utf8 && mime7_is_8bit(buf_ptr(&out), buf_len(&out)))
		n->flags |= QMSG_8BIT;
	if (!addr_is_ascii(m->sender))
		n->flags |= QMSG_SMTPUTF8;	/* RFC 6531: a UTF-8 RCPT */
	n->received_us = sched_clock();
	n->body = buf_steal(&out, &n->bodylen);
	n->size = n->bodylen;
	n->message_id = xstrdup(mid);
	qmsg_set_rcpt(n, 0, m->sender);
	n->rcpt[0].next_attempt = us_to_s(n->received_us);
	op->insert = n;
	op->done = dsn_queue_committed;
	gm.dsn_total++;

	ev = store_op_event(op, event_name(EV_DSN), m->qid);
	ev->recipient = xstrdup(m->sender);
	if (asprintf(&ev->detail, "dsn_qid=%s", n->qid) == -1)
		ev->detail = NULL;
	ev = store_op_event(op, event_name(EV_RECEIVED), n->qid);
	ev->subaccount = xstrdup(m->subaccount);
	ev->sender = xstrdup("");
	ev->recipient = xstrdup(m->sender);
	ev->rcpts = xcalloc(1, sizeof(char *));
	ev->rcpts[0] = xstrdup(m->sender);
	ev->nrcpts = 1;
	ev->message_id = xstrdup(mid);
	ev->subject = xstrdup(subject);
	ev->from_addr = xstrdup(pm);
	ev->size = (int64_t)n->size;
	if (asprintf(&ev->detail, "dsn for %s", m->qid) == -1)
		ev->detail = NULL;
}

/* A message gwd made being signed, and what comes next. */
struct notice_sign {
	struct store_op	*op;
	struct qmsg	*n;
	void		(*then)(struct store_op *, void *);
	void		*arg;
};

/* Its signing, logged as any message's: "signed" with what signed it,
 * or "unsigned" with why not. */
static void
dsn_sign_event(struct store_op *op, const struct qmsg *n,
    enum event_action type, const char *detail)
{
	struct audit_event *ev = store_op_event(op, event_name(type), n->qid);

	ev->sender = xstrdup("");
	ev->subaccount = xstrdup(n->subaccount);
	ev->detail = xstrdup(detail);
}

static void
dsn_signed(struct sign_job *j)
{
	struct notice_sign *ns = j->arg;
	struct qmsg *n = ns->n;
	char why[300];

	if (j->failed) {
		log_warnx("qid=%s: DKIM signing failed, sent unsigned: %s",
		    n->qid, j->err);
		gm.dkim_unsigned_total++;
		snprintf(why, sizeof(why), "DKIM signing failed: %s", j->err);
		dsn_sign_event(ns->op, n, EV_UNSIGNED, why);
	} else {
		signer_prepend(j, &n->body, &n->bodylen);
		n->size = n->bodylen;
		gm.dkim_signed_total++;
		dsn_sign_event(ns->op, n, EV_SIGNED, j->detail);
	}
	sign_job_free(j);
	signing--;
	ns->then(ns->op, ns->arg);
	free(ns);
}

void
queue_notice_sign(struct store_op *op, struct qmsg *n, const char *from,
    void (*then)(struct store_op *, void *), void *arg)
{
	const char *at = from ? strrchr(from, '@') : NULL;
	struct notice_sign *ns;
	struct sign_job *j;
	char dom[256], why[400];

	gw_strlcpy(dom, at ? at + 1 : gcfg->hostname, sizeof(dom));
	for (char *p = dom; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if ((j = signer_plan(dom, NULL, why, sizeof(why))) == NULL) {
		gm.dkim_unsigned_total++;
		dsn_sign_event(op, n, EV_UNSIGNED, why);
		then(op, arg);
		return;
	}
	ns = xmalloc(sizeof(*ns));
	*ns = (struct notice_sign){ op, n, then, arg };
	j->done = dsn_signed;
	j->arg = ns;
	j->wait = 1;		/* no client to answer 451: wait for the keys */
	signing++;
	signer_run(j, n->body, n->bodylen, sched_unix_s());
}

static void
submit(struct store_op *op, void *arg)
{
	(void)arg;
	store_submit(op);
}

void
queue_notice_submit(struct store_op *op, const char *from)
{
	struct qmsg *n = op->insert;

	if (n == NULL || !(n->flags & QMSG_DSN))
		store_submit(op);
	else
		queue_notice_sign(op, n, from, submit, NULL);
}

/* Submit op; a DSN it inserts is signed first (on a worker) by the
 * domain of dsn_from (or the host name) when a key applies.  The op is
 * the caller's no more. */
void
dsn_queue_submit(struct store_op *op)
{
	queue_notice_submit(op, gcfg->dsn_from);
}

void
queue_notice_stored(struct store_op *op)
{
	struct qmsg *n = op->also;

	if (n) {
		op->also = NULL;
		if (op->failed) {
			log_warnx("qid=%s: notice not stored: %s", n->qid,
			    op->error);
			qmsg_free(n);
		} else
			routing_add(n);
	}
	if (op->insert && (op->insert->flags & QMSG_DSN))
		dsn_queue_stored(op);
}

/* A report's attachment: its part header, then base64 in lines of 76. */
static void
notice_attach(struct buf *o, const struct notice_report *nt,
    const char *bound)
{
	size_t n = base64_encoded_size(nt->attlen);
	char *b = xmalloc(n);
	ssize_t len = base64_encode(nt->att, nt->attlen, b, n);

	buf_printf(o, "\r\n--%s\r\nContent-Type: %s\r\n"
	    "Content-Disposition: attachment;\r\n filename=\"%s\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n", bound,
	    nt->att_type, nt->att_name);
	for (ssize_t i = 0; i < len; i += 76)
		buf_printf(o, "%.*s\r\n", (int)(len - i < 76 ? len - i : 76),
		    b + i);
	buf_printf(o, "\r\n--%s--\r\n", bound);
	free(b);
}

/* The headers and text of a notice, CRLF line ends; text lines as given
 * (LF or CRLF).  UTF-8 text goes 8bit.  A report: the text as its first
 * part, the attachment its second. */
static void
notice_write(struct buf *o, const struct notice *nt,
    const struct notice_report *rep, const char *mid, int eight)
{
	char date[64], bound[80];

	fmt_rfc5322((time_t)sched_unix_s(), date, sizeof(date));
	buf_printf(o, "From: %s%s<%s>\r\nTo: ", nt->from_name ?
	    nt->from_name : "", nt->from_name ? " " : "", nt->from);
	for (int i = 0; i < nt->nto; i++)
		buf_printf(o, "%s<%s>", i ? ",\r\n " : "", nt->to[i]);
	buf_printf(o, "\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: %s\r\n"
	    "Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n",
	    nt->subject, date, mid);
	if (rep != NULL) {
		/* The Message-ID's random part: not in the attachment. */
		snprintf(bound, sizeof(bound), "=_gw_%.60s", mid + 1);
		bound[strcspn(bound, "@>")] = '\0';
		buf_printf(o, "%sContent-Type: multipart/report; "
		    "report-type=\"%s\";\r\n boundary=\"%s\"\r\n\r\n"
		    "This is a MIME-formatted message.\r\n\r\n--%s\r\n",
		    rep->headers ? rep->headers : "", rep->type, bound, bound);
	}
	buf_printf(o, "Content-Type: text/plain; charset=%s\r\n"
	    "Content-Transfer-Encoding: %s\r\n\r\n",
	    eight ? "utf-8" : "us-ascii", eight ? "8bit" : "7bit");
	for (const char *p = nt->text, *e; *p; p = *e ? e + 1 : e) {
		size_t l;

		e = p + strcspn(p, "\n");
		l = (size_t)(e - p);
		if (l > 0 && p[l - 1] == '\r')
			l--;
		buf_printf(o, "%.*s\r\n", (int)l, p);
	}
	if (rep != NULL)
		notice_attach(o, rep, bound);
}

struct qmsg *
queue_notice(struct store_op *op, const struct notice *nt)
{
	return queue_notice_report(op, nt, NULL);
}

struct qmsg *
queue_notice_report(struct store_op *op, const struct notice *nt,
    const struct notice_report *rep)
{
	struct audit_event *ev;
	struct qmsg *n;
	struct buf out;
	unsigned char rb[8];
	char mid[300], rhex[17];
	int eight = 0;

	if (nt->nto <= 0)
		return NULL;
	for (const char *p = nt->text; *p && !eight; p++)
		eight = (unsigned char)*p >= 0x80;
	n = queue_msg_new("", nt->subaccount ? nt->subaccount : "", nt->nto);
	random_bytes(rb, sizeof(rb));
	hex_encode(rb, sizeof(rb), rhex);
	snprintf(mid, sizeof(mid), "<%s.%s@%s>", n->qid, rhex, gcfg->hostname);
	buf_init(&out, 0);
	notice_write(&out, nt, rep, mid, eight);
	/* Never bounced, not a subaccount's mail: as a DSN. */
	n->flags = QMSG_DSN | (eight ? QMSG_8BIT : 0);
	n->received_us = sched_clock();
	n->body = buf_steal(&out, &n->bodylen);
	n->size = n->bodylen;
	n->message_id = xstrdup(mid);
	ev = store_op_event(op, event_name(EV_RECEIVED), n->qid);
	ev->subaccount = nt->subaccount ? xstrdup(nt->subaccount) : NULL;
	ev->sender = xstrdup("");
	ev->rcpts = xcalloc((size_t)nt->nto, sizeof(char *));
	for (int i = 0; i < nt->nto; i++) {
		qmsg_set_rcpt(n, i, nt->to[i]);
		n->rcpt[i].next_attempt = us_to_s(n->received_us);
		if (!addr_is_ascii(nt->to[i]))
			n->flags |= QMSG_SMTPUTF8;
		ev->rcpts[i] = xstrdup(nt->to[i]);
	}
	ev->nrcpts = nt->nto;
	ev->recipient = xstrdup(nt->to[0]);
	ev->message_id = xstrdup(mid);
	ev->subject = xstrdup(nt->subject);
	ev->from_addr = xstrdup(nt->from);
	ev->size = (int64_t)n->size;
	ev->detail = xstrdup(nt->detail ? nt->detail : "notice by gwd");
	if (op->insert == NULL) {
		op->insert = n;
		op->done = dsn_queue_committed;
	} else
		op->also = n;
	return n;
}
