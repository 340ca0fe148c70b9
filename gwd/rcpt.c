/*
 * rcpt.c - the recipient state machine: where each pending recipient is
 * (waiting for a retry, ready in a job, active in a transaction, held
 * with its message, or done) and the queue's counters.
 * Exposure: none from the network.
 */
#include <stdint.h>

#include "heap.h"
#include "queue_int.h"
#include "schedule.h"

int		 nmessages, nrcpts, nactive;
int		 nheld, nheld_msgs;	/* recipients, messages */
/* Recipients waiting for a retry, by next_attempt. */
struct heap	 retries = HEAP_INITIALIZER(struct qrcpt, next_attempt,
		    heap_idx);

void
rcpt_wait(struct qrcpt *r)
{
	r->state = QR_WAITING;
	r->dest = NULL;		/* may be collected while it waits */
	heap_insert(&retries, r);
}

/* Its message is on hold: it waits for a release, in no heap or job. */
void
rcpt_hold(struct qrcpt *r)
{
	r->state = QR_HELD;
	r->dest = NULL;
	nheld++;
}

void
queue_job_started(struct job *j)
{
	for (int i = 0; i < j->nrcpt; i++) {
		j->rcpt[i]->state = QR_ACTIVE;
		nactive++;
	}
}
