/*
 * queue.c - the scheduler's entry points: start-up (the spool from
 * queue.db), new mail from sessions and DSNs, changes to the delivery
 * policy in gw.db, shutdown.  The scheduler is split by concern;
 * queue_int.h names the files and their layers.
 * Standards: RFC 5321 4.5.4 (retry strategy).
 * Exposure: none from the network directly.
 * Diagnostics: queue_init() returns -1 with a message when queue.db
 * cannot be read.
 *
 * Every recipient is in exactly one place: waiting in the retry heap,
 * ready in a job of its destination, active in a transaction, held with
 * its message, or done.
 */
#include <stdint.h>

#include "auth.h"
#include "loop.h"
#include "policy.h"
#include "queue.h"
#include "queue_int.h"
#include "store.h"

static struct ev_timer	 policy_timer;
static unsigned		 policy_what;	/* POLICY_* changed, not applied */

void
queue_add(struct qmsg *m)
{
	routing_add(m);
}

/* gw.db's delivery policy changed: what waits follows it now, not at
 * its next attempt (a backlog never has one).  Recipients first: a
 * kick must not hand a connection a job the new rules send elsewhere. */
static void
policy_apply(struct ev_timer *t)
{
	if (policy_what & (POLICY_RULES | POLICY_POOLS))
		routing_repolicy();
	policy_what = 0;
	dest_policy_changed();
}

/* From the reload (auth.c), which may run inside a session's command:
 * applied from the loop. */
static void
policy_changed(unsigned what)
{
	policy_what |= what;
	timer_add(&policy_timer, 0);
}

static void
loaded(struct qmsg *m, void *arg)
{
	routing_schedule(m, *(int64_t *)arg);
}

int
queue_init(char *err, size_t errsz)
{
	int64_t now = sched_unix_s();

	qmsg_init();
	throttle_init();
	dest_init(outcome_apply);
	routing_init();
	timer_init(&policy_timer, policy_apply, NULL);
	policy_on_change(policy_changed);
	store_on_resume(dest_resume_all);
	if (store_load_queue(loaded, &now, err, errsz) == -1)
		return -1;
	routing_arm_retry();
	return 0;
}

void
queue_shutdown(void)
{
	dest_shutdown();
}
