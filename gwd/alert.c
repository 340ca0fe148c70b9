/*
 * alert.c - alerts: the rules from gw.db, their evaluation on the loop,
 * the notifications and audit events of each change (see alert.h).
 * Exposure: the rules come from gw.db (checked by gwctl, checked again
 * here: a row gwd cannot use is skipped and said once).  The texts of
 * a notification and "alert test NAME" are alert_notice.c's.
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
#include "alert_priv.h"
#include "alertrule.h"
#include "alertstat.h"
#include "buf.h"
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


static sqlite3		*gdb;
static int		 data_version = -1;
static struct alert	*alerts;
static int		 nalerts;
static struct hmap	 restored;	/* name -> int64_t *: fired at, µs */
static struct ev_timer	 tick_timer;

/* What a rule holds, not the rule. */
void
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

double
alert_clear(const struct alert *a)
{
	return a->above * gcfg->alerts.resolve_ppm / 1e6;
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
void
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

/* The rule called name, or NULL. */
struct alert *
alert_named(const char *name)
{
	for (int i = 0; i < nalerts; i++)
		if (strcmp(alerts[i].name, name) == 0)
			return &alerts[i];
	return NULL;
}
