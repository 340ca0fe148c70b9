/*
 * queue_report.c - read-only views of the scheduler for the control
 * socket: the counters (gwtop, /metrics), queued recipients per domain
 * (qshape-style: gwctl queue domains) and the IP pools with their live
 * figures.
 * Exposure: none; what it reports is already in memory.
 * Diagnostics: nothing fails but allocation, which is fatal.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "cidr.h"
#include "config.h"
#include "hmap.h"
#include "log.h"
#include "policy.h"
#include "queue.h"
#include "queue_int.h"
#include "schedule.h"
#include "shlist.h"
#include "smarthost.h"
#include "util.h"

void
queue_stats(struct queue_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->messages = qmsg_count();
	st->recipients = rcpt_pending();
	st->active = rcpt_count(QR_ACTIVE);
	st->deferred = rcpt_count(QR_WAITING);
	st->held = rcpt_count(QR_HELD);
	st->held_messages = qmsg_count_held();
	st->quarantined_messages = qmsg_count_quarantined();
	st->destinations = dest_count();
	st->connections = mta_count();
	st->oldest_us = queue_first() ? queue_first()->received_us : 0;
	st->loading = queue_loading();
}

static int
qdest_age(int64_t age_us)
{
	int i;

	for (i = 0; i < QUEUE_AGES - 1; i++)
		if (age_us < ctl_age_min[i] * US_PER_MIN)
			break;
	return i;
}

static void
qdest_count(struct queue_dest *q, const struct qrcpt *r, int64_t now)
{
	q->queued++;
	q->age[qdest_age(now - r->msg->received_us)]++;
	if (r->state == QR_ACTIVE)
		q->active++;
	if (r->state != QR_WAITING)
		return;
	q->waiting++;
	if (q->next_attempt == 0 || r->next_attempt < q->next_attempt)
		q->next_attempt = r->next_attempt;
	/* The most tried recipient's reply says best why the domain lags. */
	if (r->last_reply && r->attempts >= q->error_attempts) {
		q->error_attempts = r->attempts;
		gw_strlcpy(q->error, r->last_reply, sizeof(q->error));
	}
}

static int
qdest_cmp(const void *a, const void *b)
{
	const struct queue_dest *x = a, *y = b;

	if (x->queued != y->queued)
		return x->queued > y->queued ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The throttle state of via, or (NULL) what the policy would give. */
static void
qdest_limits(struct queue_dest *q, const struct dest *via)
{
	if (via != NULL && via->tls_last != NULL) {
		gw_strlcpy(q->tls, via->tls_last, sizeof(q->tls));
		q->tls_verified = via->tls_last_verified;
	}
	const char *name;
	int per_conn, gen;

	if (via != NULL) {
		gw_strlcpy(q->via, via->name, sizeof(q->via));
		q->connections = via->nconn;
		q->limit = via->max_conn;
		q->window = via->cwnd;
		q->gap_ms = via->gap_ms;
		q->per_minute = via->per_minute;
		q->throttled = throttle_active(via);
		if (via->domain == NULL && via->sh)
			smarthost_health(via->sh, &q->sh_up, &q->sh_total);
		return;
	}
	if (gcfg->relay.mode == RELAY_SMARTHOST)
		smarthost_health(&gcfg->relay.sh, &q->sh_up, &q->sh_total);
	name = gcfg->relay.mode == RELAY_SMARTHOST && gcfg->relay.sh.n ?
	    gcfg->relay.sh.e[0].host : q->name;
	throttle_limits(policy_now(&gen), name, &q->limit, &per_conn,
	    &q->per_minute);
	q->window = q->limit;
}

/*
 * A recipient in a job or a transaction knows its destination (a rule
 * may have chosen it).  For one that waits, the rule it matched is
 * known while the policy is unchanged, so its destination is named
 * without matching again (which may read the message); otherwise the
 * caller uses the domain's own, else the smarthost's.  Of several, a
 * throttled one is the news.  That is asked once per domain (*tried):
 * a deep queue of one domain costs one routing_choose(), not one each.
 */
static void
qdest_via(struct dest **via, char *tried, struct qrcpt *r)
{
	struct dest *d = NULL;
	struct choice c;
	int gen;

	if (r->state == QR_READY || r->state == QR_ACTIVE)
		d = r->dest;
	else if (*via == NULL && !*tried && r->route.gen != 0) {
		policy_now(&gen);
		if (r->route.gen == gen) {
			*tried = 1;
			routing_choose(r, &c);
			d = dest_find(c.name);
		}
	}
	if (d != NULL && (*via == NULL || (!throttle_active(*via) &&
	    throttle_active(d))))
		*via = d;
}

int
queue_destinations(struct queue_dest **out)
{
	struct hmap byname;
	struct queue_dest *q, *d;
	struct dest **via;
	char *tried;
	int64_t now = sched_clock();
	int n = 0, npend = rcpt_pending();

	/* No more domains than pending recipients. */
	q = xcalloc((size_t)npend + 1, sizeof(*q));
	via = xcalloc((size_t)npend + 1, sizeof(*via));
	tried = xcalloc((size_t)npend + 1, 1);
	hmap_init(&byname);
	for (struct qmsg *m = queue_first(); m; m = m->qnext)
		for (int i = 0; i < m->nrcpt; i++) {
			struct qrcpt *r = &m->rcpt[i];
			intptr_t k;

			if (r->state == QR_DONE || r->domain == NULL)
				continue;
			if ((k = (intptr_t)hmap_get(&byname, r->domain)) == 0) {
				if (n > npend)
					break;	/* counts out of step */
				gw_strlcpy(q[n].name, r->domain,
				    sizeof(q[n].name));
				k = ++n;
				hmap_put(&byname, r->domain, (void *)k);
			}
			qdest_count(&q[k - 1], r, now);
			qdest_via(&via[k - 1], &tried[k - 1], r);
		}
	hmap_free(&byname, NULL);
	for (int i = 0; i < n; i++) {
		d = &q[i];
		if (via[i] == NULL && (via[i] = dest_find(d->name)) == NULL)
			via[i] = dest_find(SMARTHOST_DEST);
		qdest_limits(d, via[i]);
	}
	free(via);
	free(tried);
	if (n > 1)
		qsort(q, (size_t)n, sizeof(*q), qdest_cmp);
	*out = q;
	return n;
}

/* Pools: the policy's, with counters and the connections now. */

struct pool_walk {
	struct queue_pool	*p;
	int			 n;
	char			 ip[64];
};

static struct queue_pool *
pool_find(struct queue_pool *p, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(p[i].name, name) == 0)
			return &p[i];
	return NULL;
}

static void
pool_conn(const struct dest *d, const struct dest_src *src, void *arg)
{
	struct pool_walk *w = arg;
	struct queue_pool *qp;

	if (d->pool == NULL || (qp = pool_find(w->p, w->n, d->pool)) == NULL)
		return;
	qp->connections++;
	if (src == NULL)
		return;
	sockaddr_ntop((const struct sockaddr *)&src->sa, w->ip,
	    sizeof(w->ip));
	for (int i = 0; i < qp->naddr; i++)
		if (strcmp(qp->addr[i].address, w->ip) == 0) {
			qp->addr[i].connections++;
			break;
		}
}

static int
pool_dest(const char *key, void *v, void *arg)
{
	struct pool_walk *w = arg;
	struct dest *d = v;
	struct queue_pool *qp;
	char *s;

	if (d->pool == NULL || (qp = pool_find(w->p, w->n, d->pool)) == NULL)
		return 0;
	if (asprintf(&s, "%s%s%s", qp->dests, qp->dests[0] ? "," : "",
	    d->name) == -1)
		fatal("asprintf");
	free(qp->dests);
	qp->dests = s;
	return 0;
}

int
queue_pools(struct queue_pool **out)
{
	int gen;
	const struct policy *p = policy_now(&gen);
	struct pool_walk w;
	struct pool_count *pc;

	w.n = p->npools;
	w.p = xcalloc((size_t)w.n + 1, sizeof(*w.p));
	for (int i = 0; i < w.n; i++) {
		const struct pool *pl = &p->pools[i];
		struct queue_pool *qp = &w.p[i];

		gw_strlcpy(qp->name, pl->name, sizeof(qp->name));
		qp->dests = xstrdup("");
		qp->naddr = pl->naddr;
		qp->addr = xcalloc((size_t)pl->naddr + 1, sizeof(*qp->addr));
		for (int a = 0; a < pl->naddr; a++) {
			sockaddr_ntop((const struct sockaddr *)
			    &pl->addr[a].sa, qp->addr[a].address,
			    sizeof(qp->addr[a].address));
			gw_strlcpy(qp->addr[a].helo, pl->addr[a].helo ?
			    pl->addr[a].helo : gcfg->hostname,
			    sizeof(qp->addr[a].helo));
		}
		if ((pc = dest_pool_count(pl->name)) != NULL) {
			qp->delivered = pc->delivered;
			qp->deferred = pc->deferred;
			qp->bounced = pc->bounced;
		}
	}
	mta_walk(pool_conn, &w);
	dest_foreach(pool_dest, &w);
	*out = w.p;
	return w.n;
}

void
queue_pools_free(struct queue_pool *p, int n)
{
	for (int i = 0; i < n; i++) {
		free(p[i].addr);
		free(p[i].dests);
	}
	free(p);
}
