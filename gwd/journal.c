/*
 * journal.c - the compliance archive's envelope report and journal
 * report (journal.h).
 * Standards: RFC 2046 (multipart/mixed, message/rfc822), RFC 5322, RFC
 * 3834 (Auto-Submitted), RFC 6376 (DKIM, through the signer as a DSN).
 * Exposure: the envelope holds addresses a client sent, already checked
 * (no CR, LF or NUL: smtp_proto.c); the message is copied unparsed.
 * Diagnostics: a report that cannot be built (no memory) is logged and
 * the message goes without it; one whose signing fails goes unsigned,
 * logged and with an "unsigned" event; nothing here is fatal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "event.h"
#include "gwd.h"
#include "journal.h"
#include "log.h"
#include "mime7.h"
#include "queue.h"
#include "store.h"
#include "util.h"

static int
env_build(const struct journal_env *e, struct buf *b)
{
	char date[64];

	fmt_rfc5322((time_t)(e->received_us / 1000000), date, sizeof(date));
	if (buf_printf(b, "Queue-ID: %s\r\nArrival-Date: %s\r\nSender: <%s>\r\n",
	    e->qid, date, e->sender) == -1)
		return -1;
	for (int i = 0; i < e->nrcpt; i++)
		if (buf_printf(b, "Recipient: <%s>\r\n", e->rcpts[i]) == -1)
			return -1;
	return buf_printf(b, "Subaccount: %s\r\nClient-IP: %s\r\nAuth: %s\r\n"
	    "Message-ID: %s\r\n", e->subaccount ? e->subaccount : "",
	    e->client_ip ? e->client_ip : "", e->auth ? e->auth : "",
	    e->message_id ? e->message_id : "");
}

struct archive_req *
journal_plan(const struct journal_env *e)
{
	const struct gw_config *c = gcfg;
	struct archive_req *a;
	struct buf b;

	if (!c->archive.store && c->archive.journal == NULL)
		return NULL;
	buf_init(&b, 0);
	if (env_build(e, &b) == -1) {
		log_warnx("qid=%s: envelope report too long: not archived",
		    e->qid);
		buf_free(&b);
		return NULL;
	}
	a = xcalloc(1, sizeof(*a));
	a->env = buf_steal(&b, &a->envlen);
	a->store = c->archive.store;
	a->journal = c->archive.journal ? xstrdup(c->archive.journal) : NULL;
	return a;
}

/* The journal report's From: dsn_from, else MAILER-DAEMON@hostname, as
 * a DSN's; it signs for that domain too. */
static void
report_from(char *from, size_t fromsz)
{
	if (gcfg->dsn_from)
		gw_strlcpy(from, gcfg->dsn_from, fromsz);
	else
		snprintf(from, fromsz, "MAILER-DAEMON@%s", gcfg->hostname);
}

/* The journal report of m (its envelope env) to `to`, into b. */
static int
report_build(const struct qmsg *m, const struct archive_req *a,
    const char *qid, const char *boundary, struct buf *b)
{
	char date[64], from[300];
	int eight = (m->flags & QMSG_8BIT) || mime7_is_8bit(m->body,
	    m->bodylen);

	fmt_rfc5322((time_t)(now_us() / 1000000), date, sizeof(date));
	report_from(from, sizeof(from));
	if (buf_printf(b, "From: <%s>\r\nTo: <%s>\r\nSubject: Journal report "
	    "for %s\r\nDate: %s\r\nMessage-ID: <%s.journal@%s>\r\n"
	    "Auto-Submitted: auto-generated\r\nX-GW-Journal: %s\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; "
	    "boundary=\"%s\"\r\n\r\nA journal report: the envelope, then the "
	    "message.\r\n\r\n--%s\r\nContent-Type: text/plain; charset=utf-8"
	    "\r\nContent-Description: envelope\r\nContent-Transfer-Encoding: "
	    "%s\r\n\r\n", from, a->journal, m->qid, date, qid,
	    gcfg->hostname, m->qid, boundary, boundary,
	    mime7_is_8bit(a->env, a->envlen) ? "8bit" : "7bit") == -1 ||
	    buf_append(b, a->env, a->envlen) == -1 ||
	    buf_printf(b, "\r\n--%s\r\nContent-Type: message/rfc822\r\n"
	    "Content-Description: original message\r\n"
	    "Content-Transfer-Encoding: %s\r\n\r\n", boundary,
	    eight ? "8bit" : "7bit") == -1 ||
	    buf_append(b, m->body, m->bodylen) == -1)
		return -1;
	/* The CRLF before a boundary is the boundary's: the part is the
	 * message byte for byte. */
	return buf_printf(b, "\r\n--%s--\r\n", boundary);
}

/* Just before op (a new message) goes to the store thread, the body
 * final: its journal report as op->journal, when one is wanted. */
static void
journal_attach(struct store_op *op)
{
	struct qmsg *m = op->insert, *j;
	struct archive_req *a = op->archive;
	struct audit_event *ev;
	unsigned char rb[12];
	char rnd[25], boundary[80];
	struct buf b;

	if (m == NULL || a == NULL || a->journal == NULL || m->body == NULL)
		return;
	j = queue_msg_new("", "", 1);
	random_bytes(rb, sizeof(rb));
	hex_encode(rb, sizeof(rb), rnd);
	snprintf(boundary, sizeof(boundary), "=_gw-journal-%s-%s", m->qid,
	    rnd);
	buf_init(&b, 0);
	if (report_build(m, a, j->qid, boundary, &b) == -1) {
		log_warnx("qid=%s: journal report cannot be built", m->qid);
		buf_free(&b);
		qmsg_free(j);
		return;
	}
	j->received_us = now_us();
	j->body = buf_steal(&b, &j->bodylen);
	j->size = j->bodylen;
	if (mime7_is_8bit(j->body, j->bodylen))
		j->flags |= QMSG_8BIT;
	j->message_id = xasprintf("<%s.journal@%s>", j->qid, gcfg->hostname);
	qmsg_set_rcpt(j, 0, a->journal);
	j->rcpt[0].next_attempt = j->received_us / 1000000;
	op->journal = j;

	ev = store_op_event(op, event_name(EV_RECEIVED), j->qid);
	ev->sender = xstrdup("");
	ev->recipient = xstrdup(a->journal);
	ev->rcpts = xcalloc(1, sizeof(char *));
	ev->rcpts[0] = xstrdup(a->journal);
	ev->nrcpts = 1;
	ev->message_id = xstrdup(j->message_id);
	ev->size = (int64_t)j->size;
	ev->detail = xasprintf("journal report for %s", m->qid);
}

static void
submit(struct store_op *op, void *arg)
{
	(void)arg;
	store_submit(op);
}

void
journal_submit(struct store_op *op)
{
	char from[300];

	journal_attach(op);
	if (op->journal == NULL) {
		store_submit(op);
		return;
	}
	/* Signed as every message gwd makes (a DSN, a notice), on a
	 * worker and by the key process, before the commit that holds
	 * both: the 250 still waits for that commit alone. */
	report_from(from, sizeof(from));
	queue_notice_sign(op, op->journal, from, submit, NULL);
}

void
journal_stored(struct store_op *op)
{
	struct qmsg *j = op->journal;

	if (j == NULL)
		return;
	op->journal = NULL;
	if (op->failed)
		qmsg_free(j);
	else
		queue_add(j);
}
