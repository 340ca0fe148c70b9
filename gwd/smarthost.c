/*
 * smarthost.c - smarthost health: checks, the circuit breaker, and the
 * order in which a connection tries a list's hosts.
 * Standards: RFC 5321 3.1, 4.1.1.1, 4.1.1.10 (greeting, EHLO, QUIT).
 * Exposure: talks to the smarthosts, which are the admin's; their
 * replies go through reply.c (bounded) and only their codes are used,
 * the text only in logs and events, bounded.
 * Diagnostics: dies only when memory runs out; a failed check is a
 * failure of that host, never of gwd.
 *
 * Each smarthost ("host:port") of gwd.conf's relay.host and of the
 * routing rules has one health record, up at start.  Every
 * relay.health_check.interval gwd checks each one (connect, the
 * greeting, EHLO, QUIT; relay.health_check.timeout for all of it) on
 * the loop, never blocking it.  A delivery connection that cannot
 * connect or is not greeted counts as a failed check, one that is
 * greeted as a passed one: `fall` failures in a row mark a host down
 * without waiting for the next check (the circuit breaker), `rise`
 * passes in a row mark it up again.  Each change is logged and recorded
 * as an audit event (smarthost_down, smarthost_up), and shown on
 * /metrics (gw_smarthost_up) and in the control socket's destinations
 * answer (gwtop).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "buf.h"
#include "conn.h"
#include "event.h"
#include "gwd.h"
#include "hmap.h"
#include "log.h"
#include "loop.h"
#include "policy.h"
#include "reply.h"
#include "route.h"
#include "shlist.h"
#include "smarthost.h"
#include "store.h"
#include "util.h"

#define PROBE_IN_MAX	8192
#define PROBE_OUT_MAX	1024

struct probe;

struct health {
	char		 name[300];	/* "host:port" */
	struct sh_entry	 e;
	int		 up;
	int		 fails, passes;	/* in a row */
	int		 seen;		/* named by the configuration now */
	int64_t		 changed;	/* unix seconds: the last change */
	char		 error[256];	/* the last failure */
	struct probe	*probe;
};

struct probe {
	struct health	*h;
	struct shlist	 one;		/* the host, for route_resolve() */
	struct route_req *rr;
	struct conn	*c;
	struct reply_parser rp;
	int		 step;		/* 0 greeting, 1 EHLO */
	struct ev_timer	 timer;
};

static struct hmap	 healths;
static struct ev_timer	 tick;
static int		 started;

static struct health *
health_get(const struct sh_entry *e)
{
	struct health *h;
	char name[300];

	if (!started || shlist_entry_name(e, name, sizeof(name)) == -1)
		return NULL;
	if ((h = hmap_get(&healths, name)) != NULL)
		return h;
	h = xcalloc(1, sizeof(*h));
	gw_strlcpy(h->name, name, sizeof(h->name));
	h->e = *e;
	h->up = 1;
	h->changed = now_us() / 1000000;
	hmap_put(&healths, h->name, h);
	return h;
}

/* A change of state: the log, the audit trail. */
static void
health_change(struct health *h, int up, const char *why)
{
	struct audit_event *ev;
	char *d;

	h->up = up;
	h->changed = now_us() / 1000000;
	if (up)
		log_info("smarthost=%s up: %d checks passed", h->name,
		    h->passes);
	else
		log_warnx("smarthost=%s down: %d failures: %s", h->name,
		    h->fails, why);
	ev = audit_new(event_name(up ? EV_SMARTHOST_UP : EV_SMARTHOST_DOWN),
	    NULL);
	ev->remote_host = xstrdup(h->name);
	if (asprintf(&d, up ? "passes=%d" : "failures=%d reason=%.200s",
	    up ? h->passes : h->fails, why ? why : "-") != -1)
		ev->detail = d;
	store_event(ev);
}

static void
health_result(struct health *h, int ok, const char *why)
{
	if (ok) {
		h->fails = 0;
		h->passes++;
		if (!h->up && h->passes >= gcfg->relay.health.rise)
			health_change(h, 1, NULL);
		return;
	}
	h->passes = 0;
	h->fails++;
	gw_strlcpy(h->error, why ? why : "failed", sizeof(h->error));
	if (h->up && h->fails >= gcfg->relay.health.fall)
		health_change(h, 0, h->error);
}

void
smarthost_outcome(const struct sh_entry *e, int ok, const char *why)
{
	struct health *h = health_get(e);

	if (h)
		health_result(h, ok, why);
}

/* Checks. */

static void probe_read(struct conn *);
static void probe_connected(struct conn *, int);
static void probe_closed(struct conn *);

static const struct conn_ops probe_ops = {
	.on_read = probe_read,
	.on_connect = probe_connected,
	.on_close = probe_closed,
};

/* The check is over: its result, then nothing of it is left. */
static void
probe_end(struct probe *p, int ok, const char *why)
{
	struct health *h = p->h;

	timer_del(&p->timer);
	route_cancel(p->rr);
	if (p->c) {
		p->c->arg = NULL;	/* its callbacks are over */
		if (ok)
			conn_close_after_flush(p->c);
		else
			conn_close(p->c);
	}
	if (h) {
		h->probe = NULL;
		health_result(h, ok, why);
	}
	free(p);
}

static void
probe_timeout(struct ev_timer *t)
{
	struct probe *p = t->arg;
	char why[128];

	snprintf(why, sizeof(why), "check: no answer within %lldms",
	    (long long)gcfg->relay.health.timeout_ms);
	probe_end(p, 0, why);
}

static void
probe_routed(void *arg, const struct route_result *res)
{
	struct probe *p = arg;
	const struct target *t;
	char why[400];

	p->rr = NULL;
	if (res->status != ROUTE_OK || res->ntargets == 0) {
		snprintf(why, sizeof(why), "check: %d %s", res->code,
		    res->text);
		probe_end(p, 0, why);
		return;
	}
	t = &res->targets[0];
	reply_parser_init(&p->rp);
	p->c = conn_connect((const struct sockaddr *)&t->sa, t->salen, NULL,
	    0, &probe_ops, p, PROBE_IN_MAX, PROBE_OUT_MAX);
	if (p->c == NULL) {
		snprintf(why, sizeof(why), "check: connect: %s",
		    strerror(errno));
		probe_end(p, 0, why);
	}
}

static void
probe_connected(struct conn *c, int ok)
{
	struct probe *p = c->arg;
	char why[200];

	if (p == NULL || ok)
		return;
	snprintf(why, sizeof(why), "check: connect: %s", c->error);
	probe_end(p, 0, why);
}

static void
probe_closed(struct conn *c)
{
	struct probe *p = c->arg;

	if (p == NULL)
		return;
	p->c = NULL;
	probe_end(p, 0, c->error[0] ? c->error : "check: connection closed");
}

/* One reply: the greeting (220), then EHLO's (250); then QUIT. */
static int
probe_reply(struct probe *p, const struct smtp_reply *r)
{
	char why[300];

	if (r->code / 100 != 2) {
		snprintf(why, sizeof(why), "check: %s: %d %.200s",
		    p->step == 0 ? "greeting" : "EHLO", r->code, r->text);
		probe_end(p, 0, why);
		return -1;
	}
	if (p->step++ == 0) {
		conn_printf(p->c, "EHLO %s\r\n", gcfg->hostname);
		return 0;
	}
	conn_printf(p->c, "QUIT\r\n");
	probe_end(p, 1, NULL);
	return -1;
}

static void
probe_read(struct conn *c)
{
	struct probe *p = c->arg;
	size_t used;
	enum reply_result rr;

	while (p != NULL && buf_len(&c->in) > 0) {
		rr = reply_feed(&p->rp, buf_ptr(&c->in), buf_len(&c->in),
		    &used);
		buf_consume(&c->in, used);
		if (rr == REPLY_MORE)
			break;
		if (rr == REPLY_ERROR) {
			probe_end(p, 0, "check: malformed reply");
			return;
		}
		if (probe_reply(p, &p->rp.r) == -1)
			return;
		reply_parser_init(&p->rp);
	}
	if (p != NULL && c->eof)
		probe_end(p, 0, "check: the server closed the connection");
}

static void
probe_start(struct health *h)
{
	struct probe *p = xcalloc(1, sizeof(*p));

	p->h = h;
	h->probe = p;
	p->one.n = 1;
	p->one.e[0] = h->e;
	timer_init(&p->timer, probe_timeout, p);
	timer_add(&p->timer, gcfg->relay.health.timeout_ms);
	p->rr = route_resolve(NULL, &p->one, 0, probe_routed, p);
}

/* Which hosts the configuration names now. */
static void
mark_list(const struct shlist *l)
{
	struct health *h;

	for (int i = 0; l && i < l->n; i++)
		if ((h = health_get(&l->e[i])) != NULL)
			h->seen = 1;
}

static int
unmark(const char *name, void *v, void *arg)
{
	((struct health *)v)->seen = 0;
	return 0;
}

/* A host no longer named is forgotten (after its check). */
static int
check_one(const char *name, void *v, void *arg)
{
	struct health *h = v;

	if (!h->seen) {
		if (h->probe != NULL)
			return 0;
		free(h);
		return 1;
	}
	if (h->probe == NULL && gcfg->relay.health.interval_ms > 0)
		probe_start(h);
	return 0;
}

static void
scan(void)
{
	const struct policy *p;
	int gen;

	hmap_foreach(&healths, unmark, NULL);
	if (gcfg->relay.mode == RELAY_SMARTHOST)
		mark_list(&gcfg->relay.sh);
	p = policy_now(&gen);
	for (int i = 0; p && i < p->nrules; i++)
		mark_list(p->rules[i].via);
}

static void
tick_due(struct ev_timer *t)
{
	scan();
	hmap_foreach(&healths, check_one, NULL);
	if (gcfg->relay.health.interval_ms > 0)
		timer_add(&tick, gcfg->relay.health.interval_ms);
	else
		timer_add(&tick, 10000);	/* a reload may turn them on */
}

void
smarthost_start(void)
{
	hmap_init(&healths);
	timer_init(&tick, tick_due, NULL);
	started = 1;
	scan();			/* up until told otherwise */
	timer_add(&tick, gcfg->relay.health.interval_ms > 0 ?
	    gcfg->relay.health.interval_ms : 10000);
}

static int
stop_one(const char *name, void *v, void *arg)
{
	struct health *h = v;

	if (h->probe) {
		h->probe->h = NULL;
		probe_end(h->probe, 0, NULL);
		h->probe = NULL;
	}
	return 0;
}

void
smarthost_stop(void)
{
	if (!started)
		return;
	started = 0;
	timer_del(&tick);
	hmap_foreach(&healths, stop_one, NULL);
	hmap_free(&healths, free);
}

/* Order. */

struct cand {
	int	 shi;
	int	 prio;
	int	 weight;
	int	 key;		/* position within its priority */
};

static int
cmp_cand(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->prio != y->prio)
		return x->prio < y->prio ? -1 : 1;
	return x->key - y->key;
}

/* A weighted random order of c[0..n-1] (all of one priority): each
 * place goes to one of those left with a chance of its weight. */
static void
weighted_order(struct cand *c, int n)
{
	for (int k = 0; k < n; k++) {
		uint32_t total = 0, pick;
		int i;

		for (i = k; i < n; i++)
			total += (uint32_t)c[i].weight;
		random_bytes(&pick, sizeof(pick));
		pick %= total;
		for (i = k; i < n - 1; i++) {
			if (pick < (uint32_t)c[i].weight)
				break;
			pick -= (uint32_t)c[i].weight;
		}
		struct cand tmp = c[k];
		c[k] = c[i];
		c[i] = tmp;
		c[k].key = k;
	}
}

void
smarthost_order(const struct shlist *l, struct target *t, int *n)
{
	struct cand c[SHLIST_MAX];
	struct target out[ROUTE_MAX_TARGETS];
	int nc = 0, anyup = 0, no = 0, up[SHLIST_MAX];

	for (int i = 0; i < l->n; i++) {
		struct health *h = health_get(&l->e[i]);
		int has = 0;

		for (int k = 0; k < *n; k++)
			has |= t[k].shi == i;
		up[i] = h == NULL || h->up;
		if (has && up[i])
			anyup = 1;
	}
	for (int i = 0; i < l->n; i++)
		if (up[i] || !anyup)
			c[nc++] = (struct cand){ i, l->e[i].prio,
			    l->e[i].weight, 0 };
	qsort(c, (size_t)nc, sizeof(c[0]), cmp_cand);
	for (int s = 0, e; s < nc; s = e) {
		for (e = s; e < nc && c[e].prio == c[s].prio; e++)
			;
		weighted_order(c + s, e - s);
	}
	for (int i = 0; i < nc; i++)
		for (int k = 0; k < *n; k++)
			if (t[k].shi == c[i].shi && no < ROUTE_MAX_TARGETS)
				out[no++] = t[k];
	memcpy(t, out, sizeof(out[0]) * (size_t)no);
	*n = no;
}

/* Reports. */

void
smarthost_health(const struct shlist *l, int *up, int *total)
{
	struct health *h;

	*up = 0;
	*total = l->n;
	for (int i = 0; i < l->n; i++)
		if ((h = health_get(&l->e[i])) == NULL || h->up)
			(*up)++;
}

static int
control_one(const char *name, void *v, void *arg)
{
	struct health *h = v;
	struct buf *out = arg;
	char err[sizeof(h->error)];

	if (!h->seen)
		return 0;
	gw_strlcpy(err, h->error[0] ? h->error : "-", sizeof(err));
	for (char *p = err; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	buf_printf(out, "smarthost %s up=%d failures=%d successes=%d "
	    "changed=%lld error=%s\n", h->name, h->up, h->fails, h->passes,
	    (long long)h->changed, err);
	return 0;
}

void
smarthost_control(struct buf *out)
{
	if (started)
		hmap_foreach(&healths, control_one, out);
}

static int
prom_one(const char *name, void *v, void *arg)
{
	struct health *h = v;

	if (h->seen)
		buf_printf(arg, "gw_smarthost_up{host=\"%s\"} %d\n", h->name,
		    h->up);
	return 0;
}

void
smarthost_prometheus(struct buf *out)
{
	if (!started || hmap_count(&healths) == 0)
		return;
	buf_puts(out, "# HELP gw_smarthost_up Whether gwd takes a smarthost "
	    "for up (1) or down (0) now.\n# TYPE gw_smarthost_up gauge\n");
	hmap_foreach(&healths, prom_one, out);
}
