/*
 * throttle.c - how much a destination may take: connections, messages
 * per connection and per minute from gw.db's throttles or gwd.conf's
 * relay defaults; one shared budget for the domains of a throttled MX
 * host; and the adaptive backoff when the remote side says it gets too
 * much, with its gradual recovery.
 * Exposure: none from the network; remote replies arrive parsed.
 */
#include <stdint.h>
#include <stdlib.h>

#include "auth.h"
#include "config.h"
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

static struct hmap	 tgroups;

/* The limits for a domain or smarthost: its throttle, else gwd.conf's. */
void
dest_limits(const struct policy *p, const char *name, int *max_conn,
    int *per_conn, int *per_minute)
{
	const struct throttle *th = policy_throttle(p, name);

	*max_conn = th && th->connections > 0 ? th->connections :
	    gcfg->relay.connections;
	*per_conn = th && th->per_connection > 0 ? th->per_connection :
	    gcfg->relay.messages_per_connection;
	*per_minute = th && th->per_minute > 0 ? th->per_minute : 0;
}

int64_t
pace_ms(int per_minute)
{
	return per_minute > 0 ? (MS_PER_MIN + per_minute - 1) / per_minute : 0;
}

/* Room for one more connection in d's shared MX-host budget? */
int
group_room(const struct dest *d)
{
	return d->grp == NULL || d->grp->nconn < d->grp->max_conn;
}

void
group_put(struct dest *d)
{
	struct tgroup *g = d->grp;

	d->grp = NULL;
	if (g && --g->refs == 0) {
		hmap_del(&tgroups, g->key);
		free(g->key);
		free(g);
	}
}

/*
 * After an MX lookup: unless the recipient domain has a throttle of its
 * own, one that matches an MX host name puts d in that host's budget.
 * Only while d has no connections (they count in the group they
 * started in).
 */
void
dest_group(struct dest *d, const struct route_result *res)
{
	const struct throttle *th = NULL;
	const struct policy *p;
	struct tgroup *g;
	int gen;

	if (d->domain == NULL || d->nconn > 0)
		return;
	p = policy_now(&gen);
	if (policy_throttle(p, d->domain) == NULL)
		for (int i = 0; i < res->ntargets && th == NULL; i++)
			th = policy_throttle(p, res->targets[i].host);
	if (th == NULL) {
		group_put(d);
		return;
	}
	if ((g = hmap_get(&tgroups, th->domain)) == NULL) {
		g = xcalloc(1, sizeof(*g));
		g->key = xstrdup(th->domain);
		hmap_put(&tgroups, g->key, g);
	}
	if (d->grp != g) {
		group_put(d);
		d->grp = g;
		g->refs++;
	}
	g->max_conn = th->connections > 0 ? th->connections :
	    gcfg->relay.connections;
	g->per_minute = th->per_minute > 0 ? th->per_minute : 0;
	if (th->per_connection > 0)
		d->per_conn = th->per_connection;
}

/*
 * The remote side said it gets too much (421, a rate-limit reply):
 * halve the connections, space messages out; recovery is gradual.
 */
void
dest_throttled(struct dest *d, const struct job_result *res)
{
	d->cwnd = d->cwnd > 1 ? d->cwnd / 2 : 1;
	d->gap_ms = d->gap_ms ? d->gap_ms * 2 : GAP_FIRST_MS;
	if (d->gap_ms > GAP_MAX_MS)
		d->gap_ms = GAP_MAX_MS;
	d->calm_since = loop_now();
	timer_add(&d->recover, gcfg->relay.backoff_recovery_ms);
	log_info("dest=%s throttled by the remote side (%d %s %s): %d "
	    "connections, a message every %lld ms", d->name, res->code,
	    res->status, res->text ? res->text : "", d->cwnd,
	    (long long)d->gap_ms);
}

/* A calm spell (no throttling reply) since: loosen one step. */
void
recover_due(struct ev_timer *t)
{
	struct dest *d = t->arg;
	int64_t now = loop_now();

	if (now - d->calm_since < gcfg->relay.backoff_recovery_ms) {
		timer_add(&d->recover, gcfg->relay.backoff_recovery_ms -
		    (now - d->calm_since));
		return;
	}
	d->calm_since = now;
	d->gap_ms /= 2;
	if (d->gap_ms < GAP_MIN_MS)
		d->gap_ms = 0;
	if (d->cwnd < d->max_conn)
		d->cwnd++;
	log_info("dest=%s recovering: %d connections, %s%lld ms between "
	    "messages", d->name, d->cwnd, d->gap_ms ? "" : "no wait, ",
	    (long long)d->gap_ms);
	if (d->gap_ms > 0 || d->cwnd < d->max_conn)
		timer_add(&d->recover, gcfg->relay.backoff_recovery_ms);
	dest_kick(d);
}

int
dest_is_throttled(const struct dest *d)
{
	return d->cwnd < d->max_conn || d->gap_ms > 0;
}

void
throttle_init(void)
{
	hmap_init(&tgroups);
}
