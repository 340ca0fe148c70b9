/*
 * queue.c - the scheduler's entry points: start-up (the spool from
 * queue.db), new mail from sessions and DSNs, shutdown.  The scheduler
 * is split by concern; queue_int.h names the files and their layers.
 * Standards: RFC 5321 4.5.4 (retry strategy).
 * Exposure: none from the network directly.
 *
 * Every recipient is in exactly one place: waiting in the retry heap,
 * ready in a job of its destination, active in a transaction, held with
 * its message, or done.
 */
#include <stdint.h>
#include <stdlib.h>

#include "auth.h"
#include "loop.h"
#include "policy.h"
#include "queue.h"
#include "queue_int.h"
#include "schedule.h"
#include "store.h"
#include "util.h"

void
queue_add(struct qmsg *m)
{
	const struct policy *p;
	int gen;

	/* The rules first, while the headers are at hand: a body that
	 * does not fit the cache would be read back for them. */
	p = policy_now(&gen);
	for (int i = 0; i < m->nrcpt; i++) {
		m->rcpt[i].msg = m;
		match_rules(&m->rcpt[i], p, gen);
	}
	qmsg_cache_body(m);
	schedule_msg(m, sched_unix_s());
	maybe_drop_body(m);
	arm_retry_timer();
}

static void
loaded(struct qmsg *m, void *arg)
{
	schedule_msg(m, *(int64_t *)arg);
}

int
queue_init(char *err, size_t errsz)
{
	int64_t now = sched_unix_s();

	qmsg_init();
	throttle_init();
	dest_init();
	routing_init();
	if (store_load_queue(loaded, &now, err, errsz) == -1)
		return -1;
	arm_retry_timer();
	return 0;
}

void
queue_shutdown(void)
{
	dest_shutdown();
}
