/*
 * data_assemble.c - the stored form of a message the verdict let in
 * (submit.h; from SMTP or the HTTP API).  Our Received: first (with the TLS
 * version and cipher), then the fields a submission server adds when
 * missing (Message-ID, Date, From), one-click unsubscribe fields for
 * bulk mail (each recipient's own, apart from the body, when there are
 * several), and the queue's message with its recipients.
 * Standards: RFC 5321 4.4 (trace), RFC 3848 (trace protocols), RFC 6409
 * 8 (fields a submission server adds), RFC 8058 (one-click unsubscribe).
 * Exposure: the message is untrusted input from an authenticated client;
 * it is copied, never parsed here beyond what msg_scan() found.
 * Diagnostics: every append is checked; a message that cannot be built
 * (no memory, a hostname too long for a Message-ID) comes back NULL with
 * the refusal set; nothing here is fatal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "account.h"
#include "gwd.h"
#include "log.h"
#include "mime7.h"
#include "msg.h"
#include "queue.h"
#include "rules.h"
#include "submit.h"
#include "unsubscribe.h"
#include "util.h"

/* Our trace field (RFC 5321 4.4), with the TLS version and cipher. */
static int
received_field(struct incoming *in, const struct qmsg *m, const char *date,
    char *tlsdesc, struct buf *hdr)
{
	const struct submit_origin *o = in->o;
	char *sp;
	int r;

	if (buf_printf(hdr, "Received: from %s ([%s])\r\n\tby %s (gw) with "
	    "%s id %s", o->helo, o->ip, gcfg->hostname, o->proto,
	    m->qid) == -1)
		return -1;
	if (tlsdesc[0]) {
		if ((sp = strchr(tlsdesc, ' ')) != NULL)
			*sp = '\0';
		r = buf_printf(hdr, "\r\n\t(version=%s cipher=%s)", tlsdesc,
		    sp ? sp + 1 : "");
		if (sp)
			*sp = ' ';
		if (r == -1)
			return -1;
	}
	return buf_printf(hdr, ";\r\n\t%s\r\n", date);
}

/* The fields a submission server adds when missing (RFC 6409 8):
 * Message-ID, Date, From. */
static int
added_fields(struct incoming *in, const struct qmsg *m, const char *date,
    struct buf *add)
{
	struct msg_info *mi = &in->mi;
	const char *sender = in->t->mail.path.addr;
	unsigned char rb[4];
	char rnd[9];

	if (!mi->has_message_id) {
		random_bytes(rb, sizeof(rb));
		hex_encode(rb, sizeof(rb), rnd);
		if (snprintf(mi->message_id, sizeof(mi->message_id),
		    "<%s.%s@%s>", m->qid, rnd, gcfg->hostname) >=
		    (int)sizeof(mi->message_id)) {
			log_warnx("qid=%s: hostname too long for a Message-ID",
			    m->qid);
			in->reply = "451 4.3.0 Error: local configuration "
			    "error";
			return -1;
		}
		if (buf_printf(add, "Message-ID: %s\r\n", mi->message_id) == -1)
			return -1;
	}
	if (!mi->has_date && buf_printf(add, "Date: %s\r\n", date) == -1)
		return -1;
	if (mi->nfrom == 0) {
		if (buf_printf(add, "From: <%s>\r\n", sender) == -1)
			return -1;
		/* For the audit event; a path fits (ADDR_PATH_MAX). */
		snprintf(mi->from, sizeof(mi->from), "<%s>", sender);
	}
	return 0;
}

/*
 * A message to several recipients: each gets its own fields, kept apart
 * from the body (m->prefix, queue.db's recipient.prefix) and put before
 * it when that recipient's copy goes (mta_body.c), each in its own
 * transaction; signing (data_end.c) puts each copy's DKIM-Signature on
 * top of its fields.  The body is stored once.
 */
static int
unsub_per_rcpt(const struct subaccount *sa, struct incoming *in,
    struct qmsg *m)
{
	struct buf b;
	int r = 0, any = 0;

	m->prefix = xcalloc((size_t)m->nrcpt, sizeof(*m->prefix));
	for (int i = 0; i < m->nrcpt && r != -1; i++) {
		buf_init(&b, 0);
		if ((r = unsub_fields(sa, in->t->rcpt[i], m->qid, (unsigned)i,
		    &b)) == 1) {
			m->prefix[i].p = buf_steal(&b, &m->prefix[i].len);
			any = 1;
		}
		buf_free(&b);
	}
	/* None made (said in the log): the message goes as any other. */
	if (r == -1 || !any) {
		qmsg_free_prefix(m);
		return r == -1 ? -1 : 0;
	}
	m->flags |= QMSG_RCPT_PREFIX;
	return 0;
}

/*
 * One-click unsubscribe (unsubscribe.h) for bulk mail, unless the
 * message has a List-Unsubscribe of its own.  The link names one
 * recipient: a message to several gets one per recipient
 * (unsub_per_rcpt).
 */
static int
unsub_added(struct incoming *in, struct qmsg *m, struct buf *add)
{
	const struct subaccount *sa = in->sa;
	const char *data = buf_ptr(&in->t->data);
	size_t len = buf_len(&in->t->data);
	char v[8];

	if (sa == NULL || !(sa->bulk || in->bulk) ||
	    rules_header_get(data, len, "List-Unsubscribe", v, sizeof(v)) ||
	    rules_header_get(data, len, "List-Unsubscribe-Post", v, sizeof(v)))
		return 0;
	if (in->t->nrcpt > 1)
		return unsub_per_rcpt(sa, in, m);
	return unsub_fields(sa, in->t->rcpt[0], m->qid, 0, add) == -1 ? -1 :
	    0;
}

/* "a@x, b@y": the recipients, for the "received" event. */
static char *
rcpt_list(const struct tx *t)
{
	struct buf all;

	buf_init(&all, 0);
	for (int i = 0; i < t->nrcpt; i++) {
		if (buf_printf(&all, "%s%s", i ? ", " : "", t->rcpt[i]) == -1) {
			buf_free(&all);
			return NULL;
		}
	}
	return buf_steal(&all, NULL);
}

/*
 * The stored form: our Received: first; Message-ID, Date, From added if
 * missing.  NULL, with the refusal in in->reply, when it cannot be built.
 */
struct qmsg *
data_assemble(struct incoming *in)
{
	struct tx *t = in->t;
	struct msg_info *mi = &in->mi;
	struct buf hdr, add, out;
	struct qmsg *m;
	char date[64], tlsdesc[sizeof(in->o->tlsdesc)];
	int ok;

	m = queue_msg_new(t->mail.path.addr, in->sa->name, t->nrcpt);
	m->received_us = in->now;
	if (t->mail.body_8bit)
		m->flags |= QMSG_8BIT;
	m->dsn_ret = t->mail.dsn.ret;
	if (t->mail.dsn.envid[0])
		m->dsn_envid = xstrdup(t->mail.dsn.envid);
	if (t->mail.smtputf8)
		m->flags |= QMSG_SMTPUTF8;
	if (t->mail.requiretls)
		m->flags |= QMSG_REQUIRETLS;
	if (mime7_has_dkim(buf_ptr(&t->data), buf_len(&t->data)))
		m->flags |= QMSG_CLIENT_DKIM;
	for (int i = 0; i < t->nrcpt; i++) {
		struct qrcpt *rc = &m->rcpt[i];

		qmsg_set_rcpt(m, i, t->rcpt[i]);
		rc->dsn_notify = t->rdsn[i].notify;
		if (t->rdsn[i].orcpt[0])
			rc->dsn_orcpt = xstrdup(t->rdsn[i].orcpt);
		rc->next_attempt = in->now / 1000000;
		rc->route = in->route[i];
	}

	fmt_rfc5322((time_t)(in->now / 1000000), date, sizeof(date));
	gw_strlcpy(tlsdesc, in->o->tlsdesc, sizeof(tlsdesc));
	buf_init(&hdr, 0);
	buf_init(&add, 0);
	buf_init(&out, 0);
	/* Every append is checked: a dropped byte here would be a header
	 * silently missing from the stored message. */
	ok = received_field(in, m, date, tlsdesc, &hdr) == 0 &&
	    added_fields(in, m, date, &add) == 0 &&
	    unsub_added(in, m, &add) == 0 &&
	    buf_reserve(&out, buf_len(&t->data) + buf_len(&hdr) +
	    buf_len(&add) + 2) == 0 && msg_build(buf_ptr(&t->data),
	    buf_len(&t->data), mi, buf_cstr(&hdr), buf_cstr(&add), &out) == 0 &&
	    (in->rcpt_list = rcpt_list(t)) != NULL &&
	    (m->body = buf_steal(&out, &m->bodylen)) != NULL;
	buf_free(&hdr);
	buf_free(&add);
	buf_free(&out);
	if (!ok) {
		free(in->rcpt_list);
		qmsg_free(m);
		if (in->reply == NULL)
			in->reply = "451 4.3.0 Error: insufficient memory";
		return NULL;
	}
	m->size = m->bodylen;
	m->message_id = xstrdup(mi->message_id);
	return m;
}
