/*
 * dest.c - destinations and their jobs: one queue of jobs per priority
 * class, weighted so that neither class starves; the route lookup;
 * opening the connections that take the jobs (mta.c).  What the
 * destination hears from them, and the failing of the jobs that wait,
 * are dest_conn.c's.
 * Exposure: none from the network directly; route failures and
 * connection errors arrive already parsed.
 * Diagnostics: allocation failure is fatal; route and connection
 * failures become the outcome of the jobs that wait.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "hmap.h"
#include "log.h"
#include "loop.h"
#include "policy.h"
#include "queue_int.h"
#include "retpath.h"
#include "route.h"
#include "schedule.h"
#include "store.h"
#include "util.h"

#define ROUTE_TTL_MS	MS_PER_MIN
#define DEST_IDLE_MS	(10 * MS_PER_MIN)	/* unused so long: forgotten */
#define GC_EVERY_MS	MS_PER_MIN
#define PRIO_WEIGHT	4	/* transactional jobs per bulk job, when
				   both classes wait at a destination */

static struct hmap	 dests;
static struct hmap	 pool_counts;
static struct ev_timer	 gc_timer;
/*
 * Jobs whose attempt is over wait here until the loop applies their
 * outcome (done_fn), never inside the call that reports them: that may
 * come from deep inside the scheduler (a kick whose new connection
 * fails at once) while the caller still walks the recipients and
 * messages an outcome may free.
 */
static struct job	*done_first, **done_last = &done_first;
static struct ev_timer	 done_timer;
static void		(*done_fn)(struct job *);

static void
pace_due(struct ev_timer *t)
{
	dest_kick(t->arg);
}

static void
recover_due(struct ev_timer *t)
{
	if (throttle_recover(t->arg))
		dest_kick(t->arg);
}

/* Limits and source addresses, as of the current policy. */
static void
dest_refresh(struct dest *d, const struct pool *pool)
{
	const struct policy *p;
	int gen;

	p = policy_now(&gen);
	if (d->policy_gen == gen)
		return;
	d->policy_gen = gen;
	throttle_refresh(d, p);
	free(d->src);
	d->src = NULL;
	d->nsrc = 0;
	if (pool == NULL)
		return;
	d->src = xcalloc((size_t)(pool->naddr ? pool->naddr : 1),
	    sizeof(*d->src));
	for (int i = 0; i < pool->naddr; i++) {
		d->src[i].sa = pool->addr[i].sa;
		d->src[i].salen = pool->addr[i].salen;
		gw_strlcpy(d->src[i].helo, pool->addr[i].helo ?
		    pool->addr[i].helo : gcfg->hostname,
		    sizeof(d->src[i].helo));
	}
	d->nsrc = pool->naddr;
}

static struct pool_count *
pool_count_get(const char *name)
{
	struct pool_count *pc = hmap_get(&pool_counts, name);

	if (pc == NULL) {
		pc = xcalloc(1, sizeof(*pc));
		hmap_put(&pool_counts, name, pc);
	}
	return pc;
}

struct dest *
dest_get(const struct choice *c)
{
	struct dest *d = hmap_get(&dests, c->name);

	if (d == NULL) {
		d = xcalloc(1, sizeof(*d));
		d->name = xstrdup(c->name);
		d->domain = c->domain ? xstrdup(c->domain) : NULL;
		if (c->domain == NULL) {
			d->host = xstrdup(c->sh && c->sh->n ?
			    c->sh->e[0].host : "");
			if (c->sh) {
				d->sh = xmalloc(sizeof(*d->sh));
				*d->sh = *c->sh;
			}
		}
		d->port = c->port;
		d->tls = c->tls;
		d->auth = c->auth;
		d->cred = c->cred;	/* part of the name: never changes */
		d->credit = PRIO_WEIGHT;
		d->policy_gen = -1;	/* limits not set yet */
		/* The pool is part of the name: it never changes. */
		if (c->pool) {
			d->pool = xstrdup(c->pool->name);
			d->pcount = pool_count_get(c->pool->name);
		}
		timer_init(&d->pace, pace_due, d);
		timer_init(&d->recover, recover_due, d);
		hmap_put(&dests, c->name, d);
	}
	dest_refresh(d, c->pool);
	d->last_used = loop_now();
	return d;
}

/*
 * Ready recipients.  Each class's list is in the order they became
 * ready; consecutive ones of one message, up to limits.recipients, make
 * one job (one transaction), its first marked job_head; with a VERP
 * return path each recipient is a job of its own, as Postfix delivers
 * VERP mail, since the return path names one recipient; so is each
 * recipient with fields of its own (QMSG_RCPT_PREFIX).  The job itself
 * is made only when a connection takes it (dest_pop), so a backlog of
 * ready recipients costs no more than the recipients.
 */
void
dest_ready(struct dest *d, struct qrcpt *r, int prio)
{
	struct qrcpt *last = d->ready_last[prio];

	r->dest = d;
	r->prio = (unsigned)prio;
	r->ready_next = NULL;
	r->ready_prev = last;
	if (last && last->msg == r->msg &&
	    d->tail_n[prio] < gcfg->limits.recipients &&
	    !(r->msg->flags & QMSG_RCPT_PREFIX) &&
	    !retpath_applies(r->msg->sender, r->msg->subaccount)) {
		r->job_head = 0;
		d->tail_n[prio]++;
	} else {
		r->job_head = 1;
		d->tail_n[prio] = 1;
		d->njobs++;
	}
	if (last)
		last->ready_next = r;
	else
		d->ready[prio] = r;
	d->ready_last[prio] = r;
}

/* r leaves its destination's list without a job (its message is held,
 * deleted or bounced); the rest of its job stays one. */
void
dest_unready(struct qrcpt *r)
{
	struct dest *d = r->dest;
	struct qrcpt *next = r->ready_next;
	int p = r->prio;

	if (r->job_head) {
		if (next && !next->job_head)
			next->job_head = 1;
		else
			d->njobs--;
	}
	if (r->ready_prev)
		r->ready_prev->ready_next = next;
	else
		d->ready[p] = next;
	if (next)
		next->ready_prev = r->ready_prev;
	else
		d->ready_last[p] = r->ready_prev;
	r->ready_next = r->ready_prev = NULL;
	r->job_head = 0;
	/* Which job was last is not kept: the next one starts afresh. */
	d->tail_n[p] = gcfg->limits.recipients;
}

/* The first job of class p, out of its list. */
static struct job *
job_take(struct dest *d, int p)
{
	struct qrcpt *r = d->ready[p], *end, *next;
	struct job *j = xcalloc(1, sizeof(*j));
	int n = 1;

	for (end = r->ready_next; end && !end->job_head; end = end->ready_next)
		n++;
	j->dest = d;
	j->msg = r->msg;
	j->prio = p;
	j->rcpt = xcalloc((size_t)n, sizeof(*j->rcpt));
	for (; r != end; r = next) {
		next = r->ready_next;
		r->ready_next = r->ready_prev = NULL;
		r->job_head = 0;
		j->rcpt[j->nrcpt++] = r;
	}
	if ((d->ready[p] = end) != NULL)
		end->ready_prev = NULL;
	else
		d->ready_last[p] = NULL;
	d->njobs--;
	return j;
}

void
job_free(struct job *j)
{
	if (j->res)
		for (int i = 0; i < j->nrcpt; i++) {
			free(j->res[i].text);
			free(j->res[i].reply);
		}
	free(j->res);
	free(j->rcpt);
	free(j->tried);
	free(j);
}

/* The recipients of j are in a transaction from the moment m has it. */
void
job_run(struct mta *m, struct job *j)
{
	for (int i = 0; i < j->nrcpt; i++)
		rcpt_move(j->rcpt[i], QR_ACTIVE);
	mta_run_job(m, j);
}

/*
 * The next job, whatever the limits: transactional first, but a bulk
 * job every PRIO_WEIGHT jobs when both classes wait, so neither starves.
 */
struct job *
dest_pop(struct dest *d)
{
	int p = PRIO_TRANSACTIONAL;

	if (d->ready[PRIO_TRANSACTIONAL] == NULL ||
	    (d->ready[PRIO_BULK] != NULL && d->credit == 0))
		p = PRIO_BULK;
	if (d->ready[p] == NULL)
		return NULL;
	if (p == PRIO_BULK)
		d->credit = PRIO_WEIGHT;
	else if (d->ready[PRIO_BULK] != NULL)
		d->credit--;
	return job_take(d, p);
}

/* The next job the limits allow now, else NULL (and a timer for when). */
struct job *
dest_take(struct dest *d)
{
	int64_t now = loop_now(), wait;

	if (d->njobs == 0 || !store_deliveries_allowed())
		return NULL;
	if ((wait = throttle_wait(d, now)) > 0) {
		timer_add(&d->pace, wait);
		return NULL;
	}
	throttle_sent(d, now);
	return dest_pop(d);
}

static void
route_done(void *arg, const struct route_result *res)
{
	struct dest *d = arg;

	d->rreq = NULL;
	if (res->status != ROUTE_OK) {
		d->route_state = DR_NONE;
		log_info("dest=%s route %s: %d %s %s", d->name,
		    res->status == ROUTE_TEMPFAIL ? "tempfail" : "failed",
		    res->code, res->enh, res->text);
		dest_fail_all(d, res->code, res->enh, res->text, NULL, NULL,
		    0);
		return;
	}
	free(d->route);
	d->route = xmalloc(sizeof(*d->route));
	memcpy(d->route, res, sizeof(*res));
	d->route_state = DR_READY;
	d->route_expires = loop_now() + ROUTE_TTL_MS;
	throttle_group(d, res);
	dest_kick(d);
}

/* Hand jobs to idle connections; open more connections if needed. */
void
dest_kick(struct dest *d)
{
	struct mta *m;
	struct job *j;

	if (!store_deliveries_allowed())
		return;		/* dest_resume_all() comes back */
	if (d->fail)
		return;		/* fail_some() comes back */
	while ((m = d->idle) != NULL && (j = dest_take(d)) != NULL) {
		d->idle = mta_next_idle(m);
		mta_set_idle(m, NULL);
		job_run(m, j);
	}
	if (d->njobs == 0)
		return;
	if (d->route_state == DR_READY && loop_now() >= d->route_expires &&
	    d->nconn == 0)
		d->route_state = DR_NONE;
	if (d->route_state == DR_NONE) {
		d->route_state = DR_RESOLVING;
		d->rreq = route_resolve(d->domain, d->sh, d->port,
		    route_done, d);
		return;
	}
	if (d->route_state != DR_READY)
		return;
	while (d->njobs > d->nconnecting && d->nconn < d->cwnd &&
	    throttle_room(d)) {
		d->nconn++;
		d->nconnecting++;
		throttle_conn(d, 1);
		mta_start(d, d->route);
	}
}

/* The attempt of j is over (or a rule refused it): see done_first. */
void
dest_job_done(struct job *j)
{
	j->next = NULL;
	*done_last = j;
	done_last = &j->next;
	if (j->dest)
		j->dest->nposted++;
	if (!timer_armed(&done_timer))
		timer_add(&done_timer, 0);
}

/* Apply the outcomes of finished jobs, oldest first (an outcome may
 * finish more jobs: they are applied in the same pass). */
static void
done_run(void)
{
	struct job *j;

	while ((j = done_first) != NULL) {
		if ((done_first = j->next) == NULL)
			done_last = &done_first;
		if (j->dest)
			j->dest->nposted--;
		if (j->body_held)
			queue_release_body(j->msg);
		done_fn(j);
		job_free(j);
	}
}

static void
done_due(struct ev_timer *t)
{
	done_run();
}

/* Also before the loop sleeps: after the output flush, which reads
 * TLS records and may finish a job, and before the loop stops, so an
 * outcome of the last turn is never lost; the timer then makes sure the
 * loop turns again to flush what applying it wrote. */
static void
done_idle(void *arg)
{
	if (done_first != NULL) {
		done_run();
		timer_add(&done_timer, 0);
	}
}

/* Forget destinations unused for a while (their route cache too). */
static int
gc_dest(const char *key, void *v, void *arg)
{
	struct dest *d = v;

	if (d->njobs || d->nconn || d->rreq || d->nposted || d->fail ||
	    d->last_used + DEST_IDLE_MS > loop_now())
		return 0;
	timer_del(&d->pace);
	timer_del(&d->recover);
	throttle_forget(d);
	free(d->route);
	free(d->name);
	free(d->domain);
	free(d->host);
	free(d->sh);
	free(d->pool);
	free(d->src);
	free(d);
	return 1;
}

static void
gc(struct ev_timer *t)
{
	hmap_foreach(&dests, gc_dest, NULL);
	timer_add(t, GC_EVERY_MS);
}

static int
shutdown_dest(const char *key, void *v, void *arg)
{
	struct dest *d = v;
	struct mta *m, *next;

	route_cancel(d->rreq);
	d->rreq = NULL;
	for (m = d->idle; m; m = next) {
		next = mta_next_idle(m);
		mta_shutdown(m);
	}
	d->idle = NULL;
	return 0;
}

/*
 * Each ready recipient of d stays in its list if stays() says so; the
 * others leave it, then go to leave(), the caller's to move.  What stays
 * keeps its order and its jobs (one job's recipients, fewer perhaps).
 */
void
dest_sift_ready(struct dest *d, int (*stays)(struct qrcpt *,
    const struct dest *, int prio, void *),
    void (*leave)(struct qrcpt *, void *), void *arg)
{
	for (int p = 0; p < PRIO_COUNT; p++) {
		struct qrcpt *r, *next;

		for (r = d->ready[p]; r != NULL; r = next) {
			next = r->ready_next;
			if (stays(r, d, p, arg))
				continue;
			dest_unready(r);
			leave(r, arg);
		}
	}
}

static int
refresh_one(const char *key, void *v, void *p)
{
	struct dest *d = v;

	dest_refresh(d, policy_pool(p, d->pool));
	return 0;
}

static int
kick_one(const char *key, void *v, void *arg)
{
	struct dest *d = v;

	if (d->njobs > 0)
		dest_kick(d);
	return 0;
}

/*
 * The policy changed: every destination takes its limits, its pool's
 * addresses and its MX host's budget from it now, and those with jobs
 * waiting go as far as the new limits let them.  A backlog used to
 * keep the old throttle until new mail came for it (issue 21).
 */
void
dest_policy_changed(void)
{
	int gen;

	hmap_foreach(&dests, refresh_one, (void *)policy_now(&gen));
	hmap_foreach(&dests, kick_one, NULL);
}

void
dest_shutdown(void)
{
	hmap_foreach(&dests, shutdown_dest, NULL);
}

/* done: what applies a finished job's outcome. */
void
dest_init(void (*done)(struct job *))
{
	hmap_init(&dests);
	hmap_init(&pool_counts);
	timer_init(&gc_timer, gc, NULL);
	timer_add(&gc_timer, GC_EVERY_MS);
	done_fn = done;
	timer_init(&done_timer, done_due, NULL);
	loop_on_idle(done_idle, NULL);
}

struct dest *
dest_find(const char *name)
{
	return hmap_get(&dests, name);
}

int
dest_count(void)
{
	return (int)hmap_count(&dests);
}

void
dest_foreach(int (*fn)(const char *, void *, void *), void *arg)
{
	hmap_foreach(&dests, fn, arg);
}

static int
collect_waiting(const char *key, void *v, void *arg)
{
	struct dest *d = v, ***p = arg;

	if (d->njobs > 0)
		*(*p)++ = d;
	return 0;
}

/* Deliveries may start again (store.c): every destination with work. */
void
dest_resume_all(void)
{
	struct dest **all = xcalloc(hmap_count(&dests) + 1, sizeof(*all));
	struct dest **end = all;

	/* Gathered first: a kick may add destinations to the map. */
	hmap_foreach(&dests, collect_waiting, &end);
	for (struct dest **d = all; d < end; d++)
		dest_kick(*d);
	free(all);
}

struct pool_count *
dest_pool_count(const char *name)
{
	return hmap_get(&pool_counts, name);
}
