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

/* A filter: which messages have it, and the test on a single event. */
struct filter {
	const char	*qids;		/* SELECT qid ... */
	const char	*cond;		/* on an event row */
};

static const struct filter f_recipient = {
	"SELECT qid FROM event_rcpt WHERE address = :rcpt "
	"UNION SELECT qid FROM event WHERE recipient = :rcpt "
	"AND qid IS NOT NULL",
	"recipient = :rcpt",
};
static const struct filter f_sender = {
	"SELECT qid FROM event WHERE sender = :sender AND qid IS NOT NULL",
	"sender = :sender",
};
static const struct filter f_msgid = {
	"SELECT qid FROM event WHERE message_id IN (:mid, :midb) "
	"AND qid IS NOT NULL",
	"message_id IN (:mid, :midb)",
};

static void
query_put(struct buf *b, const char *s)
{
	if (buf_puts(b, s) == -1)
		fatalx("query too long");
}

static void
query_sql(const struct query *q, struct buf *b)
{
	const struct filter *f[3];
	int n = 0;

	if (q->recipient)
		f[n++] = &f_recipient;
	if (q->sender)
		f[n++] = &f_sender;
	if (q->message_id)
		f[n++] = &f_msgid;
	query_put(b, "SELECT qid, NULL, min(ts) AS first FROM event WHERE "
	    "qid IS NOT NULL");
	for (int i = 0; i < n; i++) {
		query_put(b, " AND qid IN (");
		query_put(b, f[i]->qids);
		query_put(b, ")");
	}
	query_put(b, " GROUP BY qid UNION ALL SELECT NULL, id, ts FROM event "
	    "WHERE qid IS NULL");
	for (int i = 0; i < n; i++) {
		query_put(b, " AND ");
		query_put(b, f[i]->cond);
	}
	/* Newest first, so a limit keeps the most recent messages. */
	query_put(b, " ORDER BY first DESC, 1 DESC, 2 DESC LIMIT :limit");
}

static int
query_bind(sqlite3_stmt *st, const char *name, const char *val)
{
	int i = sqlite3_bind_parameter_index(st, name);

	if (i == 0)
		return SQLITE_OK;	/* that filter is not in this query */
	return sqlite3_bind_text(st, i, val, -1, SQLITE_TRANSIENT);
}

static int
query_bind_all(sqlite3_stmt *st, const struct query *q)
{
	char midb[1024];
	int rc;

	if (q->message_id)
		snprintf(midb, sizeof(midb), "<%s>", q->message_id);
	if ((rc = query_bind(st, ":rcpt", q->recipient)) != SQLITE_OK ||
	    (rc = query_bind(st, ":sender", q->sender)) != SQLITE_OK ||
	    (rc = query_bind(st, ":mid", q->message_id)) != SQLITE_OK ||
	    (q->message_id &&
	    (rc = query_bind(st, ":midb", midb)) != SQLITE_OK))
		return rc;
	/* One more than asked, to know whether some were left out. */
	return sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st,
	    ":limit"), q->limit > 0 ? (int64_t)q->limit + 1 : -1);
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
	if (rc != SQLITE_OK || (rc = query_bind_all(st, q)) != SQLITE_OK) {
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

static void
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

#define EVENT_COLUMNS \
	"id, ts, qid, action, subaccount, client_ip, sender, recipient, " \
	"message_id, subject, from_addr, size, tls, remote_host, remote_ip, " \
	"reply_code, reply_status, reply_text, duration_ms, detail"

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

static void
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
