/*
 * queue.c - the scheduler's entry points: start-up (the spool from
 * queue.db, read a slice at a time while gwd already works), new mail
 * from sessions and DSNs, changes to the delivery policy in gw.db,
 * shutdown.  The scheduler is split by concern; queue_int.h names the
 * files and their layers.
 * Standards: RFC 5321 4.5.4 (retry strategy).
 * Exposure: none from the network directly.
 * Diagnostics: queue_init() returns -1 with a message when queue.db
 * cannot be read; a slice queue.db refuses later is logged and read
 * again a second later.
 *
 * Every recipient is in exactly one place: waiting in the retry heap,
 * ready in its destination's list, active in a transaction, held with
 * its message, or done.
 *
 * Start-up does not wait for the queue: gwd accepts and delivers mail
 * while it reads LOAD_BATCH messages a loop turn, oldest first, each
 * recipient into the retry heap (the due ones go on from there in
 * batches, routing.c).  Meanwhile a message not read yet is read out of
 * turn when an admin names it (queue_find), and only the whole queue's
 * actions (ALL) wait until the end (queue_loading()).
 *
 * Test hook, compiled in and inert unless set: GW_TEST_LOAD_PAUSE=N:PATH
 * stops the reading after N messages for as long as PATH exists (and
 * says so in the log once).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "hmap.h"
#include "log.h"
#include "loop.h"
#include "policy.h"
#include "queue.h"
#include "queue_int.h"
#include "store.h"
#include "store_read.h"
#include "util.h"

#define LOAD_BATCH	1000	/* messages read from queue.db a loop turn */
#define LOAD_RETRY_MS	1000	/* after queue.db refused a slice */
#define HOOK_POLL_MS	20

static struct ev_timer	 load_timer;
static int		 loading;
static int64_t		 load_left;	/* messages there at start, unread */
static int64_t		 load_read, load_rcpts;
static int64_t		 load_started;	/* now_us(): the loop's clock has not
					   started yet */
/* Read out of turn (queue_find): the slices pass them by. */
static struct hmap	 load_early;

/* GW_TEST_LOAD_PAUSE (see the top). */
static int64_t		 hook_after = -1;
static char		 hook_path[512];
static int		 hook_said;

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
	if (hmap_get(&load_early, m->qid) != NULL) {
		load_left++;		/* counted when read out of turn */
		qmsg_free(m);
		return;
	}
	load_read++;
	load_rcpts += m->nrcpt;
	routing_load(m);
}

static void
load_finish(void)
{
	size_t nstr, bytes;
	int nempty = store_load_end();

	loading = 0;
	load_left = 0;
	hmap_free(&load_early, NULL);
	qmsg_pool_stats(&nstr, &bytes);
	log_info("queue loaded: messages=%lld recipients=%lld "
	    "removed_empty=%d in %.1f s; strings pooled=%zu (%zu bytes)",
	    (long long)load_read, (long long)load_rcpts, nempty,
	    (double)(now_us() - load_started) / US_PER_S, nstr, bytes);
}

/* The test hook holds the reading here: how many more may be read. */
static int
hook_room(void)
{
	if (hook_after < 0)
		return LOAD_BATCH;
	if (load_read < hook_after)
		return (int)(hook_after - load_read < LOAD_BATCH ?
		    hook_after - load_read : LOAD_BATCH);
	if (access(hook_path, F_OK) == -1)
		return LOAD_BATCH;
	if (!hook_said)
		log_info("GW_TEST_LOAD_PAUSE: queue loading paused after %lld "
		    "messages", (long long)load_read);
	hook_said = 1;
	return 0;
}

static void
load_step(struct ev_timer *t)
{
	char err[256];
	int more, n, room;

	if ((room = hook_room()) == 0) {
		timer_add(t, HOOK_POLL_MS);
		return;
	}
	more = store_load_next(loaded, NULL, room, &n, err, sizeof(err));
	load_left -= n;
	routing_arm_retry();
	if (more == -1) {
		log_warnx("%s: reading the queue again in %d ms", err,
		    LOAD_RETRY_MS);
		timer_add(t, LOAD_RETRY_MS);
	} else if (more == 1)
		timer_add(t, 1);		/* the next turn */
	else
		load_finish();
}

static void
hook_init(void)
{
	const char *v = getenv("GW_TEST_LOAD_PAUSE");
	char *colon;

	if (v == NULL)
		return;
	hook_after = strtoll(v, &colon, 10);
	if (*colon != ':' || hook_after < 0 ||
	    gw_strlcpy(hook_path, colon + 1, sizeof(hook_path)) >=
	    sizeof(hook_path))
		fatalx("GW_TEST_LOAD_PAUSE=%s: not N:PATH", v);
	log_warnx("GW_TEST_LOAD_PAUSE=%s: queue loading will pause", v);
}

int
queue_init(char *err, size_t errsz)
{
	qmsg_init();
	throttle_init();
	dest_init(outcome_apply);
	routing_init();
	timer_init(&policy_timer, policy_apply, NULL);
	policy_on_change(policy_changed);
	store_on_resume(dest_resume_all);
	hook_init();
	timer_init(&load_timer, load_step, NULL);
	return queue_load_start(err, errsz);
}

/* Read the queue from queue.db, from the loop (at start-up). */
int
queue_load_start(char *err, size_t errsz)
{
	if (store_load_begin(&load_left, err, errsz) == -1)
		return -1;
	loading = 1;
	load_read = load_rcpts = 0;
	load_started = now_us();
	hook_said = 0;
	hmap_init(&load_early);
	timer_add(&load_timer, 0);
	log_info("queue: reading %lld messages from queue.db",
	    (long long)load_left);
	return 0;
}

int64_t
queue_loading(void)
{
	return loading ? load_left : 0;
}

/*
 * A queued message by queue id.  While the queue is being read, one not
 * read yet is read now, out of turn, so an admin can act on any message
 * at once.
 */
struct qmsg *
queue_find(const char *qid)
{
	struct qmsg *m = qmsg_find(qid);

	if (m != NULL || !loading || hmap_get(&load_early, qid) != NULL)
		return m;
	if ((m = store_load_qid(qid)) == NULL)
		return NULL;
	hmap_put(&load_early, m->qid, m);
	load_left--;
	load_read++;
	load_rcpts += m->nrcpt;
	routing_load(m);
	routing_arm_retry();
	return m;
}

void
queue_shutdown(void)
{
	if (loading) {
		timer_del(&load_timer);
		loading = 0;
		store_load_end();
		hmap_free(&load_early, NULL);
	}
	dest_shutdown();
}
