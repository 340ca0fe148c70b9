/*
 * fbl.c - the feedback listener: bounces and abuse reports in, events
 * and suppressions out (see fbl.h).
 * Standards: RFC 3464 (DSN), RFC 5965/6650 (ARF and feedback loops),
 * RFC 5321 3.6 and 3.9 (no relaying; the null reverse-path of
 * notifications), RFC 3207 4 (STARTTLS offered, not required, on a
 * publicly referenced server).
 * Exposure: anyone on the internet connects here, unauthenticated.  The
 * envelope is limited to gw's own feedback addresses, the message to
 * feedback.max_size, each client IP to feedback.rate messages.  Nothing
 * in a report is believed on its own: a VERP token must carry a good
 * HMAC for its bounce domain, and the recipient a report names must be
 * one of the matched message's recipients, before anything changes.  A
 * mail to an unsubscribe token (u-) is believed for its envelope only,
 * after the same HMAC check.  The
 * report is parsed on a worker (GMime), never on the event loop.
 * Diagnostics: a report that changes nothing is a log line,
 * "feedback: session=... unmatched|forged|unreadable ..."; dies only
 * when memory runs out.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "bounce.h"
#include "db.h"
#include "event.h"
#include "fbl.h"
#include "feedback.h"
#include "gwd.h"
#include "hmap.h"
#include "log.h"
#include "metrics.h"
#include "pause.h"
#include "retpath.h"
#include "session_priv.h"
#include "store.h"
#include "suppress.h"
#include "unsubscribe.h"
#include "util.h"
#include "verp.h"
#include "worker.h"

#define FBL_THREADS	1
#define FBL_QUEUE_MAX	64	/* reports waiting for the worker */
#define FBL_MAX_RCPT	1000	/* a matched message's recipients read */

enum fbl_verdict {
	FV_MATCHED,	/* events recorded */
	FV_NOTHING,	/* a report of no failure (delayed, delivered) */
	FV_UNMATCHED,	/* no message of gw's, or not its recipient */
	FV_FORGED,	/* a VERP token whose HMAC does not check */
	FV_UNREADABLE	/* neither a bounce nor an abuse report */
};
_Static_assert(FV_UNREADABLE + 1 == sizeof(gm.feedback_reports_total) /
    sizeof(gm.feedback_reports_total[0]), "one counter per verdict");

static const char *const verdict_names[] = { "matched", "nothing",
    "unmatched", "forged", "unreadable" };

/* A recipient the report is about. */
struct fbl_hit {
	char		*addr;
	int		 complaint;
	int		 code;		/* bounces: the reply */
	char		 status[16];
	char		*text;
};

struct fbl_job {
	struct work		 w;
	struct store_op		*op;	/* op->arg: the session, or NULL */
	char			*msg;
	size_t			 len;
	char			**env_rcpt;
	int			 nenv;
	char			 ip[INET6_ADDRSTRLEN];
	uint64_t		 sid;
	/* What the worker found. */
	enum fbl_verdict	 verdict;
	struct fb_report	 rep;
	char			 qid[QID_LEN + 1];
	char			*subaccount;
	char			*sender;
	char			*message_id;
	char			 how[24];	/* "verp", "queue-id", ... */
	int			 unsub;		/* a mail to a u- address */
	struct fbl_hit		*hits;
	int			 nhits;
	char			 why[160];
};

struct fbl_rate {
	int64_t		 start_ms;
	int		 n;
};

static char			*state_dir;
static struct worker_pool	*pool;
static struct hmap		 rates;		/* client IP -> fbl_rate */
static int64_t			 rates_swept_ms;

int
fbl_init(const char *dir, char *err, size_t errsz)
{
	hmap_init(&rates);
	state_dir = xstrdup(dir);
	return 0;
}

int
fbl_session(const struct session *s)
{
	return s->l->cfg->role == LISTEN_FEEDBACK;
}

unsigned long long
fbl_max_size(const struct session *s)
{
	return fbl_session(s) ? gcfg->feedback.max_size :
	    gcfg->limits.message_size;
}

/* Forget the windows that ended: the table holds the IPs of one
 * window, not of every client ever seen. */
static int
rate_old(const char *ip, void *v, void *arg)
{
	const struct fbl_rate *r = v;
	int64_t now = *(const int64_t *)arg;

	(void)ip;
	if (now - r->start_ms < gcfg->feedback.rate_window_ms)
		return 0;
	free(v);
	return 1;
}

const char *
fbl_mail(struct session *s)
{
	int64_t now = mono_ms(), win = gcfg->feedback.rate_window_ms;
	struct fbl_rate *r;

	if (now - rates_swept_ms >= win) {
		hmap_foreach(&rates, rate_old, &now);
		rates_swept_ms = now;
	}
	if ((r = hmap_get(&rates, s->ip)) == NULL) {
		r = xcalloc(1, sizeof(*r));
		r->start_ms = now;
		hmap_put(&rates, s->ip, r);
	} else if (now - r->start_ms >= win) {
		r->start_ms = now;
		r->n = 0;
	}
	if (r->n >= gcfg->feedback.rate_count)
		return "450 4.7.1 Error: too many reports from your address; "
		    "try again later";
	r->n++;
	return NULL;
}

static int
is_feedback_address(const char *addr)
{
	const char *at = strrchr(addr, '@');

	for (int i = 0; i < gcfg->feedback.naddresses; i++)
		if (strcasecmp(addr, gcfg->feedback.addresses[i]) == 0)
			return 1;
	for (int i = 0; at && i < gcfg->feedback.ndomains; i++)
		if (strcasecmp(at + 1, gcfg->feedback.domains[i]) == 0)
			return 1;
	if (at == NULL)
		return 0;
	accounts_poll();
	return account_is_bounce_domain(at + 1);
}

const char *
fbl_rcpt(const char *addr, char *buf, size_t bufsz)
{
	if (is_feedback_address(addr))
		return NULL;
	snprintf(buf, bufsz, "550 5.7.1 <%s>: Recipient address rejected: "
	    "this server takes bounces and feedback reports for its own "
	    "addresses only", addr);
	return buf;
}

/* The worker's side. */

static void
hit_add(struct fbl_job *j, const char *addr, int complaint, int code,
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
static int
message_find(sqlite3 *db, struct fbl_job *j, char ***rcpts, int *nrcpt)
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
static enum fbl_verdict
which_message(struct fbl_job *j, sqlite3 *db, unsigned *idx, int *by_verp)
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
		switch (verp_decode(retpath_key(), VERP_KEY_LEN, cand[i],
		    &kind, j->qid, idx)) {
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
static void
which_rcpts(struct fbl_job *j, char **rcpts, int n)
{
	const struct fb_report *r = &j->rep;
	const char *a;

	if (r->type == FB_ARF) {
		if ((a = rcpt_of(rcpts, n, r->orig_rcpt_to)) == NULL &&
		    (a = rcpt_of(rcpts, n, r->ret_to)) == NULL && n == 1 &&
		    r->orig_rcpt_to[0] == '\0')
			a = rcpts[0];
		if (a)
			hit_add(j, a, 1, 0, "", r->feedback_type[0] ?
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
		hit_add(j, a, 0, x->code ? x->code : 550, x->status,
		    x->diag[0] ? x->diag : "");
	}
}

/*
 * A mail to an unsubscribe address u-TOKEN@DOMAIN (List-Unsubscribe's
 * mailto:, unsubscribe.h): whatever it says (a mail client writes what
 * it likes), its envelope is the request.  The token names the message
 * and the recipient's index; the recipient is the one log.db's
 * "received" event has at that index.  0 when no envelope recipient is
 * a u- address (then it is a report); else 1 with j->verdict, and the
 * recipient as the only hit.
 */
static int
unsub_request(struct fbl_job *j)
{
	char err[256], **rcpts = NULL;
	enum verp_kind kind;
	unsigned idx = 0;
	sqlite3 *db;
	int n = 0, i;

	for (i = 0; i < j->nenv; i++) {
		if (strncasecmp(j->env_rcpt[i], "u-", 2) != 0)
			continue;
		switch (verp_decode(retpath_key(), VERP_KEY_LEN,
		    j->env_rcpt[i], &kind, j->qid, &idx)) {
		case VERP_OK:
			break;
		case VERP_FORGED:
			j->unsub = 1;
			j->verdict = FV_FORGED;
			snprintf(j->why, sizeof(j->why), "unsubscribe token "
			    "%.80s fails its HMAC", j->env_rcpt[i]);
			return 1;
		case VERP_NONE:
			continue;
		}
		break;
	}
	if (i == j->nenv)
		return 0;
	j->unsub = 1;
	snprintf(j->how, sizeof(j->how), "verp");
	if ((db = db_open(state_dir, DB_LOG, DB_RDONLY, err, sizeof(err))) ==
	    NULL) {
		j->verdict = FV_UNMATCHED;
		snprintf(j->why, sizeof(j->why), "%.150s", err);
		return 1;
	}
	if (message_find(db, j, &rcpts, &n) == -1 || idx >= (unsigned)n) {
		j->verdict = FV_UNMATCHED;
		snprintf(j->why, sizeof(j->why), "queue id %s recipient %u is "
		    "no recipient of a message gw received", j->qid, idx);
	} else {
		j->verdict = FV_MATCHED;
		hit_add(j, rcpts[idx], 0, 0, "", "");
	}
	db_close(db);
	for (i = 0; i < n; i++)
		free(rcpts[i]);
	free(rcpts);
	return 1;
}

static void
fbl_run(struct work *w)
{
	struct fbl_job *j = (struct fbl_job *)w;
	char err[256], **rcpts = NULL;
	sqlite3 *db;
	unsigned idx = 0;
	int n = 0, by_verp, any_failed = 0;

	if (unsub_request(j))
		return;
	feedback_parse(j->msg, j->len, &j->rep);
	if (j->rep.type == FB_UNKNOWN) {
		j->verdict = FV_UNREADABLE;
		snprintf(j->why, sizeof(j->why), "neither a DSN, a bounce nor "
		    "an ARF report");
		return;
	}
	for (int i = 0; i < j->rep.nrcpt; i++)
		any_failed |= j->rep.rcpt[i].action == FA_FAILED;
	if (j->rep.type != FB_ARF && !any_failed) {
		j->verdict = FV_NOTHING;
		snprintf(j->why, sizeof(j->why), "no recipient failed");
		return;
	}
	if ((db = db_open(state_dir, DB_LOG, DB_RDONLY, err, sizeof(err))) ==
	    NULL) {
		j->verdict = FV_UNMATCHED;
		snprintf(j->why, sizeof(j->why), "%.150s", err);
		return;
	}
	j->verdict = which_message(j, db, &idx, &by_verp);
	if (j->verdict == FV_MATCHED && message_find(db, j, &rcpts, &n) == -1) {
		j->verdict = FV_UNMATCHED;
		snprintf(j->why, sizeof(j->why), "queue id %s (by %s) is no "
		    "message gw received", j->qid, j->how);
	}
	db_close(db);
	if (j->verdict != FV_MATCHED)
		goto out;
	which_rcpts(j, rcpts, n);
	if (j->nhits == 0) {
		j->verdict = FV_UNMATCHED;
		snprintf(j->why, sizeof(j->why), "the report names no recipient "
		    "of message %s", j->qid);
	}
out:
	for (int i = 0; i < n; i++)
		free(rcpts[i]);
	free(rcpts);
}

/* The main thread's side. */

static void
fbl_committed(struct store_op *op)
{
	struct session *s = op->arg;

	if (s) {
		session_reply(s, "250 2.0.0 Ok: report received");
		s->op = NULL;
		session_resume(s);
	}
	store_op_free(op);
}

/* One recipient's event, suppression and rate. */
static void
record_hit(struct fbl_job *j, const struct fbl_hit *h, int64_t now)
{
	struct audit_event *ev;
	char detail[300];

	ev = store_op_event(j->op, event_name(h->complaint ? EV_COMPLAINED :
	    EV_BOUNCED), j->qid);
	ev->subaccount = xstrdup(j->subaccount);
	ev->sender = xstrdup(j->sender);
	ev->recipient = xstrdup(h->addr);
	ev->message_id = j->message_id[0] ? xstrdup(j->message_id) : NULL;
	ev->client_ip = xstrdup(j->ip);
	if (h->complaint) {
		snprintf(detail, sizeof(detail), "feedback-type=%s matched-by=%s"
		    "%s%.60s", h->text, j->how, j->rep.user_agent[0] ?
		    " user-agent=" : "", j->rep.user_agent);
		suppress_add(j->op, j->subaccount, h->addr, "complaint",
		    h->text);
		pause_complaint(j->op, j->subaccount, now);
		metrics_sub_add(j->subaccount, GM_SUB_COMPLAINED, 1);
		gm.complaints_total++;
	} else {
		enum bounce_class cls = bounce_classify(h->code, h->status,
		    h->text);

		snprintf(detail, sizeof(detail), "async bounce (%s) "
		    "matched-by=%s reporting-mta=%.80s",
		    feedback_type_name(j->rep.type), j->how,
		    j->rep.reporting_mta);
		ev->reply_code = h->code;
		ev->reply_status = xstrdup(h->status);
		ev->reply_text = xstrdup(h->text);
		ev->bounce_class = bounce_class_name(cls);
		/* Only a verdict on the address suppresses it, as at
		 * delivery: a policy or content refusal does not. */
		if (cls == BC_HARD)
			suppress_add(j->op, j->subaccount, h->addr,
			    "hard bounce (async)", h->text);
		pause_outcome(j->op, j->subaccount, 1, now);
		gm.async_bounces_total++;
	}
	ev->detail = xstrdup(detail);
	log_info("feedback: session=%016llx qid=%s %s to=<%s> subaccount=%s "
	    "matched-by=%s", (unsigned long long)j->sid, j->qid,
	    h->complaint ? "complained" : "bounced", h->addr, j->subaccount,
	    j->how);
}

static void
fbl_done(struct work *w)
{
	struct fbl_job *j = (struct fbl_job *)w;
	int64_t now = now_us();

	gm.feedback_reports_total[j->verdict]++;
	if (j->verdict == FV_MATCHED && j->unsub) {
		/* As the one-click POST; a second mail adds nothing. */
		if (unsub_record(j->op, j->subaccount, j->hits[0].addr, j->qid,
		    j->ip, "mailto") == 0)
			log_info("feedback: session=%016llx qid=%s unsubscribe "
			    "to=<%s> subaccount=%s: already suppressed",
			    (unsigned long long)j->sid, j->qid,
			    j->hits[0].addr, j->subaccount);
	} else if (j->verdict == FV_MATCHED) {
		for (int i = 0; i < j->nhits; i++)
			record_hit(j, &j->hits[i], now);
	} else {
		/* Searchable: "feedback: ... forged". */
		log_warnx("feedback: session=%016llx ip=%s %s %s report: %s; "
		    "nothing changed", (unsigned long long)j->sid, j->ip,
		    verdict_names[j->verdict], j->unsub ? "unsubscribe" :
		    feedback_type_name(j->rep.type), j->why);
	}
	j->op->done = fbl_committed;
	session_memory -= j->len;
	store_submit(j->op);
	feedback_free(&j->rep);
	for (int i = 0; i < j->nhits; i++) {
		free(j->hits[i].addr);
		free(j->hits[i].text);
	}
	free(j->hits);
	for (int i = 0; i < j->nenv; i++)
		free(j->env_rcpt[i]);
	free(j->env_rcpt);
	free(j->subaccount);
	free(j->sender);
	free(j->message_id);
	free(j->msg);
	free(j);
}

void
fbl_data_end(struct session *s)
{
	const char *r = data_flags_reply(s->tx.dp.flags);
	struct fbl_job *j;
	size_t len;

	timer_del(&s->timer);
	if (r != NULL) {
		metrics_reject(REJ_DATA_CONTENT);
		session_refuse(s, s->tx.mail.path.addr, NULL, BC_NONE, "%s", r);
		session_tx_reset(s);
		session_resume(s);
		return;
	}
	if (pool == NULL)
		pool = worker_pool_new(FBL_THREADS, FBL_QUEUE_MAX);
	j = xcalloc(1, sizeof(*j));
	j->w.run = fbl_run;
	j->w.done = fbl_done;
	j->msg = buf_steal(&s->tx.data, &len);
	j->len = len;
	j->env_rcpt = s->tx.rcpt;
	j->nenv = s->tx.nrcpt;
	s->tx.rcpt = NULL;
	s->tx.nrcpt = 0;
	gw_strlcpy(j->ip, s->ip, sizeof(j->ip));
	j->sid = s->id;
	j->op = store_op_new();
	j->op->arg = s;
	if (worker_pool_submit(pool, &j->w) == -1) {
		/* Busy: the sender tries again later, as with any 4xx. */
		store_op_free(j->op);
		for (int i = 0; i < j->nenv; i++)
			free(j->env_rcpt[i]);
		free(j->env_rcpt);
		free(j->msg);
		free(j);
		session_reply(s, "451 4.3.2 Error: too many reports waiting; "
		    "try again later");
		session_tx_reset(s);
		session_resume(s);
		return;
	}
	session_memory += len;
	s->op = j->op;
	s->state = SS_WAIT;
	conn_pause_read(s->c, 1);
	session_tx_reset(s);
}
