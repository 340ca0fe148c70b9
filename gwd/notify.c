/*
 * notify.c - content-policy notifications (see notify.h).
 * Standards: RFC 5322 (the message), RFC 3834 (Auto-Submitted), RFC 6376
 * (DKIM, through queue.h's queue_notice_sign()).
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

#include "config.h"
#include "content.h"
#include "gwd.h"
#include "log.h"
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
	struct buf b;
	int r;

	buf_init(&b, 0);
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

/* A refused message's notification: committed on its own (queue.h). */
static void
own_submit(struct store_op *op, void *arg)
{
	(void)arg;
	store_submit(op);
}

int
notify_send(const struct content_job *cj, const struct qmsg *m,
    const char *decision, struct store_op *op,
    void (*then)(struct store_op *, void *), void *arg)
{
	const char **to = xcalloc((size_t)cj->nnotify + 1, sizeof(*to));
	char from[300], subj[400], *detail;
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
	if (gcfg->dsn_from)
		gw_strlcpy(from, gcfg->dsn_from, sizeof(from));
	else
		snprintf(from, sizeof(from), "MAILER-DAEMON@%s",
		    gcfg->hostname);
	nm = (struct notify_msg){ gcfg->hostname, m->qid, decision,
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
		return 0;
	}
	free((void *)nm.rcpt);
	if (op == NULL) {
		op = store_op_new();
		then = own_submit;
	}
	snprintf(subj, sizeof(subj), "Content policy: message %s %s", m->qid,
	    decision);
	detail = xasprintf("content-policy notification about %s", m->qid);
	n = queue_notice(op, &(struct notice){ from, "Mail gateway",
	    (char *const *)to, nto, m->subaccount, subj, buf_cstr(&b),
	    detail });
	free(detail);
	buf_free(&b);
	free(to);
	log_info("qid=%s: content-policy notification qid=%s to %d "
	    "address%s", m->qid, n->qid, nto, nto == 1 ? "" : "es");
	queue_notice_sign(op, n, from, then, arg);
	return 1;
}
