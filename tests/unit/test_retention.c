// sources: gwd/retention.c
/*
 * test_retention.c - retention_prune() against a real log.db made by
 * db_open(): old events go in batches with their full-text rows (the
 * index stays consistent), event_rcpt rows go with the last event of
 * their message, and ids are never reused; retention_run() paces the
 * batches and counts them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "db.h"
#include "retention.h"

#define OLD	1100
#define NEW	150
#define CUTOFF	((int64_t)1000000000 * 1000000)

/* As store.c does: the FTS row only when a searchable column is set. */
static void
add(sqlite3 *db, int64_t ts, const char *qid, const char *subject)
{
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO event (ts, qid, "
	    "action, subject) VALUES (?, ?, 'received', ?)", -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_int64(st, 1, ts);
	sqlite3_bind_text(st, 2, qid, -1, SQLITE_TRANSIENT);
	if (subject)
		sqlite3_bind_text(st, 3, subject, -1, SQLITE_TRANSIENT);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	if (subject == NULL)
		return;
	assert_int_equal(sqlite3_exec(db, "INSERT INTO event_fts (rowid, "
	    "subject) SELECT id, subject FROM event WHERE id = "
	    "last_insert_rowid()", NULL, NULL, NULL), SQLITE_OK);
}

static void
rcpt(sqlite3 *db, const char *qid)
{
	char sql[200];

	snprintf(sql, sizeof(sql), "INSERT INTO event_rcpt VALUES ('%s', "
	    "'r@example.net')", qid);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
}

/* A fresh log.db in a new directory (its name left in dir). */
static sqlite3 *
open_log(char *dir)
{
	char err[512];
	sqlite3 *db;

	assert_non_null(mkdtemp(dir));
	db = db_open(dir, DB_LOG, DB_NOSYNC, err, sizeof(err));
	assert_non_null(db);
	return db;
}

static void
close_log(sqlite3 *db, const char *dir)
{
	char cmd[600];

	db_close(db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_prune(void **state)
{
	char dir[] = "/tmp/gw-retention-XXXXXX", qid[32], subj[64];
	sqlite3 *db = open_log(dir);
	int64_t maxid;

	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	for (int i = 0; i < OLD; i++) {
		snprintf(qid, sizeof(qid), "OLD%d", i);
		snprintf(subj, sizeof(subj), "ancient%d report", i);
		/* Every third event has nothing to index. */
		add(db, CUTOFF - 1000000 - i, qid, i % 3 ? subj : NULL);
		rcpt(db, qid);
	}
	/* A message with an old and a new event keeps its recipients. */
	add(db, CUTOFF - 1, "MIXED", "mixed old");
	add(db, CUTOFF + 1, "MIXED", "mixed new");
	rcpt(db, "MIXED");
	for (int i = 0; i < NEW; i++) {
		snprintf(qid, sizeof(qid), "NEW%d", i);
		add(db, CUTOFF + 1000000 + i, qid, "fresh report");
		rcpt(db, qid);
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	maxid = db_int(db, "SELECT max(id) FROM event");

	assert_int_equal(retention_prune(db, CUTOFF, 500), 500);
	assert_int_equal(retention_prune(db, CUTOFF, 500), 500);
	assert_int_equal(retention_prune(db, CUTOFF, 500), OLD + 1 - 1000);
	assert_int_equal(retention_prune(db, CUTOFF, 500), 0);

	assert_int_equal(db_int(db, "SELECT count(*) FROM event"), NEW + 1);
	assert_int_equal(db_int(db, "SELECT count(*) FROM event WHERE ts < "
	    "1000000000000000"), 0);
	/* The index agrees with the table, and old words are gone. */
	assert_int_equal(sqlite3_exec(db, "INSERT INTO event_fts (event_fts) "
	    "VALUES ('integrity-check')", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(db_int(db, "SELECT count(*) FROM event_fts WHERE "
	    "event_fts MATCH 'report'"), NEW);
	assert_int_equal(db_int(db, "SELECT count(*) FROM event_fts WHERE "
	    "event_fts MATCH 'mixed'"), 1);
	assert_int_equal(db_int(db, "SELECT count(*) FROM event_fts WHERE "
	    "event_fts MATCH 'ancient5*'"), 0);
	assert_int_equal(db_int(db, "SELECT count(*) FROM event_rcpt"),
	    NEW + 1);
	assert_int_equal(db_int(db, "SELECT count(*) FROM event_rcpt WHERE "
	    "qid = 'MIXED'"), 1);
	/* AUTOINCREMENT: a new event never takes a pruned id. */
	add(db, CUTOFF + 5, "LATE", NULL);
	assert_true(db_int(db, "SELECT max(id) FROM event") == maxid + 1);

	close_log(db, dir);
}

/* retention_run(): step after step until nothing older is left, then a
 * second's rest; the counters follow. */
static void
test_run(void **state)
{
	char dir[] = "/tmp/gw-retention-XXXXXX", qid[32];
	int64_t now = (int64_t)time(NULL) * 1000000, pruned, oldest, wait = 0;
	sqlite3 *db = open_log(dir);
	int steps;

	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	for (int i = 0; i < 3000; i++) {
		snprintf(qid, sizeof(qid), "OLD%d", i / 3);
		add(db, now - 3 * 86400000000LL - i, qid, "stale words");
	}
	add(db, now - 60000000, "NEW", "fresh words");
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);

	for (steps = 0; steps < 1000 && (wait = retention_run(db, 2)) < 1000;
	    steps++)
		assert_true(wait >= 1);		/* a pause between steps */
	assert_int_equal(wait, 1000);
	assert_true(steps >= 1);
	assert_int_equal(db_int(db, "SELECT count(*) FROM event"), 1);
	retention_stats(&pruned, &oldest);
	assert_int_equal(pruned, 3000);
	assert_true(oldest == now - 60000000);
	assert_int_equal(sqlite3_exec(db, "INSERT INTO event_fts (event_fts) "
	    "VALUES ('integrity-check')", NULL, NULL, NULL), SQLITE_OK);
	/* Caught up: the next look finds nothing and rests again. */
	assert_int_equal(retention_run(db, 2), 1000);
	retention_stats(&pruned, &oldest);
	assert_int_equal(pruned, 3000);

	close_log(db, dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prune),
		cmocka_unit_test(test_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
