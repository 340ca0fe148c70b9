/*
 * routing.c - routing decisions: which rule decides for a recipient,
 * the destination that makes, and putting a recipient where it goes
 * next (its destination's ready list, the retry heap, a rule's hold
 * or refusal), also when the rules change under a waiting backlog; the
 * retry timer.
 * Exposure: none from the network; header rules read queued messages.
 * Diagnostics: allocation failure is fatal; a queued message that
 * cannot be read is routed by the rules that need no headers (logged).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "event.h"
#include "hmap.h"
#include "log.h"
#include "loop.h"
#include "policy.h"
#include "queue.h"
#include "queue_int.h"
#include "rules.h"
#include "schedule.h"
#include "store.h"
#include "util.h"

#define HELD_RECHECK_S	60	/* held by a rule: look again this often */
#define RETRY_BATCH	2000	/* due recipients placed a loop turn */

static struct ev_timer	 retry_timer;

void
routing_arm_retry(void)
{
	int64_t when;

	if (rcpt_next_retry() == NULL) {
		timer_del(&retry_timer);
		return;
	}
	when = rcpt_next_retry()->next_attempt * MS_PER_S - sched_unix_ms();
	timer_add(&retry_timer, when < 0 ? 0 : when);
}

/* A rule chose this recipient's route: say so in its lifecycle. */
static void
log_routed(const struct qrcpt *r, const struct rule *ru, int pos)
{
	struct audit_event *ev = audit_new(event_name(EV_ROUTED), r->msg->qid);
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
 * The one place where routing rules are tried: the first that matches
 * what rm tells of a message decides.  Its index, RULES_NONE (the
 * defaults) or RULES_UNKNOWN (a rule needs the size or the headers,
 * not given yet).
 */
static int
rule_index(const struct policy *p, const struct rule_msg *rm)
{
	return rules_match(p->rules, p->nrules, rm);
}

/* Record a decision (an index from rule_index). */
static void
route_set(struct rcpt_route *route, const struct policy *p, int gen, int i)
{
	route->gen = i == RULES_UNKNOWN ? 0 : gen;
	route->rule = i >= 0 ? i : -1;
	route->rule_id = i >= 0 ? p->rules[i].id : 0;
}

/*
 * The rule that decides for a recipient of what rm tells of a message,
 * under the policy now; NULL: the defaults, or (before DATA) a rule
 * that needs the size or the headers comes first.
 */
const struct rule *
routing_rule(const struct rule_msg *rm)
{
	const struct policy *p;
	int gen, i;

	p = policy_now(&gen);
	i = rule_index(p, rm);
	return i >= 0 ? &p->rules[i] : NULL;
}

/*
 * The routing decision for a recipient of a new message, made once at
 * the end of DATA from the message as its client sent it (rm: size and
 * header section) and kept in *route, to be carried into the queue with
 * the recipient.  The rule, or NULL for the defaults.
 */
const struct rule *
routing_decide(const struct rule_msg *rm, struct rcpt_route *route)
{
	const struct policy *p;
	int gen, i;

	p = policy_now(&gen);
	i = rule_index(p, rm);
	route_set(route, p, gen, i);
	return i >= 0 ? &p->rules[i] : NULL;
}

/*
 * Decide again for r, under a policy it was not decided under (changed
 * since, or r was loaded at start-up or is a DSN's), from the queued
 * message: read from queue.db if not in memory when a rule needs the
 * headers, and dropped again after.
 */
void
routing_match(struct qrcpt *r, const struct policy *p, int gen)
{
	struct qmsg *m = r->msg;
	struct rule_msg rm = { m->subaccount, m->sender, r->addr,
	    (int64_t)m->size, NULL, 0 };
	int had = m->body != NULL, i;
	int64_t old_id = r->route.gen && r->route.rule >= 0 ?
	    r->route.rule_id : 0;

	i = rule_index(p, &rm);
	if (i == RULES_UNKNOWN) {
		if (queue_load_body(m) == -1) {
			log_warnx("qid=%s: message unreadable, routing rules "
			    "that need its headers skipped", m->qid);
			i = RULES_NONE;
		} else {
			rm.headers = m->body;
			rm.hlen = m->bodylen;
			i = rule_index(p, &rm);
			queue_release_body(m);
			if (!had && m->body_users == 0)
				qmsg_drop_body(m);
		}
	}
	route_set(&r->route, p, gen, i);
	if (i >= 0 && p->rules[i].id != old_id)
		log_routed(r, &p->rules[i], i + 1);
}

/* The numbered credentials for this user and password (struct cred). */
static const struct cred *
cred_intern(const char *user, const char *password)
{
	static struct cred **creds;
	static int ncreds;
	struct cred *cr;

	if (password == NULL)
		password = "";
	for (int i = 0; i < ncreds; i++)
		if (strcmp(creds[i]->user, user) == 0 &&
		    strcmp(creds[i]->password, password) == 0)
			return creds[i];
	creds = xreallocarray(creds, (size_t)ncreds + 1, sizeof(*creds));
	cr = xcalloc(1, sizeof(*cr));
	cr->id = ncreds + 1;
	cr->user = xstrdup(user);
	cr->password = xstrdup(password);
	creds[ncreds++] = cr;
	return cr;
}

/* A rule's smarthost list as a dest name: "[a:587,b:587,prio=1]" (no
 * blanks: names are words in the control socket's answers). */
static int
dest_name_list(char *out, size_t n, const char *list)
{
	int r = snprintf(out, n, "[%s]", list);

	for (char *p = out; *p; p++)
		if (*p == ' ')
			*p = ',';
	return r;
}

void
routing_choose(struct qrcpt *r, struct choice *c)
{
	const struct policy *p;
	const struct rule *ru;
	int gen, n;

	p = policy_now(&gen);
	if (r->route.gen != gen)
		routing_match(r, p, gen);
	memset(c, 0, sizeof(*c));
	ru = c->rule = r->route.rule >= 0 ? &p->rules[r->route.rule] : NULL;
	c->prio = ru && ru->prio >= 0 ? ru->prio : PRIO_TRANSACTIONAL;
	c->tls = ru && ru->tls >= 0 ? ru->tls : (int)gcfg->relay.tls;
	c->pool = ru ? policy_pool(p, ru->pool) : NULL;
	if (ru && ru->smarthost && strcmp(ru->smarthost, "mx") != 0) {
		c->sh = ru->via;
		n = dest_name_list(c->name, sizeof(c->name), ru->smarthost);
		if (ru->auth_user && n > 0 && (size_t)n < sizeof(c->name)) {
			c->auth = 1;
			c->cred = cred_intern(ru->auth_user,
			    ru->auth_password);
			/* The number first: it alone tells credentials
			 * apart, whatever the user name holds. */
			n += snprintf(c->name + n, sizeof(c->name) - (size_t)n,
			    "/auth=%d:%s", c->cred->id, c->cred->user);
		}
	} else if ((ru == NULL || ru->smarthost == NULL) &&
	    gcfg->relay.mode == RELAY_SMARTHOST) {
		c->sh = &gcfg->relay.sh;
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

/*
 * A rule refuses r: that is its attempt, with the rule's reply.  Like
 * any job's, its outcome is applied from the loop, not inside this
 * call, whose callers may still walk the message's recipients.
 */
static void
routing_refuse(struct qrcpt *r, const struct rule *ru)
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
	rcpt_move(r, QR_ACTIVE);
	dest_job_done(j);
}

/* The choice holds r back (a rule's hold, until an admin releases its
 * message). */
static int
choice_holds(const struct choice *c, const struct qrcpt *r)
{
	return c->rule && c->rule->action == RULE_HOLD && !r->msg->released;
}

/* A recipient may go now: into a job of its destination (NULL: it was
 * held or refused by a rule instead). */
struct dest *
routing_place(struct qrcpt *r, int kick)
{
	struct choice c;
	struct dest *d;

	routing_choose(r, &c);
	if (choice_holds(&c, r)) {
		/* Held by a rule: it waits, and the rule is tried again. */
		r->next_attempt = sched_unix_s() + HELD_RECHECK_S;
		rcpt_move(r, QR_WAITING);
		return NULL;
	}
	if (c.rule && c.rule->action == RULE_REJECT) {
		routing_refuse(r, c.rule);
		return NULL;
	}
	d = dest_get(&c);
	rcpt_move(r, QR_READY);
	/* Recipients of one message to one destination share a job (one
	 * transaction) up to the per-message recipient limit. */
	dest_ready(d, r, c.prio);
	if (kick)
		dest_kick(d);
	return d;
}

/* r, ready at d in list prio, stays there under the policy now. */
static int
still_there(struct qrcpt *r, const struct dest *d, int prio, void *arg)
{
	struct choice c;

	routing_choose(r, &c);
	return strcmp(c.name, d->name) == 0 && c.prio == prio &&
	    !choice_holds(&c, r) &&
	    (c.rule == NULL || c.rule->action != RULE_REJECT);
}

/* Out of its destination's list: placed again at once. */
static void
place_again(struct qrcpt *r, void *arg)
{
	r->next_attempt = sched_unix_s();
	rcpt_move(r, QR_WAITING);
}

static int
sift_dest(const char *key, void *v, void *arg)
{
	dest_sift_ready(v, still_there, place_again, NULL);
	return 0;
}

/*
 * The routing rules or pools changed: recipients ready at a destination
 * the rules would not choose for them now (another route, pool or
 * priority, or a hold or refusal) leave its list and are placed again
 * by the retry timer, RETRY_BATCH a turn.  Waiting recipients are
 * decided again at their next attempt anyway.  Each ready recipient is
 * matched once (a rule on headers reads a body that is not cached).
 */
void
routing_repolicy(void)
{
	dest_foreach(sift_dest, NULL);
	routing_arm_retry();
}

/*
 * Due recipients go where they go next, RETRY_BATCH a loop turn: a
 * backlog that comes due at once (a restart after an outage, the
 * queue read at start-up) neither stalls the loop nor lands at its
 * destinations all in one go.
 */
static void
retry_due(struct ev_timer *t)
{
	int64_t now = sched_unix_s();
	struct hmap touched;
	struct qrcpt *r;
	int n = 0;

	hmap_init(&touched);
	while ((r = rcpt_next_retry()) != NULL && r->next_attempt <= now &&
	    n++ < RETRY_BATCH) {
		struct dest *d;

		if ((d = routing_place(r, 0)) != NULL)
			hmap_put(&touched, d->name, d);
	}
	/* Kick each destination once, after all its jobs are in. */
	for (size_t i = 0; i < touched.nb; i++)
		for (struct hmap_entry *e = touched.b[i]; e; e = e->next)
			dest_kick(e->value);
	hmap_free(&touched, NULL);
	if (r != NULL && r->next_attempt <= now)
		timer_add(t, 1);		/* the next turn */
	else
		routing_arm_retry();
}

static void
routing_schedule(struct qmsg *m, int64_t now)
{
	qmsg_register(m);
	for (int i = 0; i < m->nrcpt; i++) {
		struct qrcpt *r = &m->rcpt[i];

		r->msg = m;
		r->heap_idx = -1;
		if (m->held)
			rcpt_move(r, QR_HELD);
		else if (r->next_attempt <= now)
			routing_place(r, 1);
		else
			rcpt_move(r, QR_WAITING);
	}
}

/* A new message (a session's, a DSN) is stored: its recipients go. */
void
routing_add(struct qmsg *m)
{
	const struct policy *p;
	int gen;

	/* The decision made at the end of DATA stands, and goes in the
	 * lifecycle now that the message is stored.  Without one (a DSN;
	 * or the policy changed meanwhile), the rules are tried now, while
	 * the headers are at hand: a body that does not fit the cache
	 * would be read back for them. */
	p = policy_now(&gen);
	for (int i = 0; i < m->nrcpt; i++) {
		struct qrcpt *r = &m->rcpt[i];

		r->msg = m;
		if (r->route.gen != gen) {
			r->route.gen = 0;
			routing_match(r, p, gen);
		} else if (r->route.rule >= 0)
			log_routed(r, &p->rules[r->route.rule],
			    r->route.rule + 1);
	}
	qmsg_stored(m);
	routing_schedule(m, sched_unix_s());
	qmsg_maybe_drop_body(m);
	routing_arm_retry();
}

/*
 * A message read from queue.db at start-up: every recipient waits, the
 * due ones too, so retry_due() sends them on in batches (the caller
 * arms the timer once for all it read).  Its rules are tried then.
 */
void
routing_load(struct qmsg *m)
{
	qmsg_register_loaded(m);
	for (int i = 0; i < m->nrcpt; i++) {
		struct qrcpt *r = &m->rcpt[i];

		r->msg = m;
		r->heap_idx = -1;
		rcpt_move(r, m->held ? QR_HELD : QR_WAITING);
	}
}

void
routing_init(void)
{
	timer_init(&retry_timer, retry_due, NULL);
}
