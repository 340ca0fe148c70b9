/*
 * store_read.c - the main thread's reads of queue.db (store.h): the
 * queue at start-up; bodies and Message-IDs when they are wanted.  On
 * its own read-only connection: the store thread writes meanwhile (WAL).
 * Exposure: reads gwd's own spool; nothing from the network.
 * Diagnostics: a read queue.db refuses is an error return with SQLite's
 * reason.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "store.h"
#include "util.h"

static sqlite3		*rdb;
static sqlite3_stmt	*st_body, *st_mid, *st_rcpts;
static int		 ld_empty;	/* removed: no recipients left */

/* One recipient row, until its message is made. */
struct rrow {
	int64_t	 dbid, next_attempt;
	int	 attempts;
	char	*addr, *reply;
};
static struct rrow	*rows;
static size_t		 nrows_max;

#define MSG_COLS "id, qid, subaccount, sender, received, size, flags, held"

int
store_read_open(const char *state_dir, char *err, size_t errsz)
{
	if ((rdb = db_open(state_dir, DB_QUEUE, DB_RDONLY, err, errsz)) ==
	    NULL)
		return -1;
	st_body = db_prepare(rdb, "SELECT body FROM message WHERE id = ?");
	st_mid = db_prepare(rdb, "SELECT message_id FROM message WHERE id = ?");
	st_rcpts = db_prepare(rdb, "SELECT id, address, attempts,"
	    " next_attempt, last_reply FROM recipient WHERE message = ?"
	    " ORDER BY id");
	return 0;
}

void
store_read_close(void)
{
	sqlite3_finalize(st_body);
	sqlite3_finalize(st_mid);
	sqlite3_finalize(st_rcpts);
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

		if (n == nrows_max) {
			nrows_max = nrows_max ? nrows_max * 2 : 16;
			rows = xreallocarray(rows, nrows_max, sizeof(*rows));
		}
		rows[n].dbid = sqlite3_column_int64(st_rcpts, 0);
		rows[n].addr = xstrdup(text(st_rcpts, 1));
		rows[n].attempts = sqlite3_column_int(st_rcpts, 2);
		rows[n].next_attempt = sqlite3_column_int64(st_rcpts, 3);
		rows[n].reply = lr ? xstrdup(lr) : NULL;
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
	 * longer applies. */
	held = sqlite3_column_int(st, 7);
	m->held = held == 1;
	m->released = held == 2;
	for (size_t i = 0; i < n; i++) {
		struct qrcpt *r = &m->rcpt[i];

		r->dbid = rows[i].dbid;
		qmsg_set_rcpt(m, (int)i, rows[i].addr);
		r->attempts = rows[i].attempts;
		r->next_attempt = rows[i].next_attempt;
		qrcpt_set_reply(r, rows[i].reply);
	}
	rows_free(n);
	*out = m;
	return 1;
}

/*
 * At start-up, before the store thread has work: every message with its
 * pending recipients.  Messages left without recipients are removed.
 */
int
store_load_queue(void (*cb)(struct qmsg *, void *), void *arg, char *err,
    size_t errsz)
{
	sqlite3_stmt *sm;
	struct qmsg *m;
	int rc, nmsg = 0, nrcpt = 0;

	sm = db_prepare(rdb, "SELECT " MSG_COLS " FROM message ORDER BY id");
	while ((rc = sqlite3_step(sm)) == SQLITE_ROW) {
		if (read_message(sm, &m) == -1) {
			rc = SQLITE_ERROR;
			break;
		}
		if (m == NULL)
			continue;
		nmsg++;
		nrcpt += m->nrcpt;
		cb(m, arg);
	}
	if (rc != SQLITE_DONE) {
		snprintf(err, errsz, "queue.db: %s", sqlite3_errmsg(rdb));
		sqlite3_finalize(sm);
		return -1;
	}
	sqlite3_finalize(sm);
	free(rows);
	rows = NULL;
	nrows_max = 0;
	log_info("queue loaded: messages=%d recipients=%d removed_empty=%d",
	    nmsg, nrcpt, ld_empty);
	return 0;
}
