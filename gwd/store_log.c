/*
 * store_log.c - log.db's side of the store, and the disk.
 *
 * The store thread copies each batch's events from queue.db's outbox
 * into log.db (store_log_move(), in id order, renumbering them if
 * another program took their ids).  log.db is not synced per commit:
 * the checkpointer thread, on connections of its own, checkpoints both
 * databases every CKPT_MS, syncs log.db's WAL and publishes how far the
 * events it holds are durable (store_log_synced()), which the next
 * batch acknowledges in the outbox.  It also merges the full-text index
 * and prunes old events.  store_space_short() says whether the disk has
 * room for a message.
 * Exposure: writes gwd's own events; no network input is parsed.
 * Diagnostics: a log.db open that fails is an error return at start-up;
 * a log.db write that fails is logged (once a minute) and its events
 * wait in the outbox; checkpoint, merge and sync failures are debug
 * lines (the next tick tries again).
 */
#include <sys/statvfs.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "auditlog.h"
#include "db.h"
#include "log.h"
#include "retention.h"
#include "store_priv.h"
#include "util.h"

#define MOVE_MAX	2000	/* events per log.db transaction */

static sqlite3		*ldb;		/* the store thread's */
static struct auditlog	 alog;		/* the store thread's log.db writer */

/*
 * How far the outbox's events reached in log.db: written (by the store
 * thread, after each log.db commit) and synced (by the checkpointer).
 */
static _Atomic int64_t	 log_moved, log_synced;
static int64_t		 log_failing_since;	/* 0: writes work */
static int64_t		 log_warned;

struct move {
	int64_t	 seen;		/* log.db's last id as the move began */
	int64_t	 stale;		/* an id log.db gave to another event */
};

/* One event into log.db, unless it is there already (moved before a
 * crash, the outbox not told). */
static int
move_one(const struct audit_event *ev, void *arg)
{
	struct move *mv = arg;

	if (ev->id > mv->seen)
		return auditlog_write(&alog, ev);
	if (auditlog_has(&alog, ev))
		return 0;
	mv->stale = ev->id;
	return -1;
}

/* Ids from `from` on are taken in log.db: renumber them above floor. */
static int
renumber(int64_t from, int64_t floor)
{
	if (store_exec(store_qdb, "BEGIN") == -1 ||
	    outbox_renumber(&store_obx, from, floor) == -1 ||
	    store_exec(store_qdb, "COMMIT") == -1) {
		store_exec(store_qdb, "ROLLBACK");
		return -1;
	}
	log_warnx("store: log.db has event ids up to %lld already (another "
	    "program wrote there, or queue.db is new): new events go on "
	    "above", (long long)floor);
	return 0;
}

/* Say that log.db refuses events, now and then while it does. */
static void
log_trouble(const char *why)
{
	int64_t now = now_us();

	if (log_failing_since == 0)
		log_failing_since = now;
	if (now - log_warned < WARN_EVERY_US)
		return;
	log_warned = now;
	log_warnx("store: log.db: %s; events wait in queue.db's outbox", why);
}

/*
 * Copy the outbox's new events into log.db, in id order, at most
 * `rounds` transactions of MOVE_MAX.  On failure they stay in the
 * outbox and the next batch tries again from the same id.
 */
void
store_log_move(int rounds)
{
	int64_t last = atomic_load(&log_moved);
	struct move mv;
	int n = MOVE_MAX, renumbered = 0;

	/* IMMEDIATE: no other writer between reading log.db's last id and
	 * writing above it. */
	for (int i = 0; i < rounds && n == MOVE_MAX; i++) {
		mv.stale = 0;
		if (store_exec(ldb, "BEGIN IMMEDIATE") == -1 ||
		    (mv.seen = auditlog_last_id(&alog)) < 0 ||
		    (n = outbox_read(&store_obx, OUTBOX_LOG, last, MOVE_MAX,
		    move_one, &mv, &last)) == -1 ||
		    auditlog_flush(&alog) == -1 ||
		    store_exec(ldb, "COMMIT") == -1) {
			char why[200];

			snprintf(why, sizeof(why), "%s", sqlite3_errcode(ldb) !=
			    SQLITE_OK ? sqlite3_errmsg(ldb) :
			    sqlite3_errmsg(store_qdb));
			store_exec(ldb, "ROLLBACK");
			auditlog_forget(&alog);
			last = atomic_load(&log_moved);
			if (mv.stale && !renumbered++ &&
			    renumber(mv.stale, mv.seen) == 0) {
				n = MOVE_MAX;
				i--;
				continue;
			}
			log_trouble(why);
			return;
		}
		atomic_store(&log_moved, last);
	}
	if (log_failing_since) {
		log_info("store: log.db takes events again (refused for %llds)",
		    (long long)((now_us() - log_failing_since) / 1000000));
		log_failing_since = log_warned = 0;
	}
}

static sqlite3		*ckq, *ckl;	/* the checkpointer's connections */
static pthread_t	 ckthread;
static pthread_mutex_t	 ckmtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 ckcond = PTHREAD_COND_INITIALIZER;
static int		 ckstop;

/*
 * The checkpointer: a PASSIVE checkpoint of both databases every
 * CKPT_MS, on connections of its own; it also merges the full-text
 * index's segments and prunes old events (log.retention_days, at the
 * pace retention_run() sets, in between).  It copies committed pages
 * into the main files while the store thread keeps appending to the
 * WAL; the WAL restarts from the top once a checkpoint has caught up.
 */
#define CKPT_MS		200
#define MERGE_PAGES	200	/* FTS merge work per tick */

/*
 * Sync db's WAL (fsync of the file, as a commit under synchronous=FULL
 * would): every transaction committed before is durable.  0 or -1.
 */
static int
wal_sync(sqlite3 *db)
{
	sqlite3_file *f = NULL;

	if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER,
	    &f) != SQLITE_OK || f == NULL || f->pMethods == NULL)
		return -1;
	return f->pMethods->xSync(f, SQLITE_SYNC_NORMAL) == SQLITE_OK ? 0 :
	    -1;
}

/*
 * The outbox may forget what log.db holds durably: sync log.db's WAL
 * (on the checkpointer's connection: the same file), then publish how
 * far the events moved before the sync reached.
 */
static void
sync_log(sqlite3 *db)
{
	int64_t moved = atomic_load(&log_moved);

	if (moved <= atomic_load(&log_synced))
		return;
	if (wal_sync(db) == -1) {
		log_debug("log.db sync failed");
		return;
	}
	atomic_store(&log_synced, moved);
}

static void
checkpoint_tick(void)
{
	if (sqlite3_wal_checkpoint_v2(ckq, NULL, SQLITE_CHECKPOINT_PASSIVE,
	    NULL, NULL) != SQLITE_OK)
		log_debug("queue.db checkpoint: %s", sqlite3_errmsg(ckq));
	if (sqlite3_wal_checkpoint_v2(ckl, NULL, SQLITE_CHECKPOINT_PASSIVE,
	    NULL, NULL) != SQLITE_OK)
		log_debug("log.db checkpoint: %s", sqlite3_errmsg(ckl));
	/* Keep the full-text index in few segments, a little at a time so
	 * the log.db lock is never held for long. */
	if (auditlog_maintain(ckl, MERGE_PAGES) == -1)
		log_debug("log.db merge: %s", sqlite3_errmsg(ckl));
	sync_log(ckl);
}

static void *
checkpointer(void *arg)
{
	struct timespec ts;
	int64_t now, next_ckpt = 0, next_prune = 0, wait;

	thread_name("gwd-checkpoint");
	pthread_mutex_lock(&ckmtx);
	while (!ckstop) {
		pthread_mutex_unlock(&ckmtx);
		if ((now = now_us() / 1000) >= next_ckpt) {
			checkpoint_tick();
			next_ckpt = now + CKPT_MS;
		}
		if ((now = now_us() / 1000) >= next_prune)
			next_prune = now + retention_run(ckl,
			    gcfg->log.retention_days);
		wait = (next_prune < next_ckpt ? next_prune : next_ckpt) -
		    now_us() / 1000;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += wait > 0 ? wait / 1000 : 0;
		ts.tv_nsec += wait > 0 ? (wait % 1000) * 1000000L : 0;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&ckmtx);
		if (wait > 0 && !ckstop)
			pthread_cond_timedwait(&ckcond, &ckmtx, &ts);
	}
	pthread_mutex_unlock(&ckmtx);
	return NULL;
}

/*
 * The store thread waiting for log.db's lock (held by a prune step):
 * look every millisecond, not after SQLite's default sleeps (which
 * grow to 100 ms and may wake after the pruner has taken the lock
 * again), so the commit goes in as soon as the step is done.  5 s at
 * most, as before.
 */
static int
store_busy(void *arg, int tries)
{
	if (tries >= 5000)
		return 0;
	usleep(1000);
	return 1;
}

#define SPACE_CHECK_MS	100	/* statvfs at most this often */

int
store_space_short(uint64_t size)
{
	static int64_t checked = -SPACE_CHECK_MS;
	static uint64_t avail, blocks, bavail;
	struct statvfs sv;
	int64_t now = mono_ms();

	if (now - checked >= SPACE_CHECK_MS) {
		checked = now;
		if (statvfs(gcfg->state_dir, &sv) == -1)
			return 0;	/* the commits will say what is wrong */
		avail = (uint64_t)sv.f_bavail * sv.f_frsize;
		blocks = sv.f_blocks;
		bavail = sv.f_bavail;
	}
	/* Postfix's rule (queue_minfree): room for 1.5 times the message
	 * beyond the reserve. */
	return avail < (uint64_t)gcfg->metrics_min_free + size / 2 * 3 ||
	    bavail * 100 < blocks;
}

int64_t
store_log_synced(void)
{
	return atomic_load(&log_synced);
}

/*
 * After a full move (start-up, the end): sync log.db's WAL and publish
 * every event moved as synced.  -1 when log.db refuses events, nothing
 * moved beyond `acked`, or the sync fails.
 */
int
store_log_sync_all(int64_t acked)
{
	if (log_failing_since || atomic_load(&log_moved) <= acked ||
	    wal_sync(ldb) == -1)
		return -1;
	atomic_store(&log_synced, atomic_load(&log_moved));
	return 0;
}

/* log.db for the store thread, and both databases for the checkpointer. */
int
store_log_open(const char *state_dir, char *err, size_t errsz)
{
	if ((ldb = db_open(state_dir, DB_LOG, DB_NOSYNC, err, errsz)) == NULL)
		return -1;
	/* No checkpoint in the commit path (see store_init()). */
	sqlite3_wal_autocheckpoint(ldb, 0);
	sqlite3_busy_handler(ldb, store_busy, NULL);
	if ((ckq = db_open(state_dir, DB_QUEUE, 0, err, errsz)) == NULL ||
	    (ckl = db_open(state_dir, DB_LOG, DB_NOSYNC, err, errsz)) == NULL)
		return -1;
	/* Pruning commits on ckl: their checkpoints are the tick's, not a
	 * stall inside a prune step that the pacing would count. */
	sqlite3_wal_autocheckpoint(ckl, 0);
	auditlog_open(&alog, ldb);
	return 0;
}

int
store_log_start(void)
{
	return pthread_create(&ckthread, NULL, checkpointer, NULL) == 0 ? 0 :
	    -1;
}

void
store_log_stop(void)
{
	pthread_mutex_lock(&ckmtx);
	ckstop = 1;
	pthread_cond_signal(&ckcond);
	pthread_mutex_unlock(&ckmtx);
	pthread_join(ckthread, NULL);
	db_close(ckq);
	db_close(ckl);
}

void
store_log_close(void)
{
	auditlog_close(&alog);
	db_close(ldb);
}
