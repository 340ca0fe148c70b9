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
#include <sys/statvfs.h>

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

#include "auditlog.h"
#include "db.h"
#include "event.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "outbox.h"
#include "retention.h"
#include "store.h"
#include "util.h"

static pthread_t	 thread;
static pthread_mutex_t	 mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 cond = PTHREAD_COND_INITIALIZER;
static struct store_op	*inq, **inq_tail = &inq;	/* to the thread */
static struct store_op	*outq, **outq_tail = &outq;	/* back to main */
static int		 stopping, stopped, backlog;
static struct loop_waker waker;

static sqlite3		*qdb, *ldb;	/* the thread's */

static sqlite3_stmt	*st_ins_msg, *st_ins_rcpt, *st_del_rcpt, *st_upd_rcpt,
			*st_del_msg, *st_upd_held, *st_supp_put,
			*st_supp_del, *st_pause;
static struct auditlog	 alog;		/* the thread's log.db writer */
static struct outbox	 obx;		/* the thread's, on qdb */

/*
 * How far the outbox's events reached in log.db: written (by the store
 * thread, after each log.db commit), synced (by the checkpointer), and
 * acknowledged in the outbox (store thread only).
 */
static _Atomic int64_t	 log_moved, log_synced;
static int64_t		 log_acked;
static int64_t		 log_failing_since;	/* 0: writes work */
static int64_t		 log_warned;

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
#define RETRY_EVENTS_MAX 10000	/* ops of events alone kept waiting */

#define BATCH_MAX	1000	/* ops per queue.db transaction */
#define MOVE_MAX	2000	/* events per log.db transaction */
#define MOVE_ROUNDS	4	/* transactions per batch, at most */
#define WARN_EVERY_US	(60 * 1000000LL)

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

struct store_op *
store_op_new(void)
{
	struct store_op *op = xcalloc(1, sizeof(*op));

	op->events_tail = &op->events;
	return op;
}

void
audit_free(struct audit_event *ev)
{
	free(ev->qid);
	free(ev->subaccount);
	free(ev->client_ip);
	free(ev->sender);
	free(ev->recipient);
	free(ev->message_id);
	free(ev->subject);
	free(ev->from_addr);
	free(ev->tls);
	free(ev->tls_note);
	free(ev->username);
	free(ev->remote_host);
	free(ev->remote_ip);
	free(ev->reply_status);
	free(ev->reply_text);
	free(ev->detail);
	for (int i = 0; i < ev->nrcpts; i++)
		free(ev->rcpts[i]);
	free(ev->rcpts);
	free(ev);
}

void
store_op_free(struct store_op *op)
{
	struct audit_event *ev, *next;

	for (ev = op->events; ev; ev = next) {
		next = ev->next;
		audit_free(ev);
	}
	for (int i = 0; i < op->nupd; i++)
		free(op->upd[i].last_reply);
	free(op->upd);
	for (int i = 0; i < op->nsupp; i++) {
		free(op->supp[i].subaccount);
		free(op->supp[i].address);
		free(op->supp[i].reason);
	}
	free(op->supp);
	free(op->pause_sub);
	free(op->pause_reason);
	free(op->del_rcpt);
	free(op);
}

void
store_op_del_rcpt(struct store_op *op, int64_t dbid)
{
	op->del_rcpt = xreallocarray(op->del_rcpt, (size_t)op->ndel_rcpt + 1,
	    sizeof(*op->del_rcpt));
	op->del_rcpt[op->ndel_rcpt++] = dbid;
}

void
store_op_upd_rcpt(struct store_op *op, const struct qrcpt *r)
{
	struct rcpt_update *u;

	op->upd = xreallocarray(op->upd, (size_t)op->nupd + 1,
	    sizeof(*op->upd));
	u = &op->upd[op->nupd++];
	u->dbid = r->dbid;
	u->attempts = r->attempts;
	u->next_attempt = r->next_attempt;
	u->last_reply = r->last_reply ? xstrdup(r->last_reply) : NULL;
	u->dsn_notify = r->dsn_notify;
}

void
store_op_supp(struct store_op *op, int del, const char *subaccount,
    const char *address, const char *reason, int64_t created)
{
	struct supp_change *s;

	op->supp = xreallocarray(op->supp, (size_t)op->nsupp + 1,
	    sizeof(*op->supp));
	s = &op->supp[op->nsupp++];
	s->del = del;
	s->subaccount = xstrdup(subaccount);
	s->address = xstrdup(address);
	s->reason = reason ? xstrdup(reason) : NULL;
	s->created = created;
}

struct audit_event *
audit_new(const char *action, const char *qid)
{
	struct audit_event *ev = xcalloc(1, sizeof(*ev));

	ev->ts = now_us();
	ev->action = action;
	ev->qid = qid ? xstrdup(qid) : NULL;
	ev->size = -1;
	ev->duration_ms = -1;
	ev->tls_verified = -1;
	return ev;
}

struct audit_event *
store_op_event(struct store_op *op, const char *action, const char *qid)
{
	struct audit_event *ev = audit_new(action, qid);

	*op->events_tail = ev;
	op->events_tail = &ev->next;
	return ev;
}

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

/* Bind a possibly-NULL string. */
static int
insert_msg(struct qmsg *m)
{
	sqlite3_bind_text(st_ins_msg, 1, m->qid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st_ins_msg, 2, m->subaccount ? m->subaccount : "",
	    -1, SQLITE_STATIC);
	sqlite3_bind_text(st_ins_msg, 3, m->sender, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st_ins_msg, 4, m->received_us);
	sqlite3_bind_int64(st_ins_msg, 5, (int64_t)m->size);
	sqlite3_bind_int(st_ins_msg, 6, m->flags);
	db_bind_text(st_ins_msg, 7, m->message_id);
	sqlite3_bind_blob64(st_ins_msg, 8, m->body, m->bodylen, SQLITE_STATIC);
	sqlite3_bind_int(st_ins_msg, 9, m->held);
	sqlite3_bind_int(st_ins_msg, 10, m->dsn_ret);
	db_bind_text(st_ins_msg, 11, m->dsn_envid);
	if (db_step_done(st_ins_msg) == -1)
		return -1;
	m->dbid = sqlite3_last_insert_rowid(qdb);
	for (int i = 0; i < m->nrcpt; i++) {
		struct qrcpt *r = &m->rcpt[i];

		sqlite3_bind_int64(st_ins_rcpt, 1, m->dbid);
		sqlite3_bind_text(st_ins_rcpt, 2, r->addr, -1, SQLITE_STATIC);
		sqlite3_bind_text(st_ins_rcpt, 3, r->domain, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st_ins_rcpt, 4, r->next_attempt);
		sqlite3_bind_int(st_ins_rcpt, 5, r->dsn_notify);
		db_bind_text(st_ins_rcpt, 6, r->dsn_orcpt);
		if (db_step_done(st_ins_rcpt) == -1)
			return -1;
		r->dbid = sqlite3_last_insert_rowid(qdb);
	}
	return 0;
}

static int
apply_queue(struct store_op *op)
{
	if (op->insert && insert_msg(op->insert) == -1)
		return -1;
	for (int i = 0; i < op->ndel_rcpt; i++) {
		sqlite3_bind_int64(st_del_rcpt, 1, op->del_rcpt[i]);
		if (db_step_done(st_del_rcpt) == -1)
			return -1;
	}
	for (int i = 0; i < op->nupd; i++) {
		struct rcpt_update *u = &op->upd[i];

		sqlite3_bind_int(st_upd_rcpt, 1, u->attempts);
		sqlite3_bind_int64(st_upd_rcpt, 2, u->next_attempt);
		db_bind_text(st_upd_rcpt, 3, u->last_reply);
		sqlite3_bind_int(st_upd_rcpt, 4, u->dsn_notify);
		sqlite3_bind_int64(st_upd_rcpt, 5, u->dbid);
		if (db_step_done(st_upd_rcpt) == -1)
			return -1;
	}
	if (op->held_msg) {
		sqlite3_bind_int(st_upd_held, 1, op->held);
		sqlite3_bind_int64(st_upd_held, 2, op->held_msg);
		if (db_step_done(st_upd_held) == -1)
			return -1;
	}
	if (op->del_msg) {
		sqlite3_bind_int64(st_del_msg, 1, op->del_msg);
		if (db_step_done(st_del_msg) == -1)
			return -1;
	}
	for (int i = 0; i < op->nsupp; i++) {
		struct supp_change *s = &op->supp[i];
		sqlite3_stmt *st = s->del ? st_supp_del : st_supp_put;

		db_bind_text(st, 1, s->subaccount);
		db_bind_text(st, 2, s->address);
		if (!s->del) {
			db_bind_text(st, 3, s->reason);
			sqlite3_bind_int64(st, 4, s->created);
		}
		if (db_step_done(st) == -1)
			return -1;
	}
	if (op->pause_sub) {
		db_bind_text(st_pause, 1, op->pause_sub);
		sqlite3_bind_int(st_pause, 2, op->pause_paused);
		sqlite3_bind_int64(st_pause, 3, op->pause_since);
		db_bind_text(st_pause, 4, op->pause_reason ? op->pause_reason :
		    "");
		if (db_step_done(st_pause) == -1)
			return -1;
	}
	return 0;
}

static int
exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
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
		if (apply_queue(op) == -1)
			return -1;
		for (struct audit_event *ev = op->events; ev; ev = ev->next)
			if (outbox_put(&obx, ev) == -1)
				return -1;
	}
	return 0;
}

/*
 * One queue.db transaction for the batch, which also acknowledges what
 * log.db has synced.  SQLITE_OK, or the error (rolled back; err says
 * what failed).
 */
static int
try_commit(struct store_op *batch, char *err, size_t errsz)
{
	int64_t synced = atomic_load(&log_synced), t0 = mono_us();
	int rc;

	if (commit_delay_ms > 0)
		usleep((useconds_t)commit_delay_ms * 1000);
	if (exec(qdb, "BEGIN") == -1 || apply_batch(batch) == -1 ||
	    (synced > log_acked && outbox_ack(&obx, OUTBOX_LOG, synced) ==
	    -1) || exec(qdb, "COMMIT") == -1) {
		rc = sqlite3_extended_errcode(qdb);
		snprintf(err, errsz, "queue.db: %s", sqlite3_errmsg(qdb));
		exec(qdb, "ROLLBACK");
		return rc == SQLITE_OK ? SQLITE_ERROR : rc;
	}
	metrics_observe(GM_HIST_COMMIT, mono_us() - t0);
	if (synced > log_acked)
		log_acked = synced;
	test_kill_point(KP_QUEUE_COMMIT, batch);
	return SQLITE_OK;
}

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
	if (exec(qdb, "BEGIN") == -1 || outbox_renumber(&obx, from, floor) ==
	    -1 || exec(qdb, "COMMIT") == -1) {
		exec(qdb, "ROLLBACK");
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
static void
move_events(int rounds)
{
	int64_t last = atomic_load(&log_moved);
	struct move mv;
	int n = MOVE_MAX, renumbered = 0;

	/* IMMEDIATE: no other writer between reading log.db's last id and
	 * writing above it. */
	for (int i = 0; i < rounds && n == MOVE_MAX; i++) {
		mv.stale = 0;
		if (exec(ldb, "BEGIN IMMEDIATE") == -1 ||
		    (mv.seen = auditlog_last_id(&alog)) < 0 ||
		    (n = outbox_read(&obx, OUTBOX_LOG, last, MOVE_MAX,
		    move_one, &mv, &last)) == -1 ||
		    exec(ldb, "COMMIT") == -1) {
			char why[200];

			snprintf(why, sizeof(why), "%s", sqlite3_errcode(ldb) !=
			    SQLITE_OK ? sqlite3_errmsg(ldb) : sqlite3_errmsg(qdb));
			exec(ldb, "ROLLBACK");
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

/* Lists of ops, in order. */
struct oplist {
	struct store_op	*head, **tail;
	int		 n;
};

/* Ops queue.db refused that must be recorded: tried again first, after
 * retry_ms.  Store thread only. */
static struct oplist	 retry = { NULL, &retry.head, 0 };
static int		 retry_ms;
static int64_t		 blocked_warned;

static void
oplist_init(struct oplist *l)
{
	l->head = NULL;
	l->tail = &l->head;
	l->n = 0;
}

static void
oplist_add(struct oplist *l, struct store_op *op)
{
	op->next = NULL;
	*l->tail = op;
	l->tail = &op->next;
	l->n++;
}

/* Is this a failure of the data itself rather than of the disk (full,
 * failing, busy)?  Only those are worth telling one op from another. */
static int
data_error(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_TOOBIG:
	case SQLITE_RANGE:
		return 1;
	}
	return 0;
}

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* The one event a refused message leaves (its client was answered
 * 451): the events it carried describe a message never stored. */
static struct store_op *
refusal_op(const struct store_op *op)
{
	struct store_op *r = store_op_new();
	struct audit_event *ev = store_op_event(r, event_name(EV_REJECTED),
	    op->insert->qid);
	const struct audit_event *rx = op->events;

	while (rx && strcmp(rx->action, event_name(EV_RECEIVED)) != 0)
		rx = rx->next;
	ev->subaccount = xstrdup(op->insert->subaccount);
	ev->sender = xstrdup(op->insert->sender);
	if (rx) {
		ev->client_ip = dup_or_null(rx->client_ip);
		ev->recipient = dup_or_null(rx->recipient);
		ev->message_id = dup_or_null(rx->message_id);
	}
	ev->reply_code = 451;
	ev->reply_status = xstrdup("4.3.0");
	ev->reply_text = xstrdup("Error: queue file write error");
	ev->detail = xstrdup(op->error);
	return r;
}

/* Is op nothing but events (a refusal, a login failure)? */
static int
events_only(const struct store_op *op)
{
	return op->insert == NULL && op->ndel_rcpt == 0 && op->nupd == 0 &&
	    op->del_msg == 0 && op->held_msg == 0 && op->nsupp == 0 &&
	    op->pause_sub == NULL && op->done == NULL;
}

/*
 * queue.db refused the batch.  New mail (refusable ops) is refused:
 * its client has no 250 yet and will try again.  Everything else has
 * happened already (a delivery, an admin's change, in memory) and must
 * be recorded: it is tried again without the new mail, then op by op
 * if the data itself is at fault, else kept in *again for later.  Ops
 * done (refused, or committed now) go to *done; *made counts the ops
 * made here (refusal events).
 */
static void
salvage(struct store_op *batch, int rc, const char *err,
    struct oplist *done, struct oplist *again, int *made)
{
	struct oplist rest;
	struct store_op *op, *next;
	int refused = 0, r, bad;
	char e[160];

	oplist_init(&rest);
	for (op = batch; op; op = next) {
		next = op->next;
		if (!op->refusable) {
			oplist_add(&rest, op);
			continue;
		}
		op->failed = 1;
		snprintf(op->error, sizeof(op->error), "%s", err);
		oplist_add(done, op);
		oplist_add(&rest, refusal_op(op));
		(*made)++;
		refused++;
	}
	/* Without the new mail it may fit. */
	if (refused > 0 && (rc = try_commit(rest.head, e, sizeof(e))) ==
	    SQLITE_OK) {
		for (op = rest.head; op; op = next) {
			next = op->next;
			oplist_add(done, op);
		}
		return;
	}
	bad = data_error(rc);
	for (op = rest.head; op; op = next) {
		next = op->next;
		op->next = NULL;
		if (!bad || again->n > 0) {
			oplist_add(again, op);
			continue;
		}
		/* One bad op must neither block nor sink the others. */
		if ((r = try_commit(op, e, sizeof(e))) != SQLITE_OK &&
		    data_error(r)) {
			log_warnx("store: not recorded: %s", e);
			op->failed = 1;
			snprintf(op->error, sizeof(op->error), "%s", e);
		}
		oplist_add(r == SQLITE_OK || data_error(r) ? done : again, op);
	}
}

/*
 * Keep at most RETRY_EVENTS_MAX ops of events alone waiting: refusals
 * pile up while the disk is full (every MAIL is answered 452) and
 * must not eat the memory; the rest go, counted.
 */
static void
cap_again(struct oplist *again, struct oplist *done)
{
	struct oplist keep;
	struct store_op *op, *next;
	int nev = 0, dropped = 0;

	oplist_init(&keep);
	for (op = again->head; op; op = next) {
		next = op->next;
		if (events_only(op) && ++nev > RETRY_EVENTS_MAX) {
			oplist_add(done, op);
			dropped++;
		} else
			oplist_add(&keep, op);
	}
	*again = keep;
	if (keep.head == NULL)
		again->tail = &again->head;
	if (dropped)
		log_warnx("store: %d audit events dropped: queue.db refuses "
		    "them for too long", dropped);
}

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

	if ((rc = try_commit(batch, err, sizeof(err))) == SQLITE_OK) {
		for (op = batch; op; op = next) {
			next = op->next;
			oplist_add(done, op);
		}
		return;
	}
	atomic_fetch_add(&commit_failures, 1);
	salvage(batch, rc, err, done, again, made);
	if (again->head == NULL)
		log_warnx("store: %s; new mail refused", err);
	else if (!atomic_load(&blocked) ||
	    now_us() - blocked_warned >= WARN_EVERY_US) {
		blocked_warned = now_us();
		log_warnx("store: %s; %d changes wait to be recorded, no "
		    "delivery starts meanwhile", err, again->n);
	}
	cap_again(again, done);
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
			move_events(MOVE_ROUNDS);
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

static sqlite3		*ckq, *ckl;	/* the checkpointer's connections */
static pthread_t	 ckthread;
static pthread_mutex_t	 ckmtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 ckcond = PTHREAD_COND_INITIALIZER;
static int		 ckstop;

static sqlite3_stmt *
prep(sqlite3 *db, const char *sql)
{
	return db_prepare(db, sql);
}

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

/*
 * Everything left in the outbox (a crash, or the last events before a
 * stop) into log.db, synced, and acknowledged: at start-up and at the
 * end.  What fails stays for the next time.
 */
static void
flush_outbox(void)
{
	char err[160];

	move_events(INT32_MAX);
	if (log_failing_since || atomic_load(&log_moved) <= log_acked ||
	    wal_sync(ldb) == -1)
		return;
	atomic_store(&log_synced, atomic_load(&log_moved));
	if (try_commit(NULL, err, sizeof(err)) != SQLITE_OK)
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
	if ((qdb = db_open(state_dir, DB_QUEUE, 0, err, errsz)) == NULL ||
	    (ldb = db_open(state_dir, DB_LOG, DB_NOSYNC, err, errsz)) == NULL)
		return -1;
	/* No checkpoint in the commit path: copying the WAL back (and its
	 * fsync) would stall every session waiting for its 250.  The
	 * checkpointer thread does it beside the writer. */
	sqlite3_wal_autocheckpoint(qdb, 0);
	sqlite3_wal_autocheckpoint(ldb, 0);
	sqlite3_busy_handler(ldb, store_busy, NULL);
	if ((ckq = db_open(state_dir, DB_QUEUE, 0, err, errsz)) == NULL ||
	    (ckl = db_open(state_dir, DB_LOG, DB_NOSYNC, err, errsz)) == NULL)
		return -1;
	/* Pruning commits on ckl: their checkpoints are the tick's, not a
	 * stall inside a prune step that the pacing would count. */
	sqlite3_wal_autocheckpoint(ckl, 0);
	st_ins_msg = prep(qdb, "INSERT INTO message (qid, subaccount, sender,"
	    " received, size, flags, message_id, body, held, dsn_ret,"
	    " dsn_envid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	st_ins_rcpt = prep(qdb, "INSERT INTO recipient (message, address,"
	    " domain, next_attempt, dsn_notify, dsn_orcpt)"
	    " VALUES (?, ?, ?, ?, ?, ?)");
	st_del_rcpt = prep(qdb, "DELETE FROM recipient WHERE id = ?");
	st_upd_rcpt = prep(qdb, "UPDATE recipient SET attempts = ?,"
	    " next_attempt = ?, last_reply = ?, dsn_notify = ? WHERE id = ?");
	st_del_msg = prep(qdb, "DELETE FROM message WHERE id = ?");
	st_upd_held = prep(qdb, "UPDATE message SET held = ? WHERE id = ?");
	st_supp_put = prep(qdb, "INSERT OR REPLACE INTO suppression"
	    " (subaccount, address, reason, created) VALUES (?, ?, ?, ?)");
	/* Every spelling of the address (rows of older versions too). */
	st_supp_del = prep(qdb, "DELETE FROM suppression WHERE subaccount = ?"
	    " AND gw_addr_key(address) = gw_addr_key(?)");
	st_pause = prep(qdb, "INSERT OR REPLACE INTO subaccount_pause"
	    " (subaccount, paused, since, reason) VALUES (?, ?, ?, ?)");
	auditlog_open(&alog, ldb);
	outbox_open(&obx, qdb);
	flush_outbox();
	test_hook_init();

	loop_waker_init(&waker, store_completed, NULL);
	if (pthread_create(&thread, NULL, store_main, NULL) != 0 ||
	    pthread_create(&ckthread, NULL, checkpointer, NULL) != 0) {
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
	pthread_mutex_lock(&ckmtx);
	ckstop = 1;
	pthread_cond_signal(&ckcond);
	pthread_mutex_unlock(&ckmtx);
	pthread_join(ckthread, NULL);
	db_close(ckq);
	db_close(ckl);
	store_completed(NULL);
	flush_outbox();
	outbox_close(&obx);
	auditlog_close(&alog);
	db_close(qdb);
	db_close(ldb);
}
