// sources: tests/unit/sched_fake.c gwd/gwd.c gwd/metrics.c gwd/qmsg.c gwd/rcpt.c gwd/routing.c gwd/dest.c gwd/dest_conn.c gwd/throttle.c gwd/outcome.c gwd/dsn_queue.c gwd/queue.c gwd/queue_admin.c gwd/queue_report.c gwd/dsn.c gwd/smtp_dsn.c gwd/mime7.c gwd/quarantine.c gwd/alertstat.c
/*
 * test_sched.c - the scheduler without a daemon: its real files with a
 * fake clock and loop (timers run when the test moves time), a fake
 * store (ops are kept for inspection and committed on demand), a fake
 * delivery client (the test plays each connection) and a fake DNS.
 *
 * Covers the recipient state machine and its counters, the priority
 * weighting and pacing of a destination, the adaptive backoff (a burst
 * is one signal, greylisting none) and its recovery, policy changes
 * reaching a backlog, outcomes, and the one routing decision per
 * recipient.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctlproto.h"
#include "expect_fatal.h"
#include "gwd.h"
#include "loop.h"
#include "metrics.h"
#include "policy.h"
#include "quarantine.h"
#include "queue.h"
#include "queue_int.h"
#include "sched_fake.h"
#include "schedule.h"
#include "store.h"
#include "util.h"

/* Messages. */
static int64_t		 dbids;

static struct qmsg *
msg(const char *subaccount, int n, const char *const *rcpt, int64_t due_s)
{
	struct qmsg *m = queue_msg_new("app@example.com", subaccount, n);

	m->dbid = ++dbids;
	m->received_us = unix_us;
	m->size = strlen(BODY);
	for (int i = 0; i < n; i++) {
		struct qrcpt *r = &m->rcpt[i];

		r->dbid = ++dbids;
		qmsg_set_rcpt(m, i, rcpt[i]);
		r->next_attempt = due_s;
	}
	return m;
}

static struct qmsg *
add1(const char *subaccount, const char *rcpt)
{
	struct qmsg *m = msg(subaccount, 1, &rcpt, now_s());

	queue_add(m);
	return m;
}

/*
 * The receiver's turn on every open connection: a new one is set up
 * (and, with many, takes its turn at once); the transaction under way
 * ends with this reply (every one until none is left, with many); a
 * connection gwd shut is closed, as mta.c's would be.
 */
static void
sink_turn(int code, const char *status, const char *text, int many)
{
	for (int i = 0; i < nconns; i++) {
		struct mta *m = conns[i];

		if (m->closed)
			continue;
		if (!m->up) {
			conn_up(m);
			if (!many)
				continue;
		}
		do {
			if (m->job)
				conn_finish(m, code, status, text);
			if (many) {	/* each outcome applied, committed */
				turn();
				commit_all();
			}
		} while (many && m->job);
		if (m->shut && !m->job)
			conn_close(m);
	}
}

/* Everything queued is delivered, every connection closed, and the
 * destinations are forgotten: the next test starts clean.  Returns how
 * many recipients were delivered in the test. */
static int
drain(void)
{
	int delivered;

	for (int round = 0; round < 100 && (queue_first() || nops); round++) {
		turn();
		commit_all();
		resolve_all();
		sink_turn(250, "2.0.0", "ok", 1);
		advance(HOUR_MS);
	}
	for (struct qmsg *q = queue_first(); q; q = q->qnext)
		for (int i = 0; i < q->nrcpt; i++)
			fprintf(stderr, "left: %s %s state %d\n", q->qid,
			    q->rcpt[i].addr, q->rcpt[i].state);
	assert_null(queue_first());
	for (int i = 0; i < nconns; i++) {
		if (!conns[i]->closed)
			conn_close(conns[i]);
		free(conns[i]);
	}
	nconns = 0;
	nprios = 0;
	turn();
	commit_all();
	advance(11 * 60 * 1000);		/* idle dests are collected */
	assert_int_equal(dest_count(), 0);
	assert_int_equal(rcpt_pending(), 0);
	delivered = (int)metrics_result_total(GM_DELIVERED);
	memset(&gm, 0, sizeof(gm));
	memset(nlogged, 0, sizeof(nlogged));
	nsuppressed = npause = 0;
	return delivered;
}

static struct dest *
smarthost(void)
{
	struct dest *d = dest_find(SMARTHOST_DEST);

	assert_non_null(d);
	return d;
}

static int
setup(void **state)
{
	char err[128];

	gcfg = &cfg;
	cfg.hostname = "gw.test";
	cfg.relay.mode = RELAY_SMARTHOST;
	cfg.relay.host = "relay.test:25";
	cfg.relay.sh = (struct shlist){ 1, { { "relay.test", 25, 1, 1 } } };
	cfg.relay.port = 25;
	cfg.relay.tls = TLSP_NONE;
	cfg.relay.mx_port = 25;
	cfg.relay.connections = 1;
	cfg.relay.messages_per_connection = 1000;
	cfg.relay.backoff_recovery_ms = 10000;
	cfg.queue.lifetime_ms = 5 * 24 * HOUR_MS;
	cfg.queue.retry_min_ms = 60000;
	cfg.queue.retry_max_ms = 4 * HOUR_MS;
	cfg.limits.recipients = 100;
	sched_clock = fake_unix_us;
	assert_int_equal(queue_init(err, sizeof(err)), 0);
	assert_non_null(idle_fn);
	return 0;
}

/* The state machine. */

static void
test_states_and_counters(void **state)
{
	const char *const now2[] = { "a@x.test", "b@x.test" };
	const char *const later[] = { "c@y.test" };
	struct qmsg *m = msg("app", 2, now2, T0_S), *w;
	struct queue_stats st;

	queue_add(m);
	assert_int_equal(m->rcpt[0].state, QR_READY);
	assert_int_equal(m->rcpt[1].state, QR_READY);
	assert_int_equal(smarthost()->njobs, 1);	/* one transaction */
	w = msg("app", 1, later, now_s() + 300);
	queue_add(w);
	assert_int_equal(w->rcpt[0].state, QR_WAITING);
	assert_ptr_equal(rcpt_next_retry(), &w->rcpt[0]);
	queue_stats(&st);
	assert_int_equal(st.messages, 2);
	assert_int_equal(st.recipients, 3);
	assert_int_equal(st.deferred, 1);
	assert_int_equal(st.active, 0);

	/* A connection takes the job: its recipients are active. */
	resolve_all();
	assert_int_equal(nconns, 1);
	conn_up(conns[0]);
	assert_int_equal(rcpt_count(QR_ACTIVE), 2);
	assert_int_equal(rcpt_count(QR_READY), 0);

	/* The waiting one is due in five minutes, not before. */
	advance(299 * 1000);
	assert_int_equal(w->rcpt[0].state, QR_WAITING);
	advance(1000);
	assert_int_equal(w->rcpt[0].state, QR_READY);
	assert_null(rcpt_next_retry());
	drain();
}

static void
admin_done(void *arg, int failed, const char *error)
{
	assert_int_equal(failed, 0);
	(*(int *)arg)++;
}

/* An admin's request for verb, nothing more. */
static const struct ctl_queue_cmd *
cmd_of(enum ctl_verb verb)
{
	static struct ctl_queue_cmd c;

	memset(&c, 0, sizeof(c));
	c.verb = verb;
	return &c;
}

static void
test_hold_and_release(void **state)
{
	const char *const r[] = { "a@x.test", "b@x.test" };
	struct qmsg *m = msg("app", 2, r, now_s());
	struct queue_stats st;
	const char *why;
	int done = 0;

	m->rcpt[1].next_attempt = now_s() + 600;
	queue_add(m);
	assert_int_equal(queue_admin(m, cmd_of(CTL_Q_HOLD), admin_done, &done,
	    &why), QA_DONE);
	assert_int_equal(m->rcpt[0].state, QR_HELD);
	assert_int_equal(m->rcpt[1].state, QR_HELD);
	assert_int_equal(smarthost()->njobs, 0);	/* its job left */
	assert_null(rcpt_next_retry());
	queue_stats(&st);
	assert_int_equal(st.held, 2);
	assert_int_equal(st.held_messages, 1);
	assert_int_equal(queue_admin(m, cmd_of(CTL_Q_HOLD), admin_done, &done,
	    &why), QA_UNCHANGED);

	assert_int_equal(queue_admin(m, cmd_of(CTL_Q_RELEASE), admin_done,
	    &done, &why), QA_DONE);
	assert_int_equal(m->rcpt[0].state, QR_READY);
	assert_int_equal(m->rcpt[1].state, QR_WAITING);
	queue_stats(&st);
	assert_int_equal(st.held, 0);
	assert_int_equal(st.held_messages, 0);
	assert_int_equal(st.deferred, 1);
	commit_all();
	assert_int_equal(done, 2);		/* durable, both */
	drain();
}

/*
 * Quarantined mail past policy.quarantine_days goes, each recipient's
 * "deleted" event saying why; younger quarantined mail and an admin's
 * hold stay.  A --quarantined action leaves other messages be.
 */
static void
test_quarantine_sweep(void **state)
{
	const char *const r[] = { "a@x.test" };
	const int64_t day_us = (int64_t)86400 * 1000000;
	struct qmsg *old = msg("app", 1, r, now_s());
	struct qmsg *young = msg("app", 1, r, now_s());
	struct qmsg *held = msg("app", 1, r, now_s());
	struct ctl_queue_cmd c = { .verb = CTL_Q_RELEASE, .quarantined = 1 };
	struct audit_event *ev = NULL;
	struct queue_stats st;
	char qid[QID_LEN + 1];
	const char *why;
	int done = 0;

	gcfg->policy.quarantine_days = 30;
	old->held = young->held = QMSG_QUARANTINED;
	old->received_us = held->received_us = unix_us - 31 * day_us;
	queue_add(old);
	queue_add(young);
	queue_add(held);
	assert_int_equal(queue_admin(held, cmd_of(CTL_Q_HOLD), admin_done,
	    &done, &why), QA_DONE);
	queue_stats(&st);
	assert_int_equal(st.held_messages, 3);
	assert_int_equal(st.quarantined_messages, 2);
	assert_int_equal(old->rcpt[0].state, QR_HELD);
	assert_int_equal(queue_admin(held, &c, admin_done, &done, &why),
	    QA_UNCHANGED);
	assert_string_equal(why, "not quarantined");
	commit_all();

	memcpy(qid, old->qid, sizeof(qid));
	assert_int_equal(quarantine_sweep(unix_us - 30 * day_us), 1);
	assert_null(qmsg_find(qid));
	assert_int_equal(events("deleted", NULL, &ev), 1);
	assert_string_equal(ev->qid, qid);
	assert_string_equal(ev->detail, "deleted from quarantine without "
	    "delivery: kept 30 days (policy.quarantine_days)");
	queue_stats(&st);
	assert_int_equal(st.held_messages, 2);
	assert_int_equal(st.quarantined_messages, 1);
	commit_all();

	/* A release of the young one: it goes as any other. */
	assert_int_equal(queue_admin(young, &c, admin_done, &done, &why),
	    QA_DONE);
	assert_int_equal(events("released", NULL, &ev), 1);
	assert_string_equal(ev->detail, "released from quarantine by admin");
	assert_int_equal(queue_admin(held, cmd_of(CTL_Q_RELEASE), admin_done,
	    &done, &why), QA_DONE);
	commit_all();
	drain();
}

static void
move_back_from_done(void *arg)
{
	struct qrcpt *r = arg;

	rcpt_move(r, QR_WAITING);
	rcpt_move(r, QR_DONE);
	rcpt_move(r, QR_READY);		/* never comes back */
}

static void
test_impossible_move_is_fatal(void **state)
{
	const char *const r[] = { "a@x.test" };
	struct qmsg *m = msg("app", 1, r, now_s());
	char want[128];

	snprintf(want, sizeof(want), "qid=%s recipient 0: impossible move "
	    "from done to ready", m->qid);
	expect_fatal(move_back_from_done, &m->rcpt[0], want);
	qmsg_free(m);
}

static void
hold_in_list(void *arg)
{
	rcpt_move(arg, QR_HELD);
}

/* Ready is in a destination's list: leaving it without leaving the
 * list would leave a dangling entry there. */
static void
test_ready_leaves_its_list_first(void **state)
{
	struct qmsg *m = add1("app", "a@x.test");

	assert_int_equal(m->rcpt[0].state, QR_READY);
	expect_fatal(hold_in_list, &m->rcpt[0],
	    "leaves ready while still in its destination's list");
	drain();
}

/* Destinations. */

static struct rule bulk_rule = {
	.id = 7, .subaccount = "bulk", .size_over = -1, .size_under = -1,
	.action = RULE_ROUTE, .prio = PRIO_BULK, .tls = -1,
};

static void
test_bulk_every_fifth(void **state)
{
	struct mta *c;
	char seq[32];
	int i;

	set_rules(&bulk_rule, 1);
	for (i = 0; i < 3; i++)
		add1("bulk", "list@b.test");
	for (i = 0; i < 10; i++)
		add1("app", "user@t.test");
	resolve_all();
	assert_int_equal(nconns, 1);		/* relay.connections */
	c = conns[0];
	conn_up(c);
	while (c->job)
		conn_finish(c, 250, "2.0.0", "ok");
	for (i = 0; i < nprios; i++)
		seq[i] = prios[i] == PRIO_BULK ? 'B' : 'T';
	seq[i] = '\0';
	assert_string_equal(seq, "TTTTBTTTTBTTB");
	set_rules(NULL, 0);
	drain();
}

static struct throttle slow = { .domain = "relay.test", .connections = -1,
	.per_connection = -1, .per_minute = 60 };

static void
test_pacing_per_minute(void **state)
{
	struct mta *c;

	set_throttles(&slow, 1);
	add1("app", "a@x.test");
	add1("app", "b@x.test");
	resolve_all();
	c = conns[0];
	conn_up(c);
	conn_finish(c, 250, "2.0.0", "ok");
	assert_null(c->job);			/* 60 a minute: wait */
	advance(999);
	assert_null(c->job);
	advance(1);
	assert_non_null(c->job);
	set_throttles(NULL, 0);
	drain();
}

/* Throttles. */

/* The connection with a transaction under way (the only one). */
static struct mta *
busy(void)
{
	struct mta *b = NULL;

	for (int i = 0; i < nconns; i++)
		if (conns[i]->job && !conns[i]->closed) {
			assert_null(b);
			b = conns[i];
		}
	return b;
}

/* gwd.conf's relay.connections (read again at the next dest_get). */
static void
relay_connections(int n)
{
	cfg.relay.connections = n;
	pol_gen++;
}

/* Four messages, four connections opening for them. */
static struct dest *
four_connections(void)
{
	struct dest *d;

	relay_connections(4);
	for (int i = 0; i < 4; i++)
		add1("app", "a@x.test");
	d = smarthost();
	assert_int_equal(d->cwnd, 4);
	resolve_all();
	assert_int_equal(nconns, 4);
	return d;
}

/* Issue 21: eleven parallel replies asking for less mail were eleven
 * halvings, down to one connection and a message a minute. */
static void
test_burst_is_one_signal(void **state)
{
	struct dest *d = four_connections();

	for (int i = 0; i < 4; i++)
		conn_up(conns[i]);
	/* One flight: two ask for less, two are delivered. */
	conn_finish(conns[0], 421, "4.7.0", "too many connections, slow down");
	conn_finish(conns[1], 451, "4.7.0", "rate limit exceeded");
	conn_finish(conns[2], 250, "2.0.0", "ok");
	conn_finish(conns[3], 250, "2.0.0", "ok");
	assert_int_equal(d->cwnd, 4);		/* applied from the loop */
	turn();
	assert_int_equal(d->cwnd, 2);		/* one step, not two */
	assert_int_equal(d->gap_ms, 1000);
	assert_true(throttle_active(d));

	/* An attempt begun after the step and refused again is news. */
	add1("app", "b@x.test");
	advance(999);
	assert_null(busy());
	advance(1);
	conn_finish(busy(), 421, "4.7.0", "slow down");
	turn();
	assert_int_equal(d->cwnd, 1);
	assert_int_equal(d->gap_ms, 2000);
	relay_connections(1);
	drain();
}

/* From four connections, one step down after a reply that asks for
 * less mail: two connections, a message a second. */
static struct dest *
throttled_once(const char *status, const char *text)
{
	struct dest *d;

	relay_connections(4);
	add1("app", "a@x.test");
	d = smarthost();
	resolve_all();
	conn_up(conns[0]);
	conn_finish(conns[0], 421, status, text);
	turn();
	assert_int_equal(d->cwnd, 2);
	assert_int_equal(d->gap_ms, 1000);
	return d;
}

/* The steps back from there to the limits, one by one. */
static const int64_t	 step_gap[] = { 500, 250, 125, 0 };
static const int	 step_cwnd[] = { 3, 4, 4, 4 };
#define NSTEPS	(int)(sizeof(step_gap) / sizeof(step_gap[0]))

/* Each delivery after the step loosens one step: half the spacing, one
 * connection more. */
static void
test_deliveries_loosen_step_by_step(void **state)
{
	struct dest *d = throttled_once("4.7.28", "unusual rate of mail");

	for (int i = 0; i < NSTEPS; i++) {
		int64_t gap = d->gap_ms;

		add1("app", "b@x.test");
		advance(gap - 1);
		assert_null(busy());
		advance(1);
		conn_finish(busy(), 250, "2.0.0", "ok");
		turn();
		assert_int_equal(d->gap_ms, step_gap[i]);
		assert_int_equal(d->cwnd, step_cwnd[i]);
	}
	assert_false(throttle_active(d));
	/* Whole again: the next message goes at once. */
	add1("app", "c@x.test");
	assert_non_null(busy());
	relay_connections(1);
	drain();
}

/* With nothing to deliver, each calm spell loosens one step. */
static void
test_calm_recovery(void **state)
{
	const int64_t calm = cfg.relay.backoff_recovery_ms;
	struct dest *d = throttled_once("4.7.0", "too many connections");

	advance(calm - 1);
	assert_int_equal(d->gap_ms, 1000);
	for (int i = 0; i < NSTEPS; i++) {
		advance(i == 0 ? 1 : calm);
		assert_int_equal(d->gap_ms, step_gap[i]);
		assert_int_equal(d->cwnd, step_cwnd[i]);
	}
	assert_false(throttle_active(d));
	assert_false(timer_armed(&d->recover));
	relay_connections(1);
	drain();
}

/* Issue 18: greylisting defers one recipient; its domain goes on at
 * full speed. */
static void
test_greylisting_slows_nothing(void **state)
{
	struct audit_event *ev;
	struct dest *d;

	relay_connections(4);
	add1("app", "a@x.test");
	add1("app", "b@x.test");
	d = smarthost();
	resolve_all();
	conn_up(conns[0]);
	conn_up(conns[1]);
	conn_finish(conns[0], 451, "4.7.1", "Please try again later");
	conn_finish(conns[1], 450, "4.2.0", "<b@x.test>: Recipient address "
	    "rejected: Greylisted, see http://postgrey.schweikert.ch/help/"
	    "x.test.html");
	turn();
	assert_int_equal(d->cwnd, 4);
	assert_int_equal(d->gap_ms, 0);
	assert_false(throttle_active(d));
	assert_int_equal(events("deferred", "a@x.test", &ev), 1);
	assert_string_equal(ev->bounce_class, "greylist");
	relay_connections(1);
	drain();
}

/* Issue 21: a 421 greeting ("too many connections") slows the
 * destination down, also while another connection carries on, and
 * the connections turned away together are one signal. */
static void
test_421_greeting_slows_the_destination(void **state)
{
	struct dest *d = four_connections();

	conn_up(conns[0]);
	for (int i = 1; i < 4; i++)
		conn_fail(conns[i], 421, "4.7.0", "mx.test[127.0.0.1] refused "
		    "to talk to us: 421 4.7.0 Too many connections from "
		    "192.0.2.1");
	assert_int_equal(d->cwnd, 2);
	assert_int_equal(d->gap_ms, 1000);
	assert_int_equal(d->nconn, 2);		/* the first and a new one */
	relay_connections(1);
	drain();
}

/*
 * The sink of issue 21: "451 4.3.0 try again later" for fault_ms, then
 * 250; every transaction takes SVC_MS.  n messages are queued at once;
 * returns how long the queue took to empty after the fault ended (after
 * the start, without a fault).
 */
#define SVC_MS	20

static int64_t
play(int n, int64_t fault_ms)
{
	int64_t start = fake_ms, fault_end = start + fault_ms;

	for (int i = 0; i < n; i++)
		add1("app", "a@x.test");
	resolve_all();
	while (queue_first() != NULL) {
		assert_true(fake_ms - start < 2 * HOUR_MS);
		if (fake_ms < fault_end)
			sink_turn(451, "4.3.0", "try again later", 0);
		else
			sink_turn(250, "2.0.0", "ok", 0);
		advance(SVC_MS);
		commit_all();
		resolve_all();
	}
	return fake_ms - fault_end;
}

static void
test_451_burst_drains_within_twice_the_fault_free_time(void **state)
{
	int64_t clean, after;

	cfg.queue.retry_min_ms = cfg.queue.retry_max_ms = 1000;
	relay_connections(4);
	clean = play(400, 0);
	drain();
	after = play(400, 25 * 1000);
	print_message("400 messages, 4 connections: %lld ms without a fault, "
	    "%lld ms after a 25 s fault\n", (long long)clean,
	    (long long)after);
	assert_true(after <= 2 * clean);
	cfg.queue.retry_min_ms = 60000;
	cfg.queue.retry_max_ms = 4 * HOUR_MS;
	relay_connections(1);
	drain();
}

/* Issue 21: throttle changes reach a backlog at once, without new mail
 * for it. */
static struct throttle one_a_minute = { .domain = "relay.test",
	.connections = -1, .per_connection = -1, .per_minute = 1 };
static struct throttle three = { .domain = "relay.test", .connections = 3,
	.per_connection = -1, .per_minute = -1 };

static void
test_throttle_delete_reaches_the_backlog(void **state)
{
	struct mta *c;

	set_throttles(&one_a_minute, 1);
	for (int i = 0; i < 3; i++)
		add1("app", "a@x.test");
	resolve_all();
	c = conns[0];
	conn_up(c);
	conn_finish(c, 250, "2.0.0", "ok");
	turn();
	advance(1000);
	assert_null(c->job);			/* one a minute */
	set_throttles(NULL, 0);			/* gwctl throttle delete */
	turn();
	assert_non_null(c->job);
	conn_finish(c, 250, "2.0.0", "ok");
	assert_non_null(c->job);		/* no pace any more */
	drain();
}

static void
test_throttle_set_reaches_the_backlog(void **state)
{
	struct dest *d;

	for (int i = 0; i < 6; i++)
		add1("app", "a@x.test");
	d = smarthost();
	resolve_all();
	assert_int_equal(nconns, 1);		/* relay.connections */
	conn_up(conns[0]);
	set_throttles(&three, 1);		/* gwctl throttle set */
	turn();
	assert_int_equal(d->max_conn, 3);
	assert_int_equal(d->cwnd, 3);
	assert_int_equal(nconns, 3);
	/* And back: a connection beyond the limit closes when it is
	 * ready, with no job. */
	set_throttles(NULL, 0);
	turn();
	assert_int_equal(d->cwnd, 1);
	conn_up(conns[1]);
	assert_true(conns[1]->shut);
	assert_null(conns[1]->job);
	drain();
}

/* A throttle on the MX host: one budget, whose limits follow a change
 * without waiting for the next MX lookup. */
static struct throttle mx_one = { .domain = "mx.test", .connections = 1,
	.per_connection = -1, .per_minute = -1 };
static struct throttle mx_three = { .domain = "mx.test", .connections = 3,
	.per_connection = -1, .per_minute = -1 };

static void
test_mx_host_budget_follows_the_policy(void **state)
{
	struct dest *d;

	cfg.relay.mode = RELAY_MX;
	relay_connections(4);
	set_throttles(&mx_one, 1);
	for (int i = 0; i < 4; i++)
		add1("app", "a@x.test");
	d = dest_find("x.test");
	assert_non_null(d);
	resolve_all();
	assert_int_equal(nconns, 1);		/* the host's budget */
	set_throttles(&mx_three, 1);
	turn();
	assert_int_equal(nconns, 3);
	/* Without the throttle the domain has its own limits; its three
	 * connections leave the budget with it. */
	set_throttles(NULL, 0);
	turn();
	assert_null(d->grp);
	assert_int_equal(nconns, 4);
	cfg.relay.mode = RELAY_SMARTHOST;
	relay_connections(1);
	drain();
}

/* Issue 21: a routing rule added later moves the ready backlog too. */
static struct shlist other_list = { 1, { { "other.test", 2525, 1, 1 } } };
static struct rule elsewhere = {
	.id = 5, .to_domain = "x.test", .size_over = -1, .size_under = -1,
	.action = RULE_ROUTE, .prio = -1, .tls = -1,
	.smarthost = "other.test:2525", .via = &other_list,
};

static void
test_rule_change_moves_the_backlog(void **state)
{
	struct dest *d, *o;

	set_throttles(&one_a_minute, 1);
	for (int i = 0; i < 3; i++)
		add1("app", "a@x.test");
	add1("app", "a@y.test");
	d = smarthost();
	resolve_all();
	conn_up(conns[0]);
	conn_finish(conns[0], 250, "2.0.0", "ok");
	turn();
	assert_int_equal(d->njobs, 3);		/* paced */
	set_rules(&elsewhere, 1);
	turn();
	assert_int_equal(nlogged[0], 2);	/* "routed" */
	assert_int_equal(d->njobs, 1);		/* y.test's stays */
	o = dest_find("[other.test:2525]");
	assert_non_null(o);
	assert_int_equal(o->njobs, 2);
	set_rules(NULL, 0);
	set_throttles(NULL, 0);
	drain();
}

/* The addresses ready at d, in order; '|' where a job begins. */
static void
ready_list(const struct dest *d, char *out, size_t outsz)
{
	out[0] = '\0';
	for (int p = 0; p < PRIO_COUNT; p++)
		for (const struct qrcpt *r = d->ready[p]; r; r = r->ready_next)
			snprintf(out + strlen(out), outsz - strlen(out), "%s%s ",
			    r->job_head ? "| " : "", r->addr);
}

/*
 * Rules changed under a waiting job: the recipients they send elsewhere
 * leave it from its head and its middle, the others stay one job, and
 * every recipient is delivered once.
 */
static void
test_rule_change_splits_a_job(void **state)
{
	const char *const r[] = { "a@x.test", "b@y.test", "c@x.test",
	    "d@y.test" };
	struct qmsg *m = msg("app", 4, r, now_s());
	char list[256];
	struct dest *d, *o;

	set_throttles(&one_a_minute, 1);
	add1("app", "first@y.test");
	queue_add(m);
	d = smarthost();
	resolve_all();
	conn_up(conns[0]);
	conn_finish(conns[0], 250, "2.0.0", "ok");
	turn();
	ready_list(d, list, sizeof(list));
	assert_string_equal(list, "| a@x.test b@y.test c@x.test d@y.test ");
	assert_int_equal(d->njobs, 1);		/* paced */
	set_rules(&elsewhere, 1);
	turn();
	ready_list(d, list, sizeof(list));
	assert_string_equal(list, "| b@y.test d@y.test ");
	assert_int_equal(d->njobs, 1);
	o = dest_find("[other.test:2525]");
	assert_non_null(o);
	ready_list(o, list, sizeof(list));
	assert_string_equal(list, "| a@x.test c@x.test ");
	assert_int_equal(o->njobs, 1);
	set_rules(NULL, 0);
	set_throttles(NULL, 0);
	assert_int_equal(drain(), 5);
}

/* Outcomes. */

static void
test_outcomes(void **state)
{
	const char *const r[] = { "ok@x.test", "later@x.test",
	    "gone@x.test" };
	struct qmsg *m = msg("app", 3, r, now_s());
	struct audit_event *ev;
	struct mta *c;
	struct job *j;

	queue_add(m);
	resolve_all();
	c = conns[0];
	conn_up(c);
	j = c->job;
	assert_int_equal(j->nrcpt, 3);
	j->res[0].code = 250;
	j->res[1].code = 451;
	gw_strlcpy(j->res[1].status, "4.3.0", sizeof(j->res[1].status));
	j->res[2].code = 550;
	gw_strlcpy(j->res[2].status, "5.1.1", sizeof(j->res[2].status));
	for (int i = 0; i < 3; i++)
		j->res[i].text = xstrdup(i == 2 ? "no such user" : "x");
	c->job = NULL;
	dest_job_done(j);
	dest_conn_ready(c->d, c);

	/* Posted, not applied: nothing moved yet. */
	assert_int_equal(m->rcpt[0].state, QR_ACTIVE);
	assert_int_equal(nops, 0);
	turn();
	assert_int_equal(m->rcpt[0].state, QR_DONE);
	assert_int_equal(m->rcpt[1].state, QR_WAITING);
	assert_int_equal(m->rcpt[2].state, QR_DONE);
	assert_int_equal(m->npending, 1);
	assert_int_equal(m->rcpt[1].attempts, 1);
	assert_int_equal(m->rcpt[1].next_attempt, now_s() + 60);
	assert_string_equal(m->rcpt[1].last_reply, "451 4.3.0 x");
	assert_int_equal(metrics_result_total(GM_DELIVERED), 1);
	assert_int_equal(metrics_result_total(GM_DEFERRED), 1);
	assert_int_equal(metrics_result_total(GM_BOUNCED), 1);
	assert_int_equal(nsuppressed, 1);		/* a hard bounce */
	assert_int_equal(npause, 2);			/* final ones */

	/* One op: the events, two recipients gone, one updated, a DSN. */
	assert_int_equal(nops, 1);
	assert_int_equal(events("delivered", "ok@x.test", NULL), 1);
	assert_int_equal(events("deferred", "later@x.test", NULL), 1);
	assert_int_equal(events("bounced", "gone@x.test", &ev), 1);
	assert_string_equal(ev->bounce_class, "hard");
	assert_int_equal(ops[0]->ndel_rcpt, 2);
	assert_int_equal(ops[0]->nupd, 1);
	assert_int_equal(ops[0]->del_msg, 0);
	assert_non_null(ops[0]->insert);
	assert_true(ops[0]->insert->flags & QMSG_DSN);
	assert_string_equal(ops[0]->insert->rcpt[0].addr, "app@example.com");
	assert_int_equal(events("dsn", NULL, NULL), 1);
	drain();
}

static void
test_expiry(void **state)
{
	struct qmsg *m = add1("app", "slow@x.test");
	struct audit_event *ev;
	char qid[QID_LEN + 1];

	memcpy(qid, m->qid, sizeof(qid));
	m->received_us -= cfg.queue.lifetime_ms * 1000;	/* old now */
	resolve_all();
	conn_up(conns[0]);
	conn_finish(conns[0], 451, "4.2.2", "mailbox full");
	turn();
	assert_null(queue_find(qid));		/* forgotten */
	assert_int_equal(metrics_result_total(GM_EXPIRED), 1);
	assert_int_equal(events("deferred", "slow@x.test", NULL), 1);
	assert_int_equal(events("expired", "slow@x.test", &ev), 1);
	assert_string_equal(ev->bounce_class, "expired");
	assert_non_null(ops[0]->insert);			/* the DSN */
	assert_non_null(strstr(ops[0]->insert->body,
	    "delivery time expired"));
	drain();
}

static void
test_untried_go_back(void **state)
{
	struct qmsg *m = add1("app", "a@x.test");
	struct dest *d = smarthost();

	resolve_all();
	conn_up(conns[0]);
	conn_finish(conns[0], 0, "", "");	/* 452 to the 101st, say */
	assert_int_equal(m->rcpt[0].state, QR_ACTIVE);
	turn();
	/* Ready again, and the idle connection takes it at once. */
	assert_int_equal(m->rcpt[0].state, QR_ACTIVE);
	assert_non_null(conns[0]->job);
	assert_int_equal(d->njobs, 0);
	assert_int_equal(nops, 1);
	assert_int_equal(ops[0]->ndel_rcpt, 0);
	assert_null(ops[0]->events);
	drain();
}

static struct rule refuse_rule = {
	.id = 3, .to_domain = "blocked.test", .size_over = -1,
	.size_under = -1, .action = RULE_REJECT, .prio = -1, .tls = -1,
	.reply = "550 5.7.1 not there",
};

static void
test_rule_refusal_applied_from_the_loop(void **state)
{
	const char *const r[] = { "a@blocked.test", "b@fine.test" };
	struct qmsg *m = msg("app", 2, r, now_s());
	struct audit_event *ev;

	/* Queued without a session's decision (as a DSN, or mail loaded
	 * at start-up): the queue tries the rules. */
	set_rules(&refuse_rule, 1);
	queue_add(m);
	assert_int_equal(nlogged[0], 1);		/* "routed" */
	/* Refused while queue_add() still walked the recipients: that
	 * waits for the loop. */
	assert_int_equal(m->rcpt[0].state, QR_ACTIVE);
	assert_int_equal(m->rcpt[1].state, QR_READY);
	assert_int_equal(nops, 0);
	turn();
	assert_int_equal(m->rcpt[0].state, QR_DONE);
	assert_int_equal(events("bounced", "a@blocked.test", &ev), 1);
	assert_string_equal(ev->remote_host, "routing rule");
	assert_int_equal(ev->reply_code, 550);
	assert_string_equal(ev->reply_status, "5.7.1");
	assert_string_equal(ev->reply_text, "not there");
	assert_non_null(ops[0]->insert);		/* a DSN */
	set_rules(NULL, 0);
	drain();
}

/* The routing decision. */

static struct rule big_rule = {
	.id = 9, .size_over = 1000, .size_under = -1, .action = RULE_ROUTE,
	.prio = PRIO_BULK, .tls = -1,
};

/*
 * While the store cannot record outcomes no delivery starts, not even
 * on a connection already open; the resume callback starts them all.
 */
static void
test_no_delivery_while_the_store_is_blocked(void **state)
{
	struct mta *c;

	assert_non_null(store_resume_fn);
	add1("app", "a@t.test");
	resolve_all();
	c = conns[0];
	conn_up(c);
	assert_non_null(c->job);
	conn_finish(c, 250, "2.0.0", "ok");
	fake_store_blocked = 1;
	add1("app", "b@t.test");
	add1("app", "c@t.test");
	turn();
	resolve_all();
	assert_null(c->job);
	assert_int_equal(smarthost()->njobs, 2);
	fake_store_blocked = 0;
	store_resume_fn();
	assert_non_null(c->job);
	drain();
}

static void
test_decision_made_once_and_carried(void **state)
{
	const char *const r[] = { "a@x.test" };
	struct qmsg *m = msg("app", 1, r, now_s());
	struct rule_msg rm = { "app", "app@example.com", "a@x.test", 100,
	    BODY, strlen(BODY) };
	const struct rule *ru;

	set_rules(&big_rule, 1);
	/* At the end of DATA the client's message is small ... */
	ru = routing_decide(&rm, &m->rcpt[0].route);
	assert_null(ru);
	assert_int_equal(m->rcpt[0].route.gen, pol_gen);
	assert_int_equal(m->rcpt[0].route.rule, -1);
	/* ... and stays decided so in the queue, whatever size it has
	 * there: no rule is tried again, none logged. */
	m->size = 5000;
	queue_add(m);
	assert_int_equal(nlogged[0], 0);
	resolve_all();
	conn_up(conns[0]);
	assert_int_equal(prios[0], PRIO_TRANSACTIONAL);
	conn_finish(conns[0], 451, "4.3.0", "later");
	turn();
	/* A new policy: decided again at the next attempt, from the
	 * queued message. */
	set_rules(&big_rule, 1);
	advance(60 * 1000);
	assert_int_equal(nlogged[0], 1);		/* "routed" */
	assert_int_equal(m->rcpt[0].route.rule, 0);
	assert_int_equal(prios[1], PRIO_BULK);
	set_rules(NULL, 0);
	drain();
}

/* A deep queue. */

/*
 * Ready recipients wait in their destination's list and become a job
 * only when a connection takes them: the consecutive ones of a message,
 * up to limits.recipients.  A held message's leave the list, and the
 * jobs of the others stay whole.
 */
static void
test_jobs_made_when_taken(void **state)
{
	const char *const r3[] = { "a@x.test", "b@x.test", "c@x.test" };
	struct qmsg *m1, *m2, *m3;
	struct mta *c;
	struct dest *d;
	const char *why;
	int done = 0;

	cfg.limits.recipients = 2;
	m1 = msg("app", 3, r3, now_s());
	m2 = msg("app", 3, r3, now_s());
	m3 = msg("app", 1, r3, now_s());
	queue_add(m1);				/* [a b] [c] */
	queue_add(m2);				/* [a b] [c] */
	queue_add(m3);				/* [a] */
	d = smarthost();
	assert_int_equal(d->njobs, 5);
	assert_int_equal(rcpt_count(QR_READY), 7);
	assert_int_equal(queue_admin(m2, cmd_of(CTL_Q_HOLD), admin_done, &done,
	    &why), QA_DONE);
	assert_int_equal(d->njobs, 3);
	assert_int_equal(rcpt_count(QR_READY), 4);
	assert_int_equal(rcpt_count(QR_HELD), 3);

	resolve_all();
	c = conns[0];
	conn_up(c);
	assert_ptr_equal(c->job->msg, m1);
	assert_int_equal(c->job->nrcpt, 2);
	assert_int_equal(d->njobs, 2);
	conn_finish(c, 250, "2.0.0", "ok");
	assert_ptr_equal(c->job->msg, m1);
	assert_int_equal(c->job->nrcpt, 1);
	assert_string_equal(c->job->rcpt[0]->addr, "c@x.test");
	conn_finish(c, 250, "2.0.0", "ok");
	assert_ptr_equal(c->job->msg, m3);
	conn_finish(c, 250, "2.0.0", "ok");
	assert_null(c->job);
	assert_int_equal(d->njobs, 0);

	/* Released: ready again, in jobs of two and one. */
	assert_int_equal(queue_admin(m2, cmd_of(CTL_Q_RELEASE), admin_done,
	    &done, &why), QA_DONE);
	assert_ptr_equal(c->job->msg, m2);	/* the idle connection */
	assert_int_equal(c->job->nrcpt, 2);
	assert_int_equal(d->njobs, 1);
	commit_all();
	assert_int_equal(done, 2);
	cfg.limits.recipients = 100;
	assert_int_equal(drain(), 7);
}

/*
 * A VERP return path names one recipient, and so do a recipient's own
 * fields (QMSG_RCPT_PREFIX): each recipient of such a message is a job
 * of its own; the jobs follow each other on one connection.
 */
static void
test_one_recipient_per_job(void **state)
{
	const char *const r3[] = { "a@x.test", "b@x.test", "c@x.test" };
	struct qmsg *mv, *mp, *mn;
	struct mta *c;
	struct dest *d;

	fake_verp = 1;
	mv = msg("app", 3, r3, now_s());
	queue_add(mv);				/* [a] [b] [c] */
	fake_verp = 0;
	mp = msg("app", 3, r3, now_s());
	mp->flags |= QMSG_RCPT_PREFIX;
	queue_add(mp);				/* [a] [b] [c] */
	mn = msg("app", 3, r3, now_s());
	queue_add(mn);				/* [a b c] */
	d = smarthost();
	assert_int_equal(d->njobs, 7);
	resolve_all();
	c = conns[0];
	conn_up(c);
	for (int i = 0; i < 6; i++) {
		assert_ptr_equal(c->job->msg, i < 3 ? mv : mp);
		assert_int_equal(c->job->nrcpt, 1);
		assert_string_equal(c->job->rcpt[0]->addr, r3[i % 3]);
		conn_finish(c, 250, "2.0.0", "ok");
	}
	assert_ptr_equal(c->job->msg, mn);
	assert_int_equal(c->job->nrcpt, 3);
	conn_finish(c, 250, "2.0.0", "ok");
	assert_int_equal(drain(), 9);
}

/*
 * Start-up reads the queue a slice a loop turn (1000 messages); mail
 * flows meanwhile, an admin can name a message not read yet (it is read
 * at once, and the slices pass it by), and every message is delivered
 * once.
 */
static void
test_queue_read_in_slices(void **state)
{
	const char *r = "x@l.test";
	char err[128], late[QID_LEN + 1], oldest[QID_LEN + 1];
	struct qmsg *early;
	const char *why;
	int n = 1500, done = 0;

	for (int i = 0; i < n; i++)
		disk[i] = msg("app", 1, &r, now_s());
	disk[3]->held = 1;
	memcpy(late, disk[1400]->qid, sizeof(late));
	memcpy(oldest, disk[0]->qid, sizeof(oldest));
	ndisk = n;
	assert_int_equal(queue_load_start(err, sizeof(err)), 0);
	assert_int_equal(queue_loading(), n);
	assert_int_equal(qmsg_count(), 0);	/* nothing before the loop */

	turn();
	assert_int_equal(qmsg_count(), 1000);
	assert_int_equal(queue_loading(), n - 1000);
	assert_int_equal(rcpt_count(QR_HELD), 1);
	assert_int_equal(rcpt_count(QR_READY), 999);	/* the due ones */

	/* New mail goes at once, after the messages read. */
	add1("app", "new@n.test");
	assert_int_equal(rcpt_count(QR_READY), 1000);
	early = queue_find(late);
	assert_non_null(early);
	assert_int_equal(early->rcpt[0].state, QR_WAITING);
	assert_int_equal(queue_loading(), n - 1001);
	assert_int_equal(qmsg_count(), 1002);

	advance(1);				/* the last slice */
	assert_int_equal(queue_loading(), 0);
	assert_int_equal(qmsg_count(), n + 1);
	assert_ptr_equal(queue_find(late), early);
	assert_null(queue_find("0000000000000001"));
	assert_string_equal(queue_first()->qid, oldest);
	assert_int_equal(queue_admin(queue_first()->qnext->qnext->qnext,
	    cmd_of(CTL_Q_RELEASE), admin_done, &done, &why), QA_DONE);
	assert_int_equal(rcpt_count(QR_HELD), 0);
	commit_all();
	assert_int_equal(drain(), n + 1);
}

/*
 * A backlog that comes due at once is placed RETRY_BATCH (2000) a loop
 * turn; when its destination cannot be reached, FAIL_BATCH (1000) jobs
 * a turn are deferred, and nothing new starts there until all that
 * waited when it failed are.
 */
static void
test_backlog_in_batches(void **state)
{
	const char *r = "x@b.test";
	struct dest *d;
	int n = 2500;

	for (int i = 0; i < n; i++)
		queue_add(msg("app", 1, &r, now_s() + 10));
	assert_int_equal(rcpt_count(QR_WAITING), n);
	for (int ms = 0; ms <= 10 * 1000 && rcpt_count(QR_READY) == 0; ms++)
		advance(1);
	assert_int_equal(rcpt_count(QR_READY), 2000);
	advance(1);
	assert_int_equal(rcpt_count(QR_READY), n);
	d = smarthost();
	assert_int_equal(d->njobs, n);

	resolve_all();
	assert_int_equal(nconns, 1);
	dest_conn_failed(d, 451, "4.4.1", "connection refused", NULL,
	    NULL, 0);
	conn_close(conns[0]);
	assert_int_equal(rcpt_count(QR_ACTIVE), 1000);
	add1("app", "new@b.test");		/* waits for the failing */
	assert_int_equal(nconns, 1);
	turn();
	assert_int_equal(rcpt_count(QR_WAITING), 1000);
	commit_all();
	advance(1);
	advance(1);
	commit_all();
	assert_int_equal(rcpt_count(QR_WAITING), n);
	assert_int_equal(metrics_result_total(GM_DEFERRED), n);
	assert_null(d->fail);
	resolve_all();				/* looked up afresh */
	assert_int_equal(nconns, 2);		/* for the new one */
	assert_int_equal(rcpt_count(QR_READY), 1);
	assert_int_equal(drain(), n + 1);
}

/*
 * A 421 greeting on the only connection fails the backlog with it,
 * FAIL_BATCH jobs a turn: those failed turns later began with that
 * connection, so they are the same signal and the destination steps
 * down once, not once a batch.
 */
static void
test_421_fails_the_backlog_as_one_signal(void **state)
{
	const char *r = "x@b.test";
	struct dest *d;
	int n = 2500, cwnd;
	int64_t gap;

	for (int i = 0; i < n; i++)
		queue_add(msg("app", 1, &r, now_s() + 10));
	for (int ms = 0; ms <= 10 * 1000 && rcpt_count(QR_READY) < n; ms++)
		advance(1);
	d = smarthost();
	assert_int_equal(d->njobs, n);
	resolve_all();
	assert_int_equal(nconns, 1);
	advance(5);			/* the greeting takes a while */
	conn_fail(conns[0], 421, "4.7.0", "mx.test[127.0.0.1] refused to "
	    "talk to us: 421 4.7.0 Too many connections");
	cwnd = d->cwnd;
	gap = d->gap_ms;
	assert_int_equal(gap, 1000);		/* one step down */
	for (int i = 0; i < 4 && d->fail; i++) {
		turn();
		commit_all();
		advance(1);
	}
	turn();
	commit_all();
	assert_null(d->fail);
	assert_int_equal(metrics_result_total(GM_DEFERRED), n);
	assert_int_equal(d->cwnd, cwnd);
	assert_int_equal(d->gap_ms, gap);
	assert_int_equal(drain(), n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_states_and_counters),
		cmocka_unit_test(test_hold_and_release),
		cmocka_unit_test(test_quarantine_sweep),
		cmocka_unit_test(test_impossible_move_is_fatal),
		cmocka_unit_test(test_ready_leaves_its_list_first),
		cmocka_unit_test(test_bulk_every_fifth),
		cmocka_unit_test(test_pacing_per_minute),
		cmocka_unit_test(test_burst_is_one_signal),
		cmocka_unit_test(test_deliveries_loosen_step_by_step),
		cmocka_unit_test(test_calm_recovery),
		cmocka_unit_test(test_greylisting_slows_nothing),
		cmocka_unit_test(test_421_greeting_slows_the_destination),
		cmocka_unit_test(
		    test_451_burst_drains_within_twice_the_fault_free_time),
		cmocka_unit_test(test_throttle_delete_reaches_the_backlog),
		cmocka_unit_test(test_throttle_set_reaches_the_backlog),
		cmocka_unit_test(test_mx_host_budget_follows_the_policy),
		cmocka_unit_test(test_rule_change_moves_the_backlog),
		cmocka_unit_test(test_rule_change_splits_a_job),
		cmocka_unit_test(test_outcomes),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_untried_go_back),
		cmocka_unit_test(test_rule_refusal_applied_from_the_loop),
		cmocka_unit_test(test_decision_made_once_and_carried),
		cmocka_unit_test(test_no_delivery_while_the_store_is_blocked),
		cmocka_unit_test(test_jobs_made_when_taken),
		cmocka_unit_test(test_one_recipient_per_job),
		cmocka_unit_test(test_queue_read_in_slices),
		cmocka_unit_test(test_backlog_in_batches),
		cmocka_unit_test(test_421_fails_the_backlog_as_one_signal),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
