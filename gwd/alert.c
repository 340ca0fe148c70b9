/*
 * alert.c - alerts: the rules from gw.db, their evaluation on the loop,
 * the notifications and audit events of each change (see alert.h).
 * Exposure: the rules come from gw.db (checked by gwctl, checked again
 * here: a row gwd cannot use is skipped and said once); the control
 * socket's "alert test NAME" (bounded by CTL_NAME_MAX).
 * Diagnostics: dies only when memory runs out; alert_init() returns -1
 * with the reason in err at start-up; a gw.db or log.db that cannot be
 * read keeps the rules or states gwd has, logged.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "alert_http.h"
#include "alertrule.h"
#include "alertstat.h"
#include "buf.h"
#include "conn.h"
#include "control_commit.h"
#include "ctlproto.h"
#include "db.h"
#include "event.h"
#include "gwd.h"
#include "hmap.h"
#include "log.h"
#include "loop.h"
#include "pause.h"
#include "queue.h"
#include "store.h"
#include "util.h"
#include "volume.h"

struct target {
	enum alert_target_kind	 kind;
	char			*text;		/* as configured */
	const char		*value;		/* into text */
};

struct alert {
	char			*name;
	enum alert_metric	 metric;
	char			*sub, *dom;
	char			*scope;		/* alertstat's, or NULL */
	double			 above;
	int64_t			 for_us;
	int			 throttle;
	struct target		*t;
	int			 nt;
	struct alert_state	 st;
	double			 value;		/* the last evaluated */
};

static sqlite3		*gdb;
static int		 data_version = -1;
static struct alert	*alerts;
static int		 nalerts;
static struct hmap	 restored;	/* name -> int64_t *: fired at, µs */
static struct ev_timer	 tick_timer;

/* What a rule holds, not the rule. */
static void
alert_clear_rule(struct alert *a)
{
	free(a->name);
	free(a->sub);
	free(a->dom);
	free(a->scope);
	for (int k = 0; k < a->nt; k++)
		free(a->t[k].text);
	free(a->t);
}

static void
alert_free_rules(struct alert *a, int n)
{
	for (int i = 0; i < n; i++)
		alert_clear_rule(&a[i]);
	free(a);
}

/* The targets of a row, one a line; -1 when one is not usable. */
static int
alert_targets(struct alert *a, const char *notify)
{
	char err[200];

	for (const char *p = notify, *e; *p; p = *e ? e + 1 : e) {
		struct target *t;

		e = p + strcspn(p, "\n");
		if (e == p || a->nt == ALERT_TARGETS_MAX)
			continue;
		a->t = xreallocarray(a->t, (size_t)a->nt + 1, sizeof(*a->t));
		t = &a->t[a->nt++];
		t->text = xstrndup(p, (size_t)(e - p));
		if (alert_target_parse(t->text, &t->kind, &t->value, err,
		    sizeof(err)) == -1) {
			log_warnx("gw.db: alert %s: --notify %s: %s; skipped",
			    a->name, t->text, err);
			return -1;
		}
	}
	return a->nt > 0 ? 0 : -1;
}

/* How a notice came: the value crossed, or the rule went. */
enum alert_why { AW_RESOLVED, AW_FIRED, AW_DELETED };

static void	 alert_notify(struct alert *, enum alert_why, int64_t);

/* The same rule (name, metric, scope, threshold) in list: it keeps its
 * state. */
static const struct alert *
alert_find(const struct alert *list, int n, const struct alert *a)
{
	for (int i = 0; i < n; i++) {
		const struct alert *o = &list[i];

		if (strcmp(o->name, a->name) == 0 && o->metric == a->metric &&
		    o->above == a->above && (o->scope == NULL) ==
		    (a->scope == NULL) && (a->scope == NULL ||
		    strcmp(o->scope, a->scope) == 0))
			return o;
	}
	return NULL;
}

/* One row into n[*nn]; a row gwd cannot use is said and skipped. */
static void
alert_row(sqlite3_stmt *st, struct alert **n, int *nn)
{
	const char *name = (const char *)sqlite3_column_text(st, 0);
	const char *sub = (const char *)sqlite3_column_text(st, 2);
	const char *dom = (const char *)sqlite3_column_text(st, 3);
	const struct alert *old;
	struct alert a;
	int64_t *fired;
	int m = alert_metric_lookup((const char *)sqlite3_column_text(st, 1));

	memset(&a, 0, sizeof(a));
	a.name = xstrdup(name);
	if (m == -1 || (alert_metric_needs_sub(m) && sub == NULL)) {
		log_warnx("gw.db: alert %s: metric %s unknown or without its "
		    "subaccount; skipped", name, sqlite3_column_text(st, 1));
		alert_clear_rule(&a);
		return;
	}
	a.metric = m;
	a.sub = sub ? xstrdup(sub) : NULL;
	a.dom = dom ? xstrdup(dom) : NULL;
	if (sub && m != AM_VOLUME_ANOMALY)
		a.scope = xasprintf("s:%s", sub);
	else if (dom)
		a.scope = xasprintf("d:%s", dom);
	a.above = sqlite3_column_double(st, 4);
	a.for_us = sqlite3_column_int64(st, 5) * 1000;
	a.throttle = sqlite3_column_int(st, 6);
	if (alert_targets(&a, (const char *)sqlite3_column_text(st, 7)) ==
	    -1) {
		alert_clear_rule(&a);
		return;
	}
	if (a.scope)
		alertstat_watch(a.scope);
	if ((old = alert_find(alerts, nalerts, &a)) != NULL) {
		a.st = old->st;
		a.value = old->value;
	} else if ((fired = hmap_get(&restored, name)) != NULL) {
		/* Firing when gwd stopped: resolved only when it is. */
		a.st.st = AS_FIRING;
		a.st.fired_us = *fired;
	}
	*n = xreallocarray(*n, (size_t)*nn + 1, sizeof(**n));
	(*n)[(*nn)++] = a;
}

static int
alert_load(void)
{
	struct alert *n = NULL;
	sqlite3_stmt *st;
	int nn = 0, rc;

	if (sqlite3_prepare_v2(gdb, "SELECT name, metric, subaccount, domain,"
	    " above, for_ms, throttle, notify FROM alert ORDER BY name", -1,
	    &st, NULL) != SQLITE_OK) {
		log_warnx("gw.db: alerts: %s", sqlite3_errmsg(gdb));
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		alert_row(st, &n, &nn);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		log_warnx("gw.db: alerts not reloaded, keeping %d: %s",
		    nalerts, sqlite3_errmsg(gdb));
		alert_free_rules(n, nn);
		return -1;
	}
	/* A firing rule deleted (or changed, which starts afresh) is
	 * resolved, or its receivers would wait for that forever. */
	for (int i = 0; i < nalerts; i++)
		if (alert_is_firing(&alerts[i].st) &&
		    alert_find(n, nn, &alerts[i]) == NULL)
			alert_notify(&alerts[i], AW_DELETED, now_us());
	alert_free_rules(alerts, nalerts);
	alerts = n;
	nalerts = nn;
	return 0;
}

/*
 * Which alerts were firing: the last alert_firing or alert_resolved
 * event of each, whose detail begins "alert=NAME ".  Read over the
 * volume history's reach (alerts.volume_days periods): an alert that has
 * fired longer ago than that fires again after a restart.
 */
static int
alert_restore(const char *state_dir, char *err, size_t errsz)
{
	int64_t since = now_us() - gcfg->alerts.volume_period_ms * 1000 *
	    gcfg->alerts.volume_periods;
	sqlite3_stmt *st;
	sqlite3 *db;
	int rc;

	hmap_init(&restored);
	if ((db = db_open(state_dir, DB_LOG, DB_RDONLY, err, errsz)) == NULL)
		return -1;
	st = db_prepare(db, "SELECT action, ts, detail FROM event INDEXED BY"
	    " event_window WHERE ts >= ? AND action IN ('alert_firing',"
	    " 'alert_resolved') ORDER BY ts, id");
	sqlite3_bind_int64(st, 1, since);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *d = (const char *)sqlite3_column_text(st, 2);
		char name[ALERT_NAME_MAX + 1];
		int64_t *t;

		if (d == NULL || sscanf(d, "alert=%64s", name) != 1)
			continue;
		if (strcmp((const char *)sqlite3_column_text(st, 0),
		    "alert_firing") == 0) {
			t = xmalloc(sizeof(*t));
			*t = sqlite3_column_int64(st, 1);
			free(hmap_put(&restored, name, t));
		} else
			free(hmap_del(&restored, name));
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		snprintf(err, errsz, "log.db: alerts: %s", sqlite3_errmsg(db));
	db_close(db);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The metric's value now. */
static double
alert_value(const struct alert *a, int64_t now)
{
	struct vol_baseline bl;
	struct queue_stats q;
	uint32_t cur, prev;

	switch (a->metric) {
	case AM_QUEUE_DEPTH:
		queue_stats(&q);
		return q.recipients;
	case AM_OLDEST_QUEUED:
		queue_stats(&q);
		return q.oldest_us ? (double)(now - q.oldest_us) / 1e6 : 0;
	case AM_VOLUME_ANOMALY:
		if (volume_baseline_of(a->sub, now, &bl) == -1)
			return NAN;
		/* The bucket so far, or the whole one before: a burst at
		 * the turn of a bucket is not missed. */
		cur = volume_now(a->sub, now, &prev);
		return vol_score(&bl, cur > prev ? cur : prev,
		    (uint32_t)gcfg->alerts.volume_floor);
	default:
		return alertstat_value(a->scope, a->metric,
		    gcfg->alerts.min_outcomes, now);
	}
}

static double
alert_clear(const struct alert *a)
{
	return a->above * gcfg->alerts.resolve_ppm / 1e6;
}

/* "subaccount acme", "domain example.com", "all mail". */
static void
alert_scope_text(const struct alert *a, char *out, size_t n)
{
	if (a->sub)
		snprintf(out, n, "subaccount %s", a->sub);
	else if (a->dom)
		snprintf(out, n, "domain %s", a->dom);
	else
		snprintf(out, n, "all mail");
}

/* The one-line summary of a change (Subject:, Slack's text, PagerDuty's
 * summary, the audit event's subject). */
static void
alert_summary(const struct alert *a, enum alert_why why, int test,
    char *out, size_t n)
{
	char scope[300], fr[32], v[64];
	int fired = why == AW_FIRED;

	if (why == AW_DELETED) {
		alert_scope_text(a, scope, sizeof(scope));
		snprintf(out, n, "gw alert %s resolved on %s: the rule was "
		    "deleted (%s of %s)", a->name, gcfg->hostname,
		    alert_metric_name(a->metric), scope);
		return;
	}

	alert_scope_text(a, scope, sizeof(scope));
	snprintf(fr, sizeof(fr), "%llds", (long long)(a->for_us / 1000000));
	if (isnan(a->value))
		snprintf(v, sizeof(v), "not known yet");
	else
		snprintf(v, sizeof(v), "%.4g%s", a->value,
		    alert_metric_unit(a->metric));
	snprintf(out, n, "%sgw alert %s %s on %s: %s of %s is %s (%s %.4g%s "
	    "for %s)", test ? "TEST: " : "", a->name, fired ? "firing" :
	    "resolved", gcfg->hostname, alert_metric_name(a->metric), scope,
	    v, fired ? "above" : "below", fired ? a->above : alert_clear(a),
	    alert_metric_unit(a->metric), fr);
}

/* PagerDuty's dedup_key: the same from firing to resolved, a new one
 * for the next firing. */
static void
alert_dedup(const struct alert *a, char *out, size_t n)
{
	snprintf(out, n, "gw-%s-%s-%lld", gcfg->hostname, a->name,
	    (long long)(a->st.fired_us / 1000000));
}

/* The mailto: targets of a, into to (the caller frees the array). */
static int
alert_mail_targets(const struct alert *a, char ***to)
{
	int n = 0;

	*to = xcalloc((size_t)a->nt + 1, sizeof(char *));
	for (int i = 0; i < a->nt; i++)
		if (a->t[i].kind == AT_MAIL)
			(*to)[n++] = (char *)a->t[i].value;
	return n;
}

static void
alert_sender(char *out, size_t n)
{
	if (gcfg->alerts.sender)
		gw_strlcpy(out, gcfg->alerts.sender, n);
	else
		snprintf(out, n, "gw-alerts@%s", gcfg->hostname);
}

/* The body of a notice mail. */
static char *
alert_mail_text(const struct alert *a, const char *summary, int fired)
{
	char scope[300], since[40];

	alert_scope_text(a, scope, sizeof(scope));
	fmt_rfc3339(a->st.fired_us, since, sizeof(since));
	return xasprintf("%s\n\nalert:     %s\nmetric:    %s\nscope:     %s\n"
	    "value:     %.4g%s\nthreshold: above %.4g%s fires, below %.4g%s "
	    "resolves, each held for %llds\nhost:      %s\n%s:  %s\n\n"
	    "gwctl alert list shows the alerts; gwsearch action:alert_firing "
	    "their history.\n", summary, a->name, alert_metric_name(a->metric),
	    scope, a->value, alert_metric_unit(a->metric), a->above,
	    alert_metric_unit(a->metric), alert_clear(a),
	    alert_metric_unit(a->metric), (long long)(a->for_us / 1000000),
	    gcfg->hostname, fired ? "fired at" : "fired was", since);
}

/* A firing volume anomaly with --throttle: keep the subaccount to the
 * rate whose score is the threshold. */
static void
alert_throttle(struct store_op *op, const struct alert *a, int64_t now)
{
	struct vol_baseline bl;
	uint32_t limit;
	char reason[300];

	if (volume_baseline_of(a->sub, now, &bl) == -1)
		return;
	limit = vol_safe_rate(&bl, a->above,
	    (uint32_t)gcfg->alerts.volume_floor);
	if (limit > INT32_MAX - PAUSE_THROTTLED)
		limit = INT32_MAX - PAUSE_THROTTLED;
	snprintf(reason, sizeof(reason), "volume anomaly (alert %s: score "
	    "%.3g, usual %.4g messages per bucket)", a->name, a->value,
	    bl.median);
	pause_throttle(op, a->sub, limit, now, reason);
}

/* What the webhooks of a change need once its op is committed: the
 * rule may be reloaded (freed) meanwhile. */
struct alert_sent {
	struct alert	 a;		/* name and targets, copied */
	char		*summary;
	char		*dedup;
	int		 fired;
};

/* Copy the name and the targets of a (not the scope). */
static void
alert_copy(struct alert *to, const struct alert *a)
{
	*to = *a;
	to->name = xstrdup(a->name);
	to->sub = a->sub ? xstrdup(a->sub) : NULL;
	to->dom = a->dom ? xstrdup(a->dom) : NULL;
	to->scope = NULL;
	to->t = xcalloc((size_t)a->nt, sizeof(*to->t));
	for (int k = 0; k < a->nt; k++) {
		to->t[k] = a->t[k];
		to->t[k].text = xstrdup(a->t[k].text);
		to->t[k].value = to->t[k].text + (a->t[k].value -
		    a->t[k].text);
	}
}

/*
 * The change is recorded (its event, the notice mail, the throttle):
 * queue the mail, then post to the webhooks, so nothing is announced
 * that is not on disk.  A change that could not be recorded is not
 * announced either (the state in memory has moved on: logged).
 */
static void
alert_committed(struct store_op *op)
{
	struct alert_sent *s = op->arg;

	if (op->insert)
		queue_notice_stored(op);
	if (op->failed)
		log_warnx("alert %s: change not recorded, nothing sent: %s",
		    s->a.name, op->error);
	else
		for (int i = 0; i < s->a.nt; i++)
			if (s->a.t[i].kind != AT_MAIL)
				alert_http_send(s->a.t[i].kind, s->a.t[i].value,
				    s->a.name, s->summary, s->dedup, s->fired,
				    NULL, NULL);
	alert_clear_rule(&s->a);
	free(s->summary);
	free(s->dedup);
	free(s);
	store_op_free(op);
}

/* One change of a: its audit event, the throttle, mail, webhooks. */
static void
alert_notify(struct alert *a, enum alert_why why, int64_t now)
{
	int fired = why == AW_FIRED;
	struct alert_sent *sent;
	struct audit_event *ev;
	struct store_op *op = store_op_new();
	char summary[1024], dedup[200], from[300], **to;
	struct qmsg *n;
	char *text;
	int nto;

	/* The dedup key is the firing's: PagerDuty resolves that one. */
	alert_dedup(a, dedup, sizeof(dedup));
	alert_summary(a, why, 0, summary, sizeof(summary));
	if (fired)
		log_warnx("alert %s firing: %s", a->name, summary);
	else
		log_info("alert %s resolved: %s", a->name, summary);
	ev = store_op_event(op, event_name(fired ? EV_ALERT_FIRING :
	    EV_ALERT_RESOLVED), NULL);
	ev->subaccount = a->sub ? xstrdup(a->sub) : NULL;
	ev->subject = xstrdup(summary);
	ev->detail = xasprintf("alert=%s metric=%s value=%.6g above=%.6g "
	    "dedup_key=%s%s", a->name, alert_metric_name(a->metric), a->value,
	    a->above, dedup, why == AW_DELETED ? " deleted=1" : "");
	if (fired && a->throttle && a->metric == AM_VOLUME_ANOMALY)
		alert_throttle(op, a, now);
	alert_sender(from, sizeof(from));
	nto = alert_mail_targets(a, &to);
	text = alert_mail_text(a, summary, fired);
	sent = xcalloc(1, sizeof(*sent));
	alert_copy(&sent->a, a);
	sent->summary = xstrdup(summary);
	sent->dedup = xstrdup(dedup);
	sent->fired = fired;
	if ((n = queue_notice(op, &(struct notice){ from, NULL, to, nto,
	    NULL, summary, text, NULL })) != NULL)
		log_info("alert %s: notice qid=%s to %d address%s", a->name,
		    n->qid, nto, nto > 1 ? "es" : "");
	op->done = alert_committed;
	op->arg = sent;
	queue_notice_submit(op, from);
	free(text);
	free(to);
}

static void
alert_tick(struct ev_timer *t)
{
	int64_t now = now_us();
	int v = db_data_version(gdb);
	enum alert_change c;

	if (v != data_version && v >= 0 && alert_load() == 0)
		data_version = v;
	for (int i = 0; i < nalerts; i++) {
		struct alert *a = &alerts[i];

		a->value = alert_value(a, now);
		c = alert_step(&a->st, a->value, a->above, alert_clear(a),
		    a->for_us, now);
		if (c != AC_NONE)
			alert_notify(a, c == AC_FIRED ? AW_FIRED : AW_RESOLVED,
			    now);
	}
	timer_add(t, gcfg->alerts.interval_ms);
}

int
alert_init(const char *state_dir, char *err, size_t errsz)
{
	alertstat_init(gcfg->alerts.window_ms);
	if (alert_restore(state_dir, err, errsz) == -1)
		return -1;
	if ((gdb = db_open(state_dir, DB_GW, DB_RDONLY, err, errsz)) == NULL)
		return -1;
	data_version = db_data_version(gdb);
	if (alert_load() == -1) {
		snprintf(err, errsz, "gw.db: cannot read the alerts: %s",
		    sqlite3_errmsg(gdb));
		return -1;
	}
	if (nalerts > 0 || hmap_count(&restored) > 0)
		log_info("alerts: %d, firing: %zu", nalerts,
		    hmap_count(&restored));
	/* Taken by the rules as they are now; one added later under the
	 * name of a firing one that was deleted starts afresh. */
	hmap_free(&restored, free);
	hmap_init(&restored);
	return 0;
}

void
alert_start(void)
{
	timer_init(&tick_timer, alert_tick, NULL);
	timer_add(&tick_timer, gcfg->alerts.interval_ms);
}

void
alert_prometheus(struct buf *out)
{
	if (nalerts == 0)
		return;
	buf_puts(out, "# HELP gw_alert_firing 1 while the alert fires (gwctl "
	    "alert list).\n# TYPE gw_alert_firing gauge\n");
	/* Names are letters, digits, '-', '_', '.': no escaping. */
	for (int i = 0; i < nalerts; i++)
		buf_printf(out, "gw_alert_firing{alert=\"%s\"} %d\n",
		    alerts[i].name, alert_is_firing(&alerts[i].st));
}

void
alert_stats(struct buf *out)
{
	int n = 0;

	for (int i = 0; i < nalerts; i++)
		n += alert_is_firing(&alerts[i].st);
	buf_printf(out, "alerts_firing %d\n", n);
	for (int i = 0; i < nalerts; i++)
		if (alert_is_firing(&alerts[i].st))
			buf_printf(out, "alert_firing.%s 1\n", alerts[i].name);
}

/*
 * "alert test NAME": a test notification to each target.  Webhooks are
 * sent by alert_http.c, which calls back here with each reply; the mail
 * is queued after them, and the answer goes once it is committed.
 */
struct alert_test {
	struct ctl_wait	*hold;
	struct alert	 a;		/* a copy: a reload may free the rule */
	struct buf	 out;
	int		 pending;	/* webhook replies still to come */
	int		 failed;
};

static void
alert_test_free(struct alert_test *t)
{
	buf_free(&t->out);
	alert_clear_rule(&t->a);
	free(t);
}

static void
alert_test_answer(struct alert_test *t)
{
	buf_printf(&t->out, "failed %d\n", t->failed);
	control_hold_answer(t->hold, &t->out);
	alert_test_free(t);
}

static void
alert_test_stored(struct store_op *op)
{
	struct alert_test *t = op->arg;
	struct qmsg *m = op->insert;
	char **to;
	int n = alert_mail_targets(&t->a, &to);

	for (int i = 0; i < n; i++)
		if (op->failed)
			buf_printf(&t->out, "target mailto:%s not queued: %s\n",
			    to[i], op->error);
		else
			buf_printf(&t->out, "target mailto:%s queued as %s\n",
			    to[i], m ? m->qid : "?");
	t->failed += op->failed ? n : 0;
	free(to);
	queue_notice_stored(op);
	store_op_free(op);
	alert_test_answer(t);
}

/* Every webhook answered: now the mail, if any. */
static void
alert_test_mail(struct alert_test *t)
{
	struct store_op *op;
	char summary[1024], from[300], **to, *text;
	int n = alert_mail_targets(&t->a, &to);

	if (n == 0) {
		free(to);
		alert_test_answer(t);
		return;
	}
	alert_summary(&t->a, AW_FIRED, 1, summary, sizeof(summary));
	alert_sender(from, sizeof(from));
	text = alert_mail_text(&t->a, summary, 1);
	op = store_op_new();
	queue_notice(op, &(struct notice){ from, NULL, to, n, NULL, summary,
	    text, NULL });
	free(text);
	free(to);
	op->done = alert_test_stored;
	op->arg = t;
	queue_notice_submit(op, from);
}

/* On the loop: one webhook's reply. */
static void
alert_test_reply(void *arg, const char *target, int ok, const char *result)
{
	struct alert_test *t = arg;

	buf_printf(&t->out, "target %s %s\n", target, result);
	t->failed += !ok;
	if (--t->pending == 0)
		alert_test_mail(t);
}

void
alert_control(struct conn *c, const char *args)
{
	char name[CTL_NAME_MAX + 1], extra[2], summary[1024], dedup[200];
	struct alert_test *t;
	struct alert *a = NULL;

	if (sscanf(args, "test %" CTL_STR(CTL_NAME_MAX) "s %1s", name,
	    extra) != 1) {
		conn_printf(c, "error usage: alert test NAME\n");
		conn_close_after_flush(c);
		return;
	}
	for (int i = 0; i < nalerts; i++)
		if (strcmp(alerts[i].name, name) == 0)
			a = &alerts[i];
	if (a == NULL) {
		conn_printf(c, "error no alert \"%s\" (gwctl alert list)\n",
		    name);
		conn_close_after_flush(c);
		return;
	}
	t = xcalloc(1, sizeof(*t));
	t->hold = control_hold(c);
	buf_init(&t->out, 64 * 1024);
	alert_copy(&t->a, a);
	t->a.st.fired_us = now_us();
	alert_summary(&t->a, AW_FIRED, 1, summary, sizeof(summary));
	snprintf(dedup, sizeof(dedup), "gw-%s-%s-test-%lld", gcfg->hostname,
	    name, (long long)(t->a.st.fired_us / 1000000));
	log_info("alert %s: test notification asked for", name);
	for (int k = 0; k < t->a.nt; k++)
		if (t->a.t[k].kind != AT_MAIL)
			t->pending++;
	if (t->pending == 0) {
		alert_test_mail(t);
		return;
	}
	for (int k = 0; k < t->a.nt; k++)
		if (t->a.t[k].kind != AT_MAIL)
			alert_http_send(t->a.t[k].kind, t->a.t[k].value,
			    t->a.name, summary, dedup, 1, alert_test_reply, t);
}
