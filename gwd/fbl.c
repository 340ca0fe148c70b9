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

#include "alertstat.h"
#include "auth.h"
#include "bounce.h"
#include "db.h"
#include "event.h"
#include "fbl.h"
#include "fbl_job.h"
#include "feedback.h"
#include "gwd.h"
#include "hmap.h"
#include "log.h"
#include "loop.h"
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
_Static_assert(FV_UNREADABLE + 1 == sizeof(gm.feedback_reports_total) /
    sizeof(gm.feedback_reports_total[0]), "one counter per verdict");

static const char *const verdict_names[] = { "matched", "nothing",
    "unmatched", "forged", "unreadable" };

/*
 * Counts per client IP over a window: the MAILs feedback.rate allows,
 * and the refusals feedback.reject_log writes as events one by one.
 * An entry lives for one window; when it ends, ended() (if any) is told
 * what the window held past its limit.
 */
struct ipcount {
	int64_t		 start_ms;
	int		 n;		/* within the limit */
	int		 over;		/* past it */
	char		 stage[16];	/* the last refusal past it */
	char		 reply[REPLY_MAX];
};

struct ipwin {
	struct hmap	 ips;		/* client IP -> struct ipcount */
	int64_t		 swept_ms;
	int64_t		 win_ms;	/* as of the last count */
	void		(*ended)(const char *ip, const struct ipcount *);
};

struct ipwin_sweep {
	struct ipwin	*w;
	int64_t		 now;
	int		 left;		/* entries still with over > 0 */
};

static char			*state_dir;
static struct worker_pool	*pool;
static struct ipwin		 mails;		/* feedback.rate */
static struct ipwin		 refusals;	/* feedback.reject_log */
static struct ev_timer		 refusals_timer;

/* Forget the windows that ended (told to ended() first): the table
 * holds the IPs of one window, not of every client ever seen. */
static int
ipwin_old(const char *ip, void *v, void *arg)
{
	struct ipwin_sweep *sw = arg;
	struct ipcount *c = v;

	if (sw->now - c->start_ms < sw->w->win_ms) {
		sw->left += c->over > 0;
		return 0;
	}
	if (c->over > 0 && sw->w->ended)
		sw->w->ended(ip, c);
	free(c);
	return 1;
}

/* Sweep w: the entries whose window ended go; how many are left that
 * still have something to tell. */
static int
ipwin_sweep(struct ipwin *w, int64_t now)
{
	struct ipwin_sweep sw = { w, now, 0 };

	hmap_foreach(&w->ips, ipwin_old, &sw);
	w->swept_ms = now;
	return sw.left;
}

/* ip's count in its current window of win_ms (a new one when it
 * ended). */
static struct ipcount *
ipwin_get(struct ipwin *w, const char *ip, int64_t win_ms)
{
	int64_t now = mono_ms();
	struct ipcount *c;

	w->win_ms = win_ms;
	if (now - w->swept_ms >= win_ms)
		ipwin_sweep(w, now);
	if ((c = hmap_get(&w->ips, ip)) != NULL && now - c->start_ms >=
	    win_ms) {
		if (c->over > 0 && w->ended)
			w->ended(ip, c);
		memset(c, 0, sizeof(*c));
		c->start_ms = now;
	}
	if (c == NULL) {
		c = xcalloc(1, sizeof(*c));
		c->start_ms = now;
		hmap_put(&w->ips, ip, c);
	}
	return c;
}

/* The refusals of a window past feedback.reject_log: one event, the
 * last one's reply and stage, with their number. */
static void
refusals_ended(const char *ip, const struct ipcount *c)
{
	char detail[64];

	snprintf(detail, sizeof(detail), "unlogged=%d", c->over);
	audit_refusal_more(c->reply, c->stage, ip, detail);
	log_info("feedback: ip=%s %d more refusals in %llds not logged one "
	    "by one (feedback.reject_log), the last: %s", ip, c->over,
	    (long long)(refusals.win_ms / 1000), c->reply);
}

/* A window with refusals to tell ends even when its client is gone. */
static void
refusals_due(struct ev_timer *t)
{
	if (ipwin_sweep(&refusals, mono_ms()) > 0)
		timer_add(t, refusals.win_ms);
}

int
fbl_init(const char *dir, char *err, size_t errsz)
{
	hmap_init(&mails.ips);
	hmap_init(&refusals.ips);
	refusals.ended = refusals_ended;
	timer_init(&refusals_timer, refusals_due, NULL);
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

const char *
fbl_mail(struct session *s)
{
	struct ipcount *c = ipwin_get(&mails, s->ip,
	    gcfg->feedback.rate_window_ms);

	if (c->n >= gcfg->feedback.rate_count)
		return "450 4.7.1 Error: too many reports from your address; "
		    "try again later";
	c->n++;
	return NULL;
}

int
fbl_refusal_logged(const char *ip, const char *stage, const char *reply)
{
	struct ipcount *c = ipwin_get(&refusals, ip,
	    gcfg->feedback.reject_log_window_ms);

	if (c->n < gcfg->feedback.reject_log_count) {
		c->n++;
		return 1;
	}
	c->over++;
	gw_strlcpy(c->stage, stage, sizeof(c->stage));
	gw_strlcpy(c->reply, reply, sizeof(c->reply));
	if (!timer_armed(&refusals_timer))
		timer_add(&refusals_timer, refusals.win_ms);
	return 0;
}

static int
is_feedback_address(const char *addr)
{
	const char *at = strrchr(addr, '@');

	/* gw.db as of now: the bounce domains, and the keys the report's
	 * tokens are checked with (a `gwctl key rotate` a moment ago). */
	accounts_poll();
	for (int i = 0; i < gcfg->feedback.naddresses; i++)
		if (strcasecmp(addr, gcfg->feedback.addresses[i]) == 0)
			return 1;
	for (int i = 0; at && i < gcfg->feedback.ndomains; i++)
		if (strcasecmp(at + 1, gcfg->feedback.domains[i]) == 0)
			return 1;
	if (at == NULL)
		return 0;
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

/* The worker's side (and fbl_match.c). */

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
		switch (retpath_decode(j->env_rcpt[i], &kind,
		    j->qid, &idx)) {
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
	if (fbl_message_find(db, j, &rcpts, &n) == -1 || idx >= (unsigned)n) {
		j->verdict = FV_UNMATCHED;
		snprintf(j->why, sizeof(j->why), "queue id %s recipient %u is "
		    "no recipient of a message gw received", j->qid, idx);
	} else {
		j->verdict = FV_MATCHED;
		fbl_hit_add(j, rcpts[idx], 0, 0, "", "");
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
	j->verdict = fbl_which_message(j, db, &idx, &by_verp);
	if (j->verdict == FV_MATCHED &&
	    fbl_message_find(db, j, &rcpts, &n) == -1) {
		j->verdict = FV_UNMATCHED;
		snprintf(j->why, sizeof(j->why), "queue id %s (by %s) is no "
		    "message gw received", j->qid, j->how);
	}
	db_close(db);
	if (j->verdict != FV_MATCHED)
		goto out;
	fbl_which_rcpts(j, rcpts, n);
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
		alertstat_complaint(j->subaccount, h->addr, now);
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
