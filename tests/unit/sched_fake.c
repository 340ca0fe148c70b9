/*
 * sched_fake.c - what the scheduler's unit tests (test_sched.c) put in
 * place of the rest of gwd: a clock and loop that move only when the
 * test says so, a store that keeps its ops for inspection, a DNS that
 * answers when told, connections the test plays by hand, and a node
 * without a cluster (tests/e2e/test_cluster.py runs the real one).  Each
 * stands in for the real module at link time; see sched_fake.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth.h"
#include "cluster.h"
#include "gwd.h"
#include "loop.h"
#include "metrics.h"
#include "pause.h"
#include "policy.h"
#include "retpath.h"
#include "route.h"
#include "sched_fake.h"
#include "schedule.h"
#include "shlist.h"
#include "signer.h"
#include "smarthost.h"
#include "store.h"
#include "store_read.h"
#include "suppress.h"
#include "util.h"

/* gcfg (gwd.c) points at it. */
struct gw_config	 cfg;

/* Fake clocks: loop_now() (monotonic ms) and the scheduler's unix clock
 * move together, only when the test says so. */
int64_t			 fake_ms = 1000;
int64_t			 unix_us = T0_S * 1000000;

int64_t
fake_unix_us(void)
{
	return unix_us;
}

int64_t
now_s(void)
{
	return unix_us / 1000000;
}

/* Fake loop: armed timers in an array; the idle hook of dest.c. */
static struct ev_timer	*armed[256];
static int		 narmed;
void			(*idle_fn)(void *);

int64_t
loop_now(void)
{
	return fake_ms;
}

void
loop_on_idle(void (*fn)(void *), void *arg)
{
	idle_fn = fn;
}

void
timer_init(struct ev_timer *t, timer_cb cb, void *arg)
{
	t->when = 0;
	t->idx = -1;
	t->cb = cb;
	t->arg = arg;
}

void
timer_del(struct ev_timer *t)
{
	int i = t->idx;

	if (i < 0)
		return;
	armed[i] = armed[--narmed];
	if (i < narmed)
		armed[i]->idx = i;
	t->idx = -1;
}

void
timer_add(struct ev_timer *t, int64_t ms)
{
	t->when = fake_ms + ms;
	if (t->idx < 0) {
		assert_true(narmed < (int)(sizeof(armed) / sizeof(armed[0])));
		t->idx = narmed;
		armed[narmed++] = t;
	}
}

static struct ev_timer *
earliest(void)
{
	struct ev_timer *e = NULL;

	for (int i = 0; i < narmed; i++)
		if (e == NULL || armed[i]->when < e->when)
			e = armed[i];
	return e;
}

/* One turn of the loop: the idle hook, the due timers, the hook. */
void
turn(void)
{
	struct ev_timer *t;

	idle_fn(NULL);
	while ((t = earliest()) != NULL && t->when <= fake_ms) {
		timer_del(t);
		t->cb(t);
	}
	idle_fn(NULL);
}

/* Move time on by ms, running each timer when its time comes. */
void
advance(int64_t ms)
{
	int64_t end = fake_ms + ms;
	struct ev_timer *t;

	while ((t = earliest()) != NULL && t->when <= end) {
		if (t->when > fake_ms) {
			unix_us += (t->when - fake_ms) * 1000;
			fake_ms = t->when;
		}
		turn();
	}
	unix_us += (end - fake_ms) * 1000;
	fake_ms = end;
	turn();
}

/* Fake policy (auth.c): a change is told as a reload tells it. */
struct policy		 pol;
int			 pol_gen = 1;
static void		(*pol_changed)(unsigned);

const struct policy *
policy_now(int *gen)
{
	*gen = pol_gen;
	return &pol;
}

void
policy_on_change(void (*fn)(unsigned what))
{
	pol_changed = fn;
}

static void
changed(unsigned what)
{
	pol_gen++;
	if (pol_changed)
		pol_changed(what);
}

void
set_rules(struct rule *r, int n)
{
	pol.rules = r;
	pol.nrules = n;
	changed(POLICY_RULES);
}

void
set_throttles(struct throttle *t, int n)
{
	pol.throttles = t;
	pol.nthrottles = n;
	changed(POLICY_THROTTLES);
}

/* Fake store: ops wait here until commit_all(). */
struct store_op		*ops[4096];
int			 nops;
int			 nlogged[2];	/* store_event(): routed, other */
int			 nsuppressed, npause;
int			 body_missing;

struct audit_event *
audit_new(const char *action, const char *qid)
{
	struct audit_event *ev = xcalloc(1, sizeof(*ev));

	ev->ts = unix_us;
	ev->action = action;
	ev->qid = qid ? xstrdup(qid) : NULL;
	ev->size = -1;
	ev->duration_ms = -1;
	return ev;
}

void
audit_free(struct audit_event *ev)
{
	free(ev->qid);
	free(ev->subaccount);
	free(ev->client_ip);
	free(ev->sender);
	free(ev->recipient);
	free(ev->message_id);
	free(ev->subject);
	free(ev->from_addr);
	free(ev->tls);
	free(ev->tls_note);
	free(ev->remote_host);
	free(ev->remote_ip);
	free(ev->reply_status);
	free(ev->reply_text);
	free(ev->detail);
	for (int i = 0; i < ev->nrcpts; i++)
		free(ev->rcpts[i]);
	free(ev->rcpts);
	free(ev);
}

struct store_op *
store_op_new(void)
{
	struct store_op *op = xcalloc(1, sizeof(*op));

	op->events_tail = &op->events;
	return op;
}

void
store_op_free(struct store_op *op)
{
	struct audit_event *ev, *next;

	for (ev = op->events; ev; ev = next) {
		next = ev->next;
		audit_free(ev);
	}
	for (int i = 0; i < op->nupd; i++)
		free(op->upd[i].last_reply);
	free(op->upd);
	free(op->del_rcpt);
	free(op);
}

void
store_op_del_rcpt(struct store_op *op, int64_t dbid)
{
	op->del_rcpt = realloc(op->del_rcpt, sizeof(int64_t) *
	    (size_t)(op->ndel_rcpt + 1));
	assert_non_null(op->del_rcpt);
	op->del_rcpt[op->ndel_rcpt++] = dbid;
}

void
store_op_upd_rcpt(struct store_op *op, const struct qrcpt *r)
{
	op->upd = realloc(op->upd, sizeof(*op->upd) * (size_t)(op->nupd + 1));
	assert_non_null(op->upd);
	op->upd[op->nupd].dbid = r->dbid;
	op->upd[op->nupd].attempts = r->attempts;
	op->upd[op->nupd].next_attempt = r->next_attempt;
	op->upd[op->nupd].last_reply = xstrdup(r->last_reply ?
	    r->last_reply : "");
	op->nupd++;
}

struct audit_event *
store_op_event(struct store_op *op, const char *action, const char *qid)
{
	struct audit_event *ev = audit_new(action, qid);

	*op->events_tail = ev;
	op->events_tail = &ev->next;
	return ev;
}

void
store_submit(struct store_op *op)
{
	assert_true(nops < (int)(sizeof(ops) / sizeof(ops[0])));
	ops[nops++] = op;
}

void
store_event(struct audit_event *ev)
{
	nlogged[strcmp(ev->action, "routed") == 0 ? 0 : 1]++;
	audit_free(ev);
}

/* No DKIM keys: DSNs go unsigned (signing is test_dkim.py's). */
struct sign_job *
signer_plan(const char *from_domain, const char *org_domain, char *why,
    size_t whysz)
{
	snprintf(why, whysz, "no active DKIM key for %s", from_domain);
	return NULL;
}

void
signer_run(struct sign_job *j, const char *msg, size_t len, int64_t now)
{
	fail();
}

void
sign_job_free(struct sign_job *j)
{
	fail();
}

size_t
signer_prepend(const struct sign_job *j, char **msg, size_t *len)
{
	fail();
	return 0;
}

int	 fake_store_blocked;
/* retpath.c: a VERP return path for every sender when set. */
int	 fake_verp;

int
retpath_applies(const char *sender, const char *sub)
{
	return fake_verp && sender[0] != '\0';
}

void	(*store_resume_fn)(void);

int
store_deliveries_allowed(void)
{
	return !fake_store_blocked;
}

void
store_on_resume(void (*fn)(void))
{
	store_resume_fn = fn;
}

int
store_load_body(struct qmsg *m)
{
	if (body_missing)
		return -1;
	m->body = xstrdup(BODY);
	m->bodylen = strlen(BODY);
	return 0;
}

char *
store_message_id(const struct qmsg *m)
{
	return xstrdup(m->message_id ? m->message_id : "<fake@mid>");
}

/* Fake queue.db at start-up: disk[] is read in order; NULL: gone. */
struct qmsg		*disk[8192];
int			 ndisk;
static int		 disk_pos;

int
store_load_begin(int64_t *count, char *err, size_t errsz)
{
	*count = 0;
	for (int i = disk_pos = 0; i < ndisk; i++)
		*count += disk[i] != NULL;
	return 0;
}

int
store_load_next(void (*cb)(struct qmsg *, void *), void *arg, int max,
    int *consumed, char *err, size_t errsz)
{
	*consumed = 0;
	for (; disk_pos < ndisk && *consumed < max; disk_pos++) {
		struct qmsg *m = disk[disk_pos];

		if (m == NULL)
			continue;
		disk[disk_pos] = NULL;
		(*consumed)++;
		cb(m, arg);
	}
	return *consumed == max ? 1 : 0;
}

struct qmsg *
store_load_qid(const char *qid)
{
	for (int i = disk_pos; i < ndisk; i++)
		if (disk[i] && strcmp(disk[i]->qid, qid) == 0) {
			/* Still on disk: the slices will meet it again. */
			struct qmsg *m = disk[i], *copy;

			copy = qmsg_new(m->sender, m->subaccount, m->nrcpt);
			memcpy(copy->qid, m->qid, sizeof(copy->qid));
			copy->dbid = m->dbid;
			copy->received_us = m->received_us;
			copy->size = m->size;
			for (int k = 0; k < m->nrcpt; k++) {
				qmsg_set_rcpt(copy, k, m->rcpt[k].addr);
				copy->rcpt[k].dbid = m->rcpt[k].dbid;
				copy->rcpt[k].next_attempt =
				    m->rcpt[k].next_attempt;
			}
			return copy;
		}
	return NULL;
}

int
store_load_end(void)
{
	ndisk = disk_pos = 0;
	return 0;
}

void
suppress_bounce(struct store_op *op, const char *subaccount,
    const char *addr, const char *reply)
{
	nsuppressed++;
}

void
pause_outcome(struct store_op *op, const char *subaccount, int bounced,
    int64_t ts)
{
	npause++;
}

/* Every op commits, in order (its done() runs, as the store's would). */
void
commit_all(void)
{
	for (int i = 0; i < nops; i++) {
		if (ops[i]->done)
			ops[i]->done(ops[i]);
		else
			store_op_free(ops[i]);
	}
	nops = 0;
}

/* The events of the ops not committed yet, with that action. */
int
events(const char *action, const char *rcpt, struct audit_event **first)
{
	int n = 0;

	for (int i = 0; i < nops; i++)
		for (struct audit_event *ev = ops[i]->events; ev;
		    ev = ev->next)
			if (strcmp(ev->action, action) == 0 && (rcpt == NULL ||
			    (ev->recipient && strcmp(ev->recipient,
			    rcpt) == 0))) {
				if (n++ == 0 && first)
					*first = ev;
			}
	return n;
}

/* Fake DNS: each lookup waits until resolve_all(). */
struct route_req {
	route_cb	 cb;
	void		*arg;
	int		 live;
};
static struct route_req	 lookups[64];
static int		 nlookups;

struct route_req *
route_resolve(const char *domain, const struct shlist *sh, int port, route_cb cb,
    void *arg)
{
	struct route_req *q = &lookups[nlookups++ % 64];

	q->cb = cb;
	q->arg = arg;
	q->live = 1;
	return q;
}

void
route_cancel(struct route_req *q)
{
	if (q)
		q->live = 0;
}

void
resolve_all(void)
{
	struct route_result *res = xcalloc(1, sizeof(*res));

	res->status = ROUTE_OK;
	res->ntargets = 1;
	gw_strlcpy(res->targets[0].host, "mx.test", sizeof(res->targets[0].host));
	for (int i = 0; i < 64; i++)
		if (lookups[i].live) {
			lookups[i].live = 0;
			lookups[i].cb(lookups[i].arg, res);
		}
	free(res);
}

/* Fake delivery client: the test plays each connection. */
struct mta		*conns[256];
int			 nconns;
int			 prios[64], nprios;	/* the jobs run, in order */

void
mta_start(struct dest *d, const struct route_result *route)
{
	struct mta *m = xcalloc(1, sizeof(*m));

	m->d = d;
	m->started = fake_ms;
	assert_true(nconns < (int)(sizeof(conns) / sizeof(conns[0])));
	conns[nconns++] = m;
}

void
mta_run_job(struct mta *m, struct job *j)
{
	for (int i = 0; i < j->nrcpt; i++)
		assert_int_equal(j->rcpt[i]->state, QR_ACTIVE);
	assert_null(m->job);
	m->job = j;
	j->res = xcalloc((size_t)j->nrcpt, sizeof(*j->res));
	j->started_ms = fake_ms;
	gw_strlcpy(j->hop.host, "mx.test", sizeof(j->hop.host));
	if (nprios < 64)
		prios[nprios++] = j->prio;
}

void
mta_set_idle(struct mta *m, struct mta *next)
{
	m->next_idle = next;
}

struct mta *
mta_next_idle(struct mta *m)
{
	return m->next_idle;
}

void
mta_shutdown(struct mta *m)
{
	m->shut = 1;
}

int
mta_count(void)
{
	int n = 0;

	for (int i = 0; i < nconns; i++)
		n += !conns[i]->closed;
	return n;
}

/* Only what the scheduler's tests look at. */
void
mta_audit_hop(struct audit_event *ev, const struct hop *h,
    const struct dest *d)
{
	if (h->host[0])
		ev->remote_host = xstrdup(h->host);
	if (h->ip[0])
		ev->remote_ip = xstrdup(h->ip);
}

void
mta_walk(void (*fn)(const struct dest *, const struct dest_src *, void *),
    void *arg)
{
}

/* The connection is set up and asks for work, as mta.c's would. */
void
conn_up(struct mta *m)
{
	m->up = 1;
	dest_conn_up(m->d);
	dest_conn_ready(m->d, m);
}

/* The transaction ends with this reply for every recipient: the job is
 * reported and the connection asks for the next one. */
void
conn_finish(struct mta *m, int code, const char *status, const char *text)
{
	struct job *j = m->job;

	assert_non_null(j);
	for (int i = 0; i < j->nrcpt; i++) {
		j->res[i].code = code;
		gw_strlcpy(j->res[i].status, status, sizeof(j->res[i].status));
		j->res[i].text = xstrdup(text);
	}
	m->job = NULL;
	dest_job_done(j);
	dest_conn_ready(m->d, m);
}

void
conn_close(struct mta *m)
{
	assert_null(m->job);
	dest_idle_remove(m->d, m);
	m->closed = 1;
	dest_conn_closed(m->d, m, m->up);
}

void
conn_fail(struct mta *m, int code, const char *status, const char *text)
{
	struct hop h;

	assert_false(m->up);
	memset(&h, 0, sizeof(h));
	h.started_ms = m->started;
	gw_strlcpy(h.host, "mx.test", sizeof(h.host));
	dest_conn_failed(m->d, code, status, text, &h, NULL, 0);
	m->closed = 1;
	dest_conn_closed(m->d, m, 0);
}

/* Smarthost health (smarthost.c): every host up. */
void
smarthost_health(const struct shlist *l, int *up, int *total)
{
	*up = *total = l->n;
}

/* One node, no Redis. */
int
cluster_enabled(void)
{
	return 0;
}

int
cluster_up(void)
{
	return 0;
}

int
cluster_live(void)
{
	return 1;
}

int64_t
cluster_rate_wait(const char *key, int per_minute, int64_t now)
{
	return 0;
}

void
cluster_rate_used(const char *key)
{
}

void
cluster_lease_hooks(int (*count)(const char *), void (*kick)(const char *))
{
}

int
cluster_lease_room(const char *key, int limit)
{
	return 1;
}

void
cluster_lease_closed(const char *key)
{
}
