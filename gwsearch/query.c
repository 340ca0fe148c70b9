/*
 * query.c - filters to SQL over log.db, and the events of each match.
 *
 * A match is a message (a queue id) when some event of that message
 * satisfies each filter: the recipient through event_rcpt (every
 * recipient of every received message) or event.recipient, the sender
 * through event.sender, the Message-ID with or without its <>.  Events
 * without a queue id (a RCPT refused at the door) match on their own.
 *
 * The SQL is put together from constant fragments only; every value the
 * user typed is a bound parameter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "gwsearch.h"
#include "log.h"
#include "util.h"

/* The reply as one string: "550 5.1.1 user unknown" */
#define QUERY_REPLY "(coalesce(reply_code || ' ', '') || " \
	"coalesce(reply_status || ' ', '') || coalesce(reply_text, ''))"

/*
 * Per filter kind: which messages have it (qids), and the test on a
 * single event (cond).  @0 and @1 stand for the filter's two bound
 * parameters; query_expand() numbers them.
 */
static const struct {
	const char	*qids;
	const char	*cond;
} filter_sql[] = {
	[F_RECIPIENT] = { "SELECT qid FROM event_rcpt WHERE address = @0 "
	    "UNION SELECT qid FROM event WHERE recipient = @0 "
	    "AND qid IS NOT NULL", "recipient = @0" },
	[F_SENDER] = { "SELECT qid FROM event WHERE sender = @0 "
	    "AND qid IS NOT NULL", "sender = @0" },
	[F_SUBJECT] = { "SELECT qid FROM event WHERE subject LIKE @0 "
	    "ESCAPE '\\' AND qid IS NOT NULL", "subject LIKE @0 ESCAPE '\\'" },
	[F_MSGID] = { "SELECT qid FROM event WHERE message_id IN (@0, @1) "
	    "AND qid IS NOT NULL", "message_id IN (@0, @1)" },
	[F_STATUS] = { "SELECT qid FROM event WHERE action = @0 "
	    "AND qid IS NOT NULL", "action = @0" },
	[F_SUBACCOUNT] = { "SELECT qid FROM event WHERE subaccount = @0 "
	    "AND qid IS NOT NULL", "subaccount = @0" },
	[F_DOMAIN] = { "SELECT qid FROM event_rcpt WHERE address LIKE @0 "
	    "ESCAPE '\\' UNION SELECT qid FROM event WHERE (sender LIKE @0 "
	    "ESCAPE '\\' OR recipient LIKE @0 ESCAPE '\\' OR recipient LIKE "
	    "@1 ESCAPE '\\') AND qid IS NOT NULL",
	    "(sender LIKE @0 ESCAPE '\\' OR recipient LIKE @0 ESCAPE '\\' "
	    "OR recipient LIKE @1 ESCAPE '\\')" },
	[F_CLIENT_IP] = { "SELECT qid FROM event WHERE client_ip = @0 "
	    "AND qid IS NOT NULL", "client_ip = @0" },
	[F_RESPONSE] = { "SELECT qid FROM event WHERE " QUERY_REPLY
	    " LIKE @0 ESCAPE '\\' AND qid IS NOT NULL",
	    QUERY_REPLY " LIKE @0 ESCAPE '\\'" },
	[F_TEXT] = { "SELECT qid FROM event WHERE id IN (SELECT rowid FROM "
	    "event_fts WHERE event_fts MATCH @0) AND qid IS NOT NULL",
	    "id IN (SELECT rowid FROM event_fts WHERE event_fts MATCH @0)" },
	[F_SINCE] = { "SELECT qid FROM event WHERE ts >= @0 "
	    "AND qid IS NOT NULL", "ts >= @0" },
	[F_UNTIL] = { "SELECT qid FROM event WHERE ts < @0 "
	    "AND qid IS NOT NULL", "ts < @0" },
};

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

/* Messages having every filter, and events without a qid having all. */
static void
query_where(const struct query *q, struct buf *b)
{
	query_put(b, "(qid IS NOT NULL");
	for (int i = 0; i < q->nf; i++) {
		query_put(b, " AND qid IN (");
		query_expand(b, filter_sql[q->f[i].kind].qids, i);
		query_put(b, ")");
	}
	query_put(b, ") OR (qid IS NULL");
	for (int i = 0; i < q->nf; i++) {
		query_put(b, " AND ");
		query_expand(b, filter_sql[q->f[i].kind].cond, i);
	}
	query_put(b, ")");
}

static void
query_sql(const struct query *q, struct buf *b)
{
	query_put(b, "SELECT qid, NULL, min(ts) AS first FROM event WHERE "
	    "qid IS NOT NULL");
	for (int i = 0; i < q->nf; i++) {
		query_put(b, " AND qid IN (");
		query_expand(b, filter_sql[q->f[i].kind].qids, i);
		query_put(b, ")");
	}
	query_put(b, " GROUP BY qid UNION ALL SELECT NULL, id, ts FROM event "
	    "WHERE qid IS NULL");
	for (int i = 0; i < q->nf; i++) {
		query_put(b, " AND ");
		query_expand(b, filter_sql[q->f[i].kind].cond, i);
	}
	/* Newest first, so a limit keeps the most recent messages. */
	query_put(b, " ORDER BY first DESC, 1 DESC, 2 DESC LIMIT :limit");
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

static int
query_bind_filter(sqlite3_stmt *st, const struct filter *f, int i)
{
	char *v[2] = { NULL, NULL };
	int rc = SQLITE_OK;

	switch (f->kind) {
	case F_SINCE:
	case F_UNTIL:
		return sqlite3_bind_int64(st, 2 * i + 1, f->t);
	case F_SUBJECT:
	case F_RESPONSE:
		v[0] = query_like("%", f->val, "%");
		break;
	case F_DOMAIN:
		v[0] = query_like("%@", f->val, "");
		v[1] = query_like("%@", f->val, ",%");
		break;
	case F_MSGID:
		if (asprintf(&v[1], "<%s>", f->val) == -1)
			fatal("asprintf");
		/* FALLTHROUGH */
	default:
		v[0] = xstrdup(f->val);
	}
	for (int k = 0; k < 2 && rc == SQLITE_OK; k++)
		if (v[k])
			rc = sqlite3_bind_text(st, 2 * i + 1 + k, v[k], -1,
			    free);
	return rc;
}

static int
query_bind_all(sqlite3_stmt *st, const struct query *q)
{
	int rc = SQLITE_OK;

	for (int i = 0; i < q->nf && rc == SQLITE_OK; i++)
		rc = query_bind_filter(st, &q->f[i], i);
	return rc;
}

static void
query_add(struct match **m, int *n, sqlite3_stmt *st)
{
	const char *qid = (const char *)sqlite3_column_text(st, 0);

	*m = realloc(*m, ((size_t)*n + 1) * sizeof(**m));
	if (*m == NULL)
		fatal("realloc");
	(*m)[*n].qid = qid ? xstrdup(qid) : NULL;
	(*m)[*n].id = sqlite3_column_int64(st, 1);
	(*n)++;
}

/* Oldest first again, for printing. */
static void
query_reverse(struct match *m, int n)
{
	for (int i = 0; i < n / 2; i++) {
		struct match t = m[i];

		m[i] = m[n - 1 - i];
		m[n - 1 - i] = t;
	}
}

/*
 * The matches, oldest first, at most q->limit of them (the most recent);
 * *truncated says whether more matched.  0, or -1 after saying why.
 */
int
query_find(sqlite3 *db, const struct query *q, struct match **m, int *n,
    int *truncated)
{
	sqlite3_stmt *st;
	struct buf sql;
	int rc;

	*m = NULL;
	*n = *truncated = 0;
	buf_init(&sql, 0);
	query_sql(q, &sql);
	rc = sqlite3_prepare_v2(db, buf_cstr(&sql), -1, &st, NULL);
	buf_free(&sql);
	if (rc == SQLITE_OK && (rc = query_bind_all(st, q)) == SQLITE_OK)
		/* One more than asked, to know whether some were left out. */
		rc = sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st,
		    ":limit"), q->limit > 0 ? (int64_t)q->limit + 1 : -1);
	if (rc != SQLITE_OK) {
		log_warnx("log.db: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (q->limit > 0 && *n == q->limit) {
			*truncated = 1;
			break;
		}
		query_add(m, n, st);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		log_warnx("log.db: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	query_reverse(*m, *n);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
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
		msg->ev = realloc(msg->ev, ((size_t)msg->nev + 1) *
		    sizeof(*msg->ev));
		if (msg->ev == NULL)
			fatal("realloc");
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
	    &e->reply_status, &e->reply_text, &e->detail };

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
