/*
 * notify.c - content-policy notifications (see notify.h).
 * Standards: RFC 5322 (the message), RFC 3834 (Auto-Submitted), RFC 6376
 * (DKIM, through queue_notice_sign()).
 * Exposure: quotes the subject and addresses of an untrusted message:
 * control characters are replaced and each value is cut to a line, so
 * nothing quoted can start a header or a part of its own.  The subject
 * comes masked from the content worker (content.c): what any detector
 * of the set finds in it is replaced there.
 * Diagnostics: a notification that cannot be built is logged and
 * skipped; the message it is about goes on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "config.h"
#include "content.h"
#include "event.h"
#include "gwd.h"
#include "log.h"
#include "mime7.h"
#include "notify.h"
#include "queue.h"
#include "store.h"
#include "util.h"

#define QUOTE_MAX	200	/* bytes of a quoted value */

/* s into b, control characters as '?', cut at QUOTE_MAX bytes (on a
 * UTF-8 character's start) with "...". */
static void
quote(struct buf *b, const char *s)
{
	size_t n = strlen(s), k;

	for (k = 0; k < n && k < QUOTE_MAX; k++)
		buf_putc(b, (unsigned char)s[k] < 0x20 || s[k] == 0x7f ? '?' :
		    s[k]);
	if (k < n) {
		/* Back to the start of the character cut in two. */
		while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80) {
			k--;
			b->len--;
		}
		buf_puts(b, "...");
	}
}

static void
list(struct buf *b, const char *label, char *const *v, int n)
{
	buf_printf(b, "%-13s", label);
	for (int i = 0; i < n; i++) {
		if (i > 0)
			buf_printf(b, "\r\n%-13s", "");
		quote(b, v[i]);
	}
	buf_puts(b, "\r\n");
}

int
notify_text(const struct notify_msg *nm, struct buf *out)
{
	const char *sender = nm->sender[0] ? nm->sender : "<>";
	char date[64];
	struct buf b;
	int r;

	fmt_rfc5322((time_t)nm->now, date, sizeof(date));
	buf_init(&b, 0);
	buf_printf(&b, "From: Mail gateway <%s>\r\nTo: ", nm->from);
	for (int i = 0; i < nm->nto; i++)
		buf_printf(&b, "%s<%s>", i ? ",\r\n " : "", nm->to[i]);
	buf_printf(&b, "\r\nSubject: Content policy: message %s %s\r\n"
	    "Date: %s\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n"
	    "Auto-Submitted: auto-generated\r\n\r\n", nm->qid, nm->decision,
	    date, nm->message_id);
	buf_printf(&b, "Content policies on %s matched a message.\r\n\r\n",
	    nm->hostname);
	buf_printf(&b, "%-13s%s\r\n%-13s%s\r\n", "Decision:", nm->decision,
	    "Queue ID:", nm->qid);
	list(&b, "Sender:", (char *const[]){ (char *)sender }, 1);
	list(&b, "Recipients:", nm->rcpt, nm->nrcpt);
	if (nm->subaccount && nm->subaccount[0])
		list(&b, "Subaccount:", (char *const[]){
		    (char *)nm->subaccount }, 1);
	if (nm->subject)
		list(&b, "Subject:", (char *const[]){ (char *)nm->subject },
		    1);
	buf_printf(&b, "\r\n%s\r\n", nm->summary);
	if (strcmp(nm->decision, "quarantined") == 0)
		buf_printf(&b, "It is held until an admin decides:\r\n"
		    "  gwctl quarantine show %s\r\n"
		    "  gwctl quarantine release %s\r\n"
		    "  gwctl quarantine delete %s --reason TEXT\r\n\r\n",
		    nm->qid, nm->qid, nm->qid);
	buf_puts(&b, "No matched value is shown here; gwctl quarantine show "
	    "and gwsearch\r\npolicy:NAME show them masked.\r\n");
	r = buf_append(out, buf_ptr(&b), buf_len(&b));
	buf_free(&b);
	return r;
}

/* The distinct addresses to tell (case-insensitive): the policies',
 * then the admin's for a quarantine no policy address covers. */
static int
recipients(const struct content_job *cj, const char **to)
{
	const char *admin = gcfg->policy.admin_address;
	int n = 0, dup;

	for (int i = 0; i <= cj->nnotify; i++) {
		const char *a = i < cj->nnotify ? cj->notify[i] :
		    cj->admin ? admin : NULL;

		if (a == NULL)
			continue;
		dup = 0;
		for (int k = 0; k < n && !dup; k++)
			dup = strcasecmp(to[k], a) == 0;
		if (!dup)
			to[n++] = a;
	}
	return n;
}

/* A refused message's notification: committed on its own. */
static void
own_committed(struct store_op *op)
{
	struct qmsg *n = op->insert;

	op->insert = NULL;
	if (op->failed) {
		log_warnx("qid=%s: notification not stored: %s", n->qid,
		    op->error);
		qmsg_free(n);
	} else
		queue_notice_add(n);
	store_op_free(op);
}

static void
own_submit(struct store_op *op, void *arg)
{
	store_submit(op);
}

void
notify_stored(struct store_op *op)
{
	struct qmsg *n = op->also;

	if (n == NULL)
		return;
	op->also = NULL;
	if (op->failed)
		qmsg_free(n);
	else
		queue_notice_add(n);
}

/* The notification's own "received" event, in op. */
static void
received_event(struct store_op *op, const struct qmsg *n,
    const struct qmsg *m, const char *subject, const char *from)
{
	struct audit_event *ev = store_op_event(op,
	    event_name(EV_RECEIVED), n->qid);

	ev->subaccount = xstrdup(m->subaccount);
	ev->sender = xstrdup("");
	ev->rcpts = xcalloc((size_t)n->nrcpt, sizeof(char *));
	for (int i = 0; i < n->nrcpt; i++)
		ev->rcpts[i] = xstrdup(n->rcpt[i].addr);
	ev->nrcpts = n->nrcpt;
	ev->recipient = xstrdup(n->rcpt[0].addr);
	ev->message_id = xstrdup(n->message_id);
	ev->subject = xstrdup(subject);
	ev->from_addr = xstrdup(from);
	ev->size = (int64_t)n->size;
	ev->detail = xasprintf("content-policy notification about %s",
	    m->qid);
}

int
notify_send(const struct content_job *cj, const struct qmsg *m,
    const char *decision, struct store_op *op,
    void (*then)(struct store_op *, void *), void *arg)
{
	const char **to = xcalloc((size_t)cj->nnotify + 1, sizeof(*to));
	char mid[300], from[300], rhex[17], subj[400];
	unsigned char rb[8];
	struct notify_msg nm;
	struct qmsg *n;
	struct buf b;
	int nto = recipients(cj, to);

	if (nto == 0) {
		if (cj->admin)
			log_info("qid=%s: quarantined; no one to notify (no "
			    "--notify, no policy.admin_address)", m->qid);
		free(to);
		return 0;
	}
	n = queue_msg_new("", m->subaccount, nto);
	n->flags = QMSG_DSN;	/* gwd's own: never bounced itself */
	n->received_us = now_us();
	random_bytes(rb, sizeof(rb));
	hex_encode(rb, sizeof(rb), rhex);
	snprintf(mid, sizeof(mid), "<%s.%s@%s>", n->qid, rhex, gcfg->hostname);
	if (gcfg->dsn_from)
		gw_strlcpy(from, gcfg->dsn_from, sizeof(from));
	else
		snprintf(from, sizeof(from), "MAILER-DAEMON@%s",
		    gcfg->hostname);
	nm = (struct notify_msg){ from, mid, n->received_us / 1000000,
	    (char *const *)to, nto, gcfg->hostname, m->qid, decision,
	    m->sender, m->subaccount, NULL, m->nrcpt, cj->subject,
	    cj->summary ? cj->summary : "" };
	nm.rcpt = xcalloc((size_t)m->nrcpt, sizeof(char *));
	for (int i = 0; i < m->nrcpt; i++)
		((const char **)nm.rcpt)[i] = m->rcpt[i].addr;
	buf_init(&b, 0);
	if (notify_text(&nm, &b) == -1) {
		log_warnx("qid=%s: cannot build the content-policy "
		    "notification", m->qid);
		buf_free(&b);
		free((void *)nm.rcpt);
		free(to);
		qmsg_free(n);
		return 0;
	}
	free((void *)nm.rcpt);
	n->body = buf_steal(&b, &n->bodylen);
	n->size = n->bodylen;
	n->message_id = xstrdup(mid);
	if (mime7_is_8bit(n->body, n->bodylen))
		n->flags |= QMSG_8BIT;
	for (int i = 0; i < nto; i++) {
		qmsg_set_rcpt(n, i, to[i]);
		n->rcpt[i].next_attempt = n->received_us / 1000000;
		if (!addr_is_ascii(to[i]))
			n->flags |= QMSG_SMTPUTF8;
	}
	free(to);
	if (op == NULL) {
		op = store_op_new();
		op->insert = n;
		op->done = own_committed;
		then = own_submit;
	} else
		op->also = n;
	snprintf(subj, sizeof(subj), "Content policy: message %s %s", m->qid,
	    decision);
	received_event(op, n, m, subj, from);
	log_info("qid=%s: content-policy notification qid=%s to %d "
	    "address%s", m->qid, n->qid, nto, nto == 1 ? "" : "es");
	queue_notice_sign(op, n, then, arg);
	return 1;
}
