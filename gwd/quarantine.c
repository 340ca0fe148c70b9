/*
 * quarantine.c - the retention of quarantined mail (see quarantine.h).
 * Exposure: none; reads the scheduler's memory, acts through
 * queue_admin() as an admin's delete would.
 * Diagnostics: a delete queue.db refuses is logged and tried again at
 * the next sweep (the message is gone from memory only once recorded:
 * see queue_admin()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gwd.h"
#include "log.h"
#include "loop.h"
#include "quarantine.h"
#include "queue.h"
#include "util.h"

#define SWEEP_MS		(60 * 60 * 1000)
#define LOADING_RETRY_MS	1000	/* the queue is still being read */
#define US_PER_DAY		((int64_t)86400 * 1000000)

static struct ev_timer	sweep_timer;

static void
swept(void *arg, int failed, const char *error)
{
	char *qid = arg;

	if (failed)
		log_warnx("qid=%s: quarantine expired, but not deleted: %s",
		    qid, error);
	free(qid);
}

int
quarantine_sweep(int64_t cutoff_us)
{
	struct ctl_queue_cmd cmd = { .verb = CTL_Q_DELETE, .quarantined = 1 };
	struct qmsg *m, *next;
	const char *why;
	char *qid;
	int n = 0;

	snprintf(cmd.reason, sizeof(cmd.reason), "kept %d days "
	    "(policy.quarantine_days)", gcfg->policy.quarantine_days);
	/* queue_admin() may free m, never another message. */
	for (m = queue_first(); m; m = next) {
		next = m->qnext;
		if (m->held != QMSG_QUARANTINED || m->received_us >= cutoff_us)
			continue;
		qid = xstrdup(m->qid);
		log_info("qid=%s: quarantined for %d days: deleting", qid,
		    gcfg->policy.quarantine_days);
		if (queue_admin(m, &cmd, swept, qid, &why) == QA_DONE)
			n++;
		else
			free(qid);
	}
	return n;
}

static void
sweep_cb(struct ev_timer *t)
{
	if (queue_loading() > 0) {
		timer_add(t, LOADING_RETRY_MS);
		return;
	}
	quarantine_sweep(now_us() - gcfg->policy.quarantine_days *
	    US_PER_DAY);
	timer_add(t, SWEEP_MS);
}

void
quarantine_start(void)
{
	timer_init(&sweep_timer, sweep_cb, NULL);
	timer_add(&sweep_timer, 0);
}
