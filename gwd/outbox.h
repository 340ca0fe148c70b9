/*
 * outbox.h - audit events leave queue.db through an outbox.
 *
 * SQLite makes a transaction atomic within one database file, not
 * across two: a crash between a queue.db commit and the log.db commit
 * of its events lost the events.  So an event is written first into
 * queue.db's outbox table, in the same transaction as the change it
 * reports (a recipient deleted after its delivery, a message inserted),
 * and gets its id there.  Consumers then take events from the outbox in
 * id order and write them where they go, idempotently by that id; a
 * consumer acknowledges what it holds durably, and a row goes once
 * every consumer it was meant for has acknowledged it.  A crash at any
 * point leaves each event in the outbox, at its destination, or both.
 *
 * Consumers are the bits of a row's `pending`, chosen when the event is
 * put (outbox.c: outbox_consumers()):
 *
 *   OUTBOX_LOG  log.db's event table.  store.c moves new rows after each
 *               commit and acknowledges them once log.db's WAL is synced
 *               (lazily: the outbox is the durable copy meanwhile), and
 *               moves whatever is left at start-up.
 *
 *   OUTBOX_HOOK the webhook dispatcher (webhook.c), for the events
 *               some webhook wants (hookset.h).  Each such webhook has
 *               a row of its own in hook_pending (hook, id), put in the
 *               same transaction: a webhook's progress is its own, so
 *               one endpoint that is down never holds another's events,
 *               and an event one webhook acknowledged stays pending for
 *               the others.  The dispatcher reads each webhook's rows
 *               with outbox_read_hook() on a connection of its own and
 *               acknowledges them one by one (outbox_ack_hook(), through
 *               the store thread: queue.db has one writer) once the
 *               webhook answered 2xx or gave them up.  The bit goes
 *               with a row's last hook_pending row.  What is not
 *               acknowledged outlives a restart and is sent again.
 *
 * Each consumer removes only its own bit, so log.db's copy never waits
 * for a webhook: a row the log has and a webhook still wants stays
 * with the webhook's bit alone, and goes when that is acknowledged.
 *
 * Exposure: none; the values were checked where the events were made.
 */
#ifndef GW_OUTBOX_H
#define GW_OUTBOX_H

#include <sqlite3.h>
#include <stdint.h>

#include "auditlog.h"

#define OUTBOX_LOG	0x01u	/* log.db */
#define OUTBOX_HOOK	0x02u	/* webhooks (webhook.c) */

struct outbox {
	sqlite3		*db;		/* queue.db */
	sqlite3_stmt	*ins, *sel, *sel_hook, *ins_hook, *del_hook;
	sqlite3_stmt	*del, *clear, *del_one, *clear_one;
};

/* Webhook `hook` is done with outbox row `id`. */
struct outbox_hook_ack {
	long long	 hook;
	int64_t		 id;
};

/* Prepare the statements on qdb (fatal if the schema is not there). */
void	 outbox_open(struct outbox *, sqlite3 *qdb);
void	 outbox_close(struct outbox *);

/* Put ev, in the caller's queue.db transaction; sets ev->id.  0 or -1. */
int	 outbox_put(struct outbox *, struct audit_event *ev);

/*
 * The events still owed to `consumer` with ids above `after`, in id
 * order, at most max: fn(ev, arg) for each (ev and its strings live for
 * the call; fn returns 0, or -1 to stop).  *last is the id of the last
 * one handed over.  Returns how many were, or -1 (fn or SQLite failed).
 */
int	 outbox_read(struct outbox *, unsigned consumer, int64_t after,
	    int max, int (*fn)(const struct audit_event *, void *),
	    void *arg, int64_t *last);

/* `consumer` holds every event up to id `upto` durably: rows no other
 * consumer waits for go.  In the caller's transaction.  0 or -1. */
int	 outbox_ack(struct outbox *, unsigned consumer, int64_t upto);
/* The same as outbox_read() for webhook `hook`'s rows (OUTBOX_HOOK). */
int	 outbox_read_hook(struct outbox *, long long hook, int64_t after,
	    int max, int (*fn)(const struct audit_event *, void *),
	    void *arg, int64_t *last);
/* The n webhooks are done with those events (any order; ids no longer
 * there are skipped).  In the caller's transaction.  0 or -1. */
int	 outbox_ack_hook(struct outbox *, const struct outbox_hook_ack *,
	    int n);
/*
 * After the webhooks changed (hookset.h): the rows of webhooks that are
 * no more go, and rows written before schema 12 go to the webhooks that
 * want them.  In the caller's transaction, on the thread that puts
 * events (so that no event is put for a webhook the set no longer has).
 * 0 or -1.
 */
int	 outbox_hook_sweep(struct outbox *);

/*
 * log.db has used ids up to `floor` that rows from `from` on also have
 * (another program wrote there, or queue.db is younger than log.db):
 * those rows, and the ids to come, move above it, in the same order.
 * Export cursors rely on ids that only grow.  In the caller's
 * transaction.  0 or -1.
 */
int	 outbox_renumber(struct outbox *, int64_t from, int64_t floor);

#endif
