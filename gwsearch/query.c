/*
 * query.c - filters to SQL over log.db, and the events of each match.
 *
 * A match is a message (a queue id) when, for each filter, some event of
 * that message inside the time range (--since, --until) satisfies it:
 * the recipient through event_rcpt (every recipient of a received
 * message) or event.recipient, the sender through event.sender, the
 * Message-ID with or without its <>.  Events without a queue id (a RCPT
 * refused at the door) match on their own.
 *
 * A search does not compute every match: one filter drives.  Each
 * filter that an index can answer (recipient, sender, Message-ID, full
 * text, the time range) counts its first few candidate events; the one
 * with the fewest yields candidates newest first (in log order), the
 * others are checked on each candidate's message through the qid index
 * (an FTS5 lookup by rowid for words), and the search stops once it has
 * one match more than the limit.  Filters no index answers (subject,
 * status, domain, ...) drive only when alone, by scanning from the
 * newest event back.
 *
 * The SQL is put together from constant fragments only; every value the
 * user typed is a bound parameter.
 * Diagnostics: dies only when memory runs out or a query passes its
 * length limit (fixed fragments, so a broken invariant); SQLite errors
 * are logged and returned as -1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "gwsearch.h"
#include "hmap.h"
#include "log.h"
#include "util.h"

/* Candidates counted per filter to choose the one that drives. */
#define QUERY_EST_CAP	1000

/* The reply as one string: "550 5.1.1 user unknown" */
#define QUERY_REPLY "(coalesce(x.reply_code || ' ', '') || " \
	"coalesce(x.reply_status || ' ', '') || coalesce(x.reply_text, ''))"

/*
 * Parameters: filter i's are ?(2i+1) and ?(2i+2); then these, numbered
 * rather than named (a name takes the next free number, which a
 * filter's may take later in the text).
 */
#define QUERY_P_KEY	(2 * QUERY_MAX_FILTERS + 1)	/* a qid or an id */
#define QUERY_P_SINCE	(2 * QUERY_MAX_FILTERS + 2)
#define QUERY_P_UNTIL	(2 * QUERY_MAX_FILTERS + 3)
#define QUERY_KEY	"?65"
/* +x.ts: a check goes by qid or id, never by the ts index. */
#define QUERY_TIME	" AND +x.ts >= ?66 AND +x.ts < ?67"
_Static_assert(QUERY_P_KEY == 65 && QUERY_P_UNTIL == 67,
    "QUERY_KEY and QUERY_TIME spell out the numbers");

/*
 * Per filter kind: the test on one event x (cond), and the queries that
 * give candidate events (id, qid, ts) newest first through an index, or
 * NULL.  @0 and @1 stand for the filter's two bound parameters;
 * query_expand() numbers them.
 */
static const struct {
	const char	*cond;
	const char	*src[2];
} filter_sql[] = {
	[F_RECIPIENT] = { "(x.recipient = @0 OR (x.action = 'received' AND "
	    "EXISTS (SELECT 1 FROM event_rcpt r WHERE r.qid = x.qid AND "
	    "r.address = @0)))", {
	    "SELECT x.id, x.qid, x.ts FROM event_rcpt r JOIN event x ON "
	    "x.qid = r.qid AND x.action = 'received' WHERE r.address = @0 "
	    "ORDER BY r.rowid DESC",
	    "SELECT x.id, x.qid, x.ts FROM event x WHERE x.recipient = @0 "
	    "ORDER BY x.id DESC" } },
	[F_SENDER] = { "x.sender = @0", {
	    "SELECT x.id, x.qid, x.ts FROM event x WHERE x.sender = @0 "
	    "ORDER BY x.id DESC", NULL } },
	[F_SUBJECT] = { "x.subject LIKE @0 ESCAPE '\\'", { NULL, NULL } },
	[F_MSGID] = { "x.message_id IN (@0, @1)", {
	    "SELECT x.id, x.qid, x.ts FROM event x WHERE x.message_id IN "
	    "(@0, @1) ORDER BY x.id DESC", NULL } },
	[F_STATUS] = { "x.action = @0", { NULL, NULL } },
	[F_SUBACCOUNT] = { "x.subaccount = @0", { NULL, NULL } },
	[F_DOMAIN] = { "(x.sender LIKE @0 ESCAPE '\\' OR x.recipient LIKE @0 "
	    "ESCAPE '\\' OR x.recipient LIKE @1 ESCAPE '\\' OR (x.action = "
	    "'received' AND EXISTS (SELECT 1 FROM event_rcpt r WHERE r.qid = "
	    "x.qid AND r.address LIKE @0 ESCAPE '\\')))", { NULL, NULL } },
	[F_CLIENT_IP] = { "x.client_ip = @0", { NULL, NULL } },
	[F_RESPONSE] = { QUERY_REPLY " LIKE @0 ESCAPE '\\'", { NULL, NULL } },
	[F_TEXT] = { "EXISTS (SELECT 1 FROM event_fts WHERE event_fts MATCH "
	    "@0 AND rowid = x.id)", {
	    "SELECT x.id, x.qid, x.ts FROM event_fts f JOIN event x ON "
	    "x.id = f.rowid WHERE event_fts MATCH @0 ORDER BY f.rowid DESC",
	    NULL } },
	[F_CLASS] = { "x.class = @0", {
	    "SELECT x.id, x.qid, x.ts FROM event x WHERE x.class = @0 "
	    "ORDER BY x.id DESC", NULL } },
	/* A content policy that fired: by name in the "scanned" event's
	 * "fired=a(block) b(tag) counts=..." (@0: " NAME("), or the one
	 * that quarantined ("content policy NAME (DETECTOR)", @1). */
	[F_POLICY] = { "(x.action = 'scanned' AND instr(' ' || substr("
	    "x.detail, 7, instr(x.detail, ' counts=') - 7), @0) > 0) OR "
	    "(x.action = 'quarantined' AND instr(x.detail, @1) > 0)",
	    { NULL, NULL } },
	/* The TLS policy a delivery attempt went under (tls_policy). */
	[F_TLS] = { "x.tls_policy = @0", { NULL, NULL } },
	[F_SINCE] = { "1", { NULL, NULL } },
	[F_UNTIL] = { "1", { NULL, NULL } },
};

/* Candidates from the time range alone, newest first. */
static const char query_time_src[] = "SELECT x.id, x.qid, x.ts FROM event "
    "x WHERE x.ts >= ?66 AND x.ts < ?67 ORDER BY x.ts DESC";

static void
query_put(struct buf *b, const char *s)
{
	if (buf_puts(b, s) == -1)
		fatalx("query too long");
}

/* Copy a fragment of filter i, numbering its parameters ?(2i+1), ?(2i+2). */
static void
query_expand(struct buf *b, const char *s, int i)
{
	for (; *s; s++) {
		if (s[0] == '@' && (s[1] == '0' || s[1] == '1')) {
			if (buf_printf(b, "?%d", 2 * i + 1 + (s[1] - '0')) == -1)
				fatalx("query too long");
			s++;
		} else if (buf_putc(b, *s) == -1)
			fatalx("query too long");
	}
}

static int
query_is_time(const struct filter *f)
{
	return f->kind == F_SINCE || f->kind == F_UNTIL;
}

/* Does q have a time range? */
static int
query_has_time(const struct query *q)
{
	for (int i = 0; i < q->nf; i++)
		if (query_is_time(&q->f[i]))
			return 1;
	return 0;
}

/* " AND (cond)" for every filter but skip (-1: none) and the times. */
static void
query_conds(const struct query *q, struct buf *b, int skip)
{
	for (int i = 0; i < q->nf; i++) {
		if (i == skip || query_is_time(&q->f[i]))
			continue;
		query_put(b, " AND (");
		query_expand(b, filter_sql[q->f[i].kind].cond, i);
		query_put(b, ")");
	}
}

/*
 * For --follow, on a new event: its message has every filter (each on
 * some event inside the time range), or it has no qid and has them all.
 */
static void
query_where(const struct query *q, struct buf *b)
{
	int any = 0;

	query_put(b, "(qid IS NOT NULL");
	for (int i = 0; i < q->nf; i++) {
		if (query_is_time(&q->f[i]))
			continue;
		query_put(b, " AND EXISTS (SELECT 1 FROM event x WHERE "
		    "x.qid = event.qid AND (");
		query_expand(b, filter_sql[q->f[i].kind].cond, i);
		query_put(b, ")" QUERY_TIME ")");
		any = 1;
	}
	if (!any)
		query_put(b, " AND EXISTS (SELECT 1 FROM event x WHERE "
		    "x.qid = event.qid" QUERY_TIME ")");
	query_put(b, ") OR (qid IS NULL AND EXISTS (SELECT 1 FROM event x "
	    "WHERE x.id = event.id" QUERY_TIME);
	query_conds(q, b, -1);
	query_put(b, "))");
}

/* "%" + s with LIKE's metacharacters escaped + suffix */
static char *
query_like(const char *pre, const char *s, const char *suf)
{
	struct buf b;

	buf_init(&b, 0);
	buf_puts(&b, pre);
	for (; *s; s++) {
		if (*s == '%' || *s == '_' || *s == '\\')
			buf_putc(&b, '\\');
		buf_putc(&b, *s);
	}
	buf_puts(&b, suf);
	buf_cstr(&b);
	return buf_steal(&b, NULL);
}

/* Bind filter i's values, those of its parameters st has. */
static int
query_bind_filter(sqlite3_stmt *st, const struct filter *f, int i)
{
	char *v[2] = { NULL, NULL };
	int rc = SQLITE_OK, max = sqlite3_bind_parameter_count(st);

	switch (f->kind) {
	case F_SINCE:
	case F_UNTIL:
		return SQLITE_OK;	/* query_bind_time() */
	case F_SUBJECT:
	case F_RESPONSE:
		v[0] = query_like("%", f->val, "%");
		break;
	case F_DOMAIN:
		v[0] = query_like("%@", f->val, "");
		v[1] = query_like("%@", f->val, ",%");
		break;
	case F_POLICY:
		v[0] = xasprintf(" %s(", f->val);
		v[1] = xasprintf("content policy %s (", f->val);
		break;
	case F_MSGID:
		v[1] = xasprintf("<%s>", f->val);
		/* FALLTHROUGH */
	default:
		v[0] = xstrdup(f->val);
	}
	for (int k = 0; k < 2; k++) {
		if (v[k] && rc == SQLITE_OK && 2 * i + 1 + k <= max)
			rc = sqlite3_bind_text(st, 2 * i + 1 + k, v[k], -1,
			    free);
		else
			free(v[k]);
	}
	return rc;
}

/* The range [since, until) of q: the latest --since, earliest --until. */
static void
query_range(const struct query *q, int64_t *since, int64_t *until)
{
	*since = INT64_MIN;
	*until = INT64_MAX;
	for (int i = 0; i < q->nf; i++) {
		if (q->f[i].kind == F_SINCE && q->f[i].t > *since)
			*since = q->f[i].t;
		if (q->f[i].kind == F_UNTIL && q->f[i].t < *until)
			*until = q->f[i].t;
	}
}

static int
query_bind_all(sqlite3_stmt *st, const struct query *q)
{
	int64_t since, until;
	int rc = SQLITE_OK, max = sqlite3_bind_parameter_count(st);

	for (int i = 0; i < q->nf && rc == SQLITE_OK; i++)
		rc = query_bind_filter(st, &q->f[i], i);
	query_range(q, &since, &until);
	if (rc == SQLITE_OK && max >= QUERY_P_UNTIL) {
		rc = sqlite3_bind_int64(st, QUERY_P_SINCE, since);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(st, QUERY_P_UNTIL, until);
	}
	return rc;
}

/* Prepare sql and bind q's values; NULL after saying why. */
static sqlite3_stmt *
query_prepare(sqlite3 *db, const struct query *q, struct buf *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, buf_cstr(sql), -1, &st, NULL) !=
	    SQLITE_OK || query_bind_all(st, q) != SQLITE_OK) {
		log_warnx("log.db: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		st = NULL;
	}
	buf_free(sql);
	return st;
}

/* Candidate events of one filter, newest first, from one or two queries. */
struct source {
	sqlite3_stmt	*st[2];
	int		 n;
	int		 row[2];	/* st[k] is on a row */
	int		 est;		/* candidates, counted up to a cap */
};

static void
source_free(struct source *s)
{
	for (int k = 0; k < s->n; k++)
		sqlite3_finalize(s->st[k]);
	s->n = 0;
}

/* Step st[k]: 0, or -1 after saying why. */
static int
source_step(sqlite3 *db, struct source *s, int k)
{
	int rc = sqlite3_step(s->st[k]);

	s->row[k] = rc == SQLITE_ROW;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_warnx("log.db: %s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

/* Open the source of filter i (i == -1: the time range), count up to the
 * cap, and stand on the first rows.  1, 0 if no index answers the
 * filter, -1 after saying why. */
static int
source_open(sqlite3 *db, const struct query *q, int i, struct source *s)
{
	const char *const *src = filter_sql[i < 0 ? F_SINCE : q->f[i].kind].src;
	const char *one[2] = { query_time_src, NULL };
	struct buf sql;

	memset(s, 0, sizeof(*s));
	if (i < 0)
		src = one;
	for (int k = 0; k < 2 && src[k]; k++) {
		buf_init(&sql, 0);
		query_expand(&sql, src[k], i < 0 ? 0 : i);
		if ((s->st[s->n] = query_prepare(db, q, &sql)) == NULL) {
			source_free(s);
			return -1;
		}
		s->n++;
	}
	for (int k = 0; k < s->n; k++) {
		int rc = SQLITE_DONE;

		while (s->est < QUERY_EST_CAP &&
		    (rc = sqlite3_step(s->st[k])) == SQLITE_ROW)
			s->est++;
		if (s->est < QUERY_EST_CAP && rc != SQLITE_DONE) {
			log_warnx("log.db: %s", sqlite3_errmsg(db));
			source_free(s);
			return -1;
		}
		sqlite3_reset(s->st[k]);
		if (source_step(db, s, k) == -1) {
			source_free(s);
			return -1;
		}
	}
	return s->n > 0;
}

/* Scan from the newest event back for the ones having filter i. */
static int
source_scan(sqlite3 *db, const struct query *q, int i, struct source *s)
{
	struct buf sql;

	memset(s, 0, sizeof(*s));
	buf_init(&sql, 0);
	query_put(&sql, "SELECT x.id, x.qid, x.ts FROM event x WHERE (");
	query_expand(&sql, filter_sql[q->f[i].kind].cond, i);
	/* The time range is checked on each candidate, not here: that
	 * would let the planner sort the whole range by id. */
	query_put(&sql, ") ORDER BY x.id DESC");
	if ((s->st[0] = query_prepare(db, q, &sql)) == NULL)
		return -1;
	s->n = 1;
	return source_step(db, s, 0);
}

/* The statement standing on the newest candidate, or NULL when done. */
static sqlite3_stmt *
source_peek(struct source *s, int *k)
{
	*k = -1;
	for (int j = 0; j < s->n; j++)
		if (s->row[j] && (*k == -1 ||
		    sqlite3_column_int64(s->st[j], 0) >
		    sqlite3_column_int64(s->st[*k], 0)))
			*k = j;
	return *k == -1 ? NULL : s->st[*k];
}

/* Choose the source that drives: the fewest candidates; -1 on error. */
static int
query_drive(sqlite3 *db, const struct query *q, struct source *best,
    int *drv)
{
	struct source s;
	int r;

	best->n = 0;
	*drv = -2;
	for (int i = q->nf - 1; i >= -1; i--) {
		/* The time range once, as filter -1. */
		if (i >= 0 && query_is_time(&q->f[i]))
			continue;
		if (i == -1 && !query_has_time(q))
			continue;
		if ((r = source_open(db, q, i, &s)) == -1) {
			source_free(best);
			return -1;
		}
		if (r == 0)
			continue;
		if (best->n == 0 || s.est <= best->est) {
			source_free(best);
			*best = s;
			*drv = i;
		} else
			source_free(&s);
	}
	if (best->n > 0)
		return 0;
	/* No index answers any filter: scan for the first. */
	for (int i = 0; i < q->nf; i++)
		if (!query_is_time(&q->f[i])) {
			*drv = i;
			return source_scan(db, q, i, best);
		}
	return -1;
}
/*
 * Checks on a candidate: per filter but the driver, whether the message
 * has it; and whether an event without a qid has them all.
 */
struct checks {
	sqlite3_stmt	*qid[QUERY_MAX_FILTERS];
	sqlite3_stmt	*one;
};

static void
checks_free(struct checks *c)
{
	for (int i = 0; i < QUERY_MAX_FILTERS; i++)
		sqlite3_finalize(c->qid[i]);
	sqlite3_finalize(c->one);
}

static int
checks_prepare(sqlite3 *db, const struct query *q, int drv,
    struct checks *c)
{
	struct buf sql;

	memset(c, 0, sizeof(*c));
	for (int i = 0; i < q->nf; i++) {
		if (i == drv || query_is_time(&q->f[i]))
			continue;
		buf_init(&sql, 0);
		query_put(&sql, "SELECT 1 FROM event x WHERE x.qid = " QUERY_KEY
		    " AND (");
		query_expand(&sql, filter_sql[q->f[i].kind].cond, i);
		query_put(&sql, ")" QUERY_TIME " LIMIT 1");
		if ((c->qid[i] = query_prepare(db, q, &sql)) == NULL)
			return -1;
	}
	buf_init(&sql, 0);
	query_put(&sql, "SELECT 1 FROM event x WHERE x.id = " QUERY_KEY
	    QUERY_TIME);
	query_conds(q, &sql, drv);
	if ((c->one = query_prepare(db, q, &sql)) == NULL)
		return -1;
	return 0;
}

/* 1 if st finds a row for the value, 0 if not, -1 after saying why. */
static int
checks_run(sqlite3 *db, sqlite3_stmt *st, const char *qid, int64_t id)
{
	int rc;

	if (qid)
		rc = sqlite3_bind_text(st, QUERY_P_KEY, qid, -1,
		    SQLITE_TRANSIENT);
	else
		rc = sqlite3_bind_int64(st, QUERY_P_KEY, id);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	log_warnx("log.db: %s", sqlite3_errmsg(db));
	return -1;
}

/* Does the candidate (qid or id) match?  1, 0, or -1. */
static int
checks_match(sqlite3 *db, const struct query *q, struct checks *c,
    const char *qid, int64_t id)
{
	int r = 1;

	if (qid == NULL)
		return checks_run(db, c->one, NULL, id);
	for (int i = 0; i < q->nf && r == 1; i++)
		if (c->qid[i])
			r = checks_run(db, c->qid[i], qid, 0);
	return r;
}

static void
query_add(struct match **m, int *n, const char *qid, int64_t id,
    int64_t ts)
{
	*m = xreallocarray(*m, (size_t)*n + 1, sizeof(**m));
	(*m)[*n].qid = qid ? xstrdup(qid) : NULL;
	(*m)[*n].id = id;
	(*m)[*n].first = ts;
	(*n)++;
}

/* Each message's first event, to print them in the order they came. */
static int
query_first(sqlite3 *db, struct match *m, int n)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(db, "SELECT min(ts) FROM event WHERE qid = ?",
	    -1, &st, NULL);
	for (int i = 0; i < n && rc == SQLITE_OK; i++) {
		if (m[i].qid == NULL)
			continue;
		sqlite3_bind_text(st, 1, m[i].qid, -1, SQLITE_STATIC);
		if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			m[i].first = sqlite3_column_int64(st, 0);
			rc = SQLITE_OK;
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		log_warnx("log.db: %s", sqlite3_errmsg(db));
	return rc == SQLITE_OK ? 0 : -1;
}

static int
query_cmp(const void *a, const void *b)
{
	const struct match *x = a, *y = b;

	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	if (x->qid && y->qid)
		return strcmp(x->qid, y->qid);
	if (x->qid || y->qid)
		return x->qid ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Walk the driver's candidates newest first until limit + 1 match. */
static int
query_walk(sqlite3 *db, const struct query *q, struct source *s,
    struct checks *c, struct match **m, int *n)
{
	struct hmap seen;
	sqlite3_stmt *st;
	int64_t since, until;
	int k, r = 0;

	query_range(q, &since, &until);
	hmap_init(&seen);
	while ((q->limit <= 0 || *n <= q->limit) &&
	    (st = source_peek(s, &k)) != NULL) {
		const char *qid = (const char *)sqlite3_column_text(st, 1);
		int64_t id = sqlite3_column_int64(st, 0);
		int64_t ts = sqlite3_column_int64(st, 2);

		if (ts >= since && ts < until &&
		    (qid == NULL || hmap_get(&seen, qid) == NULL)) {
			if (qid)
				hmap_put(&seen, qid, &seen);
			if ((r = checks_match(db, q, c, qid, id)) == -1)
				break;
			if (r == 1)
				query_add(m, n, qid, id, ts);
		}
		if ((r = source_step(db, s, k)) == -1)
			break;
	}
	hmap_free(&seen, NULL);
	return r == -1 ? -1 : 0;
}

/*
 * The matches, oldest first, at most q->limit of them (the most recent);
 * *truncated says whether more matched.  0, or -1 after saying why.
 */
int
query_find(sqlite3 *db, const struct query *q, struct match **m, int *n,
    int *truncated)
{
	struct source s;
	struct checks c;
	int drv, r;

	*m = NULL;
	*n = *truncated = 0;
	if (query_drive(db, q, &s, &drv) == -1)
		return -1;
	r = checks_prepare(db, q, drv, &c);
	if (r == 0)
		r = query_walk(db, q, &s, &c, m, n);
	checks_free(&c);
	source_free(&s);
	if (r == 0 && q->limit > 0 && *n > q->limit) {
		*truncated = 1;
		free((*m)[--*n].qid);
	}
	if (r == 0)
		r = query_first(db, *m, *n);
	if (*n > 0)
		qsort(*m, (size_t)*n, sizeof(**m), query_cmp);
	return r;
}

static char *
query_text(sqlite3_stmt *st, int col)
{
	const char *s = (const char *)sqlite3_column_text(st, col);

	return s ? xstrdup(s) : NULL;
}

static int64_t
query_int(sqlite3_stmt *st, int col, int *has)
{
	*has = sqlite3_column_type(st, col) != SQLITE_NULL;
	return sqlite3_column_int64(st, col);
}

void
query_event(sqlite3_stmt *st, struct event *e)
{
	memset(e, 0, sizeof(*e));
	e->id = sqlite3_column_int64(st, 0);
	e->ts = sqlite3_column_int64(st, 1);
	e->qid = query_text(st, 2);
	e->action = query_text(st, 3);
	e->subaccount = query_text(st, 4);
	e->client_ip = query_text(st, 5);
	e->sender = query_text(st, 6);
	e->recipient = query_text(st, 7);
	e->message_id = query_text(st, 8);
	e->subject = query_text(st, 9);
	e->from_addr = query_text(st, 10);
	e->size = query_int(st, 11, &e->has_size);
	e->tls = query_text(st, 12);
	e->remote_host = query_text(st, 13);
	e->remote_ip = query_text(st, 14);
	e->reply_code = query_int(st, 15, &e->has_reply_code);
	e->reply_status = query_text(st, 16);
	e->reply_text = query_text(st, 17);
	e->duration_ms = query_int(st, 18, &e->has_duration);
	e->detail = query_text(st, 19);
	e->bounce_class = query_text(st, 20);
	e->tls_policy = query_text(st, 21);
	e->tls_verified = query_int(st, 22, &e->has_tls_verified);
	e->tls_note = query_text(st, 23);
	e->username = query_text(st, 24);
	if (e->action == NULL)
		e->action = xstrdup("");
}

/* Every event of the match, in the order they happened. */
int
query_events(sqlite3 *db, const struct match *m, struct message *msg)
{
	sqlite3_stmt *st;
	int rc;

	memset(msg, 0, sizeof(*msg));
	rc = sqlite3_prepare_v2(db, m->qid ? "SELECT " EVENT_COLUMNS
	    " FROM event WHERE qid = ? ORDER BY ts, id" : "SELECT "
	    EVENT_COLUMNS " FROM event WHERE id = ?", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = m->qid ? sqlite3_bind_text(st, 1, m->qid, -1,
		    SQLITE_STATIC) : sqlite3_bind_int64(st, 1, m->id);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		msg->ev = xreallocarray(msg->ev, (size_t)msg->nev + 1,
		    sizeof(*msg->ev));
		query_event(st, &msg->ev[msg->nev++]);
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_DONE)
		log_warnx("log.db: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

void
query_matches_free(struct match *m, int n)
{
	for (int i = 0; i < n; i++)
		free(m[i].qid);
	free(m);
}

void
query_event_free(struct event *e)
{
	char **s[] = { &e->qid, &e->action, &e->subaccount, &e->client_ip,
	    &e->sender, &e->recipient, &e->message_id, &e->subject,
	    &e->from_addr, &e->tls, &e->remote_host, &e->remote_ip,
	    &e->reply_status, &e->reply_text, &e->detail, &e->bounce_class,
	    &e->tls_policy, &e->tls_note, &e->username };

	for (size_t i = 0; i < nitems(s); i++)
		free(*s[i]);
}

void
query_message_free(struct message *msg)
{
	for (int i = 0; i < msg->nev; i++)
		query_event_free(&msg->ev[i]);
	free(msg->ev);
	msg->ev = NULL;
	msg->nev = 0;
}

/* Newer events matching q, oldest first; a poll of --follow. */
int
query_follow(sqlite3 *db, const struct query *q, int64_t *after,
    void (*fn)(const struct event *, void *), void *arg)
{
	sqlite3_stmt *st;
	struct event e;
	struct buf sql;
	int rc;

	buf_init(&sql, 0);
	/* :after last: a named parameter takes the next free number. */
	query_put(&sql, "SELECT " EVENT_COLUMNS " FROM event WHERE (");
	query_where(q, &sql);
	query_put(&sql, ") AND id > :after ORDER BY id LIMIT 10000");
	rc = sqlite3_prepare_v2(db, buf_cstr(&sql), -1, &st, NULL);
	buf_free(&sql);
	if (rc == SQLITE_OK && (rc = query_bind_all(st, q)) == SQLITE_OK)
		rc = sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st,
		    ":after"), *after);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		query_event(st, &e);
		*after = e.id;
		fn(&e, arg);
		query_event_free(&e);
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_DONE)
		log_warnx("log.db: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int64_t
query_max_id(sqlite3 *db)
{
	sqlite3_stmt *st;
	int64_t id = 0;

	if (sqlite3_prepare_v2(db, "SELECT max(id) FROM event", -1, &st,
	    NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return id;
}
