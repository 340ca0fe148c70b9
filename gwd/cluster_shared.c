/*
 * cluster_shared.c - what stops a client or a subaccount on every node:
 * login blocks of whole addresses (authguard.h makes them) and
 * subaccount pauses (pause.h), see cluster.h.
 * Exposure: names and reasons come from Redis (written by the other
 * nodes); addresses are at most 45 bytes, subaccount names at most
 * CTL_NAME_MAX, reasons are made printable before they are kept.
 * Diagnostics: none fail; a reply of the wrong shape is skipped.
 *
 * Each is a set in Redis that every node reads every second (the
 * heartbeat's tick) and applies: a node applies what is there and lifts
 * what it took from the set (or put there itself) once it is gone from
 * it.  So a change
 * reaches every node within about a second, an administrator's lift on
 * any node lifts everywhere, and a node that was away takes the set as
 * it is when it is back.
 *   blocks   sorted set CK_AUTHBLOCK, address -> until (Unix ms: the
 *            nodes' clocks must agree, as NTP keeps them, to within the
 *            precision of a block's length); ZADD GT, so the longer
 *            block stands; ended ones are trimmed by every reader.
 *   pauses   hash CK_PAUSED, subaccount -> reason: automatic pauses
 *            (bounce and complaint rates); `gwctl subaccount resume`
 *            on any node removes it.  A node applies another's pause
 *            in memory and resumes it, stored, when the set lifts it.
 * Made while Redis is away, a block or pause stays on its node; so do
 * blocks of one user name from one address and volume throttles.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "cluster_priv.h"
#include "hmap.h"
#include "util.h"

#define NAME_MAX_LEN	255
#define REASON_MAX	300

struct sset {
	const char	*key;
	int		 polling;
	int		 ready;		/* hooks given */
	struct hmap	 applied;	/* names taken from the set */
	/* 1 when applied (the name is kept as taken from the set). */
	int		(*apply)(const char *name, const char *value);
	void		(*lift)(const char *name);
};

static struct sset	 blocks = { .key = CK_AUTHBLOCK };
static struct sset	 pauses = { .key = CK_PAUSED };
static void		(*block_ip)(const char *, int64_t);
static void		(*pause_sub)(const char *, const char *);

static int64_t
unix_ms(void)
{
	return now_us() / 1000;
}

static int
block_apply(const char *ip, const char *until)
{
	int64_t left = (int64_t)strtod(until, NULL) - unix_ms();

	if (left <= 0 || strlen(ip) > 45)
		return 0;
	block_ip(ip, left);
	return 1;
}

static int
pause_apply(const char *sub, const char *reason)
{
	char r[REASON_MAX + 1];
	size_t i;

	for (i = 0; reason[i] && i < REASON_MAX; i++)
		r[i] = reason[i] < 0x20 || reason[i] == 0x7f ? '?' : reason[i];
	r[i] = '\0';
	pause_sub(sub, r);
	return 1;
}

static void
sset_init(struct sset *s, int (*apply)(const char *, const char *),
    void (*lift)(const char *))
{
	s->apply = apply;
	s->lift = lift;
	s->ready = 1;
	hmap_init(&s->applied);
}

void
cluster_share_guard(void (*block)(const char *ip, int64_t ms),
    void (*lift)(const char *ip))
{
	block_ip = block;
	sset_init(&blocks, block_apply, lift);
}

void
cluster_share_pauses(void (*pause)(const char *sub, const char *reason),
    void (*resume)(const char *sub))
{
	pause_sub = pause;
	sset_init(&pauses, pause_apply, resume);
}

static void
command(int argc, const char **argv)
{
	if (cl.enabled && cl.up)
		cl_command(NULL, NULL, argc, argv);
}

struct added {
	struct sset	*s;
	char		 name[NAME_MAX_LEN + 1];
};

/* This node's own entry is in the set: from now on, it goes when the
 * set loses it (an earlier read, which did not have it, was answered
 * before this: Redis answers in order). */
static void
added(redisReply *rep, void *arg)
{
	struct added *a = arg;

	if (rep != NULL && rep->type != REDIS_REPLY_ERROR && a->s->ready)
		hmap_put(&a->s->applied, a->name, a->s);
	free(a);
}

static void
add(struct sset *s, const char *name, int argc, const char **argv)
{
	struct added *a;

	if (!cl.enabled || !cl.up || strlen(name) > NAME_MAX_LEN)
		return;
	a = xcalloc(1, sizeof(*a));
	a->s = s;
	memcpy(a->name, name, strlen(name) + 1);
	cl_command(added, a, argc, argv);
}

void
cluster_authblock_publish(const char *ip, int64_t ms)
{
	char until[32];
	const char *argv[] = { "ZADD", CK_AUTHBLOCK, "GT", until, ip };

	snprintf(until, sizeof(until), "%lld", (long long)(unix_ms() + ms));
	add(&blocks, ip, nitems(argv), argv);
}

void
cluster_authblock_lift(const char *ip)
{
	const char *zrem[] = { "ZREM", CK_AUTHBLOCK, ip };
	const char *del[] = { "DEL", CK_AUTHBLOCK };

	if (ip)
		command(nitems(zrem), zrem);
	else
		command(nitems(del), del);
}

void
cluster_pause_publish(const char *sub, const char *reason)
{
	const char *argv[] = { "HSET", CK_PAUSED, sub, reason };

	add(&pauses, sub, nitems(argv), argv);
}

void
cluster_pause_lift(const char *sub)
{
	const char *argv[] = { "HDEL", CK_PAUSED, sub };

	command(nitems(argv), argv);
}

/* A name this node took from the set that the set no longer has. */
static int
lift_gone(const char *name, void *v, void *arg)
{
	const redisReply *rep = arg;
	struct sset *s = v;

	for (size_t i = 0; i + 1 < rep->elements; i += 2)
		if (strcmp(rep->element[i]->str, name) == 0)
			return 0;
	s->lift(name);
	return 1;
}

/* [name, value, ...]: HGETALL's and ZRANGEBYSCORE WITHSCORES's. */
static void
poll_done(redisReply *rep, void *arg)
{
	struct sset *s = arg;

	s->polling = 0;
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY)
		return;
	for (size_t i = 0; i < rep->elements; i++)
		if (!cl_is_str(rep->element[i]) ||
		    (i % 2 == 0 && rep->element[i]->len > NAME_MAX_LEN))
			return;		/* nothing from a set of that shape */
	for (size_t i = 0; i + 1 < rep->elements; i += 2)
		if (s->apply(rep->element[i]->str, rep->element[i + 1]->str))
			hmap_put(&s->applied, rep->element[i]->str, s);
	hmap_foreach(&s->applied, lift_gone, rep);
}

static void
sset_poll(struct sset *s, int argc, const char **argv)
{
	if (!s->ready || s->polling)
		return;
	s->polling = 1;
	cl_command(poll_done, s, argc, argv);
}

void
shared_tick(void)
{
	char now[32];
	const char *trim[] = { "ZREMRANGEBYSCORE", CK_AUTHBLOCK, "-inf", now };
	const char *running[] = { "ZRANGEBYSCORE", CK_AUTHBLOCK, now, "+inf",
	    "WITHSCORES" };
	const char *paused[] = { "HGETALL", CK_PAUSED };

	snprintf(now, sizeof(now), "%lld", (long long)unix_ms());
	if (blocks.ready && !blocks.polling)
		cl_command(NULL, NULL, nitems(trim), trim);
	sset_poll(&blocks, nitems(running), running);
	sset_poll(&pauses, nitems(paused), paused);
}
