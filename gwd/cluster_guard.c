/*
 * cluster_guard.c - login blocks of whole addresses shared by every
 * node (see cluster.h; authguard.h makes them).
 * Exposure: addresses come from Redis (written by the other nodes);
 * authguard keys them as strings and never parses them again.
 * Diagnostics: none fail; a reply of the wrong shape is skipped.
 *
 * Redis keeps the blocks in the sorted set CK_AUTHBLOCK, address ->
 * until (Unix ms: the nodes' clocks must agree, as NTP keeps them, to
 * within the precision of a block's length).  A node that blocks an
 * address adds it (ZADD GT: the longer block stands); every second
 * (the heartbeat's tick) each node reads the blocks still running and
 * applies them, and lifts those it took from the cluster that are gone
 * from it (`gwctl auth unblock` on any node removes them there).  So a
 * block reaches every node within about a second.  A block made while
 * Redis is away stays on its node; blocks by address and user name
 * (one application's stale password) stay on their node: the client
 * that tries it again elsewhere is blocked there in turn.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "cluster_priv.h"
#include "hmap.h"
#include "util.h"

static struct hmap	 applied;	/* addresses blocked from Redis */
static int		 polling;
static void		(*apply_block)(const char *, int64_t);
static void		(*apply_lift)(const char *);

void
cluster_share_guard(void (*block)(const char *ip, int64_t ms),
    void (*lift)(const char *ip))
{
	apply_block = block;
	apply_lift = lift;
	hmap_init(&applied);
}

void
cluster_authblock_publish(const char *ip, int64_t ms)
{
	char until[32];
	const char *argv[] = { "ZADD", CK_AUTHBLOCK, "GT", until, ip };

	if (!cl.enabled || !cl.up)
		return;
	snprintf(until, sizeof(until), "%lld", (long long)(now_us() / 1000 +
	    ms));
	cl_command(NULL, NULL, nitems(argv), argv);
}

void
cluster_authblock_lift(const char *ip)
{
	const char *zrem[] = { "ZREM", CK_AUTHBLOCK, ip };
	const char *del[] = { "DEL", CK_AUTHBLOCK };

	if (!cl.enabled || !cl.up)
		return;
	if (ip)
		cl_command(NULL, NULL, nitems(zrem), zrem);
	else
		cl_command(NULL, NULL, nitems(del), del);
}

/* A block this node took from the cluster that the cluster lifted. */
static int
lift_gone(const char *ip, void *v, void *arg)
{
	const redisReply *rep = arg;

	for (size_t i = 0; i + 1 < rep->elements; i += 2)
		if (strcmp(rep->element[i]->str, ip) == 0)
			return 0;
	apply_lift(ip);
	return 1;
}

static void
poll_done(redisReply *rep, void *arg)
{
	int64_t now = now_us() / 1000;

	polling = 0;
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY)
		return;
	for (size_t i = 0; i + 1 < rep->elements; i += 2) {
		const redisReply *ip = rep->element[i], *t = rep->element[i + 1];
		int64_t left;

		if (!cl_is_str(ip) || !cl_is_str(t) || ip->len > 45)
			return;		/* nothing from a set of that shape */
		left = (int64_t)strtod(t->str, NULL) - now;
		if (left <= 0)
			continue;
		apply_block(ip->str, left);
		hmap_put(&applied, ip->str, &applied);
	}
	hmap_foreach(&applied, lift_gone, rep);
}

void
guard_tick(void)
{
	char now[32];
	const char *trim[] = { "ZREMRANGEBYSCORE", CK_AUTHBLOCK, "-inf", now };
	const char *get[] = { "ZRANGEBYSCORE", CK_AUTHBLOCK, now, "+inf",
	    "WITHSCORES" };

	if (apply_block == NULL || polling)
		return;
	polling = 1;
	snprintf(now, sizeof(now), "%lld", (long long)(now_us() / 1000));
	cl_command(NULL, NULL, nitems(trim), trim);
	cl_command(poll_done, NULL, nitems(get), get);
}
