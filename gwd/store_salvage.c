/*
 * store_salvage.c - what is left of a batch queue.db refused (store.c).
 * New mail is refused (its client has no 250 yet and tries again) and
 * leaves one "rejected" event; everything else has happened already (a
 * delivery, an admin's change) and must be recorded: it is tried again
 * without the new mail, then op by op if the data itself is at fault,
 * else kept to be tried again later, at most RETRY_EVENTS_MAX ops of
 * events alone.  Runs on the store thread.
 * Exposure: writes what sessions accepted; no network input is parsed.
 * Diagnostics: dies only when memory runs out; an op whose own data
 * queue.db refuses is logged and comes back failed; dropped events are
 * counted in a log line.
 */
#include <stdio.h>
#include <string.h>

#include "event.h"
#include "log.h"
#include "store_priv.h"
#include "util.h"

#define RETRY_EVENTS_MAX 10000	/* ops of events alone kept waiting */

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
	return op->insert == NULL && op->also == NULL && op->ndel_rcpt == 0 && op->nupd == 0 &&
	    op->del_msg == 0 && op->held_msg == 0 && op->nsupp == 0 &&
	    op->pause_sub == NULL && op->sts_domain == NULL &&
	    op->done == NULL;
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
void
store_salvage(struct store_op *batch, int rc, const char *err,
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
	if (refused > 0 && (rc = store_try_commit(rest.head, e,
	    sizeof(e))) == SQLITE_OK) {
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
		if ((r = store_try_commit(op, e, sizeof(e))) != SQLITE_OK &&
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
void
store_cap_again(struct oplist *again, struct oplist *done)
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
