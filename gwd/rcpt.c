/*
 * rcpt.c - the recipient state machine: where each pending recipient is
 * and how many are where.
 * Exposure: none from the network.
 * Diagnostics: an impossible move is a bug and fatal (fatalx with the
 * queue id and both states); nothing else fails.
 *
 * rcpt_move() is the only writer of a recipient's state and of the
 * recipient counters, so they cannot drift apart.  The states:
 *
 *   new      just made or loaded; not counted yet
 *   waiting  in the retry heap until next_attempt (and only waiting
 *            recipients are in it)
 *   ready    in r->dest's list, soon in a job (dest.c)
 *   active   in a transaction (r->dest kept when it came from a job),
 *            or being refused by a routing rule
 *   held     its message is on hold: in no heap or job
 *   done     final; its message forgets it
 *
 * next_ok[] below is the whole graph.  The moves back (active to ready
 * or waiting, ready or waiting to waiting) are a recipient put back
 * untried, a deferral, a policy change that routes it elsewhere, and a
 * rule's hold looked at again later.
 */
#include <stdint.h>

#include "heap.h"
#include "log.h"
#include "queue_int.h"
#include "schedule.h"

#define B(s)	(1u << (s))

/* Where each state may go. */
static const unsigned next_ok[QR_NSTATES] = {
	[QR_NEW] = B(QR_WAITING) | B(QR_READY) | B(QR_ACTIVE) | B(QR_HELD),
	/* A rule's hold puts a due recipient back to wait. */
	[QR_WAITING] = B(QR_WAITING) | B(QR_READY) | B(QR_ACTIVE) |
	    B(QR_HELD) | B(QR_DONE),
	/* A policy change takes it out of its job, to be placed again. */
	[QR_READY] = B(QR_WAITING) | B(QR_ACTIVE) | B(QR_HELD) | B(QR_DONE),
	/* Put back (not attempted) and refused by a rule changed
	 * meanwhile: the refusal is its attempt, still active. */
	[QR_ACTIVE] = B(QR_WAITING) | B(QR_READY) | B(QR_ACTIVE) |
	    B(QR_HELD) | B(QR_DONE),
	[QR_HELD] = B(QR_WAITING) | B(QR_READY) | B(QR_ACTIVE) | B(QR_DONE),
	[QR_DONE] = 0,
};

static const char *const state_name[QR_NSTATES] = {
	[QR_NEW] = "new", [QR_WAITING] = "waiting", [QR_READY] = "ready",
	[QR_ACTIVE] = "active", [QR_HELD] = "held", [QR_DONE] = "done",
};

/* Pending recipients per state (new and done are not counted). */
static int		 count[QR_NSTATES];
/* The waiting recipients, by next_attempt. */
static struct heap	 retries = HEAP_INITIALIZER(struct qrcpt, next_attempt,
			    heap_idx);

static int
counted(enum qrcpt_state s)
{
	return s != QR_NEW && s != QR_DONE;
}

void
rcpt_move(struct qrcpt *r, enum qrcpt_state to)
{
	enum qrcpt_state from = r->state;

	if (!(next_ok[from] & B(to)))
		fatalx("qid=%s recipient %d: impossible move from %s to %s",
		    r->msg->qid, (int)(r - r->msg->rcpt), state_name[from],
		    state_name[to]);
	/* Ready means in its destination's list (dest.c): it leaves that
	 * list first, into a job or not. */
	if (from == QR_READY && (r->job_head || r->ready_next ||
	    r->ready_prev))
		fatalx("qid=%s recipient %d: leaves ready while still in "
		    "its destination's list", r->msg->qid,
		    (int)(r - r->msg->rcpt));
	if (from == QR_WAITING)
		heap_remove(&retries, r);
	if (counted(from))
		count[from]--;
	if (counted(to))
		count[to]++;
	if (to == QR_DONE)
		r->msg->npending--;
	/* Only a job's transaction keeps the job's destination; a waiting
	 * recipient's may be collected meanwhile. */
	if (to != QR_ACTIVE || from != QR_READY)
		r->dest = NULL;
	r->state = to;
	if (to == QR_WAITING)
		heap_insert(&retries, r);
}

int
rcpt_count(enum qrcpt_state s)
{
	return count[s];
}

int
rcpt_pending(void)
{
	return count[QR_WAITING] + count[QR_READY] + count[QR_ACTIVE] +
	    count[QR_HELD];
}

struct qrcpt *
rcpt_next_retry(void)
{
	return heap_top(&retries);
}
