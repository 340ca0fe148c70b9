/*
 * auditlog.c - one audit event into log.db (see auditlog.h).
 *
 * Only events with something worth searching (addresses, subject,
 * Message-ID, the remote reply) get a full-text row; retention.c
 * relies on exactly this rule when it removes rows from the index.
 * Events come with the id the outbox gave them (outbox.h).  Each one
 * written is counted for event_tally (common/tally.h), applied by
 * auditlog_flush() once per transaction.  A delivered event gets its
 * latency from its message's received event (found in the reception
 * index, written earlier in the same or an older transaction), in
 * latency_ms and event_latency.
 * Exposure: none; writes events gwd made (untrusted text in them is data
 * for bound parameters), on the store thread's log.db connection.
 * Diagnostics: auditlog_open() dies (fatalx) when log.db's statements or
 * index settings cannot be set up, at start-up; auditlog_write() and
 * auditlog_maintain() return -1 with the reason in SQLite's errmsg.
 */
#include <stdio.h>
#include <string.h>

#include "auditlog.h"
#include "db.h"
#include "log.h"

void
auditlog_open(struct auditlog *a, sqlite3 *ldb)
{
	a->db = ldb;
	a->ins_ev = db_prepare(ldb, "INSERT INTO event (id, " AUDIT_COLUMNS
	    ", latency_ms) VALUES (?, " AUDIT_PARAMS ", ?)");
	a->received = db_prepare(ldb, "SELECT ts FROM event WHERE qid = ?1 "
	    "AND action = 'received' ORDER BY ts LIMIT 1");
	a->last_id = db_prepare(ldb, "SELECT max(ifnull((SELECT seq FROM "
	    "sqlite_sequence WHERE name = 'event'), 0), ifnull((SELECT "
	    "max(id) FROM event), 0))");
	a->get = db_prepare(ldb, "SELECT ts = ?2 AND action = ?3 AND qid IS ?4"
	    " FROM event WHERE id = ?1");
	a->ins_fts = db_prepare(ldb, "INSERT INTO event_fts (rowid, sender,"
	    " recipient, subject, message_id, from_addr, reply_text)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?)");
	a->ins_rcpt = db_prepare(ldb, "INSERT INTO event_rcpt (qid, address)"
	    " VALUES (?, ?)");
	/* Stored in the index's config table: set once here, then every
	 * auditlog_maintain() folds a level as soon as it holds two. */
	if (sqlite3_exec(ldb, "INSERT INTO event_fts (event_fts, rank) "
	    "VALUES ('usermerge', 2)", NULL, NULL, NULL) != SQLITE_OK)
		fatalx("log.db: usermerge: %s", sqlite3_errmsg(ldb));
	if (tally_open(&a->tally, ldb) == -1)
		fatalx("log.db: event_tally: %s", sqlite3_errmsg(ldb));
}

void
auditlog_close(struct auditlog *a)
{
	sqlite3_finalize(a->ins_ev);
	sqlite3_finalize(a->ins_fts);
	sqlite3_finalize(a->ins_rcpt);
	sqlite3_finalize(a->last_id);
	sqlite3_finalize(a->get);
	sqlite3_finalize(a->received);
	a->ins_ev = a->ins_fts = a->ins_rcpt = a->last_id = a->get = NULL;
	a->received = NULL;
	tally_close(&a->tally);
}

/* One row of one integer from st (reset after), or -1. */
static int64_t
step_int(sqlite3_stmt *st)
{
	int64_t v = -1;

	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return v;
}

int64_t
auditlog_last_id(struct auditlog *a)
{
	return step_int(a->last_id);
}

int
auditlog_has(struct auditlog *a, const struct audit_event *ev)
{
	sqlite3_bind_int64(a->get, 1, ev->id);
	sqlite3_bind_int64(a->get, 2, ev->ts);
	sqlite3_bind_text(a->get, 3, ev->action, -1, SQLITE_STATIC);
	db_bind_text(a->get, 4, ev->qid);
	return step_int(a->get) == 1;
}

void
audit_bind(sqlite3_stmt *s, int i, const struct audit_event *ev)
{
	sqlite3_bind_int64(s, i, ev->ts);
	db_bind_text(s, i + 1, ev->qid);
	sqlite3_bind_text(s, i + 2, ev->action, -1, SQLITE_STATIC);
	db_bind_text(s, i + 3, ev->subaccount);
	db_bind_text(s, i + 4, ev->client_ip);
	db_bind_text(s, i + 5, ev->sender);
	db_bind_text(s, i + 6, ev->recipient);
	db_bind_text(s, i + 7, ev->message_id);
	db_bind_text(s, i + 8, ev->subject);
	db_bind_text(s, i + 9, ev->from_addr);
	db_bind_int_or_null(s, i + 10, ev->size, -1);
	db_bind_text(s, i + 11, ev->tls);
	db_bind_text(s, i + 12, ev->remote_host);
	db_bind_text(s, i + 13, ev->remote_ip);
	db_bind_int_or_null(s, i + 14, ev->reply_code, 0);
	db_bind_text(s, i + 15, ev->reply_status);
	db_bind_text(s, i + 16, ev->reply_text);
	db_bind_int_or_null(s, i + 17, ev->duration_ms, -1);
	db_bind_text(s, i + 18, ev->detail);
	db_bind_text(s, i + 19, ev->bounce_class);
	db_bind_text(s, i + 20, ev->tls_policy);
	db_bind_int_or_null(s, i + 21, ev->tls_verified, -1);
	db_bind_text(s, i + 22, ev->tls_note);
	db_bind_text(s, i + 23, ev->username);
}

/* A delivery's latency in *ms: 1, or 0 when ev is no delivery or its
 * message has no received event. */
static int
latency(struct auditlog *a, const struct audit_event *ev, int64_t *ms)
{
	int64_t r;

	if (ev->qid == NULL || strcmp(ev->action, "delivered") != 0)
		return 0;
	sqlite3_bind_text(a->received, 1, ev->qid, -1, SQLITE_STATIC);
	if ((r = step_int(a->received)) < 0)	/* no row; ts is >= 0 */
		return 0;
	*ms = (ev->ts - r) / 1000;
	return 1;
}

int
auditlog_write(struct auditlog *a, const struct audit_event *ev)
{
	sqlite3_stmt *s = a->ins_ev;
	int64_t id, ms = 0;
	int lat = latency(a, ev, &ms);

	db_bind_int_or_null(s, 1, ev->id, 0);
	audit_bind(s, 2, ev);
	if (lat)
		sqlite3_bind_int64(s, 2 + AUDIT_NCOLUMNS, ms);
	else
		sqlite3_bind_null(s, 2 + AUDIT_NCOLUMNS);
	if (db_step_done(s) == -1)
		return -1;
	id = sqlite3_last_insert_rowid(a->db);
	if (tally_add(&a->tally, ev->ts, ev->action, ev->subaccount,
	    ev->bounce_class && strcmp(ev->bounce_class, "hard") == 0, 1) ==
	    -1 || (lat && tally_add_latency(&a->tally, ev->ts, ms, 1) ==
	    -1))
		return -1;
	if (ev->sender || ev->recipient || ev->subject || ev->message_id ||
	    ev->from_addr || ev->reply_text) {
		sqlite3_bind_int64(a->ins_fts, 1, id);
		db_bind_text(a->ins_fts, 2, ev->sender);
		db_bind_text(a->ins_fts, 3, ev->recipient);
		db_bind_text(a->ins_fts, 4, ev->subject);
		db_bind_text(a->ins_fts, 5, ev->message_id);
		db_bind_text(a->ins_fts, 6, ev->from_addr);
		db_bind_text(a->ins_fts, 7, ev->reply_text);
		if (db_step_done(a->ins_fts) == -1)
			return -1;
	}
	for (int i = 0; i < ev->nrcpts; i++) {
		db_bind_text(a->ins_rcpt, 1, ev->qid);
		db_bind_text(a->ins_rcpt, 2, ev->rcpts[i]);
		if (db_step_done(a->ins_rcpt) == -1)
			return -1;
	}
	return 0;
}

int
auditlog_flush(struct auditlog *a)
{
	return tally_flush(&a->tally);
}

void
auditlog_forget(struct auditlog *a)
{
	tally_clear(&a->tally);
}

int
auditlog_maintain(sqlite3 *ldb, int pages)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "INSERT INTO event_fts (event_fts, rank) "
	    "VALUES ('merge', %d);", pages);
	return sqlite3_exec(ldb, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}
