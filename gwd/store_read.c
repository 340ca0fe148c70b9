/*
 * store_read.c - the main thread's reads of queue.db (store.h): the
 * queue at start-up, a slice at a time while gwd already works; one
 * message by queue id; bodies and Message-IDs when they are wanted.  On
 * its own read-only connection: the store thread writes meanwhile (WAL),
 * and each read is a short transaction of its own.
 * Exposure: reads gwd's own spool; nothing from the network.
 * Diagnostics: a read queue.db refuses is an error return with SQLite's
 * reason; the caller decides (queue.c tries again).
 *
 * Start-up reads messages in arrival order (received, then id) through
 * the index message_queue, which holds every column it needs, so the
 * bodies stored beside them are never read; it reads only messages that
 * were there when it began (those accepted since are queued by
 * queue_add()), and remembers the last one it handed over: a message by
 * queue id (store_load_qid) is only read if the slices have not reached
 * it, so none is handed over twice.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "store.h"
#include "store_read.h"
#include "util.h"

static sqlite3		*rdb;
static sqlite3_stmt	*st_body, *st_mid, *st_msgs, *st_rcpts, *st_qid,
			*st_prefix;

/* The start-up read: messages with id <= ld_max, after the cursor. */
static int64_t		 ld_max, ld_received, ld_id;
static int		 ld_empty;	/* removed: no recipients left */

/* One recipient row, until its message is made. */
struct rrow {
	int64_t	 dbid, next_attempt;
	int	 attempts, dsn_notify;
	char	*addr, *reply, *dsn_orcpt;
};
static struct rrow	*rows;
static size_t		 nrows_max;

#define MSG_COLS "id, qid, subaccount, sender, received, size, flags," \
	" held, dsn_ret, dsn_envid"

int
store_read_open(const char *state_dir, char *err, size_t errsz)
{
	if ((rdb = db_open(state_dir, DB_QUEUE, DB_RDONLY, err, errsz)) ==
	    NULL)
		return -1;
	st_body = db_prepare(rdb, "SELECT body FROM message WHERE id = ?");
	st_mid = db_prepare(rdb, "SELECT message_id FROM message WHERE id = ?");
	st_prefix = db_prepare(rdb, "SELECT prefix FROM recipient WHERE id = ?");
	st_rcpts = db_prepare(rdb, "SELECT id, address, attempts,"
	    " next_attempt, last_reply, dsn_notify, dsn_orcpt FROM recipient"
	    " WHERE message = ? ORDER BY id");
	st_msgs = db_prepare(rdb, "SELECT " MSG_COLS " FROM message"
	    " INDEXED BY message_queue WHERE id <= ?1 AND (received, id) >"
	    " (?2, ?3) ORDER BY received, id LIMIT ?4");
	st_qid = db_prepare(rdb, "SELECT " MSG_COLS " FROM message"
	    " WHERE qid = ?1 AND id <= ?2 AND (received, id) > (?3, ?4)");
	return 0;
}

void
store_read_close(void)
{
	sqlite3_finalize(st_body);
	sqlite3_finalize(st_mid);
	sqlite3_finalize(st_prefix);
	sqlite3_finalize(st_rcpts);
	sqlite3_finalize(st_msgs);
	sqlite3_finalize(st_qid);
	db_close(rdb);
	rdb = NULL;
	free(rows);
	rows = NULL;
	nrows_max = 0;
}

int
store_load_body(struct qmsg *m)
{
	const void *p;
	int n;

	sqlite3_bind_int64(st_body, 1, m->dbid);
	if (sqlite3_step(st_body) != SQLITE_ROW) {
		sqlite3_reset(st_body);
		return -1;
	}
	p = sqlite3_column_blob(st_body, 0);
	n = sqlite3_column_bytes(st_body, 0);
	m->body = xmalloc((size_t)n + 1);
	if (n > 0)
		memcpy(m->body, p, (size_t)n);
	m->bodylen = (size_t)n;
	sqlite3_reset(st_body);
	return 0;
}

int
store_load_prefix(const struct qrcpt *r, char **p, size_t *len)
{
	const void *v;
	int n;

	*p = NULL;
	*len = 0;
	sqlite3_bind_int64(st_prefix, 1, r->dbid);
	if (sqlite3_step(st_prefix) != SQLITE_ROW) {
		sqlite3_reset(st_prefix);
		return -1;
	}
	v = sqlite3_column_blob(st_prefix, 0);
	if ((n = sqlite3_column_bytes(st_prefix, 0)) > 0 && v != NULL) {
		*p = xmalloc((size_t)n);
		memcpy(*p, v, (size_t)n);
		*len = (size_t)n;
	}
	sqlite3_reset(st_prefix);
	return 0;
}

char *
store_message_id(const struct qmsg *m)
{
	const char *v;
	char *mid = NULL;

	if (m->message_id)
		return xstrdup(m->message_id);
	sqlite3_bind_int64(st_mid, 1, m->dbid);
	if (sqlite3_step(st_mid) == SQLITE_ROW &&
	    (v = (const char *)sqlite3_column_text(st_mid, 0)) != NULL)
		mid = xstrdup(v);
	sqlite3_reset(st_mid);
	return mid;
}

static const char *
text(sqlite3_stmt *st, int i)
{
	const char *v = (const char *)sqlite3_column_text(st, i);

	return v ? v : "";
}

static void
rows_free(size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(rows[i].addr);
		free(rows[i].reply);
		free(rows[i].dsn_orcpt);
	}
}

/*
 * The message of st's row with its recipients: 1 and *out; 0 when it
 * has none left (a crash between its last delivery and its delete): it
 * is removed; -1 when queue.db refused.
 */
static int
read_message(sqlite3_stmt *st, struct qmsg **out)
{
	struct store_op *op;
	struct qmsg *m;
	size_t n = 0;
	int rc, held;

	*out = NULL;
	sqlite3_bind_int64(st_rcpts, 1, sqlite3_column_int64(st, 0));
	while ((rc = sqlite3_step(st_rcpts)) == SQLITE_ROW) {
		const char *lr = (const char *)sqlite3_column_text(st_rcpts, 4);
		const char *orcpt = (const char *)
		    sqlite3_column_text(st_rcpts, 6);

		if (n == nrows_max) {
			nrows_max = nrows_max ? nrows_max * 2 : 16;
			rows = xreallocarray(rows, nrows_max, sizeof(*rows));
		}
		rows[n].dbid = sqlite3_column_int64(st_rcpts, 0);
		rows[n].addr = xstrdup(text(st_rcpts, 1));
		rows[n].attempts = sqlite3_column_int(st_rcpts, 2);
		rows[n].next_attempt = sqlite3_column_int64(st_rcpts, 3);
		rows[n].reply = lr ? xstrdup(lr) : NULL;
		rows[n].dsn_notify = sqlite3_column_int(st_rcpts, 5);
		rows[n].dsn_orcpt = orcpt ? xstrdup(orcpt) : NULL;
		n++;
	}
	sqlite3_reset(st_rcpts);
	if (rc != SQLITE_DONE) {
		rows_free(n);
		return -1;
	}
	if (n == 0) {
		op = store_op_new();
		op->del_msg = sqlite3_column_int64(st, 0);
		store_submit(op);
		ld_empty++;
		return 0;
	}
	m = qmsg_new(text(st, 3), text(st, 2), (int)n);
	m->dbid = sqlite3_column_int64(st, 0);
	gw_strlcpy(m->qid, text(st, 1), sizeof(m->qid));
	m->received_us = sqlite3_column_int64(st, 4);
	m->size = (size_t)sqlite3_column_int64(st, 5);
	m->flags = sqlite3_column_int(st, 6);
	/* 1: on hold; 2: released by an admin, so a routing rule's hold no
	 * longer applies; 3: quarantined by a content policy. */
	held = sqlite3_column_int(st, 7);
	m->held = held == 1 || held == QMSG_QUARANTINED ? (unsigned char)held :
	    0;
	m->released = held == 2;
	m->dsn_ret = sqlite3_column_int(st, 8);
	if (sqlite3_column_type(st, 9) != SQLITE_NULL)
		m->dsn_envid = xstrdup(text(st, 9));
	for (size_t i = 0; i < n; i++) {
		struct qrcpt *r = &m->rcpt[i];

		r->dbid = rows[i].dbid;
		qmsg_set_rcpt(m, (int)i, rows[i].addr);
		r->attempts = rows[i].attempts;
		r->next_attempt = rows[i].next_attempt;
		qrcpt_set_reply(r, rows[i].reply);
		r->dsn_notify = rows[i].dsn_notify;
		r->dsn_orcpt = rows[i].dsn_orcpt;	/* m's now */
		rows[i].dsn_orcpt = NULL;
	}
	rows_free(n);
	*out = m;
	return 1;
}

int
store_load_begin(int64_t *count, char *err, size_t errsz)
{
	sqlite3_stmt *st;
	int rc;

	/* One statement, so both from the same moment. */
	st = db_prepare(rdb, "SELECT count(*), coalesce(max(id), 0)"
	    " FROM message");
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*count = sqlite3_column_int64(st, 0);
		ld_max = sqlite3_column_int64(st, 1);
	} else
		snprintf(err, errsz, "queue.db: %s", sqlite3_errmsg(rdb));
	sqlite3_finalize(st);
	ld_received = INT64_MIN;
	ld_id = 0;
	ld_empty = 0;
	return rc == SQLITE_ROW ? 0 : -1;
}

int
store_load_next(void (*cb)(struct qmsg *, void *), void *arg, int max,
    int *consumed, char *err, size_t errsz)
{
	struct qmsg *m;
	int rc;

	*consumed = 0;
	sqlite3_bind_int64(st_msgs, 1, ld_max);
	sqlite3_bind_int64(st_msgs, 2, ld_received);
	sqlite3_bind_int64(st_msgs, 3, ld_id);
	sqlite3_bind_int(st_msgs, 4, max);
	while ((rc = sqlite3_step(st_msgs)) == SQLITE_ROW) {
		if (read_message(st_msgs, &m) == -1) {
			rc = SQLITE_ERROR;
			break;
		}
		/* Past it: handed over (or removed), never again. */
		ld_id = sqlite3_column_int64(st_msgs, 0);
		ld_received = sqlite3_column_int64(st_msgs, 4);
		(*consumed)++;
		if (m)
			cb(m, arg);
	}
	if (rc != SQLITE_DONE) {
		snprintf(err, errsz, "queue.db: %s", sqlite3_errmsg(rdb));
		sqlite3_reset(st_msgs);
		return -1;
	}
	sqlite3_reset(st_msgs);
	return *consumed == max ? 1 : 0;
}

struct qmsg *
store_load_qid(const char *qid)
{
	struct qmsg *m = NULL;

	sqlite3_bind_text(st_qid, 1, qid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st_qid, 2, ld_max);
	sqlite3_bind_int64(st_qid, 3, ld_received);
	sqlite3_bind_int64(st_qid, 4, ld_id);
	if (sqlite3_step(st_qid) == SQLITE_ROW &&
	    read_message(st_qid, &m) == -1)
		log_warnx("qid=%s: queue.db: %s", qid, sqlite3_errmsg(rdb));
	sqlite3_reset(st_qid);
	return m;
}

int
store_load_end(void)
{
	free(rows);
	rows = NULL;
	nrows_max = 0;
	return ld_empty;
}
