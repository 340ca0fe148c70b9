/*
 * queue.c - the scheduler: pending recipients, retries, destinations,
 * jobs, and the outcome of every delivery attempt.
 * Standards: RFC 5321 4.5.4 (retry strategy), RFC 3464 (DSN), RFC 3463.
 * Exposure: none from the network directly; remote replies arrive
 * already parsed (reply.c) and are only copied into logs and DSNs.
 *
 * Every recipient is in exactly one place: waiting in the retry heap,
 * ready in a job of its destination, active in a transaction, or done.
 * Each outcome is made durable by a store op before the recipient is
 * forgotten; a bounce's DSN is inserted in the same op, so a crash can
 * neither lose it nor send it twice.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "cidr.h"
#include "config.h"
#include "bounce.h"
#include "dsn.h"
#include "heap.h"
#include "hmap.h"
#include "log.h"
#include "metrics.h"
#include "pause.h"
#include "loop.h"
#include "policy.h"
#include "queue.h"
#include "route.h"
#include "schedule.h"
#include "store.h"
#include "suppress.h"
#include "util.h"

#define BODY_CACHE_MAX	((size_t)256 << 20)
#define ROUTE_TTL_MS	60000
#define SMARTHOST_DEST	"[smarthost]"
#define PRIO_WEIGHT	4	/* transactional jobs per bulk job, when
				   both classes wait at a destination */
#define GAP_FIRST_MS	1000	/* backoff: spacing after a first 421 */
#define GAP_MAX_MS	60000
#define HELD_RECHECK_S	60	/* held by a rule: look again this often */

static struct hmap	 dests;
/*
 * A throttle that matches an MX host name rather than a recipient
 * domain is one budget for every domain that host serves (Google's MX
 * for its many domains): connections and the per-minute pace are
 * counted across them.  Keyed by the throttle's pattern.
 */
struct tgroup {
	char	*key;
	int	 max_conn, per_minute;
	int	 nconn;
	int64_t	 next_send;	/* monotonic ms */
	int	 refs;
};
static struct hmap	 tgroups;
/* Outcomes per IP pool name since start-up: outlive the dests. */
struct pool_count {
	int64_t	 delivered, deferred, bounced;
};
static struct hmap	 pool_counts;
/* Recipients waiting for a retry, by next_attempt. */
static struct heap	 retries = HEAP_INITIALIZER(struct qrcpt, next_attempt,
			    heap_idx);
static struct ev_timer	 retry_timer;
static struct ev_timer	 refuse_timer;
static struct qrcpt	**refusals;
static int		 nrefusals, refusals_cap;
static struct ev_timer	 gc_timer;
static size_t		 body_bytes;
static int		 nmessages, nrcpts, nactive;
static int		 nheld, nheld_msgs;	/* recipients, messages */
/* Every queued message by queue id. */
static struct hmap	 byqid;
/* Every queued message, in arrival order (the oldest is first). */
static struct qmsg	*qhead, *qtail;

void
qid_make(char out[QID_LEN + 1])
{
	static uint64_t last;
	uint64_t v = (uint64_t)now_us() << 8;

	/* Strictly increasing within the process, ordered by time. */
	if (v <= last)
		v = last + 1;
	last = v;
	snprintf(out, QID_LEN + 1, "%016llX", (unsigned long long)v);
}

struct qmsg *
qmsg_new(const char *sender, const char *subaccount, int nrcpt)
{
	struct qmsg *m = xcalloc(1, sizeof(*m));

	m->sender = xstrdup(sender ? sender : "");
	m->subaccount = xstrdup(subaccount ? subaccount : "");
	m->nrcpt = m->npending = nrcpt;
	m->rcpt = xcalloc((size_t)(nrcpt ? nrcpt : 1), sizeof(*m->rcpt));
	for (int i = 0; i < nrcpt; i++) {
		m->rcpt[i].msg = m;
		m->rcpt[i].heap_idx = -1;
	}
	return m;
}

struct qmsg *
queue_msg_new(const char *sender, const char *subaccount, int nrcpt)
{
	struct qmsg *m = qmsg_new(sender, subaccount, nrcpt);

	qid_make(m->qid);
	return m;
}

void
qmsg_free(struct qmsg *m)
{
	for (int i = 0; i < m->nrcpt; i++) {
		free(m->rcpt[i].addr);
		free(m->rcpt[i].domain);
		free(m->rcpt[i].last_reply);
	}
	free(m->rcpt);
	free(m->sender);
	free(m->subaccount);
	free(m->message_id);
	free(m->body);
	free(m);
}

/* Bodies: kept while deliveries need them, reloaded otherwise. */

int
queue_load_body(struct qmsg *m)
{
	if (m->body == NULL) {
		if (store_load_body(m) == -1)
			return -1;
		body_bytes += m->bodylen;
	}
	m->body_users++;
	return 0;
}

static void
drop_body(struct qmsg *m)
{
	if (m->body) {
		body_bytes -= m->bodylen;
		free(m->body);
		m->body = NULL;
	}
}

void
queue_release_body(struct qmsg *m)
{
	m->body_users--;
}

/* No one is delivering it and nothing is ready: the body can go. */
static void
maybe_drop_body(struct qmsg *m)
{
	if (m->body_users > 0)
		return;
	for (int i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].state == QR_READY ||
		    m->rcpt[i].state == QR_ACTIVE)
			return;
	drop_body(m);
}

static void
msg_forget(struct qmsg *m)
{
	if (m->qprev)
		m->qprev->qnext = m->qnext;
	else
		qhead = m->qnext;
	if (m->qnext)
		m->qnext->qprev = m->qprev;
	else
		qtail = m->qprev;
	drop_body(m);
	nmessages--;
	if (m->held)
		nheld_msgs--;
	hmap_del(&byqid, m->qid);
	qmsg_free(m);
}

static void
arm_retry_timer(void)
{
	int64_t now = now_us() / 1000, when;

	if (heap_top(&retries) == NULL) {
		timer_del(&retry_timer);
		return;
	}
	when = heap_key(&retries, heap_top(&retries)) * 1000 - now;
	timer_add(&retry_timer, when < 0 ? 0 : when);
}

/* Destinations and jobs. */

/* What the policy says now for one recipient. */
struct choice {
	const struct rule *rule;	/* NULL: the defaults */
	char		 name[600];	/* the dest */
	const char	*domain;	/* MX; NULL: smarthost */
	char		 host[256];
	int		 port, tls, auth, prio;
	const struct pool *pool;
};

static void apply_results(struct job *);
static void rcpt_wait(struct qrcpt *);

/* A rule chose this recipient's route: say so in its lifecycle. */
static void
log_routed(const struct qrcpt *r, const struct rule *ru, int pos)
{
	struct audit_event *ev = audit_new("routed", r->msg->qid);
	char *d;

	ev->recipient = xstrdup(r->addr);
	ev->sender = xstrdup(r->msg->sender);
	ev->subaccount = xstrdup(r->msg->subaccount);
	if (asprintf(&d, "rule=%lld position=%d action=%s priority=%s "
	    "pool=%s via=%s", (long long)ru->id, pos,
	    rules_action_name(ru->action), rules_prio_name(ru->prio),
	    ru->pool ? ru->pool : "-", ru->smarthost ? ru->smarthost :
	    "default") != -1)
		ev->detail = d;
	store_event(ev);
}

/*
 * Try the rules for r, if the policy changed since they were last tried.
 * A rule that looks at headers needs the message: it is read from
 * queue.db if not in memory, and dropped again after.
 */
static void
match_rules(struct qrcpt *r, const struct policy *p, int gen)
{
	struct qmsg *m = r->msg;
	struct rule_msg rm = { m->subaccount, m->sender, r->addr,
	    (int64_t)m->size, NULL, 0 };
	int had = m->body != NULL, i, old = r->rule;
	int64_t old_id = r->policy_gen && old >= 0 ? r->rule_id : 0;

	i = rules_match(p->rules, p->nrules, &rm);
	if (i == RULES_UNKNOWN) {
		if (queue_load_body(m) == -1) {
			log_warnx("qid=%s: message unreadable, routing rules "
			    "that need its headers skipped", m->qid);
			i = RULES_NONE;
		} else {
			rm.headers = m->body;
			rm.hlen = m->bodylen;
			i = rules_match(p->rules, p->nrules, &rm);
			queue_release_body(m);
			if (!had && m->body_users == 0)
				drop_body(m);
		}
	}
	r->policy_gen = gen;
	r->rule = i >= 0 ? i : -1;
	r->rule_id = i >= 0 ? p->rules[i].id : 0;
	if (i >= 0 && p->rules[i].id != old_id)
		log_routed(r, &p->rules[i], i + 1);
}

static void
choose(struct qrcpt *r, struct choice *c)
{
	const struct policy *p;
	const struct rule *ru;
	int gen, n;

	p = policy_now(&gen);
	if (r->policy_gen != gen)
		match_rules(r, p, gen);
	memset(c, 0, sizeof(*c));
	ru = c->rule = r->rule >= 0 ? &p->rules[r->rule] : NULL;
	c->prio = ru && ru->prio >= 0 ? ru->prio : PRIO_TRANSACTIONAL;
	c->tls = ru && ru->tls >= 0 ? ru->tls : (int)gcfg->relay.tls;
	c->pool = ru ? policy_pool(p, ru->pool) : NULL;
	if (ru && ru->smarthost && strcmp(ru->smarthost, "mx") != 0) {
		gw_strlcpy(c->host, ru->via_host ? ru->via_host : "",
		    sizeof(c->host));
		c->port = ru->via_port;
		n = snprintf(c->name, sizeof(c->name), "[%s]", ru->smarthost);
	} else if ((ru == NULL || ru->smarthost == NULL) &&
	    gcfg->relay.mode == RELAY_SMARTHOST) {
		gw_strlcpy(c->host, gcfg->relay.host, sizeof(c->host));
		c->port = gcfg->relay.port;
		c->auth = 1;
		n = snprintf(c->name, sizeof(c->name), SMARTHOST_DEST);
	} else {
		c->domain = r->domain;
		c->port = gcfg->relay.mx_port;
		n = snprintf(c->name, sizeof(c->name), "%s", r->domain);
	}
	if (c->tls != (int)gcfg->relay.tls && n > 0 &&
	    (size_t)n < sizeof(c->name))
		n += snprintf(c->name + n, sizeof(c->name) - (size_t)n,
		    "/tls=%s", tls_policy_name(c->tls));
	if (c->pool && n > 0 && (size_t)n < sizeof(c->name))
		snprintf(c->name + n, sizeof(c->name) - (size_t)n, "@%s",
		    c->pool->name);
}

static void dest_kick(struct dest *);
static void recover_due(struct ev_timer *);

static void
pace_due(struct ev_timer *t)
{
	dest_kick(t->arg);
}

/* The limits for a domain or smarthost: its throttle, else gwd.conf's. */
static void
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
	dest_limits(p, d->domain ? d->domain : d->host, &d->max_conn,
	    &d->per_conn, &d->per_minute);
	if (d->cwnd == 0 || d->cwnd > d->max_conn)
		d->cwnd = d->max_conn;
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

static struct dest *
dest_get(const struct choice *c)
{
	struct dest *d = hmap_get(&dests, c->name);

	if (d == NULL) {
		d = xcalloc(1, sizeof(*d));
		d->name = xstrdup(c->name);
		d->domain = c->domain ? xstrdup(c->domain) : NULL;
		d->host = c->domain ? NULL : xstrdup(c->host);
		d->port = c->port;
		d->tls = c->tls;
		d->auth = c->auth;
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

static struct job *
job_new(struct dest *d, struct qmsg *m, int prio)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->dest = d;
	j->msg = m;
	j->prio = prio;
	j->rcpt = xcalloc((size_t)gcfg->limits.recipients, sizeof(*j->rcpt));
	if (d->jobs_last[prio])
		d->jobs_last[prio]->next = j;
	else
		d->jobs[prio] = j;
	d->jobs_last[prio] = j;
	d->njobs++;
	return j;
}

static void
job_free(struct job *j)
{
	if (j->res)
		for (int i = 0; i < j->nrcpt; i++)
			free(j->res[i].text);
	free(j->res);
	free(j->rcpt);
	free(j);
}

/*
 * The next job, whatever the limits: transactional first, but a bulk
 * job every PRIO_WEIGHT jobs when both classes wait, so neither starves.
 */
static struct job *
dest_pop(struct dest *d)
{
	int p = PRIO_TRANSACTIONAL;
	struct job *j;

	if (d->jobs[PRIO_TRANSACTIONAL] == NULL ||
	    (d->jobs[PRIO_BULK] != NULL && d->credit == 0))
		p = PRIO_BULK;
	if ((j = d->jobs[p]) == NULL)
		return NULL;
	if (p == PRIO_BULK)
		d->credit = PRIO_WEIGHT;
	else if (d->jobs[PRIO_BULK] != NULL)
		d->credit--;
	if ((d->jobs[p] = j->next) == NULL)
		d->jobs_last[p] = NULL;
	d->njobs--;
	j->next = NULL;
	return j;
}

static int64_t
pace_ms(int per_minute)
{
	return per_minute > 0 ? (60000 + per_minute - 1) / per_minute : 0;
}

/* The next job the limits allow now, else NULL (and a timer for when). */
static struct job *
dest_take(struct dest *d)
{
	struct tgroup *g = d->grp;
	int64_t now = loop_now(), gap, when = d->next_send;

	if (d->njobs == 0 || !store_deliveries_allowed())
		return NULL;
	if (g && g->next_send > when)
		when = g->next_send;
	if (when > now) {
		timer_add(&d->pace, when - now);
		return NULL;
	}
	gap = pace_ms(d->per_minute);
	if (d->gap_ms > gap)
		gap = d->gap_ms;
	d->next_send = gap ? now + gap : 0;
	if (g && g->per_minute > 0)
		g->next_send = now + pace_ms(g->per_minute);
	return dest_pop(d);
}

/* Room for one more connection in d's shared MX-host budget? */
static int
group_room(const struct dest *d)
{
	return d->grp == NULL || d->grp->nconn < d->grp->max_conn;
}

static void
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
static void
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

/* A connection of the group closed: its other destinations may go. */
static int
group_kick_one(const char *key, void *v, void *arg)
{
	struct dest *d = v;

	if (d->grp == arg && d->njobs > 0)
		dest_kick(d);
	return 0;
}

/*
 * The remote side said it gets too much (421, a rate-limit reply):
 * halve the connections, space messages out; recovery is gradual.
 */
static void
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
static void
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
	if (d->gap_ms < 100)
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

/* A routing rule refuses this (active) recipient: that is its attempt. */
static void
rule_refuses(struct qrcpt *r, const struct rule *ru)
{
	struct job *j = xcalloc(1, sizeof(*j));
	char status[16];
	const char *text;
	char err[64];

	j->msg = r->msg;
	j->rcpt = xcalloc(1, sizeof(*j->rcpt));
	j->res = xcalloc(1, sizeof(*j->res));
	j->rcpt[0] = r;
	j->nrcpt = 1;
	j->started_ms = loop_now();
	if (rules_parse_reply(ru->reply, &j->res[0].code, status,
	    sizeof(status), &text, err, sizeof(err)) == -1) {
		j->res[0].code = 550;
		snprintf(status, sizeof(status), "5.7.1");
		text = "refused by a routing rule";
	}
	gw_strlcpy(j->res[0].status, status, sizeof(j->res[0].status));
	j->res[0].text = xstrdup(text);
	gw_strlcpy(j->hop.host, "routing rule", sizeof(j->hop.host));
	apply_results(j);
	job_free(j);
}

/* A recipient may go now: into a job of its destination (NULL: it was
 * held or refused by a rule instead). */
static struct dest *
rcpt_ready(struct qrcpt *r, int kick)
{
	struct choice c;
	struct dest *d;
	struct job *j;

	choose(r, &c);
	if (c.rule && c.rule->action == RULE_HOLD && !r->msg->released) {
		/* Held by a rule: it waits, and the rule is tried again. */
		r->next_attempt = now_us() / 1000000 + HELD_RECHECK_S;
		rcpt_wait(r);
		return NULL;
	}
	if (c.rule && c.rule->action == RULE_REJECT) {
		/* Not here: the outcome may free the message while a caller
		 * still walks its recipients.  Active until then. */
		r->state = QR_ACTIVE;
		r->dest = NULL;
		nactive++;
		if (nrefusals == refusals_cap) {
			refusals_cap = refusals_cap ? refusals_cap * 2 : 16;
			refusals = realloc(refusals, (size_t)refusals_cap *
			    sizeof(*refusals));
			if (refusals == NULL)
				fatal("refusals");
		}
		refusals[nrefusals++] = r;
		timer_add(&refuse_timer, 0);
		return NULL;
	}
	d = dest_get(&c);
	r->state = QR_READY;
	r->dest = d;
	/* Recipients of one message to one destination share a job (one
	 * transaction) up to the per-message recipient limit. */
	j = d->jobs_last[c.prio];
	if (j == NULL || j->msg != r->msg || j->nrcpt ==
	    gcfg->limits.recipients)
		j = job_new(d, r->msg, c.prio);
	j->rcpt[j->nrcpt++] = r;
	if (kick)
		dest_kick(d);
	return d;
}

static void
rcpt_wait(struct qrcpt *r)
{
	r->state = QR_WAITING;
	r->dest = NULL;		/* may be collected while it waits */
	heap_insert(&retries, r);
}

/* Its message is on hold: it waits for a release, in no heap or job. */
static void
rcpt_hold(struct qrcpt *r)
{
	r->state = QR_HELD;
	r->dest = NULL;
	nheld++;
}

/* Recipients a rule refused when they became ready (rcpt_ready). */
static void
refuse_due(struct ev_timer *t)
{
	struct qrcpt **v = refusals;
	int n = nrefusals;
	struct choice c;

	refusals = NULL;
	nrefusals = refusals_cap = 0;
	for (int i = 0; i < n; i++) {
		struct qrcpt *r = v[i];

		choose(r, &c);
		if (c.rule && c.rule->action == RULE_REJECT) {
			rule_refuses(r, c.rule);
			continue;
		}
		nactive--;		/* the rule changed meanwhile */
		rcpt_ready(r, 1);
	}
	free(v);
	arm_retry_timer();
}

static void
retry_due(struct ev_timer *t)
{
	int64_t now = now_us() / 1000000;
	struct hmap touched;
	struct qrcpt *r;

	hmap_init(&touched);
	while ((r = heap_top(&retries)) != NULL && r->next_attempt <= now) {
		struct dest *d;

		heap_remove(&retries, r);
		if ((d = rcpt_ready(r, 0)) != NULL)
			hmap_put(&touched, d->name, d);
	}
	/* Kick each destination once, after all its jobs are in. */
	for (size_t i = 0; i < touched.nb; i++)
		for (struct hmap_entry *e = touched.b[i]; e; e = e->next)
			dest_kick(e->value);
	hmap_free(&touched, NULL);
	arm_retry_timer();
}

/* Outcomes. */

static int64_t
backoff_s(int attempts)
{
	int64_t ms = gcfg->queue.retry_min_ms;

	for (int i = 1; i < attempts && ms < gcfg->queue.retry_max_ms; i++)
		ms *= 2;
	if (ms > gcfg->queue.retry_max_ms)
		ms = gcfg->queue.retry_max_ms;
	return (ms + 999) / 1000;
}

/* The DSN an op inserted is stored (queue it) or not (say so). */
static void
dsn_stored(struct store_op *op)
{
	struct qmsg *dsn = op->insert;

	op->insert = NULL;
	if (op->failed) {
		log_warnx("DSN qid=%s not stored: %s", dsn->qid, op->error);
		qmsg_free(dsn);
	} else
		queue_add(dsn);
}

static void
dsn_committed(struct store_op *op)
{
	dsn_stored(op);
	store_op_free(op);
}

/*
 * Build the DSN for the failed recipients of m, to be inserted by op.
 * Never for the null sender or for a DSN (no bounce loops).
 */
static void
make_dsn(struct store_op *op, struct qmsg *m, const struct dsn_rcpt *fr,
    int nfr)
{
	struct dsn d;
	struct buf out;
	struct qmsg *n;
	struct audit_event *ev;
	char mid[300], boundary[64], pm[300];
	unsigned char rb[8];
	char rhex[17];

	if (nfr == 0 || m->sender[0] == '\0' || (m->flags & QMSG_DSN))
		return;
	if (m->body == NULL && queue_load_body(m) == 0)
		queue_release_body(m);
	n = queue_msg_new("", m->subaccount, 1);
	random_bytes(rb, sizeof(rb));
	hex_encode(rb, sizeof(rb), rhex);
	snprintf(mid, sizeof(mid), "<%s.%s@%s>", n->qid, rhex, gcfg->hostname);
	snprintf(boundary, sizeof(boundary), "%s.%s/%s", n->qid, rhex,
	    "gw");
	snprintf(pm, sizeof(pm), "MAILER-DAEMON@%s", gcfg->hostname);
	memset(&d, 0, sizeof(d));
	d.reporting_mta = gcfg->hostname;
	d.postmaster = pm;
	d.to = m->sender;
	d.message_id = mid;
	d.boundary = boundary;
	d.qid = m->qid;
	d.arrival = m->received_us / 1000000;
	d.now = now_us() / 1000000;
	d.original = m->body ? m->body : "";
	d.original_len = m->body ? m->bodylen : 0;
	d.rcpts = fr;
	d.nrcpts = nfr;
	buf_init(&out, 0);
	if (dsn_build(&d, &out) == -1) {
		log_warnx("qid=%s: cannot build DSN", m->qid);
		buf_free(&out);
		qmsg_free(n);
		return;
	}
	n->flags = QMSG_DSN;
	n->received_us = now_us();
	n->body = buf_steal(&out, &n->bodylen);
	n->size = n->bodylen;
	n->message_id = xstrdup(mid);
	n->rcpt[0].addr = xstrdup(m->sender);
	n->rcpt[0].domain = xstrdup(strrchr(m->sender, '@') ?
	    strrchr(m->sender, '@') + 1 : "");
	n->rcpt[0].next_attempt = n->received_us / 1000000;
	op->insert = n;
	op->done = dsn_committed;
	gm.dsn_total++;

	ev = store_op_event(op, "dsn", m->qid);
	ev->recipient = xstrdup(m->sender);
	if (asprintf(&ev->detail, "dsn_qid=%s", n->qid) == -1)
		ev->detail = NULL;
	ev = store_op_event(op, "received", n->qid);
	ev->subaccount = xstrdup(m->subaccount);
	ev->sender = xstrdup("");
	ev->recipient = xstrdup(m->sender);
	ev->rcpts = xcalloc(1, sizeof(char *));
	ev->rcpts[0] = xstrdup(m->sender);
	ev->nrcpts = 1;
	ev->message_id = xstrdup(mid);
	ev->subject = xstrdup("Undelivered Mail Returned to Sender");
	ev->from_addr = xstrdup(pm);
	ev->size = (int64_t)n->size;
	if (asprintf(&ev->detail, "dsn for %s", m->qid) == -1)
		ev->detail = NULL;
}

static void
fill_attempt(struct audit_event *ev, const struct job *j,
    const struct job_result *res, const struct qrcpt *r)
{
	ev->recipient = xstrdup(r->addr);
	ev->sender = xstrdup(j->msg->sender);
	mta_audit_hop(ev, &j->hop, j->dest);
	ev->reply_code = res->code;
	if (res->status[0])
		ev->reply_status = xstrdup(res->status);
	ev->reply_text = xstrdup(res->text ? res->text : "");
	if (res->code >= 300)
		ev->bounce_class = bounce_class_name(bounce_classify(res->code,
		    res->status, res->text));
	ev->duration_ms = loop_now() - j->started_ms;
	ev->subaccount = xstrdup(j->msg->subaccount);
	if (j->maybe_dup)
		ev->detail = xstrdup("possible duplicate: no reply after end "
		    "of data");
}

static char *
reply_string(const struct job_result *res)
{
	char *s;

	if (asprintf(&s, "%d%s%s %s", res->code, res->status[0] ? " " : "",
	    res->status, res->text ? res->text : "") == -1)
		fatal("asprintf");
	return s;
}

/* An expired recipient is a bounce too: it failed and got a DSN. */
static void
pool_count_add(struct pool_count *pc, const char *action)
{
	if (strcmp(action, "delivered") == 0)
		pc->delivered++;
	else if (strcmp(action, "deferred") == 0)
		pc->deferred++;
	else
		pc->bounced++;
}

/*
 * Apply the results of one attempt: every recipient of the job is
 * delivered, deferred (or expired), bounced, or put back.
 */
static void
apply_results(struct job *j)
{
	struct qmsg *m = j->msg;
	struct store_op *op = store_op_new();
	struct dsn_rcpt *fr = xcalloc((size_t)j->nrcpt, sizeof(*fr));
	char **frtext = xcalloc((size_t)j->nrcpt, sizeof(char *));
	int nfr = 0, requeue = 0, throttled = 0;
	int64_t now = now_us() / 1000000;
	int64_t expires = m->received_us / 1000000 +
	    gcfg->queue.lifetime_ms / 1000;

	for (int i = 0; i < j->nrcpt; i++) {
		struct qrcpt *r = j->rcpt[i];
		struct job_result *res = &j->res[i];
		struct audit_event *ev;
		const char *action;

		nactive--;
		if (res->code == 0 && m->held) {	/* held meanwhile */
			rcpt_hold(r);
			continue;
		}
		if (res->code == 0) {		/* not attempted */
			rcpt_ready(r, 0);
			requeue = 1;
			continue;
		}
		free(r->last_reply);
		r->last_reply = reply_string(res);
		/* "Slow down" (421, rate limits): the whole destination
		 * backs off, once per attempt. */
		if (j->dest && !throttled && bounce_classify(res->code,
		    res->status, res->text) == BC_THROTTLED) {
			dest_throttled(j->dest, res);
			throttled = 1;
		}
		if (res->code >= 200 && res->code < 300)
			action = "delivered";
		else if (res->code < 500 && now < expires)
			action = "deferred";
		else
			action = res->code < 500 ? "expired" : "bounced";
		if (strcmp(action, "delivered") == 0)
			gm.delivered_total++;
		else if (strcmp(action, "deferred") == 0)
			gm.deferred_total++;
		else if (strcmp(action, "bounced") == 0)
			gm.bounced_total++;
		else
			gm.expired_total++;
		if (j->dest && j->dest->pcount)
			pool_count_add(j->dest->pcount, action);
		ev = store_op_event(op, strcmp(action, "expired") == 0 ?
		    "deferred" : action, m->qid);
		fill_attempt(ev, j, res, r);
		/* A mailbox that does not exist stays so: later mail of the
		 * subaccount to it is refused at RCPT.  Not for DSNs: the
		 * subaccount did not send them. */
		if (strcmp(action, "bounced") == 0 && ev->bounce_class &&
		    strcmp(ev->bounce_class, bounce_class_name(BC_HARD)) == 0 &&
		    !(m->flags & QMSG_DSN))
			suppress_bounce(op, m->subaccount, r->addr,
			    r->last_reply);
		/* The subaccount's bounce rate (DSNs are not its mail). */
		if (strcmp(action, "deferred") != 0 && m->sender[0] != '\0' &&
		    !(m->flags & QMSG_DSN))
			pause_outcome(op, m->subaccount,
			    strcmp(action, "bounced") == 0, ev->ts);
		if (strcmp(action, "deferred") == 0) {
			r->attempts++;
			r->next_attempt = now + backoff_s(r->attempts);
			if (r->next_attempt > expires)
				r->next_attempt = expires;
			store_op_upd_rcpt(op, r);
			if (m->held)
				rcpt_hold(r);
			else
				rcpt_wait(r);
			continue;
		}
		if (strcmp(action, "expired") == 0) {
			ev = store_op_event(op, "expired", m->qid);
			ev->recipient = xstrdup(r->addr);
			ev->sender = xstrdup(m->sender);
			ev->subaccount = xstrdup(m->subaccount);
			ev->reply_text = xstrdup(r->last_reply);
			ev->bounce_class = bounce_class_name(BC_EXPIRED);
		}
		if (strcmp(action, "delivered") != 0) {
			fr[nfr].address = r->addr;
			fr[nfr].action = "failed";
			fr[nfr].status = res->status[0] ? res->status :
			    res->code < 500 ? "4.4.7" : "5.0.0";
			fr[nfr].remote_mta = j->hop.host[0] ? j->hop.host :
			    NULL;
			frtext[nfr] = strcmp(action, "expired") == 0 ?
			    xstrdup("delivery time expired; last error: ") :
			    NULL;
			if (frtext[nfr]) {
				char *t;

				if (asprintf(&t, "%s%s", frtext[nfr],
				    r->last_reply) == -1)
					fatal("asprintf");
				free(frtext[nfr]);
				frtext[nfr] = t;
			}
			fr[nfr].diagnostic = frtext[nfr] ? frtext[nfr] :
			    r->last_reply;
			fr[nfr].last_attempt = now;
			nfr++;
		}
		r->state = QR_DONE;
		m->npending--;
		nrcpts--;
		store_op_del_rcpt(op, r->dbid);
	}
	make_dsn(op, m, fr, nfr);
	for (int i = 0; i < nfr; i++)
		free(frtext[i]);
	free(frtext);
	free(fr);
	if (m->npending == 0)
		op->del_msg = m->dbid;
	store_submit(op);
	if (m->npending == 0)
		msg_forget(m);
	else
		maybe_drop_body(m);
	if (requeue && j->dest)
		dest_kick(j->dest);
	arm_retry_timer();
}

/* Every job still waiting at a destination gets the same outcome. */
static void
fail_all_jobs(struct dest *d, int code, const char *status,
    const char *text, const struct hop *hop)
{
	struct job *j;

	while ((j = dest_pop(d)) != NULL) {
		j->res = xcalloc((size_t)j->nrcpt, sizeof(*j->res));
		for (int i = 0; i < j->nrcpt; i++) {
			j->rcpt[i]->state = QR_ACTIVE;
			nactive++;
			j->res[i].code = code;
			gw_strlcpy(j->res[i].status, status,
			    sizeof(j->res[i].status));
			j->res[i].text = xstrdup(text);
		}
		j->started_ms = loop_now();
		if (hop)
			j->hop = *hop;
		apply_results(j);
		job_free(j);
	}
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
		fail_all_jobs(d, res->code, res->enh, res->text, NULL);
		return;
	}
	free(d->route);
	d->route = xmalloc(sizeof(*d->route));
	memcpy(d->route, res, sizeof(*res));
	d->route_state = DR_READY;
	d->route_expires = loop_now() + ROUTE_TTL_MS;
	dest_group(d, res);
	dest_kick(d);
}

/* Hand jobs to idle connections; open more connections if needed. */
static void
dest_kick(struct dest *d)
{
	struct mta *m;
	struct job *j;

	if (!store_deliveries_allowed())
		return;		/* queue_resume() comes back */
	while ((m = d->idle) != NULL && (j = dest_take(d)) != NULL) {
		d->idle = mta_next_idle(m);
		mta_set_idle(m, NULL);
		mta_run_job(m, j);
	}
	if (d->njobs == 0)
		return;
	if (d->route_state == DR_READY && loop_now() >= d->route_expires &&
	    d->nconn == 0)
		d->route_state = DR_NONE;
	if (d->route_state == DR_NONE) {
		d->route_state = DR_RESOLVING;
		d->rreq = route_resolve(d->domain, d->host, d->port,
		    route_done, d);
		return;
	}
	if (d->route_state != DR_READY)
		return;
	while (d->njobs > d->nconnecting && d->nconn < d->cwnd &&
	    group_room(d)) {
		d->nconn++;
		d->nconnecting++;
		if (d->grp)
			d->grp->nconn++;
		mta_start(d, d->route);
	}
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
		mta_run_job(m, j);
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
dest_job_done(struct job *j, struct mta *m)
{
	struct dest *d = j->dest;

	if (j->body_held)
		queue_release_body(j->msg);
	apply_results(j);
	job_free(j);
	if (m != NULL)
		dest_conn_ready(d, m);
}

void
dest_conn_failed(struct dest *d, int code, const char *status,
    const char *text, const struct hop *hop)
{
	/* The failing connection still counts in nconn and nconnecting.
	 * If no other connection is working, nothing here can be reached:
	 * what waits would meet the same fate, so it is deferred with this
	 * reason and retried later.  Otherwise the others carry on. */
	if (d->nconn - d->nconnecting > 0)
		return;
	log_info("dest=%s unreachable: %d %s %s", d->name, code, status, text);
	d->route_state = DR_NONE;	/* look it up afresh next time */
	fail_all_jobs(d, code, status, text, hop);
}

void
dest_conn_closed(struct dest *d, struct mta *m)
{
	d->nconn--;
	if (d->grp) {
		d->grp->nconn--;
		hmap_foreach(&dests, group_kick_one, d->grp);
	}
	dest_kick(d);
}

/* Start-up and new mail. */

static void
schedule_msg(struct qmsg *m, int64_t now)
{
	m->qnext = NULL;
	m->qprev = qtail;
	if (qtail)
		qtail->qnext = m;
	else
		qhead = m;
	qtail = m;
	nmessages++;
	nrcpts += m->nrcpt;
	hmap_put(&byqid, m->qid, m);
	if (m->held)
		nheld_msgs++;
	for (int i = 0; i < m->nrcpt; i++) {
		struct qrcpt *r = &m->rcpt[i];

		r->msg = m;
		r->heap_idx = -1;
		if (m->held)
			rcpt_hold(r);
		else if (r->next_attempt <= now)
			rcpt_ready(r, 1);
		else
			rcpt_wait(r);
	}
}

void
queue_add(struct qmsg *m)
{
	const struct policy *p;
	int gen;

	/* The rules first, while the headers are at hand: a body that
	 * does not fit the cache would be read back for them. */
	p = policy_now(&gen);
	for (int i = 0; i < m->nrcpt; i++) {
		m->rcpt[i].msg = m;
		match_rules(&m->rcpt[i], p, gen);
	}
	if (m->body) {
		if (body_bytes + m->bodylen > BODY_CACHE_MAX) {
			free(m->body);
			m->body = NULL;
		} else
			body_bytes += m->bodylen;
	}
	schedule_msg(m, now_us() / 1000000);
	maybe_drop_body(m);
	arm_retry_timer();
}

static void
loaded(struct qmsg *m, void *arg)
{
	schedule_msg(m, *(int64_t *)arg);
}

/* Forget destinations unused for a while (their route cache too). */
static int
gc_dest(const char *key, void *v, void *arg)
{
	struct dest *d = v;

	if (d->njobs || d->nconn || d->rreq || d->last_used + 600000 >
	    loop_now())
		return 0;
	timer_del(&d->pace);
	timer_del(&d->recover);
	group_put(d);
	free(d->route);
	free(d->name);
	free(d->domain);
	free(d->host);
	free(d->pool);
	free(d->src);
	free(d);
	return 1;
}

static void
gc(struct ev_timer *t)
{
	hmap_foreach(&dests, gc_dest, NULL);
	timer_add(t, 60000);
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
static void
queue_resume(void)
{
	struct dest **all = xcalloc(hmap_count(&dests) + 1, sizeof(*all));
	struct dest **end = all;

	/* Gathered first: a kick may add destinations to the map. */
	hmap_foreach(&dests, collect_waiting, &end);
	for (struct dest **d = all; d < end; d++)
		dest_kick(*d);
	free(all);
}

int
queue_init(char *err, size_t errsz)
{
	int64_t now = now_us() / 1000000;

	hmap_init(&dests);
	hmap_init(&tgroups);
	hmap_init(&pool_counts);
	hmap_init(&byqid);
	timer_init(&retry_timer, retry_due, NULL);
	timer_init(&refuse_timer, refuse_due, NULL);
	timer_init(&gc_timer, gc, NULL);
	timer_add(&gc_timer, 60000);
	store_on_resume(queue_resume);
	if (store_load_queue(loaded, &now, err, errsz) == -1)
		return -1;
	arm_retry_timer();
	return 0;
}

void
queue_stats(struct queue_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->messages = nmessages;
	st->recipients = nrcpts;
	st->active = nactive;
	st->deferred = retries.n;
	st->held = nheld;
	st->held_messages = nheld_msgs;
	st->destinations = (int)hmap_count(&dests);
	st->connections = mta_count();
	st->oldest_us = qhead ? qhead->received_us : 0;
}

const int queue_age_min[QUEUE_AGES - 1] = { 5, 10, 20, 40, 80 };

static int
qdest_age(int64_t age_us)
{
	int i;

	for (i = 0; i < QUEUE_AGES - 1; i++)
		if (age_us < (int64_t)queue_age_min[i] * 60 * 1000000)
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

static int
dest_is_throttled(const struct dest *d)
{
	return d->cwnd < d->max_conn || d->gap_ms > 0;
}

/* The throttle state of via, or (NULL) what the policy would give. */
static void
qdest_limits(struct queue_dest *q, const struct dest *via)
{
	const char *name;
	int per_conn, gen;

	if (via != NULL) {
		gw_strlcpy(q->via, via->name, sizeof(q->via));
		q->connections = via->nconn;
		q->limit = via->max_conn;
		q->window = via->cwnd;
		q->gap_ms = via->gap_ms;
		q->per_minute = via->per_minute;
		q->throttled = dest_is_throttled(via);
		return;
	}
	name = gcfg->relay.mode == RELAY_SMARTHOST ? gcfg->relay.host :
	    q->name;
	dest_limits(policy_now(&gen), name, &q->limit, &per_conn,
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
 * a deep queue of one domain costs one choose(), not one each.
 */
static void
qdest_via(struct dest **via, char *tried, struct qrcpt *r)
{
	struct dest *d = NULL;
	struct choice c;
	int gen;

	if (r->state == QR_READY || r->state == QR_ACTIVE)
		d = r->dest;
	else if (*via == NULL && !*tried && r->policy_gen != 0) {
		policy_now(&gen);
		if (r->policy_gen == gen) {
			*tried = 1;
			choose(r, &c);
			d = hmap_get(&dests, c.name);
		}
	}
	if (d != NULL && (*via == NULL || (!dest_is_throttled(*via) &&
	    dest_is_throttled(d))))
		*via = d;
}

int
queue_destinations(struct queue_dest **out)
{
	struct hmap byname;
	struct queue_dest *q, *d;
	struct dest **via;
	char *tried;
	int64_t now = now_us();
	int n = 0;

	/* No more domains than pending recipients. */
	q = xcalloc((size_t)nrcpts + 1, sizeof(*q));
	via = xcalloc((size_t)nrcpts + 1, sizeof(*via));
	tried = xcalloc((size_t)nrcpts + 1, 1);
	hmap_init(&byname);
	for (struct qmsg *m = qhead; m; m = m->qnext)
		for (int i = 0; i < m->nrcpt; i++) {
			struct qrcpt *r = &m->rcpt[i];
			intptr_t k;

			if (r->state == QR_DONE || r->domain == NULL)
				continue;
			if ((k = (intptr_t)hmap_get(&byname, r->domain)) == 0) {
				if (n > nrcpts)
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
		if (via[i] == NULL && (via[i] = hmap_get(&dests, d->name)) ==
		    NULL)
			via[i] = hmap_get(&dests, SMARTHOST_DEST);
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
		if ((pc = hmap_get(&pool_counts, pl->name)) != NULL) {
			qp->delivered = pc->delivered;
			qp->deferred = pc->deferred;
			qp->bounced = pc->bounced;
		}
	}
	mta_walk(pool_conn, &w);
	hmap_foreach(&dests, pool_dest, &w);
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

void
queue_shutdown(void)
{
	hmap_foreach(&dests, shutdown_dest, NULL);
}

void
queue_job_started(struct job *j)
{
	for (int i = 0; i < j->nrcpt; i++) {
		j->rcpt[i]->state = QR_ACTIVE;
		nactive++;
	}
}

/*
 * Admin actions (gwctl queue, through the control socket).  Each takes
 * effect in memory at once; its store op makes it durable and writes
 * its audit events, and the admin hears back when that op committed.
 */

struct qa_waiter {
	void	(*fn)(void *, int failed, const char *error);
	void	*arg;
};

struct qmsg *
queue_find(const char *qid)
{
	return hmap_get(&byqid, qid);
}

struct qmsg *
queue_first(void)
{
	return qhead;
}

int
queue_msg_active(const struct qmsg *m)
{
	int n = 0;

	for (int i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].state == QR_ACTIVE)
			n++;
	return n;
}

/* Take m's jobs out of d's queue; their recipients are the caller's. */
static void
dest_drop_jobs(struct dest *d, const struct qmsg *m)
{
	for (int p = 0; p < PRIO_COUNT; p++) {
		struct job **jp = &d->jobs[p], *j;

		d->jobs_last[p] = NULL;
		while ((j = *jp) != NULL) {
			if (j->msg == m) {
				*jp = j->next;
				d->njobs--;
				job_free(j);
				continue;
			}
			d->jobs_last[p] = j;
			jp = &j->next;
		}
	}
}

/* Waiting and ready recipients of m leave the schedule (state kept). */
static void
msg_unschedule(struct qmsg *m)
{
	for (int i = 0; i < m->nrcpt; i++) {
		struct qrcpt *r = &m->rcpt[i];

		if (r->state == QR_WAITING)
			heap_remove(&retries, r);
		else if (r->state == QR_READY)
			dest_drop_jobs(r->dest, m);
	}
	arm_retry_timer();
}

static void
admin_committed(struct store_op *op)
{
	struct qa_waiter *w = op->arg;

	if (op->insert)
		dsn_stored(op);
	w->fn(w->arg, op->failed, op->error);
	free(w);
	store_op_free(op);
}

static struct store_op *
admin_op(void (*fn)(void *, int, const char *), void *arg)
{
	struct store_op *op = store_op_new();
	struct qa_waiter *w = xcalloc(1, sizeof(*w));

	w->fn = fn;
	w->arg = arg;
	op->arg = w;
	op->done = admin_committed;
	return op;
}

static struct audit_event *
admin_event(struct store_op *op, const char *action, const struct qmsg *m,
    const struct qrcpt *r, const char *detail)
{
	struct audit_event *ev = store_op_event(op, action, m->qid);

	ev->sender = xstrdup(m->sender);
	ev->subaccount = xstrdup(m->subaccount);
	if (r)
		ev->recipient = xstrdup(r->addr);
	ev->detail = xstrdup(detail);
	return ev;
}

static int
admin_hold(struct qmsg *m, struct store_op *op, const char **why)
{
	int active = queue_msg_active(m);

	if (m->held) {
		*why = "already held";
		return QA_UNCHANGED;
	}
	msg_unschedule(m);
	for (int i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].state == QR_WAITING ||
		    m->rcpt[i].state == QR_READY)
			rcpt_hold(&m->rcpt[i]);
	m->held = 1;
	nheld_msgs++;
	maybe_drop_body(m);
	op->held_msg = m->dbid;
	op->held = 1;
	admin_event(op, "held", m, NULL, active ? "held by admin; "
	    "recipients in delivery now finish their attempt" :
	    "held by admin");
	if (active)
		*why = "recipients in delivery now finish their attempt";
	return QA_DONE;
}

static int
admin_release(struct qmsg *m, struct store_op *op, const char **why)
{
	int64_t now = now_us() / 1000000;

	if (!m->held) {
		*why = "not held";
		return QA_UNCHANGED;
	}
	m->held = 0;
	m->released = 1;
	nheld_msgs--;
	for (int i = 0; i < m->nrcpt; i++) {
		struct qrcpt *r = &m->rcpt[i];

		if (r->state != QR_HELD)
			continue;
		nheld--;
		if (r->next_attempt <= now)
			rcpt_ready(r, 0);	/* msg_kick() follows */
		else
			rcpt_wait(r);
	}
	arm_retry_timer();
	op->held_msg = m->dbid;
	op->held = 2;		/* released: no rule holds it again */
	admin_event(op, "released", m, NULL, "released by admin");
	return QA_DONE;
}

/* Waiting recipients (of `domain` when not "") go now. */
static int
admin_flush(struct qmsg *m, const char *domain, struct store_op *op,
    const char **why)
{
	int64_t now = now_us() / 1000000;
	char detail[128];
	int n = 0;

	if (m->held) {
		*why = "held (release it first)";
		return QA_UNCHANGED;
	}
	for (int i = 0; i < m->nrcpt; i++) {
		struct qrcpt *r = &m->rcpt[i];

		if (r->state != QR_WAITING || (*domain &&
		    strcasecmp(r->domain, domain) != 0))
			continue;
		heap_remove(&retries, r);
		r->next_attempt = now;
		rcpt_ready(r, 0);		/* msg_kick() follows */
		n++;
	}
	arm_retry_timer();
	if (n == 0) {
		*why = "nothing waiting for a retry";
		return QA_UNCHANGED;
	}
	snprintf(detail, sizeof(detail), "flushed by admin: %d recipient%s "
	    "retried now", n, n == 1 ? "" : "s");
	admin_event(op, "flushed", m, NULL, detail);
	return QA_DONE;
}

/*
 * Start the destinations of m's ready recipients.  Last thing: a kick
 * may run a job to its end at once (a body missing from the spool) and
 * free m, so the destinations are gathered before the first one.
 */
static void
msg_kick(struct qmsg *m)
{
	struct dest **d = xcalloc((size_t)m->nrcpt, sizeof(*d));
	int n = 0, i, j;

	for (i = 0; i < m->nrcpt; i++) {
		struct dest *x;

		if (m->rcpt[i].state != QR_READY)
			continue;
		x = m->rcpt[i].dest;
		for (j = 0; j < n && d[j] != x; j++)
			;
		if (j == n)
			d[n++] = x;
	}
	for (i = 0; i < n; i++)
		dest_kick(d[i]);
	free(d);
}

/* Every pending recipient of m is done: forget it, durably. */
static void
admin_finish(struct qmsg *m, struct store_op *op)
{
	for (int i = 0; i < m->nrcpt; i++) {
		struct qrcpt *r = &m->rcpt[i];

		if (r->state == QR_DONE)
			continue;
		if (r->state == QR_HELD)
			nheld--;
		r->state = QR_DONE;
		m->npending--;
		nrcpts--;
		store_op_del_rcpt(op, r->dbid);
	}
	op->del_msg = m->dbid;
}

static int
admin_delete(struct qmsg *m, struct store_op *op, const char **why)
{
	msg_unschedule(m);
	for (int i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].state != QR_DONE)
			admin_event(op, "deleted", m, &m->rcpt[i],
			    "deleted by admin without delivery");
	admin_finish(m, op);
	return QA_DONE;
}

/* Fail every pending recipient and tell the sender (a DSN). */
static int
admin_bounce(struct qmsg *m, struct store_op *op, const char **why)
{
	struct dsn_rcpt *fr = xcalloc((size_t)m->nrcpt, sizeof(*fr));
	char **diag = xcalloc((size_t)m->nrcpt, sizeof(char *));
	int nfr = 0;

	msg_unschedule(m);
	for (int i = 0; i < m->nrcpt; i++) {
		struct qrcpt *r = &m->rcpt[i];
		struct audit_event *ev;

		if (r->state == QR_DONE)
			continue;
		if (asprintf(&diag[nfr], "returned to the sender by the "
		    "administrator%s%s", r->last_reply ? "; last error: " : "",
		    r->last_reply ? r->last_reply : "") == -1)
			fatal("asprintf");
		ev = admin_event(op, "bounced", m, r, "bounced by admin");
		ev->reply_status = xstrdup("5.0.0");
		gm.bounced_total++;
		fr[nfr].address = r->addr;
		fr[nfr].action = "failed";
		fr[nfr].status = "5.0.0";
		fr[nfr].diagnostic = diag[nfr];
		nfr++;
	}
	make_dsn(op, m, fr, nfr);
	/* make_dsn() sets its own completion; ours also reports back. */
	op->done = admin_committed;
	if (op->insert == NULL)
		*why = m->sender[0] == '\0' || (m->flags & QMSG_DSN) ?
		    "no DSN: the null sender" : "no DSN: it could not be built";
	for (int i = 0; i < nfr; i++)
		free(diag[i]);
	free(diag);
	free(fr);
	admin_finish(m, op);
	return QA_DONE;
}

int
queue_admin(struct qmsg *m, enum ctl_verb verb, const char *domain,
    void (*done)(void *, int failed, const char *error), void *arg,
    const char **why)
{
	struct store_op *op = admin_op(done, arg);
	int r;

	*why = NULL;
	if ((verb == CTL_Q_DELETE || verb == CTL_Q_BOUNCE) &&
	    queue_msg_active(m)) {
		*why = "being delivered now; try again when the attempt ends";
		r = QA_BUSY;
	} else if (verb == CTL_Q_HOLD)
		r = admin_hold(m, op, why);
	else if (verb == CTL_Q_RELEASE)
		r = admin_release(m, op, why);
	else if (verb == CTL_Q_FLUSH)
		r = admin_flush(m, domain ? domain : "", op, why);
	else if (verb == CTL_Q_DELETE)
		r = admin_delete(m, op, why);
	else if (verb == CTL_Q_BOUNCE)
		r = admin_bounce(m, op, why);
	else {
		*why = "not an action";
		r = QA_UNCHANGED;
	}
	if (r != QA_DONE) {
		free(op->arg);
		store_op_free(op);
		return r;
	}
	store_submit(op);
	if (m->npending == 0)
		msg_forget(m);
	else if (verb == CTL_Q_FLUSH || verb == CTL_Q_RELEASE)
		msg_kick(m);
	return r;
}
