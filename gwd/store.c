/*
 * store.c - the store thread: group commit of queue.db and log.db.
 *
 * Why one thread: SQLite serialises writers anyway, and a single writer
 * lets many sessions' messages share one fsync.  While one batch is being
 * synced the next accumulates, so under load batches grow by themselves
 * and the fsync cost per message falls.
 * Exposure: writes what sessions accepted; no network input is parsed.
 */
#include <pthread.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auditlog.h"
#include "db.h"
#include "log.h"
#include "loop.h"
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
static sqlite3		*rdb;		/* main thread's reader */

static sqlite3_stmt	*st_ins_msg, *st_ins_rcpt, *st_del_rcpt, *st_upd_rcpt,
			*st_del_msg, *st_rd_body, *st_upd_held, *st_supp_put,
			*st_supp_del, *st_pause;
static struct auditlog	 alog;		/* the thread's log.db writer */

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
	op->del_rcpt = realloc(op->del_rcpt, sizeof(int64_t) *
	    (size_t)(op->ndel_rcpt + 1));
	if (op->del_rcpt == NULL)
		fatal("store_op_del_rcpt");
	op->del_rcpt[op->ndel_rcpt++] = dbid;
}

void
store_op_upd_rcpt(struct store_op *op, const struct qrcpt *r)
{
	struct rcpt_update *u;

	op->upd = realloc(op->upd, sizeof(*op->upd) * (size_t)(op->nupd + 1));
	if (op->upd == NULL)
		fatal("store_op_upd_rcpt");
	u = &op->upd[op->nupd++];
	u->dbid = r->dbid;
	u->attempts = r->attempts;
	u->next_attempt = r->next_attempt;
	u->last_reply = r->last_reply ? xstrdup(r->last_reply) : NULL;
}

void
store_op_supp(struct store_op *op, int del, const char *subaccount,
    const char *address, const char *reason, int64_t created)
{
	struct supp_change *s;

	op->supp = realloc(op->supp, sizeof(*op->supp) *
	    (size_t)(op->nsupp + 1));
	if (op->supp == NULL)
		fatal("store_op_supp");
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
	backlog++;
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
	if (db_step_done(st_ins_msg) == -1)
		return -1;
	m->dbid = sqlite3_last_insert_rowid(qdb);
	for (int i = 0; i < m->nrcpt; i++) {
		struct qrcpt *r = &m->rcpt[i];

		sqlite3_bind_int64(st_ins_rcpt, 1, m->dbid);
		sqlite3_bind_text(st_ins_rcpt, 2, r->addr, -1, SQLITE_STATIC);
		sqlite3_bind_text(st_ins_rcpt, 3, r->domain, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st_ins_rcpt, 4, r->next_attempt);
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
		sqlite3_bind_int64(st_upd_rcpt, 4, u->dbid);
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

/* One batch: all queue work in one transaction, then all events. */
static void
commit_batch(struct store_op *batch)
{
	struct store_op *op;
	char err[160] = "";
	int failed = 0;

	if (exec(qdb, "BEGIN") == -1) {
		snprintf(err, sizeof(err), "queue.db: %s", sqlite3_errmsg(qdb));
		failed = 1;
	}
	for (op = batch; op && !failed; op = op->next) {
		if (apply_queue(op) == -1) {
			snprintf(err, sizeof(err), "queue.db: %s",
			    sqlite3_errmsg(qdb));
			failed = 1;
		}
	}
	if (!failed && exec(qdb, "COMMIT") == -1) {
		snprintf(err, sizeof(err), "queue.db commit: %s",
		    sqlite3_errmsg(qdb));
		failed = 1;
	}
	if (failed) {
		exec(qdb, "ROLLBACK");
		log_warnx("store: %s; %s", err, "batch refused");
		for (op = batch; op; op = op->next) {
			op->failed = 1;
			memcpy(op->error, err, sizeof(op->error));
		}
	}
	/*
	 * Events are written even when the queue part failed: a refused
	 * message is an event too.  The log is not fsynced per batch (WAL,
	 * synchronous=NORMAL): it survives kill -9, and power loss costs at
	 * most the last moments of history, never mail.
	 */
	if (exec(ldb, "BEGIN") == -1)
		log_warnx("store: log.db: %s", sqlite3_errmsg(ldb));
	for (op = batch; op; op = op->next) {
		for (struct audit_event *ev = op->events; ev; ev = ev->next) {
			if (failed && op->insert &&
			    strcmp(ev->action, "received") == 0)
				continue;
			if (auditlog_write(&alog, ev) == -1)
				log_warnx("store: log.db insert: %s",
				    sqlite3_errmsg(ldb));
		}
	}
	if (exec(ldb, "COMMIT") == -1) {
		log_warnx("store: log.db commit: %s", sqlite3_errmsg(ldb));
		exec(ldb, "ROLLBACK");
	}
}

static void *
store_main(void *arg)
{
	struct store_op *batch, *last;
	int n;

	for (;;) {
		pthread_mutex_lock(&mtx);
		while (inq == NULL && !stopping)
			pthread_cond_wait(&cond, &mtx);
		if (inq == NULL && stopping) {
			stopped = 1;
			pthread_mutex_unlock(&mtx);
			loop_wakeup(&waker);
			return NULL;
		}
		batch = inq;
		inq = NULL;
		inq_tail = &inq;
		pthread_mutex_unlock(&mtx);

		if (gcfg->queue.commit_window_us > 0)
			usleep((useconds_t)gcfg->queue.commit_window_us);
		/* Late arrivals during the window join this batch. */
		pthread_mutex_lock(&mtx);
		for (last = batch, n = 1; last->next; last = last->next)
			n++;
		if (inq) {
			last->next = inq;
			inq = NULL;
			inq_tail = &inq;
		}
		pthread_mutex_unlock(&mtx);

		commit_batch(batch);

		pthread_mutex_lock(&mtx);
		for (struct store_op *op = batch; op; op = op->next)
			backlog--;
		*outq_tail = batch;
		while (*outq_tail)
			outq_tail = &(*outq_tail)->next;
		pthread_mutex_unlock(&mtx);
		loop_wakeup(&waker);
	}
}

/* Main thread: run the completions of committed ops. */
static void
store_completed(void *arg)
{
	struct store_op *list, *op, *next;

	pthread_mutex_lock(&mtx);
	list = outq;
	outq = NULL;
	outq_tail = &outq;
	pthread_mutex_unlock(&mtx);
	for (op = list; op; op = next) {
		next = op->next;
		if (op->done)
			op->done(op);
		else
			store_op_free(op);
	}
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
	    " received, size, flags, message_id, body, held)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
	st_ins_rcpt = prep(qdb, "INSERT INTO recipient (message, address,"
	    " domain, next_attempt) VALUES (?, ?, ?, ?)");
	st_del_rcpt = prep(qdb, "DELETE FROM recipient WHERE id = ?");
	st_upd_rcpt = prep(qdb, "UPDATE recipient SET attempts = ?,"
	    " next_attempt = ?, last_reply = ? WHERE id = ?");
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

	if ((rdb = db_open(state_dir, DB_QUEUE, DB_RDONLY, err, errsz)) == NULL)
		return -1;
	st_rd_body = prep(rdb, "SELECT body FROM message WHERE id = ?");

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
	auditlog_close(&alog);
	db_close(qdb);
	db_close(ldb);
	db_close(rdb);
}

int
store_load_body(struct qmsg *m)
{
	const void *p;
	int n;

	sqlite3_bind_int64(st_rd_body, 1, m->dbid);
	if (sqlite3_step(st_rd_body) != SQLITE_ROW) {
		sqlite3_reset(st_rd_body);
		return -1;
	}
	p = sqlite3_column_blob(st_rd_body, 0);
	n = sqlite3_column_bytes(st_rd_body, 0);
	m->body = xmalloc((size_t)n + 1);
	if (n > 0)
		memcpy(m->body, p, (size_t)n);
	m->bodylen = (size_t)n;
	sqlite3_reset(st_rd_body);
	return 0;
}

/*
 * At start-up, before the store thread has work: every message with its
 * pending recipients.  Messages left without recipients (a crash between
 * the last delivery and the delete) are removed.
 */
int
store_load_queue(void (*cb)(struct qmsg *, void *), void *arg, char *err,
    size_t errsz)
{
	sqlite3_stmt *sm, *sr;
	int r, nmsg = 0, nrcpt = 0, nempty = 0;

	sm = prep(rdb, "SELECT id, qid, subaccount, sender, received, size,"
	    " flags, message_id, (SELECT count(*) FROM recipient"
	    " WHERE message = message.id), held FROM message ORDER BY id");
	sr = prep(rdb, "SELECT id, address, domain, attempts, next_attempt,"
	    " last_reply FROM recipient WHERE message = ? ORDER BY id");
	while ((r = sqlite3_step(sm)) == SQLITE_ROW) {
		int n = sqlite3_column_int(sm, 8), i = 0;
		const char *mid = (const char *)sqlite3_column_text(sm, 7);
		struct qmsg *m;

		if (n == 0) {
			struct store_op *op = store_op_new();

			op->del_msg = sqlite3_column_int64(sm, 0);
			store_submit(op);
			nempty++;
			continue;
		}
		m = qmsg_new((const char *)sqlite3_column_text(sm, 3),
		    (const char *)sqlite3_column_text(sm, 2), n);
		m->dbid = sqlite3_column_int64(sm, 0);
		gw_strlcpy(m->qid, (const char *)sqlite3_column_text(sm, 1),
		    sizeof(m->qid));
		m->received_us = sqlite3_column_int64(sm, 4);
		m->size = (size_t)sqlite3_column_int64(sm, 5);
		m->flags = sqlite3_column_int(sm, 6);
		m->message_id = mid ? xstrdup(mid) : NULL;
		/* 1: on hold; 2: released by an admin, so a routing rule's
		 * hold no longer applies. */
		m->held = sqlite3_column_int(sm, 9) == 1;
		m->released = sqlite3_column_int(sm, 9) == 2;
		sqlite3_bind_int64(sr, 1, m->dbid);
		while (sqlite3_step(sr) == SQLITE_ROW && i < n) {
			struct qrcpt *rc = &m->rcpt[i++];
			const char *lr = (const char *)sqlite3_column_text(sr, 5);

			rc->dbid = sqlite3_column_int64(sr, 0);
			rc->addr = xstrdup((const char *)
			    sqlite3_column_text(sr, 1));
			rc->domain = xstrdup((const char *)
			    sqlite3_column_text(sr, 2));
			rc->attempts = sqlite3_column_int(sr, 3);
			rc->next_attempt = sqlite3_column_int64(sr, 4);
			rc->last_reply = lr ? xstrdup(lr) : NULL;
		}
		sqlite3_reset(sr);
		m->nrcpt = m->npending = i;
		nmsg++;
		nrcpt += i;
		cb(m, arg);
	}
	if (r != SQLITE_DONE) {
		snprintf(err, errsz, "queue.db: %s", sqlite3_errmsg(rdb));
		sqlite3_finalize(sm);
		sqlite3_finalize(sr);
		return -1;
	}
	sqlite3_finalize(sm);
	sqlite3_finalize(sr);
	log_info("queue loaded: messages=%d recipients=%d removed_empty=%d",
	    nmsg, nrcpt, nempty);
	return 0;
}
