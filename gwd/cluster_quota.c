/*
 * cluster_quota.c - per-subaccount hourly and daily quotas across the
 * cluster (see cluster.h).
 * Exposure: Redis replies, checked for shape.
 * Diagnostics: none fail; a Redis gone mid-request answers the waiting
 * transactions CQ_AWAY, and they fall back to this node's share.
 *
 * Redis counts each subaccount's messages per minute (the script
 * CS_QUOTA of cshare.c) and hands them out as tokens, at most the quota
 * allows: a transaction takes one at MAIL (waiting a round trip when
 * this node holds none), spends it when its message is accepted, and
 * gives it back to this node's cache when it ends otherwise.  A batch
 * is 1 for a quota under 100 an hour (so a small quota is exact), else
 * a hundredth of it, at most 20; MAILs beyond a batch that waited for
 * the same reply wait for the next batch (refused only when Redis gives
 * less than asked); when half a batch is left the next is asked for
 * already, so MAIL seldom waits; tokens unused for IDLE_MS go back to
 * Redis.  So the cluster never accepts more than the quota; it may
 * refuse up to (nodes - 1) * 1.5 * batch messages early while other
 * nodes hold tokens.  Messages accepted while Redis was away are added to its
 * count when it is back, so the hour after an outage is not a fresh
 * quota.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "cluster_priv.h"
#include "log.h"
#include "util.h"

#define IDLE_MS		5000

struct waiter {
	cquota_done	 done;
	void		*arg;
};

struct cq {
	char		*name;
	int		 tokens;	/* held, not given to a transaction */
	int		 pending;	/* a request is under way */
	int		 asked;		/* tokens it asks for */
	int		 unshared;	/* accepted while Redis was away */
	int64_t		 hour, day;	/* the quotas asked with */
	int64_t		 last_used;
	struct waiter	*w;
	size_t		 nw, capw;
};

static struct hmap	 cqs;
static int		 cq_ready;

static struct cq *
cq_get(const char *sub)
{
	struct cq *q;

	if (!cq_ready) {
		hmap_init(&cqs);
		cq_ready = 1;
	}
	if ((q = hmap_get(&cqs, sub)) == NULL) {
		q = xcalloc(1, sizeof(*q));
		q->name = xstrdup(sub);
		hmap_put(&cqs, q->name, q);
	}
	return q;
}

static int
batch(int64_t hour, int64_t day)
{
	int64_t l = hour > 0 && (day <= 0 || hour < day) ? hour : day;

	l /= 100;
	return l < 1 ? 1 : l > 20 ? 20 : (int)l;
}

static void
add_done(redisReply *rep, void *arg)
{
}

/* Add n to the subaccount's count whatever its quota (n < 0: give
 * back). */
static void
quota_add(struct cq *q, int n)
{
	char k[200], nb[16];

	snprintf(k, sizeof(k), "%s%s", CK_QUOTA, q->name);
	snprintf(nb, sizeof(nb), "%d", n);
	cl_eval(CS_QUOTA, add_done, NULL, 1, 5, k, "0", "0", nb, "1");
}

static void	 ask(struct cq *);
static void	 wait_add(struct cq *, cquota_done, void *);

/*
 * Answer the waiters: away (Redis gone), with the tokens held, and the
 * rest with over when Redis gave less than asked (the quota is used
 * up); else the rest wait for another batch (more MAILs came during
 * one round trip than a batch holds: not a full quota).
 */
static void
serve(struct cq *q, int away, int over)
{
	struct waiter *w = q->w;
	size_t n = q->nw, i;

	q->w = NULL;
	q->nw = q->capw = 0;
	for (i = 0; i < n; i++) {
		if (away)
			w[i].done(w[i].arg, CQ_AWAY);
		else if (q->tokens > 0) {
			q->tokens--;
			q->last_used = loop_now();
			w[i].done(w[i].arg, CQ_OK);
		} else if (over)
			w[i].done(w[i].arg, CQ_OVER);
		else
			break;
	}
	if (i < n && !q->pending)
		ask(q);
	for (; i < n; i++) {
		if (q->pending)
			wait_add(q, w[i].done, w[i].arg);
		else
			w[i].done(w[i].arg, CQ_AWAY);	/* cannot ask */
	}
	free(w);
}

static void
take_done(redisReply *rep, void *arg)
{
	struct cq *q = arg;

	q->pending = 0;
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY ||
	    rep->elements != 3 ||
	    rep->element[0]->type != REDIS_REPLY_INTEGER) {
		serve(q, 1, 0);
		return;
	}
	if (rep->element[0]->integer > 0)
		q->tokens += (int)rep->element[0]->integer;
	serve(q, 0, rep->element[0]->integer < q->asked);
}

static void
ask(struct cq *q)
{
	char k[200], h[32], d[32], n[16];

	q->pending = 1;
	q->asked = batch(q->hour, q->day);
	snprintf(k, sizeof(k), "%s%s", CK_QUOTA, q->name);
	snprintf(h, sizeof(h), "%lld", (long long)q->hour);
	snprintf(d, sizeof(d), "%lld", (long long)q->day);
	snprintf(n, sizeof(n), "%d", q->asked);
	cl_eval(CS_QUOTA, take_done, q, 1, 5, k, h, d, n, "0");
}

int
cluster_quota_take(const char *sub, int64_t hour, int64_t day,
    cquota_done done, void *arg)
{
	struct cq *q;

	if (!cl.up || (hour <= 0 && day <= 0))
		return CQ_NONE;
	q = cq_get(sub);
	q->hour = hour;
	q->day = day;
	if (q->tokens > 0) {
		q->tokens--;
		q->last_used = loop_now();
		/* Half a batch left: the next is asked for now, so that MAIL
		 * does not wait for it (batches of 1 stay exact). */
		if (q->asked > 1 && q->tokens <= q->asked / 2 && !q->pending)
			ask(q);
		return CQ_OK;
	}
	/* Asked first: a request that cannot even be sent is answered at
	 * once, and this caller is not waiting yet (it would be told
	 * before it paused).  Then the node's own check is all there is. */
	if (!q->pending)
		ask(q);
	if (!q->pending)
		return CQ_NONE;
	wait_add(q, done, arg);
	return CQ_WAIT;
}

static void
wait_add(struct cq *q, cquota_done done, void *arg)
{
	if (q->nw == q->capw) {
		q->capw = q->capw ? q->capw * 2 : 4;
		q->w = xreallocarray(q->w, q->capw, sizeof(*q->w));
	}
	q->w[q->nw].done = done;
	q->w[q->nw].arg = arg;
	q->nw++;
}

static int
cancel_one(const char *key, void *v, void *arg)
{
	struct cq *q = v;

	for (size_t i = 0; i < q->nw; i++)
		if (q->w[i].arg == arg) {
			q->w[i] = q->w[--q->nw];
			break;
		}
	return 0;
}

void
cluster_quota_cancel(void *arg)
{
	if (cq_ready)
		hmap_foreach(&cqs, cancel_one, arg);
}

void
cluster_quota_return(const char *sub)
{
	struct cq *q = cq_get(sub);

	q->tokens++;
	q->last_used = loop_now();
}

void
cluster_quota_unshared(const char *sub)
{
	if (cl.enabled && !cl.up)
		cq_get(sub)->unshared++;
}

void
cluster_quota_refund(const char *sub)
{
	struct cq *q;

	if (!cl.enabled)
		return;
	q = cq_get(sub);
	if (!cl.up && q->unshared > 0)
		q->unshared--;
	else if (cl.up)
		quota_add(q, -1);
}

/* Redis is back: what was accepted meanwhile counts. */
static int
reconcile_one(const char *key, void *v, void *arg)
{
	struct cq *q = v;

	if (q->unshared > 0) {
		log_info("cluster: subaccount %s: %d messages accepted while "
		    "degraded added to the shared quota", q->name,
		    q->unshared);
		quota_add(q, q->unshared);
		q->unshared = 0;
	}
	return 0;
}

void
cquota_reconcile(void)
{
	if (cq_ready)
		hmap_foreach(&cqs, reconcile_one, NULL);
}

/* Tokens held and unused for IDLE_MS go back to Redis. */
static int
idle_one(const char *key, void *v, void *arg)
{
	struct cq *q = v;

	if (q->tokens > 0 && loop_now() - q->last_used >= IDLE_MS) {
		quota_add(q, -q->tokens);
		q->tokens = 0;
	}
	return 0;
}

void
cquota_tick(void)
{
	if (cq_ready && cl.up)
		hmap_foreach(&cqs, idle_one, NULL);
}
