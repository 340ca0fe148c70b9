/*
 * cluster_lease.c - a throttle's connection limit for the whole
 * cluster (see cluster.h): connections as leases in Redis that lapse
 * unless renewed, so a node killed -9 frees its share after
 * CSHARE_LEASE_TTL_MS.
 * Exposure: Redis replies, checked for type; runs in gwd's loop.
 * Diagnostics: none fail; a lease Redis does not grant is asked for
 * again after RETRY_MS, and a lost connection makes the cluster
 * degraded (the share rule of throttle.c applies then).
 *
 * Per key, Redis keeps how many connections each node holds and when
 * they lapse (the script CS_LEASE, common/cshare.c).  Every request
 * states the node's whole count, never a difference: a request lost
 * with the connection, or Redis restarted empty, is made good by the
 * next renewal, which states the connections this node has open.
 * Only one request that asks for more is under way per key: the
 * scheduler asks for one connection more, then for the next once the
 * first is granted; a connection that closes meanwhile gives its lease
 * back when the answer comes.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cluster.h"
#include "cluster_priv.h"
#include "cshare.h"
#include "hmap.h"
#include "log.h"
#include "loop.h"
#include "util.h"

#define RETRY_MS	100	/* a lease refused: ask again after */
#define KEY_MAX		600

struct lease {
	char		*key;
	int		 held;		/* Redis counts so many ours */
	int		 want;		/* asked for (pending) */
	int		 pending;	/* a request for more is under way */
	struct ev_timer	 again;		/* the scheduler may ask again */
};

static struct hmap	 leases;	/* key -> struct lease */
static int		 inited;
static int		(*count_fn)(const char *);
static void		(*kick_fn)(const char *);

void
cluster_lease_hooks(int (*count)(const char *), void (*kick)(const char *))
{
	count_fn = count;
	kick_fn = kick;
}

static void
again_cb(struct ev_timer *t)
{
	struct lease *l = t->arg;

	kick_fn(l->key);
}

static struct lease *
lease_get(const char *key)
{
	struct lease *l;

	if (!inited) {
		hmap_init(&leases);
		inited = 1;
	}
	if ((l = hmap_get(&leases, key)) == NULL) {
		l = xcalloc(1, sizeof(*l));
		l->key = xstrdup(key);
		timer_init(&l->again, again_cb, l);
		hmap_put(&leases, l->key, l);
	}
	return l;
}

static void	 lease_done(redisReply *, void *);

/* Tell Redis this node holds n under l's key; limit 0: whatever the
 * others hold (a release, a renewal). */
static void
lease_send(struct lease *l, int n, int limit)
{
	char z[sizeof(CK_LEASE) + KEY_MAX], h[sizeof(CK_LEASE_N) + KEY_MAX];
	char ns[16], ls[16], ttl[16];

	snprintf(z, sizeof(z), "%s%s", CK_LEASE, l->key);
	snprintf(h, sizeof(h), "%s%s", CK_LEASE_N, l->key);
	snprintf(ns, sizeof(ns), "%d", n);
	snprintf(ls, sizeof(ls), "%d", limit);
	snprintf(ttl, sizeof(ttl), "%d", CSHARE_LEASE_TTL_MS);
	if (limit > 0) {
		l->pending = 1;
		l->want = n;
		cl_eval(CS_LEASE, lease_done, l, 2, 6, z, h, cl.node, ns, ls,
		    ttl);
	} else {
		l->held = n;
		cl_eval(CS_LEASE, NULL, NULL, 2, 6, z, h, cl.node, ns, ls,
		    ttl);
	}
}

static void
lease_done(redisReply *rep, void *arg)
{
	struct lease *l = arg;
	int n;

	l->pending = 0;
	if (rep == NULL || rep->type != REDIS_REPLY_INTEGER ||
	    rep->integer != 1) {
		/* Refused (or Redis is going: never ask again from here,
		 * the scheduler comes back when the timer says). */
		timer_add(&l->again, RETRY_MS);
		return;
	}
	l->held = l->want;
	kick_fn(l->key);
	/* A connection closed while this was asked, or the scheduler
	 * needed none after all: give back what is not used. */
	if (!l->pending && (n = count_fn(l->key)) < l->held)
		lease_send(l, n, 0);
}

int
cluster_lease_room(const char *key, int limit)
{
	struct lease *l = lease_get(key);
	int n = count_fn(key);

	if (n < l->held)
		return 1;
	if (!l->pending && !timer_armed(&l->again) && cl.ac != NULL)
		lease_send(l, n + 1, limit);
	return 0;
}

void
cluster_lease_closed(const char *key)
{
	struct lease *l;
	int n;

	if (!inited || (l = hmap_get(&leases, key)) == NULL || l->pending)
		return;		/* lease_done() gives it back */
	if ((n = count_fn(key)) < l->held)
		lease_send(l, n, 0);
}

/*
 * Every second while up: renew this node's leases, stating the
 * connections open now (also those opened while Redis was away under
 * the share rule); forget keys with none.
 */
static int
renew_one(const char *key, void *v, void *arg)
{
	struct lease *l = v;
	int n;

	if (l->pending)
		return 0;
	if ((n = count_fn(key)) == 0 && l->held == 0) {
		if (timer_armed(&l->again))
			return 0;
		free(l->key);
		free(l);
		return 1;
	}
	lease_send(l, n, 0);
	return 0;
}

void
lease_tick(void)
{
	if (inited)
		hmap_foreach(&leases, renew_one, NULL);
}
