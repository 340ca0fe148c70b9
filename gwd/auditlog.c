/*
 * auditlog.c - one audit event into log.db (see auditlog.h).
 *
 * Only events with something worth searching (addresses, subject,
 * Message-ID, the remote reply) get a full-text row; retention.c
 * relies on exactly this rule when it removes rows from the index.
 */
#include <stdio.h>

#include "auditlog.h"
#include "db.h"
#include "log.h"

void
auditlog_open(struct auditlog *a, sqlite3 *ldb)
{
	a->db = ldb;
	a->ins_ev = db_prepare(ldb, "INSERT INTO event (ts, qid, action,"
	    " subaccount, client_ip, sender, recipient, message_id, subject,"
	    " from_addr, size, tls, remote_host, remote_ip, reply_code,"
	    " reply_status, reply_text, duration_ms, detail, class,"
	    " tls_policy, tls_verified, tls_note, username) VALUES"
	    " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
	    " ?, ?, ?, ?)");
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
}

void
auditlog_close(struct auditlog *a)
{
	sqlite3_finalize(a->ins_ev);
	sqlite3_finalize(a->ins_fts);
	sqlite3_finalize(a->ins_rcpt);
	a->ins_ev = a->ins_fts = a->ins_rcpt = NULL;
}

int
auditlog_write(struct auditlog *a, const struct audit_event *ev)
{
	sqlite3_stmt *s = a->ins_ev;
	int64_t id;

	sqlite3_bind_int64(s, 1, ev->ts);
	db_bind_text(s, 2, ev->qid);
	sqlite3_bind_text(s, 3, ev->action, -1, SQLITE_STATIC);
	db_bind_text(s, 4, ev->subaccount);
	db_bind_text(s, 5, ev->client_ip);
	db_bind_text(s, 6, ev->sender);
	db_bind_text(s, 7, ev->recipient);
	db_bind_text(s, 8, ev->message_id);
	db_bind_text(s, 9, ev->subject);
	db_bind_text(s, 10, ev->from_addr);
	db_bind_int_or_null(s, 11, ev->size, -1);
	db_bind_text(s, 12, ev->tls);
	db_bind_text(s, 13, ev->remote_host);
	db_bind_text(s, 14, ev->remote_ip);
	db_bind_int_or_null(s, 15, ev->reply_code, 0);
	db_bind_text(s, 16, ev->reply_status);
	db_bind_text(s, 17, ev->reply_text);
	db_bind_int_or_null(s, 18, ev->duration_ms, -1);
	db_bind_text(s, 19, ev->detail);
	db_bind_text(s, 20, ev->bounce_class);
	db_bind_text(s, 21, ev->tls_policy);
	db_bind_int_or_null(s, 22, ev->tls_verified, -1);
	db_bind_text(s, 23, ev->tls_note);
	db_bind_text(s, 24, ev->username);
	if (db_step_done(s) == -1)
		return -1;
	id = sqlite3_last_insert_rowid(a->db);
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
auditlog_maintain(sqlite3 *ldb, int pages)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "INSERT INTO event_fts (event_fts, rank) "
	    "VALUES ('merge', %d);", pages);
	return sqlite3_exec(ldb, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}
