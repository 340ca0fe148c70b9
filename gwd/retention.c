/*
 * retention.c - pruning log.db to log.retention_days.
 *
 * Small batches, each its own short write transaction, so gwd's writer
 * never waits long for the lock.  event_fts is an external-content FTS5
 * table: its rows must be removed with the 'delete' command and the
 * exact values they were indexed with, and only for events that were
 * indexed (store.c indexes an event only when one of the six columns is
 * set); deleting a row that was never indexed corrupts the index.
 * event.id is AUTOINCREMENT, so pruning never lets an id come back and
 * export cursors stay valid.
 *
 * Exposure: none; runs inside gwd on its own log.db connection.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "retention.h"
#include "util.h"

static int
retention_step(sqlite3 *db, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_warnx("retention: %s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

/* The FTS 'delete' of event row `sel` (columns 1..6 of it), if indexed. */
static int
retention_unindex(sqlite3 *db, sqlite3_stmt *sel, sqlite3_stmt *del)
{
	int any = 0;

	for (int c = 1; c <= 6; c++)
		if (sqlite3_column_type(sel, c) != SQLITE_NULL)
			any = 1;
	if (!any)
		return 0;
	sqlite3_bind_int64(del, 1, sqlite3_column_int64(sel, 0));
	for (int c = 1; c <= 6; c++)
		sqlite3_bind_value(del, c + 1, sqlite3_column_value(sel, c));
	return retention_step(db, del);
}

static const char *const retention_sql[] = {
	"SELECT id, sender, recipient, subject, message_id, from_addr, "
	"reply_text, qid FROM event WHERE ts < ?1 ORDER BY ts LIMIT ?2",
	"INSERT INTO event_fts (event_fts, rowid, sender, recipient, "
	"subject, message_id, from_addr, reply_text) VALUES ('delete', ?1, "
	"?2, ?3, ?4, ?5, ?6, ?7)",
	"DELETE FROM event WHERE id = ?1",
	"DELETE FROM event_rcpt WHERE qid = ?1 AND NOT EXISTS (SELECT 1 "
	"FROM event WHERE qid = ?1)",
};

enum { R_SEL, R_FTS, R_DEL, R_RCPT, R_N };

static int
retention_batch(sqlite3 *db, sqlite3_stmt **st, int64_t cutoff, int batch)
{
	int n = 0, rc;

	sqlite3_bind_int64(st[R_SEL], 1, cutoff);
	sqlite3_bind_int(st[R_SEL], 2, batch);
	while ((rc = sqlite3_step(st[R_SEL])) == SQLITE_ROW) {
		if (retention_unindex(db, st[R_SEL], st[R_FTS]) == -1)
			return -1;
		sqlite3_bind_int64(st[R_DEL], 1, sqlite3_column_int64(st[R_SEL],
		    0));
		if (retention_step(db, st[R_DEL]) == -1)
			return -1;
		if (sqlite3_column_type(st[R_SEL], 7) != SQLITE_NULL) {
			sqlite3_bind_value(st[R_RCPT], 1,
			    sqlite3_column_value(st[R_SEL], 7));
			if (retention_step(db, st[R_RCPT]) == -1)
				return -1;
		}
		n++;
	}
	if (rc != SQLITE_DONE) {
		log_warnx("retention: %s", sqlite3_errmsg(db));
		return -1;
	}
	return n;
}

int
retention_prune(sqlite3 *db, int64_t cutoff_us, int batch)
{
	sqlite3_stmt *st[R_N] = { NULL };
	int n = -1;

	for (int i = 0; i < R_N; i++)
		if (sqlite3_prepare_v2(db, retention_sql[i], -1, &st[i], NULL) !=
		    SQLITE_OK) {
			log_warnx("retention: %s", sqlite3_errmsg(db));
			goto done;
		}
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		log_warnx("retention: %s", sqlite3_errmsg(db));
		goto done;
	}
	n = retention_batch(db, st, cutoff_us, batch);
	/* Finish reading before COMMIT. */
	sqlite3_reset(st[R_SEL]);
	if (n >= 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		log_warnx("retention: %s", sqlite3_errmsg(db));
		n = -1;
	}
	if (n < 0)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
done:
	for (int i = 0; i < R_N; i++)
		sqlite3_finalize(st[i]);
	return n;
}
