/*
 * cluster_rate.c - shared per-minute limits (see cluster.h): a token
 * cache per key (common/cshare.h's tcache), filled from a GCRA budget
 * in Redis (the script CS_GCRA) a batch at a time.
 * Exposure: Redis replies, checked for shape; runs in gwd's loop.
 * Diagnostics: none fail; a reply of the wrong shape, or none (Redis
 * gone), leaves the cache to ask again later (tcache_failed()).
 */
#include <hiredis/hiredis.h>

#include <stdio.h>

#include "cluster.h"
#include "cluster_priv.h"
#include "cshare.h"
#include "hmap.h"
#include "loop.h"
#include "util.h"

struct rate {
	struct tcache	 tc;
	char		*key;
};

static struct rate *
rate_get(const char *key)
{
	struct rate *r;

	if ((r = hmap_get(&cl.rates, key)) == NULL) {
		r = xcalloc(1, sizeof(*r));
		r->key = xstrdup(key);
		hmap_put(&cl.rates, r->key, r);
	}
	return r;
}

static void
rate_done(redisReply *rep, void *arg)
{
	struct rate *r = arg;

	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY ||
	    rep->elements != 2 ||
	    rep->element[0]->type != REDIS_REPLY_INTEGER ||
	    rep->element[1]->type != REDIS_REPLY_INTEGER) {
		tcache_failed(&r->tc);
		return;
	}
	tcache_granted(&r->tc, (int)rep->element[0]->integer,
	    rep->element[1]->integer, loop_now());
}

int64_t
cluster_rate_wait(const char *key, int per_minute, int64_t now)
{
	struct rate *r = rate_get(key);
	char k[300], t[32], b[16];
	int64_t w;
	int ask, batch = cshare_batch(per_minute);

	w = tcache_wait(&r->tc, now, &ask);
	if (!ask)
		return w;
	tcache_asked(&r->tc);
	snprintf(k, sizeof(k), "%s%s", CK_RATE, key);
	snprintf(t, sizeof(t), "%d", (60000 + per_minute - 1) /
	    per_minute);
	snprintf(b, sizeof(b), "%d", batch);
	cl_eval(CS_GCRA, rate_done, r, 1, 4, k, t, b, b);
	return w;
}

void
cluster_rate_used(const char *key)
{
	struct rate *r;

	if ((r = hmap_get(&cl.rates, key)) != NULL)
		tcache_use(&r->tc);
}
