/*
 * queue.c - the scheduler's entry points: start-up (the spool from
 * queue.db), new mail from sessions and DSNs, shutdown.  The scheduler
 * is split by concern; queue_int.h names the files and their layers.
 * Standards: RFC 5321 4.5.4 (retry strategy).
 * Exposure: none from the network directly.
 * Diagnostics: queue_init() returns -1 with a message when queue.db
 * cannot be read.
 *
 * Every recipient is in exactly one place: waiting in the retry heap,
 * ready in its destination's list, active in a transaction, held with
 * its message, or done.
 */
#include <stdint.h>

#include "queue.h"
#include "queue_int.h"
#include "store.h"

void
queue_add(struct qmsg *m)
{
	routing_add(m);
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
	store_on_resume(dest_resume_all);
	if (store_load_queue(loaded, &now, err, errsz) == -1)
		return -1;
	routing_arm_retry();
	return 0;
}

struct qmsg *
queue_find(const char *qid)
{
	return qmsg_find(qid);
}

void
queue_shutdown(void)
{
	dest_shutdown();
}
