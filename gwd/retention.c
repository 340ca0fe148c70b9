/*
 * retention.c - pruning log.db to log.retention_days.
 *
 * Short transactions, each its own write transaction beside the store
 * thread's, so gwd's writer never waits long for the lock.  event_fts is
 * an external-content FTS5 table: its rows must be removed with the
 * 'delete' command and the exact values they were indexed with, and only
 * for events that were indexed (store.c indexes an event only when one of
 * the six columns is set); deleting a row that was never indexed corrupts
 * the index.  event.id is AUTOINCREMENT, so pruning never lets an id
 * come back and export cursors stay valid.  Each deleted event is taken
 * out of event_tally and event_latency (tally.h) in the same
 * transaction.
 *
 * Pace (retention_run, on the checkpointer thread).  Deleting an event
 * costs 30-60 us here (its FTS terms, seven indexes, the checkpoint of
 * the pages), so keeping up with gwd at full speed (12 000 events/s)
 * takes a good part of a core.  The old pace, four batches of 500 a
 * second, was a hard ceiling of 2000 events/s, below what gwd logs
 * from ~650 msg/s: log.db grew without bound.  Now, while events older
 * than the cutoff remain, one transaction sized to take about
 * PRUNE_TXN_US follows another, each followed by a pause as long as it
 * took: the store thread gets the lock at least half of the time, and
 * never waits more than about one transaction.  Caught up, it looks
 * once a second.  Dropping whole time partitions would be cheaper but
 * would split the event table that gwsearch reads as one.
 *
 * Exposure: none; runs inside gwd on its own log.db connection.
 * Diagnostics: never dies; retention_prune() returns -1 after logging
 * why, and the next round tries again.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "retention.h"
#include "tally.h"
#include "util.h"

#define PRUNE_TXN_US	20000	/* one transaction should take this */
#define PRUNE_MIN	100	/* events a transaction, at least */
#define PRUNE_MAX	20000	/* ... and at most */
#define PRUNE_IDLE_MS	1000	/* caught up: look again after this */
#define BEHIND_US	(600 * 1000000LL)	/* past the cutoff: behind */
#define WARN_EVERY_US	(600 * 1000000LL)	/* a warning at most this often */

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
	"reply_text, qid, ts, action, subaccount, class IS 'hard', latency_ms "
	"FROM event "
	"WHERE ts < ?1 ORDER BY ts LIMIT ?2",
	"INSERT INTO event_fts (event_fts, rowid, sender, recipient, "
	"subject, message_id, from_addr, reply_text) VALUES ('delete', ?1, "
	"?2, ?3, ?4, ?5, ?6, ?7)",
	"DELETE FROM event WHERE id = ?1",
	"DELETE FROM event_rcpt WHERE qid = ?1 AND NOT EXISTS (SELECT 1 "
	"FROM event WHERE qid = ?1)",
};

enum { R_SEL, R_FTS, R_DEL, R_RCPT, R_N };

/* Delete each event the select finds, its index and recipient rows, and
 * take it out of the tally (applied before COMMIT). */
static int
retention_batch(sqlite3 *db, sqlite3_stmt **st, struct tally *t,
    int64_t cutoff, int batch)
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
		if (tally_add(t, sqlite3_column_int64(st[R_SEL], 8),
		    (const char *)sqlite3_column_text(st[R_SEL], 9),
		    (const char *)sqlite3_column_text(st[R_SEL], 10),
		    sqlite3_column_int(st[R_SEL], 11), -1) == -1 ||
		    (sqlite3_column_type(st[R_SEL], 12) != SQLITE_NULL &&
		    tally_add_latency(t, sqlite3_column_int64(st[R_SEL], 8),
		    sqlite3_column_int64(st[R_SEL], 12), -1) == -1)) {
			log_warnx("retention: out of memory");
			return -1;
		}
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
	struct tally t;
	int n = -1;

	if (tally_open(&t, db) == -1) {
		log_warnx("retention: %s", sqlite3_errmsg(db));
		return -1;
	}

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
	n = retention_batch(db, st, &t, cutoff_us, batch);
	/* Finish reading before COMMIT. */
	sqlite3_reset(st[R_SEL]);
	if (n >= 0 && (tally_flush(&t) == -1 || sqlite3_exec(db, "COMMIT",
	    NULL, NULL, NULL) != SQLITE_OK)) {
		log_warnx("retention: %s", sqlite3_errmsg(db));
		n = -1;
	}
	if (n < 0)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
done:
	for (int i = 0; i < R_N; i++)
		sqlite3_finalize(st[i]);
	tally_close(&t);
	return n;
}

/* Written by the checkpointer, read by the main thread (/metrics). */
static pthread_mutex_t	 stats_mtx = PTHREAD_MUTEX_INITIALIZER;
static int64_t		 pruned_total, oldest_us;

/* The pace, the checkpointer's alone.  A pass: the steps from the
 * first that finds old events to the one that leaves none. */
static int		 batch = 500;
static int		 behind;		/* warned, not caught up yet */
static int64_t		 warned_us, warned_total;
static int		 pass_txns;
static int64_t		 pass_pruned, pass_start_us;

void
retention_stats(int64_t *pruned, int64_t *oldest)
{
	pthread_mutex_lock(&stats_mtx);
	*pruned = pruned_total;
	*oldest = oldest_us;
	pthread_mutex_unlock(&stats_mtx);
}

/* The time of the oldest event (0: none), and the count pruned. */
static void
retention_account(sqlite3 *db, int n)
{
	sqlite3_stmt *st;
	int64_t oldest = 0;

	if (sqlite3_prepare_v2(db, "SELECT min(ts) FROM event", -1, &st,
	    NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		oldest = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	pthread_mutex_lock(&stats_mtx);
	pruned_total += n > 0 ? n : 0;
	oldest_us = oldest;
	pthread_mutex_unlock(&stats_mtx);
}

/* Size the next transaction from how long this one took for n events. */
static void
retention_resize(int n, int64_t took_us)
{
	int64_t want;

	if (n <= 0 || took_us <= 0)
		return;
	want = (int64_t)n * PRUNE_TXN_US / took_us;
	/* At most doubled or halved at a time: one slow commit (a
	 * checkpoint racing it, a cold page) must not swing it far. */
	if (want > 2 * (int64_t)batch)
		want = 2 * (int64_t)batch;
	if (want < batch / 2)
		want = batch / 2;
	batch = want < PRUNE_MIN ? PRUNE_MIN : want > PRUNE_MAX ? PRUNE_MAX :
	    (int)want;
}

/* Say so when the oldest event is well past the cutoff, and when that
 * is over; with the pace since the last word. */
static void
retention_report(int64_t cutoff_us, int64_t now)
{
	int64_t pruned, oldest, lag;
	char rate[80] = "";

	retention_stats(&pruned, &oldest);
	lag = oldest ? cutoff_us - oldest : 0;
	if (behind && now > warned_us)
		snprintf(rate, sizeof(rate), "; %lld events/s pruned since "
		    "the last report", (long long)((pruned - warned_total) *
		    1000000 / (now - warned_us)));
	if (lag > BEHIND_US && (!behind || now - warned_us >= WARN_EVERY_US)) {
		log_warnx("log.db: retention is behind: the oldest event is "
		    "%lld s past log.retention_days%s", (long long)(lag /
		    1000000), rate);
		behind = 1;
	} else if (behind && lag <= 0) {
		log_info("log.db: retention caught up%s", rate);
		behind = 0;
	} else
		return;
	warned_us = now;
	warned_total = pruned;
}

int64_t
retention_run(sqlite3 *db, int days)
{
	int64_t now = now_us(), cutoff = now - (int64_t)days * 86400LL *
	    1000000LL, took;
	int n, want = batch;

	n = retention_prune(db, cutoff, want);
	took = now_us() - now;
	retention_account(db, n);
	retention_report(cutoff, now_us());
	if (n > 0) {
		if (pass_txns++ == 0)
			pass_start_us = now;
		pass_pruned += n;
	}
	if (n < want) {		/* caught up (or failed: logged) */
		/* One transaction a second is the steady state: say more
		 * only of a pass that had a backlog to work through. */
		if (pass_txns > 1)
			log_debug("log.db: retention pass: %lld events in %d "
			    "transactions, %lld ms", (long long)pass_pruned,
			    pass_txns, (long long)((now_us() - pass_start_us) /
			    1000));
		pass_txns = 0;
		pass_pruned = 0;
		return PRUNE_IDLE_MS;
	}
	retention_resize(n, took);
	/* As long a pause as the transaction took: the store thread's
	 * commits get the lock in between. */
	return took / 1000 + 1;
}
