/*
 * dest_conn.c - what a destination hears from its connections (mta.c,
 * through schedule.h): one ready for a job, one up, one failed, one
 * closed; and the failing of the jobs that wait when a destination
 * cannot be reached or its route fails, a batch a loop turn.
 * Exposure: none from the network directly; connection errors and
 * route failures arrive already parsed.
 * Diagnostics: allocation failure is fatal; a failure becomes the
 * outcome of the jobs that wait, applied from the loop (dest_job_done).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "log.h"
#include "loop.h"
#include "queue_int.h"
#include "schedule.h"
#include "util.h"

#define FAIL_BATCH	1000	/* jobs failed a loop turn: dest_fail_all() */

/*
 * Every job waiting at a destination when it failed gets the failure as
 * its outcome.  A deep backlog is failed FAIL_BATCH jobs a loop turn, so
 * the jobs made for it never all exist at once; meanwhile nothing new
 * starts there, and what became ready since is tried afresh after.
 */
struct dest_fail {
	int		 left;		/* jobs still to fail */
	int		 code;
	char		 status[16];
	char		*text;
	struct hop	 hop;
	struct hop_fail	*tried;		/* the hops that failed before */
	int		 ntried;
	struct ev_timer	 timer;
};

static void
fail_some(struct dest *d)
{
	struct dest_fail *f = d->fail;
	struct job *j;

	for (int n = 0; n < FAIL_BATCH && f->left > 0 &&
	    (j = dest_pop(d)) != NULL; n++, f->left--) {
		j->res = xcalloc((size_t)j->nrcpt, sizeof(*j->res));
		for (int i = 0; i < j->nrcpt; i++) {
			rcpt_move(j->rcpt[i], QR_ACTIVE);
			j->res[i].code = f->code;
			gw_strlcpy(j->res[i].status, f->status,
			    sizeof(j->res[i].status));
			j->res[i].text = xstrdup(f->text);
		}
		/* The attempt began with the connection that failed, if
		 * any: a throttling reply then is as old as it. */
		j->started_ms = f->hop.started_ms ? f->hop.started_ms :
		    loop_now();
		j->hop = f->hop;
		j->tried = hop_fail_copy(f->tried, f->ntried);
		j->ntried = f->ntried;
		dest_job_done(j);
	}
	if (f->left > 0 && d->njobs > 0) {
		timer_add(&f->timer, 1);	/* the next turn */
		return;
	}
	timer_del(&f->timer);
	free(f->text);
	free(f->tried);
	free(f);
	d->fail = NULL;
	if (d->njobs > 0)
		dest_kick(d);
}

static void
fail_due(struct ev_timer *t)
{
	fail_some(t->arg);
}

void
dest_fail_all(struct dest *d, int code, const char *status,
    const char *text, const struct hop *hop, const struct hop_fail *tried,
    int ntried)
{
	struct dest_fail *f = d->fail;

	if (f == NULL) {
		f = d->fail = xcalloc(1, sizeof(*f));
		timer_init(&f->timer, fail_due, d);
	}
	free(f->text);
	free(f->tried);
	f->left = d->njobs;
	f->code = code;
	gw_strlcpy(f->status, status, sizeof(f->status));
	f->text = xstrdup(text);
	if (hop)
		f->hop = *hop;
	else
		memset(&f->hop, 0, sizeof(f->hop));
	f->tried = hop_fail_copy(tried, ntried);
	f->ntried = ntried;
	fail_some(d);
}

/* A connection of the group closed: its other destinations may go. */
static int
group_kick_one(const char *key, void *v, void *arg)
{
	struct dest *d = v;

	if (d->grp == arg && d->njobs > 0)
		dest_kick(d);
	return 0;
}

void
dest_kick_group(struct tgroup *g)
{
	dest_foreach(group_kick_one, g);
}

/* A connection is ready for work: a job, or idle, or closed when the
 * destination allows fewer connections now. */
void
dest_conn_ready(struct dest *d, struct mta *m)
{
	struct job *j;

	if (d->nconn > d->cwnd) {
		mta_shutdown(m);
		return;
	}
	if ((j = dest_take(d)) != NULL) {
		job_run(m, j);
		return;
	}
	mta_set_idle(m, d->idle);
	d->idle = m;
}

void
dest_idle_remove(struct dest *d, struct mta *m)
{
	struct mta *list = d->idle, *keep = NULL, *next;

	/* Idle lists are short (at most relay.connections): rebuild. */
	for (; list; list = next) {
		next = mta_next_idle(list);
		if (list == m)
			continue;
		mta_set_idle(list, keep);
		keep = list;
	}
	d->idle = keep;
	mta_set_idle(m, NULL);
}

void
dest_conn_up(struct dest *d)
{
	d->nconnecting--;
}

/* An IP pool's addresses take turns; NULL: any address. */
const struct dest_src *
dest_src_next(struct dest *d)
{
	return d->nsrc > 0 ? &d->src[d->src_next++ % d->nsrc] : NULL;
}

struct hop_fail *
hop_fail_copy(const struct hop_fail *tried, int n)
{
	struct hop_fail *c;

	if (n <= 0)
		return NULL;
	c = xreallocarray(NULL, (size_t)n, sizeof(*c));
	memcpy(c, tried, (size_t)n * sizeof(*c));
	return c;
}

void
dest_conn_failed(struct dest *d, int code, const char *status,
    const char *text, const struct hop *hop, const struct hop_fail *tried,
    int ntried)
{
	/* A server that turned us away for being sent too much (a 421
	 * greeting: "too many connections") slows d down as a reply in a
	 * transaction would, also when other connections carry on. */
	if (hop && bounce_classify(code, status, text) == BC_THROTTLED)
		throttle_backoff(d, hop->started_ms, code, status, text);
	/* The failing connection still counts in nconn and nconnecting.
	 * If no other connection is working, nothing here can be reached:
	 * what waits would meet the same fate, so it is deferred with this
	 * reason and retried later.  Otherwise the others carry on. */
	if (d->nconn - d->nconnecting > 0)
		return;
	log_info("dest=%s unreachable: %d %s %s", d->name, code, status, text);
	d->route_state = DR_NONE;	/* look it up afresh next time */
	dest_fail_all(d, code, status, text, hop, tried, ntried);
}

void
dest_conn_closed(struct dest *d, struct mta *m, int was_up)
{
	if (!was_up)
		d->nconnecting--;
	d->nconn--;
	throttle_conn(d, -1);
	if (d->grp)
		dest_kick_group(d->grp);
	dest_kick(d);
}
