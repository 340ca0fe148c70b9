/*
 * model.c - what gwtop shows, read from queue.db and log.db.
 *
 * Both databases are opened read-only (db.c: SQLITE_OPEN_READONLY and
 * PRAGMA query_only); in WAL mode the reads never block gwd.  Any failure
 * closes the handle and records why; the next refresh opens it again, so
 * gwtop started before gwd, or across a restore, recovers by itself.
 * Diagnostics: dies only when memory runs out; a database that fails is
 * closed with the reason kept for its panel, and opened again at the
 * next refresh.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "ctlproto.h"
#include "db.h"
#include "log.h"
#include "tally.h"
#include "gwtop.h"
#include "util.h"

const char *const win_name[NWIN] = { "1m", "5m", "1h" };
const int win_seconds[NWIN] = { 60, 300, 3600 };

struct model {
	char		*state_dir;
	char		*control_socket;
	sqlite3		*queue;
	sqlite3		*log;
};

struct model *
model_new(const char *state_dir, const char *control_socket)
{
	struct model *m = xcalloc(1, sizeof(*m));

	m->state_dir = xstrdup(state_dir);
	m->control_socket = xstrdup(control_socket ? control_socket : "");
	return m;
}

void
model_free(struct model *m)
{
	if (m == NULL)
		return;
	db_close(m->queue);
	db_close(m->log);
	free(m->state_dir);
	free(m->control_socket);
	free(m);
}

/* Open kind read-only unless open; 0, or -1 with err set. */
static int
model_open(struct model *m, sqlite3 **db, enum db_kind kind, int *missing,
    char *err, size_t errsz)
{
	char path[4096];
	struct stat st;

	if (*db != NULL)
		return 0;
	if (snprintf(path, sizeof(path), "%s/%s", m->state_dir,
	    db_filename(kind)) >= (int)sizeof(path)) {
		snprintf(err, errsz, "state_dir: path too long");
		return -1;
	}
	/* Say "missing" plainly rather than "unable to open database". */
	*missing = 0;
	if (stat(path, &st) == -1) {
		*missing = errno == ENOENT;
		snprintf(err, errsz, "%s/%s: %s", m->state_dir,
		    db_filename(kind), strerror(errno));
		return -1;
	}
	*db = db_open(m->state_dir, kind, DB_RDONLY, err, errsz);
	return *db ? 0 : -1;
}

static void	model_copy(char *, size_t, sqlite3_stmt *, int);

/* Keep the reason, close (ending any read transaction), retry later. */
static void
model_fail(sqlite3 **db, const char *file, char *err, size_t errsz)
{
	snprintf(err, errsz, "%s: %s", file, sqlite3_errmsg(*db));
	db_close(*db);
	*db = NULL;
}

static int
model_queue_counts(sqlite3 *db, struct snapshot *s)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT count(*), "
	    "coalesce(sum(attempts = 0), 0), coalesce(sum(attempts > 0), 0) "
	    "FROM recipient", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		s->rcpt_total = sqlite3_column_int64(st, 0);
		s->rcpt_ready = sqlite3_column_int64(st, 1);
		s->rcpt_deferred = sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

static int
model_queue_messages(sqlite3 *db, struct snapshot *s)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT count(*), min(received) FROM "
	    "message", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		s->messages = sqlite3_column_int64(st, 0);
		s->oldest_age_s = 0;
		if (sqlite3_column_type(st, 1) != SQLITE_NULL)
			s->oldest_age_s = (s->now_us -
			    sqlite3_column_int64(st, 1)) / 1000000;
		if (s->oldest_age_s < 0)
			s->oldest_age_s = 0;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/*
 * The oldest QMSG_MAX messages, each with its recipients summed up; the
 * reply shown is that of the most tried recipient.  The limit applies
 * before the join, so a deep queue costs one pass over message.
 */
static int
model_queue_list(sqlite3 *db, struct snapshot *s)
{
	sqlite3_stmt *st;
	int rc;

	s->nqmsg = 0;
	if (sqlite3_prepare_v2(db, "SELECT m.qid, m.sender, m.subaccount, "
	    "m.received, m.size, count(r.id), max(r.attempts), "
	    "min(r.next_attempt), min(r.address), "
	    "(SELECT last_reply FROM recipient WHERE message = m.id "
	    "ORDER BY attempts DESC, id LIMIT 1) "
	    "FROM (SELECT * FROM message ORDER BY received, id LIMIT ?) m "
	    "LEFT JOIN recipient r ON r.message = m.id "
	    "GROUP BY m.id ORDER BY m.received, m.id", -1, &st,
	    NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int(st, 1, QMSG_MAX);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct qmsg *q = &s->qmsg[s->nqmsg++];

		model_copy(q->qid, sizeof(q->qid), st, 0);
		model_copy(q->sender, sizeof(q->sender), st, 1);
		model_copy(q->subaccount, sizeof(q->subaccount), st, 2);
		q->received_us = sqlite3_column_int64(st, 3);
		q->size = sqlite3_column_int64(st, 4);
		q->nrcpt = sqlite3_column_int64(st, 5);
		q->attempts = sqlite3_column_int64(st, 6);
		q->next_attempt = sqlite3_column_int64(st, 7);
		model_copy(q->rcpt, sizeof(q->rcpt), st, 8);
		model_copy(q->last_reply, sizeof(q->last_reply), st, 9);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The pending recipients of the message on the message screen, each
 * with its whole last reply. */
static int
model_queue_life(sqlite3 *db, struct snapshot *s)
{
	sqlite3_stmt *st;
	int rc;

	s->nlife_rcpt = 0;
	s->life_queued = 0;
	if (s->life_qid[0] == '\0')
		return 0;
	if (sqlite3_prepare_v2(db, "SELECT r.address, r.attempts, "
	    "r.next_attempt, r.last_reply FROM message m JOIN recipient r "
	    "ON r.message = m.id WHERE m.qid = ?1 ORDER BY r.id", -1, &st,
	    NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, s->life_qid, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct life_rcpt *r;

		s->life_queued++;
		if (s->nlife_rcpt == LIFE_RCPT_MAX)
			continue;
		r = &s->life_rcpt[s->nlife_rcpt++];
		model_copy(r->address, sizeof(r->address), st, 0);
		r->attempts = sqlite3_column_int64(st, 1);
		r->next_attempt = sqlite3_column_int64(st, 2);
		model_copy(r->last_reply, sizeof(r->last_reply), st, 3);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static void
model_queue(struct model *m, struct snapshot *s)
{
	s->queue_ok = 0;
	if (model_open(m, &m->queue, DB_QUEUE, &s->queue_missing, s->queue_err,
	    sizeof(s->queue_err)) == -1)
		return;
	/* One read transaction: both counts from the same moment. */
	sqlite3_exec(m->queue, "BEGIN", NULL, NULL, NULL);
	if (model_queue_counts(m->queue, s) == -1 ||
	    model_queue_messages(m->queue, s) == -1 ||
	    model_queue_list(m->queue, s) == -1 ||
	    model_queue_life(m->queue, s) == -1) {
		model_fail(&m->queue, "queue.db", s->queue_err,
		    sizeof(s->queue_err));
		return;
	}
	sqlite3_exec(m->queue, "COMMIT", NULL, NULL, NULL);
	s->queue_ok = 1;
}

/* The column of a counted action, or -1. */
static int
model_act(const char *action)
{
	int a = event_lookup(action);

	return a < NACT ? a : -1;
}

/* Where db_tally's rows go: window w of snapshot s. */
struct model_win {
	struct snapshot	*s;
	int		 w;
};

static void
model_count_row(const char *action, const char *sub, int64_t n,
    int64_t hard, void *arg)
{
	struct model_win *mw = arg;
	struct snapshot *s = mw->s;
	int a;

	if (event_lookup(action) == EV_COMPLAINED) {
		s->complained[mw->w] += n;
		return;
	}
	if ((a = model_act(action)) < 0)
		return;
	s->count[mw->w][a] += n;
	if (a == EV_BOUNCED)
		s->hard[mw->w] += hard;
}

/*
 * Per action and window, and of the bounced how many were hard, from
 * log.db's tallies (db_tally: whole minutes and hours, so a refresh
 * reads the same few thousand rows on a quiet day and a busy one).
 */
static int
model_log_counts(sqlite3 *db, struct snapshot *s)
{
	memset(s->count, 0, sizeof(s->count));
	memset(s->hard, 0, sizeof(s->hard));
	memset(s->complained, 0, sizeof(s->complained));
	for (int w = 0; w < NWIN; w++) {
		struct model_win mw = { s, w };

		if (db_tally(db, s->now_us - (int64_t)win_seconds[w] *
		    1000000, model_count_row, &mw) == -1)
			return -1;
	}
	return 0;
}

static void
model_copy(char *dst, size_t n, sqlite3_stmt *st, int col)
{
	const char *s = (const char *)sqlite3_column_text(st, col);

	gw_strlcpy(dst, s ? s : "", n);
}

/* The result column: the reply from its code on ("550 5.1.1 user
 * unknown", reply.c), else the remote server or the client. */
static void
model_result(struct recent *r, sqlite3_stmt *st)
{
	char code[16] = "", status[32], text[sizeof(r->result)], brief[
	    sizeof(r->result)];
	size_t n;

	if (sqlite3_column_type(st, 5) != SQLITE_NULL)
		snprintf(code, sizeof(code), "%d ", sqlite3_column_int(st, 5));
	model_copy(status, sizeof(status), st, 6);
	model_copy(text, sizeof(text), st, 9);
	reply_brief(text, brief, sizeof(brief));
	if (code[0] == '\0' && brief[0] == '\0') {
		model_copy(brief, sizeof(brief), st, 7);
		if (brief[0] == '\0')
			model_copy(brief, sizeof(brief), st, 8);
	}
	/* Cut where the buffer ends: a column shows less anyway. */
	snprintf(r->result, sizeof(r->result), "%s%s%s", code, status,
	    status[0] ? " " : "");
	n = strlen(r->result);
	gw_strlcpy(r->result + n, brief, sizeof(r->result) - n);
}

/*
 * The newest events, or one message's from its first (qid not NULL).
 * Unless `all`, actions event.h calls routine (signed, routed) are
 * left out of the newest, reading at most RECENT_SCAN rows for them.
 */
#define RECENT_SCAN	(20 * RECENT_MAX)

static int
model_log_events(sqlite3 *db, const char *qid, int all, struct recent *out,
    int *n)
{
	sqlite3_stmt *st;
	int rc = SQLITE_DONE;

	*n = 0;
	if (sqlite3_prepare_v2(db, qid ? "SELECT id, ts, action, qid, "
	    "recipient, reply_code, reply_status, remote_host, client_ip, "
	    "reply_text FROM event WHERE qid = ?2 ORDER BY id LIMIT ?1" :
	    "SELECT id, ts, action, qid, recipient, reply_code, reply_status, "
	    "remote_host, client_ip, reply_text FROM event ORDER BY id DESC "
	    "LIMIT ?1", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int(st, 1, qid || all ? RECENT_MAX : RECENT_SCAN);
	if (qid)
		sqlite3_bind_text(st, 2, qid, -1, SQLITE_STATIC);
	while (*n < RECENT_MAX && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct recent *r = &out[*n];
		const char *action = (const char *)sqlite3_column_text(st, 2);

		if (!qid && !all &&
		    event_kind(event_lookup(action))->routine)
			continue;
		r->id = sqlite3_column_int64(st, 0);
		r->ts = sqlite3_column_int64(st, 1);
		model_copy(r->action, sizeof(r->action), st, 2);
		model_copy(r->qid, sizeof(r->qid), st, 3);
		model_copy(r->rcpt, sizeof(r->rcpt), st, 4);
		model_result(r, st);
		(*n)++;
	}
	if (*n == RECENT_MAX)
		rc = SQLITE_DONE;
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Latency from acceptance to delivery, p50 and p95 per window, from
 * event_latency's log buckets (common/tally.h): a value is its
 * bucket's middle, within 3.2% of the exact one, and reading it costs
 * the same on a quiet day and a million-message one.
 */
static int
model_log_latency(sqlite3 *db, struct snapshot *s)
{
	int64_t hist[TALLY_LAT_NB];

	for (int w = 0; w < NWIN; w++) {
		if (db_latency(db, s->now_us - (int64_t)win_seconds[w] *
		    1000000, hist) == -1)
			return -1;
		s->lat_p50[w] = tally_lat_pct(hist, 50);
		s->lat_p95[w] = tally_lat_pct(hist, 95);
	}
	return 0;
}

struct sub *
model_sub(struct snapshot *s, const char *name)
{
	for (int i = 0; i < s->nsub; i++)
		if (strcmp(s->sub[i].name, name) == 0)
			return &s->sub[i];
	if (s->nsub == SUB_MAX)
		return NULL;
	memset(&s->sub[s->nsub], 0, sizeof(s->sub[0]));
	gw_strlcpy(s->sub[s->nsub].name, name, sizeof(s->sub[0].name));
	return &s->sub[s->nsub++];
}

static void
model_sub_row(const char *action, const char *name, int64_t n, int64_t hard,
    void *arg)
{
	struct model_win *mw = arg;
	struct sub *u;
	int a;

	if (name[0] == '\0' || (a = model_act(action)) < 0 ||
	    (u = model_sub(mw->s, name)) == NULL)
		return;
	u->count[mw->w][a] = n;
}

/*
 * Per subaccount and action over the last day and the last hour (the
 * day first: its rows make the subaccounts, in name order).
 */
static int
model_log_subs(sqlite3 *db, struct snapshot *s)
{
	struct model_win day = { s, SUB_24H }, hour = { s, SUB_1H };

	s->nsub = 0;
	if (db_tally(db, s->now_us - 86400 * (int64_t)1000000, model_sub_row,
	    &day) == -1 || db_tally(db, s->now_us - 3600 * (int64_t)1000000,
	    model_sub_row, &hour) == -1)
		return -1;
	return 0;
}

static void
model_log(struct model *m, struct snapshot *s)
{
	s->log_ok = 0;
	s->nlife = 0;
	s->nsub = 0;
	if (model_open(m, &m->log, DB_LOG, &s->log_missing, s->log_err,
	    sizeof(s->log_err)) == -1)
		return;
	sqlite3_exec(m->log, "BEGIN", NULL, NULL, NULL);
	if (model_log_counts(m->log, s) == -1 ||
	    model_log_events(m->log, NULL, s->all_events, s->recent,
	    &s->nrecent) == -1 ||
	    (s->life_qid[0] && model_log_events(m->log, s->life_qid, 1,
	    s->life, &s->nlife) == -1) ||
	    model_log_latency(m->log, s) == -1 ||
	    model_log_subs(m->log, s) == -1) {
		model_fail(&m->log, "log.db", s->log_err, sizeof(s->log_err));
		return;
	}
	sqlite3_exec(m->log, "COMMIT", NULL, NULL, NULL);
	s->log_ok = 1;
}

/* gwd's counters, destinations and pools; it may stop in between. */
static void
model_gwd(struct model *m, struct snapshot *s)
{
	struct buf b;

	buf_init(&b, CTL_REPLY_MAX);
	s->gwd = ctl_ask(m->control_socket, "stats", &b);
	ctl_stats(buf_cstr(&b), &s->live);
	hist_add(&s->hist, s->now_us, &s->live);
	s->dest_ok = 0;
	s->ndest = 0;
	s->nsh = 0;
	s->pools_ok = 0;
	s->npool = s->npaddr = 0;
	if (s->live.ok) {
		ctl_ask(m->control_socket, "destinations", &b);
		if (strncmp(buf_cstr(&b), "buckets ", 8) == 0) {
			s->dest_ok = 1;
			s->nsh = ctl_smarthosts(buf_cstr(&b), s->sh,
			    SMARTHOST_MAX);
			s->ndest = ctl_destinations(buf_cstr(&b), s->dest,
			    CTL_DEST_MAX);
		}
		ctl_ask(m->control_socket, "pools", &b);
		s->pools_ok = ctl_pools(buf_cstr(&b), s) == 0;
	}
	buf_free(&b);
}

/*
 * Quotas and pauses from gwd, merged into the rows log.db gave (so it
 * runs after model_log); subaccounts without traffic get rows too.
 */
static void
model_gwd_subs(struct model *m, struct snapshot *s)
{
	struct buf b;

	s->subs_ok = 0;
	if (!s->live.ok)
		return;
	buf_init(&b, CTL_REPLY_MAX);
	ctl_ask(m->control_socket, "subaccounts", &b);
	s->subs_ok = ctl_subaccounts(buf_cstr(&b), s) >= 0;
	buf_free(&b);
}

void
model_refresh(struct model *m, struct snapshot *s)
{
	s->now_us = now_us();
	model_gwd(m, s);
	model_queue(m, s);
	model_log(m, s);
	model_gwd_subs(m, s);
}
