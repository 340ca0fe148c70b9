/*
 * alert_notice.c - the texts of an alert's notifications (the summary
 * line, the mail, PagerDuty's dedup key), shared by alert.c's changes
 * and by the control socket's "alert test NAME", which is here too
 * (see alert_priv.h).
 * Exposure: "alert test NAME" from the control socket (bounded by
 * CTL_NAME_MAX); the rest formats gw.db's rules.
 * Diagnostics: dies only when memory runs out; a test's answer lists
 * each target's result and "failed N".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "alert_http.h"
#include "alert_priv.h"
#include "buf.h"
#include "conn.h"
#include "control_commit.h"
#include "ctlproto.h"
#include "gwd.h"
#include "log.h"
#include "queue.h"
#include "store.h"
#include "util.h"

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
void
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
void
alert_dedup(const struct alert *a, char *out, size_t n)
{
	snprintf(out, n, "gw-%s-%s-%lld", gcfg->hostname, a->name,
	    (long long)(a->st.fired_us / 1000000));
}

/* The mailto: targets of a, into to (the caller frees the array). */
int
alert_mail_targets(const struct alert *a, char ***to)
{
	int n = 0;

	*to = xcalloc((size_t)a->nt + 1, sizeof(char *));
	for (int i = 0; i < a->nt; i++)
		if (a->t[i].kind == AT_MAIL)
			(*to)[n++] = (char *)a->t[i].value;
	return n;
}

void
alert_sender(char *out, size_t n)
{
	if (gcfg->alerts.sender)
		gw_strlcpy(out, gcfg->alerts.sender, n);
	else
		snprintf(out, n, "gw-alerts@%s", gcfg->hostname);
}

/* The body of a notice mail. */
char *
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
	if ((a = alert_named(name)) == NULL) {
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
