/*
 * api_get.c - GET /v1/messages/ID of the send API (api.h): one
 * message's events from log.db, as gwsearch's jsonl names them (ECS
 * where a name exists, gw.* otherwise), for the key's own subaccount
 * only: a message another subaccount sent is a 404 like one that never
 * was.
 * The lookup runs on a thread of its own with a read-only connection to
 * log.db (WAL: it never waits for the store thread, nor the store for
 * it), so gwd's loop never waits for the disk.
 * Exposure: the queue id is checked by api.c (16 hex digits) and bound
 * as a parameter; what is written out is escaped by json.c.
 * Diagnostics: a log.db that cannot be opened or read is a 503 and a
 * warning in the log.
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "api_priv.h"
#include "db.h"
#include "gwd.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "worker.h"

#define GET_QUEUE_MAX	256	/* lookups waiting, then 503 */
#define GET_EVENTS_MAX	1000	/* events listed, the first ones */

struct get_job {
	struct work	 w;
	char		*sub;
	char		 qid[QID_LEN + 1];
	void		(*done)(void *, unsigned, char *);
	void		*arg;
	unsigned	 status;
	char		*body;
	char		 err[200];	/* why a 503, for the log */
};

static struct worker_pool *pool;
static char		*state_dir;
/* The pool's one thread's, only. */
static sqlite3		*logdb;

static const char *
col(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

/* Does the message exist, sent by j->sub?  1, 0, or -1 on error. */
static int
owned(struct get_job *j)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(logdb, "SELECT 1 FROM event WHERE qid = ?1 "
	    "AND action = 'received' AND subaccount = ?2 LIMIT 1", -1, &st,
	    NULL) != SQLITE_OK)
		return -1;
	db_bind_text(st, 1, j->qid);
	db_bind_text(st, 2, j->sub);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static void
one_event(struct buf *b, sqlite3_stmt *st)
{
	struct json_obj o;
	char t[40];

	fmt_rfc3339(sqlite3_column_int64(st, 1), t, sizeof(t));
	json_obj_begin(&o, b);
	json_obj_str(&o, "@timestamp", t);
	json_obj_str(&o, "event.action", col(st, 2));
	json_obj_str(&o, "email.to.address", col(st, 3));
	json_obj_str(&o, "destination.domain", col(st, 7));
	json_obj_str(&o, "destination.ip", col(st, 8));
	json_obj_int(&o, "gw.event_id", sqlite3_column_int64(st, 0));
	if (sqlite3_column_type(st, 4) != SQLITE_NULL)
		json_obj_int(&o, "gw.smtp.code", sqlite3_column_int(st, 4));
	json_obj_str(&o, "gw.smtp.status", col(st, 5));
	json_obj_str(&o, "gw.smtp.text", col(st, 6));
	json_obj_str(&o, "gw.bounce_class", col(st, 10));
	json_obj_str(&o, "gw.detail", col(st, 9));
	json_obj_end(&o);
}

/* {"id": QID, "events": [...]}, oldest first; -1 on error. */
static int
events(struct get_job *j, struct buf *b)
{
	sqlite3_stmt *st;
	int rc, n = 0;

	if (sqlite3_prepare_v2(logdb, "SELECT id, ts, action, recipient, "
	    "reply_code, reply_status, reply_text, remote_host, remote_ip, "
	    "detail, class FROM event WHERE qid = ?1 ORDER BY id LIMIT ?2",
	    -1, &st, NULL) != SQLITE_OK)
		return -1;
	db_bind_text(st, 1, j->qid);
	sqlite3_bind_int(st, 2, GET_EVENTS_MAX);
	buf_puts(b, "{\"id\":");
	json_string(b, j->qid);
	buf_puts(b, ",\"events\":[");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n++)
			buf_putc(b, ',');
		one_event(b, st);
	}
	sqlite3_finalize(st);
	buf_puts(b, "]}\n");
	return rc == SQLITE_DONE ? 0 : -1;
}

static void
get_run(struct work *w)
{
	struct get_job *j = (struct get_job *)w;
	struct buf b;
	int r;

	if (logdb == NULL && (logdb = db_open(state_dir, DB_LOG, DB_RDONLY,
	    j->err, sizeof(j->err))) == NULL) {
		j->status = 503;
		return;
	}
	sqlite3_busy_timeout(logdb, 2000);
	if ((r = owned(j)) != 1) {
		j->status = r == 0 ? 404 : 503;
		if (r == -1)
			gw_strlcpy(j->err, sqlite3_errmsg(logdb),
			    sizeof(j->err));
		return;
	}
	buf_init(&b, 0);
	if (events(j, &b) == -1) {
		gw_strlcpy(j->err, sqlite3_errmsg(logdb), sizeof(j->err));
		buf_free(&b);
		j->status = 503;
		return;
	}
	j->status = 200;
	j->body = buf_steal(&b, NULL);
}

static void
get_done(struct work *w)
{
	struct get_job *j = (struct get_job *)w;

	if (j->status == 404)
		j->body = api_problem(404, "no-such-message", "no message of "
		    "this subaccount has this id", NULL);
	else if (j->status == 503) {
		log_warnx("api: log.db lookup of %s: %s", j->qid, j->err);
		j->body = api_problem(503, "busy", "the audit log cannot be "
		    "read now", NULL);
	}
	j->done(j->arg, j->status, j->body);
	free(j->sub);
	free(j);
}

int
api_get_start(const char *sub, const char *qid,
    void (*done)(void *, unsigned, char *), void *arg)
{
	struct get_job *j;

	if (pool == NULL) {
		pool = worker_pool_new(1, GET_QUEUE_MAX);
		state_dir = xstrdup(gcfg->state_dir);
	}
	j = xcalloc(1, sizeof(*j));
	j->sub = xstrdup(sub);
	gw_strlcpy(j->qid, qid, sizeof(j->qid));
	j->done = done;
	j->arg = arg;
	j->w.run = get_run;
	j->w.done = get_done;
	if (worker_pool_submit(pool, &j->w) == -1) {
		free(j->sub);
		free(j);
		return -1;
	}
	return 0;
}
