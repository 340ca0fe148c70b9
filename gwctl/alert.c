/*
 * alert.c - gwctl alert ... (add, list, delete, test).
 *
 * An alert is a row of gw.db's alert table (migration 11): a metric
 * (common/alertrule.h) over everything, one subaccount or one recipient
 * domain, the threshold it fires above, how long it must hold (--for),
 * whether a volume anomaly also throttles the subaccount, and the
 * --notify targets, kept one a line.  gwd reloads the set when gw.db
 * changes.  `alert test` asks gwd, over the control socket, to send a
 * test notification to each target and prints what each answered.
 * Exposure: none beyond the admin's arguments, checked here.
 * Diagnostics: each command returns a sysexits status and says why on
 * stderr; dies only when memory runs out.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "addr.h"
#include "alertrule.h"
#include "buf.h"
#include "gwctl.h"
#include "log.h"
#include "output.h"
#include "util.h"

/* For completion: every alert's name (gw.db open, else none). */
int
alert_names(struct ctx *ctx, void (*add)(void *, const char *), void *arg)
{
	return ctx_words(ctx, "SELECT name FROM alert ORDER BY name", add, arg);
}

static int
alert_bad(const char *opt, const char *why)
{
	log_warnx("%s: %s", opt, why);
	return EX_USAGE;
}

/* The options of `alert add`, checked; the targets joined into notify. */
static int
alert_check(struct ctx *ctx, const struct args *a, int *metric,
    double *above, int64_t *for_ms, struct buf *notify)
{
	const char *m = args_get(a, "--metric"), *ab = args_get(a, "--above");
	const char *sub = args_get(a, "--subaccount");
	const char *dom = args_get(a, "--domain"), *t, *v;
	enum alert_target_kind k;
	char err[200], *end;
	int64_t sid;
	int r;

	if (!alert_valid_name(a->argv[0]))
		return alert_bad("NAME", "1 to 64 letters, digits, '-', '_' "
		    "or '.'");
	if (m == NULL || (*metric = alert_metric_lookup(m)) == -1) {
		log_warnx("--metric: one of %s", alert_metric_names());
		return EX_USAGE;
	}
	if (ab == NULL)
		return alert_bad("--above", "required: the threshold");
	*above = strtod(ab, &end);
	if (end == ab || *end != '\0' || !isfinite(*above) || *above < 0)
		return alert_bad("--above", "a number, 0 or more");
	*for_ms = 300000;
	if (args_get(a, "--for") && (parse_duration_ms(args_get(a, "--for"),
	    for_ms) == -1 || *for_ms > (int64_t)7 * 86400000))
		return alert_bad("--for", "a duration up to 7d (30s, 5m, 1h)");
	if (sub && dom)
		return alert_bad("--subaccount", "not with --domain");
	if ((sub || dom) && !(alert_metric_scopes(*metric) &
	    (sub ? ALERT_SCOPE_SUB : ALERT_SCOPE_DOMAIN))) {
		log_warnx("%s: %s is measured over all mail only", sub ?
		    "--subaccount" : "--domain", m);
		return EX_USAGE;
	}
	if (alert_metric_needs_sub(*metric) && sub == NULL)
		return alert_bad("--subaccount", "volume_anomaly is per "
		    "subaccount: name one");
	if (args_has(a, "--throttle") && *metric != AM_VOLUME_ANOMALY)
		return alert_bad("--throttle", "only with volume_anomaly");
	if (dom && !addr_valid_domain(dom))
		return alert_bad("--domain", "not a domain name");
	if (sub && (r = subaccount_lookup(ctx, sub, &sid)) != EX_OK)
		return r;
	if (args_count(a, "--notify") == 0)
		return alert_bad("--notify", "required: mailto:ADDRESS, "
		    "https://URL or pagerduty:ROUTING-KEY");
	if (args_count(a, "--notify") > ALERT_TARGETS_MAX)
		return alert_bad("--notify", "16 at most");
	for (int i = 0; (t = args_nth(a, "--notify", i)) != NULL; i++) {
		if (alert_target_parse(t, &k, &v, err, sizeof(err)) == -1) {
			log_warnx("--notify %s: %s", t, err);
			return EX_USAGE;
		}
		buf_printf(notify, "%s%s", i ? "\n" : "", t);
	}
	return EX_OK;
}

int
alert_add(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	struct buf notify;
	double above;
	int64_t for_ms;
	int metric, r, n;

	if ((r = ctx_db(ctx)) != EX_OK || (r = ctx_begin(ctx)) != EX_OK)
		return r;
	buf_init(&notify, 0);
	if ((r = alert_check(ctx, a, &metric, &above, &for_ms, &notify)) ==
	    EX_OK && (r = ctx_exec(ctx, &n, "INSERT OR IGNORE INTO alert (name,"
	    " metric, subaccount, domain, above, for_ms, throttle, notify,"
	    " created) VALUES (?, ?, ?, lower(?), ?, ?, ?, ?, ?)", "tttttiiti",
	    a->argv[0], alert_metric_name(metric), args_get(a, "--subaccount"),
	    args_get(a, "--domain"), args_get(a, "--above"), for_ms,
	    (int64_t)args_has(a, "--throttle"), buf_cstr(&notify),
	    ctx_now())) == EX_OK && n == 0) {
		log_warnx("alert \"%s\" exists (gwctl alert delete it first)",
		    a->argv[0]);
		r = EX_DATAERR;
	}
	buf_free(&notify);
	if (r != EX_OK) {
		ctx_rollback(ctx);
		return r;
	}
	if ((r = ctx_commit(ctx)) == EX_OK)
		printf("alert %s added\n", a->argv[0]);
	return r;
}

static void
alert_json(sqlite3_stmt *st)
{
	struct json_obj o;
	struct buf b, t;
	const char *n = (const char *)sqlite3_column_text(st, 7), *e;
	char num[64];

	buf_init(&b, 0);
	buf_init(&t, 0);
	json_obj_begin(&o, &b);
	json_obj_str(&o, "name", (const char *)sqlite3_column_text(st, 0));
	json_obj_str(&o, "metric", (const char *)sqlite3_column_text(st, 1));
	json_obj_str_or_null(&o, "subaccount",
	    (const char *)sqlite3_column_text(st, 2));
	json_obj_str_or_null(&o, "domain",
	    (const char *)sqlite3_column_text(st, 3));
	snprintf(num, sizeof(num), "%.17g", sqlite3_column_double(st, 4));
	json_obj_raw(&o, "above", num);
	json_obj_int(&o, "for_seconds", sqlite3_column_int64(st, 5) / 1000);
	json_obj_bool(&o, "throttle", sqlite3_column_int(st, 6));
	buf_puts(&t, "[");
	for (int i = 0; *n; i++, n = *e ? e + 1 : e) {
		e = n + strcspn(n, "\n");
		buf_puts(&t, i ? ",\"" : "\"");
		json_escape(&t, n, (size_t)(e - n));
		buf_puts(&t, "\"");
	}
	buf_puts(&t, "]");
	json_obj_raw(&o, "notify", buf_cstr(&t));
	if (json_obj_end(&o) == -1)
		fatalx("output too long");
	printf("%s\n", buf_cstr(&b));
	buf_free(&t);
	buf_free(&b);
}

int
alert_list(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	struct output_table t;
	sqlite3_stmt *st;
	char above[64], forv[32], *notify;
	int r, json, rc;

	if ((r = output_format(c, a, &json)) != EX_OK ||
	    (r = ctx_db(ctx)) != EX_OK)
		return r;
	if ((st = ctx_stmt(ctx, "SELECT name, metric, subaccount, domain,"
	    " above, for_ms, throttle, notify FROM alert ORDER BY name", ""))
	    == NULL)
		return EX_SOFTWARE;
	output_table_init(&t, 6, "NAME", "METRIC", "SCOPE", "ABOVE", "FOR",
	    "NOTIFY");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *sub = (const char *)sqlite3_column_text(st, 2);
		const char *dom = (const char *)sqlite3_column_text(st, 3);
		char scope[300];

		if (json) {
			alert_json(st);
			continue;
		}
		snprintf(scope, sizeof(scope), "%s%s", sub ? "subaccount=" :
		    dom ? "domain=" : "all", sub ? sub : dom ? dom : "");
		snprintf(above, sizeof(above), "%g%s",
		    sqlite3_column_double(st, 4), sqlite3_column_int(st, 6) ?
		    " throttle" : "");
		snprintf(forv, sizeof(forv), "%llds", (long long)
		    (sqlite3_column_int64(st, 5) / 1000));
		notify = xstrdup((const char *)sqlite3_column_text(st, 7));
		for (char *p = notify; *p; p++)
			if (*p == '\n')
				*p = ',';
		output_table_row(&t, sqlite3_column_text(st, 0),
		    sqlite3_column_text(st, 1), scope, above, forv, notify);
		free(notify);
	}
	r = rc == SQLITE_DONE ? EX_OK : ctx_sqlerr(ctx, "gw.db");
	sqlite3_finalize(st);
	if (!json && t.nrows > 1)
		output_table_print(&t, stdout);
	output_table_free(&t);
	return r;
}

int
alert_delete(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	int r, n;

	if ((r = ctx_db(ctx)) != EX_OK || (r = ctx_begin(ctx)) != EX_OK)
		return r;
	if ((r = ctx_exec(ctx, &n, "DELETE FROM alert WHERE name = ?", "t",
	    a->argv[0])) != EX_OK) {
		ctx_rollback(ctx);
		return r;
	}
	if (n == 0) {
		ctx_rollback(ctx);
		log_warnx("no alert \"%s\" (gwctl alert list)", a->argv[0]);
		return EX_NOUSER;
	}
	if ((r = ctx_commit(ctx)) == EX_OK)
		printf("alert %s deleted\n", a->argv[0]);
	return r;
}

/*
 * gwd sends the notifications (it has the mail path and the HTTP
 * client); its reply is one "target TARGET RESULT" line per target, then
 * "failed N".  Exit EX_UNAVAILABLE when any target failed.
 */
static int
alert_test_error(const char *line)
{
	return strncmp(line, "error no alert", 14) == 0 ? EX_NOUSER :
	    EX_SOFTWARE;
}

static void
alert_test_line(const char *p, int n)
{
	if (strncmp(p, "target ", 7) == 0)
		printf("%.*s\n", n - 7, p + 7);
}

int
alert_test(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	char line[ALERT_NAME_MAX + 16];

	if (!alert_valid_name(a->argv[0]))
		return alert_bad("NAME", "not an alert name");
	snprintf(line, sizeof(line), "alert test %s", a->argv[0]);
	return control_tally(ctx, line, 60000, alert_test_error,
	    alert_test_line);
}
