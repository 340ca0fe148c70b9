/*
 * fbl_match.c - which message of gw's a bounce or an abuse report is
 * about, and which of its recipients (see fbl.h): by VERP token, by
 * gw's queue id in the returned Received:, by the returned Message-ID,
 * looked up in log.db on the feedback worker.
 * Standards: RFC 3464 (Final-Recipient, Original-Recipient), RFC 5965
 * (Original-Rcpt-To).
 * Exposure: reads a report parsed from untrusted mail; only a token
 * whose HMAC checks, or a queue id / Message-ID gw itself received,
 * names a message, and only that message's own recipients become hits.
 * Diagnostics: never dies but when memory runs out; a report that names
 * nothing of gw's leaves j->verdict and j->why saying so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db.h"
#include "fbl_job.h"
#include "log.h"
#include "retpath.h"
#include "util.h"
#include "verp.h"

void
fbl_hit_add(struct fbl_job *j, const char *addr, int complaint, int code,
    const char *status, const char *text)
{
	struct fbl_hit *h;

	for (int i = 0; i < j->nhits; i++)
		if (strcasecmp(j->hits[i].addr, addr) == 0)
			return;
	j->hits = xreallocarray(j->hits, (size_t)j->nhits + 1,
	    sizeof(*j->hits));
	h = &j->hits[j->nhits++];
	h->addr = xstrdup(addr);
	h->complaint = complaint;
	h->code = code;
	gw_strlcpy(h->status, status ? status : "", sizeof(h->status));
	h->text = xstrdup(text ? text : "");
}

/* The message qid as log.db's "received" event has it: 0, or -1 when
 * gw never received it. */
int
fbl_message_find(sqlite3 *db, struct fbl_job *j, char ***rcpts, int *nrcpt)
{
	sqlite3_stmt *st;
	int found = 0;

	*rcpts = NULL;
	*nrcpt = 0;
	if (sqlite3_prepare_v2(db, "SELECT subaccount, sender, message_id"
	    " FROM event WHERE qid = ? AND action = 'received' LIMIT 1", -1,
	    &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, j->qid, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		j->subaccount = xstrdup((const char *)sqlite3_column_text(st,
		    0) ? (const char *)sqlite3_column_text(st, 0) : "");
		j->sender = xstrdup((const char *)sqlite3_column_text(st, 1) ?
		    (const char *)sqlite3_column_text(st, 1) : "");
		j->message_id = xstrdup((const char *)sqlite3_column_text(st,
		    2) ? (const char *)sqlite3_column_text(st, 2) : "");
		found = 1;
	}
	sqlite3_finalize(st);
	if (!found)
		return -1;
	if (sqlite3_prepare_v2(db, "SELECT address FROM event_rcpt WHERE"
	    " qid = ? ORDER BY rowid LIMIT ?", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, j->qid, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, FBL_MAX_RCPT);
	while (sqlite3_step(st) == SQLITE_ROW) {
		*rcpts = xreallocarray(*rcpts, (size_t)*nrcpt + 1,
		    sizeof(char *));
		(*rcpts)[(*nrcpt)++] = xstrdup((const char *)
		    sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	return 0;
}

/* The queue id of the message with this Message-ID, received by gw. */
static int
qid_by_message_id(sqlite3 *db, const char *mid, char qid[QID_LEN + 1])
{
	sqlite3_stmt *st;
	int r = -1;

	if (mid[0] == '\0' || sqlite3_prepare_v2(db, "SELECT qid FROM event"
	    " WHERE message_id = ? AND action = 'received' AND qid IS NOT"
	    " NULL ORDER BY id DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, mid, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		gw_strlcpy(qid, (const char *)sqlite3_column_text(st, 0),
		    QID_LEN + 1);
		r = 0;
	}
	sqlite3_finalize(st);
	return r;
}

/*
 * Which message: a VERP token first (the envelope recipient of a
 * bounce, the Original-Mail-From of an abuse report, the returned
 * Return-Path), then gw's queue id in the returned Received:, then the
 * returned Message-ID.  A token with a bad HMAC makes the report forged:
 * it is not looked up any other way.
 */
enum fbl_verdict
fbl_which_message(struct fbl_job *j, sqlite3 *db, unsigned *idx, int *by_verp)
{
	const char *cand[FB_MAX_RCPT + 2];
	enum verp_kind kind;
	int nc = 0;

	*by_verp = 0;
	for (int i = 0; i < j->nenv && nc < FB_MAX_RCPT; i++)
		cand[nc++] = j->env_rcpt[i];
	cand[nc++] = j->rep.orig_mail_from;
	cand[nc++] = j->rep.ret_return_path;
	/* Any domain: the HMAC covers it, so a token gw did not make for
	 * that very domain is forged wherever it points. */
	for (int i = 0; i < nc; i++) {
		switch (retpath_decode(cand[i], &kind, j->qid,
		    idx)) {
		case VERP_OK:
			*by_verp = 1;
			snprintf(j->how, sizeof(j->how), "verp");
			return FV_MATCHED;
		case VERP_FORGED:
			snprintf(j->why, sizeof(j->why), "VERP token %.80s "
			    "fails its HMAC", cand[i]);
			return FV_FORGED;
		case VERP_NONE:
			break;
		}
	}
	if (j->rep.ret_qid[0] && strlen(j->rep.ret_qid) == QID_LEN) {
		gw_strlcpy(j->qid, j->rep.ret_qid, sizeof(j->qid));
		snprintf(j->how, sizeof(j->how), "queue-id");
		return FV_MATCHED;
	}
	if (qid_by_message_id(db, j->rep.ret_message_id, j->qid) == 0) {
		snprintf(j->how, sizeof(j->how), "message-id");
		return FV_MATCHED;
	}
	snprintf(j->why, sizeof(j->why), "no VERP token, queue id or "
	    "Message-ID of a message gw sent");
	return FV_UNMATCHED;
}

static const char *
rcpt_of(char **rcpts, int n, const char *addr)
{
	for (int i = 0; addr && addr[0] && i < n; i++)
		if (strcasecmp(rcpts[i], addr) == 0)
			return rcpts[i];
	return NULL;
}

/*
 * The recipients the report is about, each one of the message's: a
 * bounce's failed recipients (Final-Recipient, else Original-Recipient);
 * a complaint's Original-Rcpt-To or returned To:.  When the report names
 * none (providers redact the complainer), the message's only recipient.
 */
void
fbl_which_rcpts(struct fbl_job *j, char **rcpts, int n)
{
	const struct fb_report *r = &j->rep;
	const char *a;

	if (r->type == FB_ARF) {
		if ((a = rcpt_of(rcpts, n, r->orig_rcpt_to)) == NULL &&
		    (a = rcpt_of(rcpts, n, r->ret_to)) == NULL && n == 1 &&
		    r->orig_rcpt_to[0] == '\0')
			a = rcpts[0];
		if (a)
			fbl_hit_add(j, a, 1, 0, "", r->feedback_type[0] ?
			    r->feedback_type : "abuse");
		return;
	}
	for (int i = 0; i < r->nrcpt; i++) {
		const struct fb_rcpt *x = &r->rcpt[i];

		/* A permanent failure only: a delay is no verdict. */
		if (x->action != FA_FAILED || (x->status[0] &&
		    x->status[0] != '5') || (!x->status[0] && x->code / 100 !=
		    5))
			continue;
		if ((a = rcpt_of(rcpts, n, x->final)) == NULL &&
		    (a = rcpt_of(rcpts, n, x->original)) == NULL)
			continue;
		fbl_hit_add(j, a, 0, x->code ? x->code : 550, x->status,
		    x->diag[0] ? x->diag : "");
	}
}

