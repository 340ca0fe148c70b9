/*
 * store.c - the store thread: group commit of queue.db and log.db.
 *
 * Why one thread: SQLite serialises writers anyway, and a single writer
 * lets many sessions' messages share one fsync.  While one batch is being
 * synced the next accumulates, so under load batches grow by themselves
 * and the fsync cost per message falls.
 *
 * A batch's events go into queue.db's outbox in the batch's own
 * transaction (outbox.h), so the one fsync makes the change and its
 * events durable together; then they are copied into log.db, which is
 * not synced per commit (synchronous=NORMAL).  The checkpointer syncs
 * log.db's WAL now and then and publishes how far that reached; the
 * next batch acknowledges that far in the outbox.  Until then the
 * outbox holds the durable copy, and start-up moves whatever is left.
 *
 * A transaction takes at most BATCH_MAX ops: the rest wait for the
 * next one.  Without the cap a store that falls behind (a deep queue
 * drained fast) builds one ever larger transaction: the WAL grows by
 * gigabytes and every outcome in it waits for the one fsync.  Whatever
 * is delivered but not recorded yet would be delivered again after a
 * crash, so deliveries also wait (store_deliveries_allowed()) while
 * more than queue.store_backlog ops are handed over and not recorded,
 * until the backlog is down to half that.
 *
 * Its parts (store_priv.h): store_op.c builds the ops, store_apply.c
 * writes one into queue.db, store_salvage.c sorts out a batch queue.db
 * refused, store_log.c moves the events into log.db and runs the
 * checkpointer.  This file is the thread: the queues in and out,
 * batching, the commit, retries and the completions.
 *
 * Test hooks, compiled in and inert unless set: GW_TEST_ABORT_AT=POINT
 * or POINT:ACTION makes gwd kill itself (SIGKILL, as kill -9 would) at
 * POINT of the first batch holding an event of ACTION (any, without):
 *   after-queue-commit  queue.db committed, log.db not yet written
 *   after-log-commit    log.db written, the outbox not acknowledged
 * GW_TEST_COMMIT_DELAY=MS sleeps that long before each queue.db commit
 * (a slow disk); GW_TEST_BATCH_MAX=N caps a transaction at N ops.
 *
 * Exposure: writes what sessions accepted; no network input is parsed.
 * Diagnostics: dies only when memory runs out or a statement fixed at
 * build fails to prepare at start-up; a queue.db commit that fails is
 * rolled back and every op in it comes back failed (the session answers
 * 451); a log.db failure is logged (once a minute) and its events wait
 * in the outbox.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdatomic.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive.h"
#include "auditlog.h"
#include "db.h"
#include "event.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "outbox.h"
#include "store_priv.h"
#include "util.h"

static pthread_t	 thread;
static pthread_mutex_t	 mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 cond = PTHREAD_COND_INITIALIZER;
static struct store_op	*inq, **inq_tail = &inq;	/* to the thread */
static struct store_op	*outq, **outq_tail = &outq;	/* back to main */
static int		 stopping, stopped, backlog;
static struct loop_waker waker;

sqlite3			*store_qdb;	/* the thread's */
struct outbox		 store_obx;	/* the thread's, on store_qdb */

/* How far log.db's events are acknowledged in the outbox (store thread
 * only; store_log.c says how far they are synced). */
static int64_t		 log_acked;

/*
 * A commit queue.db refuses (the disk is full, or failing) is tried
 * again until it lands: what it records has happened (in memory, and
 * for a delivery at the remote end), so memory and disk must not stay
 * apart.  Meanwhile `blocked` holds new deliveries back (their outcomes
 * could not be recorded either) and MAIL is answered 452; `resumed`
 * tells the main thread to restart them.
 */
static _Atomic int	 blocked;
static _Atomic uint64_t	 commit_failures;
static int		 resumed;		/* under mtx */
static int		 draining;		/* main thread: stopping */
static void		(*resume_fn)(void);	/* main thread */

#define RETRY_MIN_MS	100
#define RETRY_MAX_MS	1000

#define BATCH_MAX	1000	/* ops per queue.db transaction */
#define MOVE_ROUNDS	4	/* transactions per batch, at most */

/* GW_TEST_ABORT_AT (see the top). */
enum kill_point { KP_NONE, KP_QUEUE_COMMIT, KP_LOG_COMMIT };
static enum kill_point	 kill_at;
static char		 kill_action[32];
static int		 commit_delay_ms;	/* GW_TEST_COMMIT_DELAY */
static int		 batch_max = BATCH_MAX;	/* GW_TEST_BATCH_MAX */
static _Atomic int	 batch_most;	/* the most ops one batch took */

/*
 * Deliveries wait while the backlog is above queue.store_backlog
 * (set by store_submit()), until it is down to half (cleared by the
 * store thread, which then sets `resumed`).
 */
static _Atomic int	 behind;
static _Atomic uint64_t	 behind_count;


void
store_submit(struct store_op *op)
{
	op->next = NULL;
	pthread_mutex_lock(&mtx);
	*inq_tail = op;
	inq_tail = &op->next;
	if (++backlog > gcfg->queue.store_backlog && !atomic_load(&behind)) {
		atomic_store(&behind, 1);
		atomic_fetch_add(&behind_count, 1);
	}
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&mtx);
}

void
store_event(struct audit_event *ev)
{
	struct store_op *op = store_op_new();

	op->events = ev;
	op->events_tail = &ev->next;
	store_submit(op);
}

int
store_backlog(void)
{
	int n;

	pthread_mutex_lock(&mtx);
	n = backlog;
	pthread_mutex_unlock(&mtx);
	return n;
}

/*
 * BEGIN, COMMIT, ROLLBACK on queue.db and log.db, each prepared once
 * (db.h).  The statements are the store's connections' (the store
 * thread's, or the main thread's before it starts and after it ends,
 * never both at once).
 */
static struct db_exec_cache	 exec_cache;

int
store_exec(sqlite3 *db, const char *sql)
{
	return db_exec_cached(&exec_cache, db, sql);
}

static void
test_kill_point(enum kill_point kp, const struct store_op *batch)
{
	if (kill_at != kp)
		return;
	for (const struct store_op *op = batch; op; op = op->next)
		for (struct audit_event *ev = op->events; ev; ev = ev->next)
			if (kill_action[0] == '\0' ||
			    strcmp(ev->action, kill_action) == 0) {
				log_warnx("GW_TEST_ABORT_AT: killing gwd");
				raise(SIGKILL);
			}
}

/* The queue part of every op, and its events into the outbox. */
static int
apply_batch(struct store_op *batch)
{
	for (struct store_op *op = batch; op; op = op->next) {
		if (store_apply(op) == -1)
			return -1;
		for (struct audit_event *ev = op->events; ev; ev = ev->next)
			if (outbox_put(&store_obx, ev) == -1)
				return -1;
	}
	return 0;
}

/*
 * One queue.db transaction for the batch, which also acknowledges what
 * log.db has synced.  SQLITE_OK, or the error (rolled back; err says
 * what failed).
 */
int
store_try_commit(struct store_op *batch, char *err, size_t errsz)
{
	int64_t synced = store_log_synced(), t0 = mono_us();
	int rc;

	if (commit_delay_ms > 0)
		usleep((useconds_t)commit_delay_ms * 1000);
	if (store_exec(store_qdb, "BEGIN") == -1 || apply_batch(batch) == -1 ||
	    (synced > log_acked && outbox_ack(&store_obx, OUTBOX_LOG, synced) ==
	    -1) || archive_ack() == -1 || store_exec(store_qdb, "COMMIT") ==
	    -1) {
		rc = sqlite3_extended_errcode(store_qdb);
		snprintf(err, errsz, "queue.db: %s", sqlite3_errmsg(store_qdb));
		store_exec(store_qdb, "ROLLBACK");
		return rc == SQLITE_OK ? SQLITE_ERROR : rc;
	}
	metrics_observe(GM_HIST_COMMIT, mono_us() - t0);
	if (synced > log_acked)
		log_acked = synced;
	archive_acked();
	for (const struct store_op *op = batch; op; op = op->next)
		if (op->archive && op->archive->store) {
			archive_kick();
			break;
		}
	test_kill_point(KP_QUEUE_COMMIT, batch);
	return SQLITE_OK;
}


/* Ops queue.db refused that must be recorded: tried again first, after
 * retry_ms.  Store thread only. */
static struct oplist	 retry = { NULL, &retry.head, 0 };
static int		 retry_ms;
static int64_t		 blocked_warned;


/*
 * Commit a batch.  Committed and refused ops go to *done; those that
 * must be recorded but could not be now, to *again (in order).
 */
static void
commit_batch(struct store_op *batch, struct oplist *done,
    struct oplist *again, int *made)
{
	struct store_op *op, *next;
	char err[160];
	int rc;

	if ((rc = store_try_commit(batch, err, sizeof(err))) == SQLITE_OK) {
		for (op = batch; op; op = next) {
			next = op->next;
			oplist_add(done, op);
		}
		return;
	}
	atomic_fetch_add(&commit_failures, 1);
	store_salvage(batch, rc, err, done, again, made);
	if (again->head == NULL)
		log_warnx("store: %s; new mail refused", err);
	else if (!atomic_load(&blocked) ||
	    now_us() - blocked_warned >= WARN_EVERY_US) {
		blocked_warned = now_us();
		log_warnx("store: %s; %d changes wait to be recorded, no "
		    "delivery starts meanwhile", err, again->n);
	}
	store_cap_again(again, done);
}

/*
 * Wait for work (mtx held): new ops, or while changes wait to be
 * recorded again, the time to retry them (new ops wait with them, to
 * spare a failing disk).  Returns 0 to stop.
 */
static int
wait_work(void)
{
	struct timespec ts;

	if (retry.head != NULL && !stopping) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += retry_ms / 1000;
		ts.tv_nsec += (long)(retry_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!stopping && pthread_cond_timedwait(&cond, &mtx, &ts) !=
		    ETIMEDOUT)
			;
	}
	while (inq == NULL && retry.head == NULL && !stopping)
		pthread_cond_wait(&cond, &mtx);
	return !(stopping && inq == NULL && retry.head == NULL);
}

/* Move new ops to *l (mtx held) while it has fewer than batch_max. */
static void
take_new(struct oplist *l)
{
	struct store_op *op;

	while (l->n < batch_max && (op = inq) != NULL) {
		inq = op->next;
		oplist_add(l, op);
	}
	if (inq == NULL)
		inq_tail = &inq;
}

/*
 * Take what waits (mtx held): the ops to record again first (all of
 * them: no delivery starts while they wait, so they are few), then new
 * ones up to batch_max.
 */
static struct oplist
take_batch(void)
{
	struct oplist batch = retry;

	if (batch.head == NULL)
		batch.tail = &batch.head;
	oplist_init(&retry);
	take_new(&batch);
	return batch;
}

/* Give up what still waits: gwd stops and the disk still refuses. */
static void
give_up(struct oplist *again, struct oplist *done)
{
	struct store_op *op, *next;

	if (again->head == NULL)
		return;
	log_warnx("store: stopping with %d changes not recorded (deliveries "
	    "among them may be made again after a restart)", again->n);
	for (op = again->head; op; op = next) {
		next = op->next;
		op->failed = 1;
		snprintf(op->error, sizeof(op->error), "not recorded: gwd "
		    "stopped");
		oplist_add(done, op);
	}
	oplist_init(again);
}

static void *
store_main(void *arg)
{
	struct oplist done, again, batch;
	int made, last_try, was, low;

	thread_name("gwd-store");
	for (;;) {
		pthread_mutex_lock(&mtx);
		if (!wait_work()) {
			stopped = 1;
			pthread_mutex_unlock(&mtx);
			loop_wakeup(&waker);
			return NULL;
		}
		last_try = stopping;
		batch = take_batch();
		pthread_mutex_unlock(&mtx);

		if (gcfg->queue.commit_window_us > 0 && !atomic_load(&blocked) &&
		    batch.n < batch_max) {
			usleep((useconds_t)gcfg->queue.commit_window_us);
			/* Late arrivals during the window join this batch. */
			pthread_mutex_lock(&mtx);
			take_new(&batch);
			pthread_mutex_unlock(&mtx);
		}

		if (batch.n > atomic_load(&batch_most))
			atomic_store(&batch_most, batch.n);
		oplist_init(&done);
		oplist_init(&again);
		made = 0;
		commit_batch(batch.head, &done, &again, &made);
		if (done.n > 0) {
			store_log_move(MOVE_ROUNDS);
			test_kill_point(KP_LOG_COMMIT, done.head);
		}
		if (last_try)
			give_up(&again, &done);

		pthread_mutex_lock(&mtx);
		backlog += made - done.n;
		*outq_tail = done.head;
		if (done.head)
			outq_tail = done.tail;
		retry = again;
		if (retry.head == NULL)
			retry.tail = &retry.head;
		was = atomic_load(&blocked);
		atomic_store(&blocked, retry.head != NULL);
		if (retry.head != NULL)
			retry_ms = was ? (retry_ms * 2 > RETRY_MAX_MS ?
			    RETRY_MAX_MS : retry_ms * 2) : RETRY_MIN_MS;
		else if (was) {
			resumed = 1;
			log_info("store: queue.db takes changes again");
		}
		low = gcfg->queue.store_backlog / 2;
		if (atomic_load(&behind) && backlog <= low) {
			atomic_store(&behind, 0);
			resumed = 1;
		}
		pthread_mutex_unlock(&mtx);
		loop_wakeup(&waker);
	}
}

/* Main thread: run the completions of committed ops. */
static void
store_completed(void *arg)
{
	struct store_op *list, *op, *next;
	int kick;

	pthread_mutex_lock(&mtx);
	list = outq;
	outq = NULL;
	outq_tail = &outq;
	kick = resumed;
	resumed = 0;
	pthread_mutex_unlock(&mtx);
	if (kick && !draining && resume_fn)
		resume_fn();
	for (op = list; op; op = next) {
		next = op->next;
		if (op->done)
			op->done(op);
		else
			store_op_free(op);
	}
}

int
store_deliveries_allowed(void)
{
	return !draining && !atomic_load(&blocked) && !atomic_load(&behind);
}

void
store_stop_deliveries(void)
{
	draining = 1;
}

void
store_on_resume(void (*fn)(void))
{
	resume_fn = fn;
}

int
store_blocked(void)
{
	return atomic_load(&blocked);
}

int
store_behind(void)
{
	return atomic_load(&behind);
}

uint64_t
store_behind_count(void)
{
	return atomic_load(&behind_count);
}

int
store_batch_most(void)
{
	return atomic_load(&batch_most);
}

uint64_t
store_commit_failures(void)
{
	return atomic_load(&commit_failures);
}

/*
 * Everything left in the outbox (a crash, or the last events before a
 * stop) into log.db, synced, and acknowledged: at start-up and at the
 * end.  What fails stays for the next time.
 */
static void
flush_outbox(void)
{
	char err[160];

	store_log_move(INT32_MAX);
	if (store_log_sync_all(log_acked) == -1)
		return;
	if (store_try_commit(NULL, err, sizeof(err)) != SQLITE_OK)
		log_warnx("store: outbox: %s", err);
}

static void
test_hook_init(void)
{
	const char *v = getenv("GW_TEST_COMMIT_DELAY"), *colon;
	size_t n;

	if (v != NULL && *v != '\0') {
		commit_delay_ms = atoi(v);
		log_warnx("GW_TEST_COMMIT_DELAY=%s: each queue.db commit "
		    "waits %d ms", v, commit_delay_ms);
	}
	v = getenv("GW_TEST_BATCH_MAX");
	if (v != NULL && *v != '\0' && atoi(v) > 0) {
		batch_max = atoi(v);
		log_warnx("GW_TEST_BATCH_MAX=%s: at most %d ops per queue.db "
		    "transaction", v, batch_max);
	}
	v = getenv("GW_TEST_ABORT_AT");
	if (v == NULL || *v == '\0')
		return;
	colon = strchr(v, ':');
	n = colon ? (size_t)(colon - v) : strlen(v);
	if (n == 18 && strncmp(v, "after-queue-commit", n) == 0)
		kill_at = KP_QUEUE_COMMIT;
	else if (n == 16 && strncmp(v, "after-log-commit", n) == 0)
		kill_at = KP_LOG_COMMIT;
	else
		fatalx("GW_TEST_ABORT_AT=%s: unknown kill point", v);
	if (colon)
		gw_strlcpy(kill_action, colon + 1, sizeof(kill_action));
	log_warnx("GW_TEST_ABORT_AT=%s: gwd will kill itself there", v);
}

int
store_init(const char *state_dir, char *err, size_t errsz)
{
	if ((store_qdb = db_open(state_dir, DB_QUEUE, 0, err, errsz)) == NULL)
		return -1;
	/* No checkpoint in the commit path: copying the WAL back (and its
	 * fsync) would stall every session waiting for its 250.  The
	 * checkpointer thread does it beside the writer. */
	sqlite3_wal_autocheckpoint(store_qdb, 0);
	if (store_log_open(state_dir, err, errsz) == -1)
		return -1;
	store_apply_prepare(store_qdb);
	archive_prepare(store_qdb);
	outbox_open(&store_obx, store_qdb);
	flush_outbox();
	test_hook_init();

	loop_waker_init(&waker, store_completed, NULL);
	if (pthread_create(&thread, NULL, store_main, NULL) != 0 ||
	    store_log_start() == -1) {
		snprintf(err, errsz, "cannot start the store threads");
		return -1;
	}
	return 0;
}

void
store_shutdown(void)
{
	pthread_mutex_lock(&mtx);
	stopping = 1;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&mtx);
	pthread_join(thread, NULL);
	store_log_stop();
	store_completed(NULL);
	flush_outbox();
	archive_unprepare();
	outbox_close(&store_obx);
	db_exec_cache_free(&exec_cache);
	store_log_close();
	db_close(store_qdb);
}
