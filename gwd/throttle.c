/*
 * throttle.c - how much a destination may take: connections, messages
 * per connection and per minute from gw.db's throttles or gwd.conf's
 * relay defaults; one shared budget for the domains of a throttled MX
 * host; and the adaptive backoff when the remote side says it gets too
 * much, with its recovery.
 * Exposure: none from the network; remote replies arrive parsed and
 * classified (common/bounce.c: only class throttled slows down).
 * Diagnostics: nothing fails but allocation, which is fatal.
 *
 * The backoff is TCP's congestion control in small.  A reply that asks
 * for less mail halves the connections and spaces messages out (1 s,
 * doubling up to a minute), but only once per burst: an attempt begun
 * before the last step down was sent at the old pace, so its reply
 * tells nothing new (eleven parallel 421s are one signal, not eleven
 * halvings down to a minute between messages: issue 21).  Each delivery
 * of an attempt begun after that step loosens one step (half the
 * spacing, one connection more: the connections double with each round
 * of deliveries), and so does each relay.backoff_recovery without a
 * throttling reply, for a destination with nothing to send.
 *
 * In a cluster (cluster.h) a per-minute limit is the whole cluster's:
 * each message also takes a token of it from Redis, through a local
 * cache the scheduler asks without waiting (common/cshare.h says how
 * much that lets through beyond the limit); with Redis away, each node
 * paces itself to its share.  So is a throttle's connection limit (not
 * relay.connections, which is each node's): a connection is opened
 * only with a lease of it from Redis (cluster_lease.c), keyed by the
 * destination or its MX-host budget; with Redis away, each node opens
 * at most its share.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "auth.h"
#include "cluster.h"
#include "config.h"
#include "cshare.h"
#include "hmap.h"
#include "log.h"
#include "loop.h"
#include "policy.h"
#include "queue_int.h"
#include "route.h"
#include "schedule.h"
#include "util.h"

#define GAP_FIRST_MS	1000	/* backoff: spacing after a first 421 */
#define GAP_MAX_MS	MS_PER_MIN
#define GAP_MIN_MS	100	/* recovering: below this, no gap at all */

/*
 * A throttle that matches an MX host name rather than a recipient
 * domain is one budget for every domain that host serves (Google's MX
 * for its many domains): connections and the per-minute pace are
 * counted across them.  Keyed by the throttle's pattern.
 */
struct tgroup {
	char	*key;
	int	 max_conn, per_minute;
	int	 conn_shared;	/* max_conn is the throttle's own */
	int	 nconn;
	int64_t	 next_send;	/* monotonic ms */
	int	 refs;
};

static struct hmap	 tgroups;

static int	 lease_count(const char *);
static void	 lease_kick(const char *);

void
throttle_init(void)
{
	hmap_init(&tgroups);
	cluster_lease_hooks(lease_count, lease_kick);
}

/* The limits for a domain or smarthost: its throttle, else gwd.conf's. */
void
throttle_limits(const struct policy *p, const char *name, int *max_conn,
    int *per_conn, int *per_minute)
{
	const struct throttle *th = policy_throttle(p, name);

	*max_conn = th && th->connections > 0 ? th->connections :
	    gcfg->relay.connections;
	*per_conn = th && th->per_connection > 0 ? th->per_connection :
	    gcfg->relay.messages_per_connection;
	*per_minute = th && th->per_minute > 0 ? th->per_minute : 0;
}

static int64_t
pace_ms(int per_minute)
{
	return per_minute > 0 ? (MS_PER_MIN + per_minute - 1) / per_minute : 0;
}

/*
 * A per-minute limit as this node applies it: the whole of it alone or
 * with Redis (which shares it), this node's share while the cluster is
 * degraded (cluster.h).
 */
static int
node_per_minute(int per_minute)
{
	if (per_minute <= 0 || !cluster_enabled() || cluster_up())
		return per_minute;
	return (int)cshare_share(per_minute, cluster_live());
}

/* The cluster-wide per-minute limit d counts against, and its name:
 * its MX host's budget, else its own; NULL when it has none. */
static const char *
shared_limit(const struct dest *d, int *per_minute)
{
	if (d->grp && d->grp->per_minute > 0) {
		*per_minute = d->grp->per_minute;
		return d->grp->key;
	}
	*per_minute = d->per_minute;
	return d->per_minute > 0 ? (d->domain ? d->domain : d->host) : NULL;
}

/* How long d's next message must wait (0: it may go now).  From the
 * last message sent, so a loosened limit shortens a wait under way.
 * In a cluster that Redis serves, the pace of this node is not enough:
 * the message needs a token of the shared budget too. */
int64_t
throttle_wait(const struct dest *d, int64_t now)
{
	int64_t gap = pace_ms(node_per_minute(d->per_minute)), when = 0;
	const char *key;
	int pm;

	if (d->gap_ms > gap)
		gap = d->gap_ms;
	if (gap > 0 && d->last_send > 0)
		when = d->last_send + gap;
	if (d->grp && d->grp->next_send > when)
		when = d->grp->next_send;
	if (when > now)
		return when - now;
	if (cluster_up() && (key = shared_limit(d, &pm)) != NULL)
		return cluster_rate_wait(key, pm, now);
	return 0;
}

/* A message of d goes now. */
void
throttle_sent(struct dest *d, int64_t now)
{
	const char *key;
	int pm;

	d->last_send = now;
	if (d->grp && d->grp->per_minute > 0)
		d->grp->next_send = now +
		    pace_ms(node_per_minute(d->grp->per_minute));
	if (cluster_up() && (key = shared_limit(d, &pm)) != NULL)
		cluster_rate_used(key);
}

/*
 * The cluster-wide connection limit d counts against: its lease key
 * into key ("g:" and its MX host's budget, else "d:" and its name),
 * this node's connections under it in *n; 0 when there is none.
 */
static int
lease_key(const struct dest *d, char *key, size_t keysz, int *n)
{
	if (!cluster_enabled())
		return 0;
	if (d->grp) {
		*n = d->grp->nconn;
		return d->grp->conn_shared && snprintf(key, keysz, "g:%s",
		    d->grp->key) < (int)keysz ? d->grp->max_conn : 0;
	}
	*n = d->nconn;
	return d->conn_shared && snprintf(key, keysz, "d:%s", d->name) <
	    (int)keysz ? d->max_conn : 0;
}

/* Room for one more connection in d's shared MX-host budget, and in
 * the cluster's (a lease, or the share while Redis is away)? */
int
throttle_room(const struct dest *d)
{
	char key[512];
	int n, limit;

	if (d->grp && d->grp->nconn >= d->grp->max_conn)
		return 0;
	if ((limit = lease_key(d, key, sizeof(key), &n)) == 0)
		return 1;
	if (!cluster_up())
		return n < cshare_share(limit, cluster_live());
	return cluster_lease_room(key, limit);
}

/* A connection of d opened (1) or closed (-1). */
void
throttle_conn(struct dest *d, int delta)
{
	char key[512];
	int n;

	if (d->grp)
		d->grp->nconn += delta;
	if (delta < 0 && lease_key(d, key, sizeof(key), &n) > 0)
		cluster_lease_closed(key);
}

/* The lease hooks (cluster.h): this node's connections under key. */
static int
lease_count(const char *key)
{
	struct tgroup *g;
	struct dest *d;

	if (key[0] == 'g')
		return (g = hmap_get(&tgroups, key + 2)) && g->conn_shared ?
		    g->nconn : 0;
	return (d = dest_find(key + 2)) && d->grp == NULL && d->conn_shared ?
	    d->nconn : 0;
}

static void
lease_kick(const char *key)
{
	struct tgroup *g;
	struct dest *d;

	if (key[0] == 'g') {
		if ((g = hmap_get(&tgroups, key + 2)) != NULL)
			dest_kick_group(g);
	} else if ((d = dest_find(key + 2)) != NULL)
		dest_kick(d);
}

/* d leaves its shared budget (it is forgotten, or has its own now),
 * taking its connections with it. */
void
throttle_forget(struct dest *d)
{
	struct tgroup *g = d->grp;

	d->grp = NULL;
	if (g == NULL)
		return;
	g->nconn -= d->nconn;
	if (--g->refs == 0) {
		hmap_del(&tgroups, g->key);
		free(g->key);
		free(g);
	}
}

/*
 * After an MX lookup, and when the policy changes: unless the recipient
 * domain has a throttle of its own, one that matches an MX host name
 * puts d in that host's budget, with the throttle's limits as they are
 * now.  d's open connections move with it: a group counts those of its
 * members, each closing connection leaves the group d is in then.
 */
void
throttle_group(struct dest *d, const struct route_result *res)
{
	const struct throttle *th = NULL;
	const struct policy *p;
	struct tgroup *g;
	int gen;

	if (d->domain == NULL)
		return;
	p = policy_now(&gen);
	if (policy_throttle(p, d->domain) == NULL)
		for (int i = 0; i < res->ntargets && th == NULL; i++)
			th = policy_throttle(p, res->targets[i].host);
	if (th == NULL) {
		throttle_forget(d);
		return;
	}
	if ((g = hmap_get(&tgroups, th->domain)) == NULL) {
		g = xcalloc(1, sizeof(*g));
		g->key = xstrdup(th->domain);
		hmap_put(&tgroups, g->key, g);
	}
	if (d->grp != g) {
		throttle_forget(d);
		d->grp = g;
		g->refs++;
		g->nconn += d->nconn;
	}
	g->max_conn = th->connections > 0 ? th->connections :
	    gcfg->relay.connections;
	g->conn_shared = th->connections > 0;
	g->per_minute = th->per_minute > 0 ? th->per_minute : 0;
	if (th->per_connection > 0)
		d->per_conn = th->per_connection;
}

/*
 * d's limits as of policy p: connections, messages per connection and
 * per minute, and its MX host's budget once its route is known.  The
 * connections allowed now follow a new limit up and down, but while d
 * is backing off only down: its recovery brings it up.
 */
void
throttle_refresh(struct dest *d, const struct policy *p)
{
	const struct throttle *th;
	int old = d->max_conn;

	throttle_limits(p, d->domain ? d->domain : d->host, &d->max_conn,
	    &d->per_conn, &d->per_minute);
	d->conn_shared = (th = policy_throttle(p, d->domain ? d->domain :
	    d->host)) != NULL && th->connections > 0;
	if (d->cwnd == 0 || d->cwnd == old || d->cwnd > d->max_conn)
		d->cwnd = d->max_conn;
	if (d->route)
		throttle_group(d, d->route);
}

/*
 * The remote side asked for less mail (a reply of class throttled, in
 * a transaction or at the greeting) in answer to an attempt begun at
 * started (monotonic ms): halve the connections, space messages out.
 * Not when the attempt began before the last step down: that is the
 * same burst.  1: d stepped down.
 */
int
throttle_backoff(struct dest *d, int64_t started, int code,
    const char *status, const char *text)
{
	if (started <= d->backoff_at)
		return 0;
	d->backoff_at = d->calm_since = loop_now();
	d->cwnd = d->cwnd > 1 ? d->cwnd / 2 : 1;
	d->gap_ms = d->gap_ms ? d->gap_ms * 2 : GAP_FIRST_MS;
	if (d->gap_ms > GAP_MAX_MS)
		d->gap_ms = GAP_MAX_MS;
	timer_add(&d->recover, gcfg->relay.backoff_recovery_ms);
	log_info("dest=%s throttled by the remote side (%d %s %s): %d "
	    "connections, a message every %lld ms", d->name, code,
	    status ? status : "", text ? text : "", d->cwnd,
	    (long long)d->gap_ms);
	return 1;
}

/* One step back towards the limits: half the spacing, one connection
 * more. */
static void
loosen(struct dest *d, const char *why)
{
	d->gap_ms /= 2;
	if (d->gap_ms < GAP_MIN_MS)
		d->gap_ms = 0;
	if (d->cwnd < d->max_conn)
		d->cwnd++;
	log_info("dest=%s recovering (%s): %d connections, %s%lld ms between "
	    "messages", d->name, why, d->cwnd, d->gap_ms ? "" : "no wait, ",
	    (long long)d->gap_ms);
}

/*
 * A delivery of an attempt begun at started: one begun after the last
 * step down shows the limits of now are welcome, so d loosens a step.
 * 1: loosened (d may take more now).
 */
int
throttle_success(struct dest *d, int64_t started)
{
	if (!throttle_active(d) || started <= d->backoff_at)
		return 0;
	loosen(d, "delivered");
	return 1;
}

/*
 * d's recovery timer: after a calm spell (no throttling reply) since
 * the last step down or the last calm step, loosen one step.  1:
 * loosened (d may take more now).
 */
int
throttle_recover(struct dest *d)
{
	int64_t now = loop_now();

	if (!throttle_active(d))
		return 0;
	if (now - d->calm_since < gcfg->relay.backoff_recovery_ms) {
		timer_add(&d->recover, gcfg->relay.backoff_recovery_ms -
		    (now - d->calm_since));
		return 0;
	}
	d->calm_since = now;
	loosen(d, "calm");
	if (throttle_active(d))
		timer_add(&d->recover, gcfg->relay.backoff_recovery_ms);
	return 1;
}

/* Fewer connections or more spacing than its limits say, for now. */
int
throttle_active(const struct dest *d)
{
	return d->cwnd < d->max_conn || d->gap_ms > 0;
}
