/*
 * stats.c - pflogsumm-style totals over a time range: messages received,
 * recipients delivered, deferred, bounced, expired and rejected, the
 * recipients complained of (abuse reports the feedback listener matched)
 * and their share of the delivered (the complaint rate), the
 * delivery rate and the delay from reception to delivery (average and
 * 95th percentile), overall or per recipient domain, subaccount, hour,
 * or per bounce class (why deliveries failed: the class gwd gave each
 * deferred, bounced, expired or rejected event, bounce.h).
 *
 * Rows come sorted: the most events first (ties by name), hours in
 * time order.  Printed as a table, as JSON lines (one object a row) or
 * as CSV (RFC 4180, a header row); the columns are those of stat_cols,
 * less the ones a grouping has nothing to say in (a class has no
 * receptions, deliveries or delays).
 * Diagnostics: never dies (memory aside); an unreadable log.db is 69
 * with SQLite's reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "buf.h"
#include "event.h"
#include "gwsearch.h"
#include "json.h"
#include "log.h"
#include "util.h"

/* The counted actions are event.h's first EV_NTALLY, in column order. */
#define S_N	EV_NTALLY
_Static_assert(S_N == 6, "stats_main binds a parameter per action");

enum stats_by { BY_TOTAL, BY_DOMAIN, BY_SUBACCOUNT, BY_HOUR, BY_CLASS };

static const char *const stats_by_name[] = {
	[BY_TOTAL] = "total", [BY_DOMAIN] = "domain",
	[BY_SUBACCOUNT] = "subaccount", [BY_HOUR] = "hour",
	[BY_CLASS] = "class",
};

struct stat_group {
	char		*key;
	int64_t		 n[S_N];
	int64_t		*delay;		/* microseconds, one per delivery */
	size_t		 ndelay, capdelay;
	/* Figures, once every event is in (stats_figures): */
	int64_t		 complained;	/* abuse reports matched */
	double		 rate;		/* delivered of the final, %; -1 */
	double		 crate;		/* complained of the delivered, %;
					   -1 */
	int64_t		 avg, p95;	/* delay, µs; -1 when none */
};

struct stats {
	struct stat_group *g;
	size_t		 ng;
	enum stats_by	 by;
};

/* The columns after the key: an action's count, or a figure. */
enum stat_fig { SF_RATE, SF_AVG, SF_P95, SF_TOTAL, SF_COMPLAINED,
    SF_CRATE };

struct stat_col {
	const char	*title;		/* table */
	const char	*name;		/* JSON and CSV */
	int		 action;	/* an event action, or -1 */
	enum stat_fig	 fig;
};

static const struct stat_col stat_cols[] = {
	{ NULL, NULL, EV_RECEIVED, 0 },
	{ NULL, NULL, EV_DELIVERED, 0 },
	{ NULL, NULL, EV_DEFERRED, 0 },
	{ NULL, NULL, EV_BOUNCED, 0 },
	{ NULL, NULL, EV_EXPIRED, 0 },
	{ NULL, NULL, EV_REJECTED, 0 },
	{ "cmpl", "complained", -1, SF_COMPLAINED },
	{ "rate", "delivery_rate", -1, SF_RATE },
	{ "cmpl%", "complaint_rate", -1, SF_CRATE },
	{ "avg", "delay_avg_s", -1, SF_AVG },
	{ "p95", "delay_p95_s", -1, SF_P95 },
	{ "total", "total", -1, SF_TOTAL },
};

/* Whether a grouping shows column c: a class only counts failures. */
static int
stats_shows(const struct stats *s, const struct stat_col *c)
{
	if (s->by != BY_CLASS)
		return c->action != -1 || c->fig != SF_TOTAL;
	if (c->action != -1)
		return c->action != EV_RECEIVED && c->action != EV_DELIVERED;
	return c->fig == SF_TOTAL;
}

static const char *
stats_col_name(const struct stat_col *c)
{
	return c->action != -1 ? event_name((enum event_action)c->action) :
	    c->name;
}

static struct stat_group *
stats_group(struct stats *s, const char *key)
{
	for (size_t i = 0; i < s->ng; i++)
		if (strcmp(s->g[i].key, key) == 0)
			return &s->g[i];
	s->g = xreallocarray(s->g, s->ng + 1, sizeof(*s->g));
	memset(&s->g[s->ng], 0, sizeof(*s->g));
	s->g[s->ng].key = xstrdup(key);
	return &s->g[s->ng++];
}

static void
stats_delay(struct stat_group *g, int64_t d)
{
	if (g->ndelay == g->capdelay) {
		g->capdelay = g->capdelay ? 2 * g->capdelay : 64;
		g->delay = xreallocarray(g->delay, g->capdelay,
		    sizeof(*g->delay));
	}
	g->delay[g->ndelay++] = d;
}

/* The group key of one recipient of an event. */
static void
stats_key(const struct stats *s, const char *rcpt, size_t n,
    const char *subaccount, const char *cls, int64_t ts, char *out,
    size_t outsz)
{
	const char *at;
	time_t t;
	struct tm tm;

	switch (s->by) {
	case BY_TOTAL:
		snprintf(out, outsz, "total");
		break;
	case BY_SUBACCOUNT:
		snprintf(out, outsz, "%s", subaccount && *subaccount ?
		    subaccount : "-");
		break;
	case BY_CLASS:
		snprintf(out, outsz, "%s", cls);
		break;
	case BY_HOUR:
		t = (time_t)(ts / 1000000);
		gmtime_r(&t, &tm);
		strftime(out, outsz, "%Y-%m-%dT%H:00Z", &tm);
		break;
	case BY_DOMAIN:
		if ((at = memchr(rcpt, '@', n)) != NULL) {
			snprintf(out, outsz, "%.*s", (int)(n -
			    (size_t)(at + 1 - rcpt)), at + 1);
			str_lower(out);
		} else
			snprintf(out, outsz, "-");
		break;
	}
}

static void
stats_row(struct stats *s, sqlite3_stmt *st)
{
	const char *action = (const char *)sqlite3_column_text(st, 0);
	const char *rcpt = (const char *)sqlite3_column_text(st, 1);
	int64_t ts = sqlite3_column_int64(st, 2);
	const char *sub = (const char *)sqlite3_column_text(st, 4);
	const char *cls = (const char *)sqlite3_column_text(st, 5);
	const char *p = rcpt ? rcpt : "";
	struct stat_group *g;
	char key[256];
	int k;

	if ((k = event_lookup(action)) == EV_COMPLAINED && s->by != BY_CLASS) {
		stats_key(s, p, strlen(p), sub, cls, ts, key, sizeof(key));
		stats_group(s, key)->complained++;
		return;
	}
	if (k == -1 || k >= S_N)
		return;
	/* Only the events gwd gave a class count by class. */
	if (s->by == BY_CLASS && (cls == NULL || *cls == '\0'))
		return;
	/* A received message counts once per recipient domain. */
	do {
		size_t n;

		p += strspn(p, ", ");
		n = strcspn(p, ",");
		while (n > 0 && p[n - 1] == ' ')
			n--;
		stats_key(s, p, n, sub, cls, ts, key, sizeof(key));
		g = stats_group(s, key);
		g->n[k]++;
		if (k == EV_DELIVERED && sqlite3_column_type(st, 3) !=
		    SQLITE_NULL)
			stats_delay(g, ts - sqlite3_column_int64(st, 3));
		p += n;
		p += strcspn(p, ",");
	} while (k == EV_RECEIVED && s->by == BY_DOMAIN && *p);
}

static int
stats_cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Delivery rate, average and p95 delay of a group. */
static void
stats_figures(struct stat_group *g)
{
	int64_t fin = g->n[EV_DELIVERED] + g->n[EV_BOUNCED] + g->n[EV_EXPIRED];
	int64_t sum = 0;

	g->rate = fin > 0 ? 100.0 * (double)g->n[EV_DELIVERED] /
	    (double)fin : -1;
	g->crate = g->n[EV_DELIVERED] > 0 ? 100.0 * (double)g->complained /
	    (double)g->n[EV_DELIVERED] : -1;
	/* A group without deliveries has no array at all: qsort(NULL, 0)
	 * is undefined behaviour. */
	if (g->ndelay > 1)
		qsort(g->delay, g->ndelay, sizeof(*g->delay), stats_cmp64);
	for (size_t i = 0; i < g->ndelay; i++)
		sum += g->delay[i];
	g->avg = g->ndelay ? sum / (int64_t)g->ndelay : -1;
	/* Nearest rank: the smallest value with 95% at or below it. */
	g->p95 = g->ndelay ? g->delay[(g->ndelay * 95 + 99) / 100 - 1] : -1;
}

/* The events a row counts in its grouping's columns (its sort key). */
static int64_t
stats_total(const struct stats *s, const struct stat_group *g)
{
	int64_t t = 0;

	for (size_t c = 0; c < nitems(stat_cols); c++)
		if (stat_cols[c].action != -1 && stats_shows(s, &stat_cols[c]))
			t += g->n[stat_cols[c].action];
	return t;
}

static enum stats_by stats_sort_by;

static int
stats_order(const void *a, const void *b)
{
	const struct stat_group *x = a, *y = b;
	struct stats s = { NULL, 0, stats_sort_by };
	int64_t tx = stats_total(&s, x), ty = stats_total(&s, y);

	if (stats_sort_by != BY_HOUR && tx != ty)
		return tx > ty ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* A column's value as text: for the table ("97.5%", "1.2s"), or bare
 * for CSV and JSON ("97.5", "1.200"; "" or null when none). */
static void
stats_cell(const struct stats *s, const struct stat_group *g,
    const struct stat_col *c, int table, char *out, size_t n)
{
	int64_t us = c->fig == SF_AVG ? g->avg : g->p95;

	if (c->action != -1 || c->fig == SF_TOTAL) {
		snprintf(out, n, "%lld", (long long)(c->action != -1 ?
		    g->n[c->action] : stats_total(s, g)));
	} else if (c->fig == SF_COMPLAINED) {
		snprintf(out, n, "%lld", (long long)g->complained);
	} else if (c->fig == SF_CRATE) {
		/* Its threshold is 0.1%: three decimals. */
		if (g->crate < 0)
			snprintf(out, n, "%s", table ? "-" : "");
		else
			snprintf(out, n, table ? "%.3f%%" : "%.3f", g->crate);
	} else if (c->fig == SF_RATE) {
		if (g->rate < 0)
			snprintf(out, n, "%s", table ? "-" : "");
		else
			snprintf(out, n, table ? "%.1f%%" : "%.1f", g->rate);
	} else if (us < 0)
		snprintf(out, n, "%s", table ? "-" : "");
	else if (!table)
		snprintf(out, n, "%.3f", (double)us / 1e6);
	else if (us < 10000000)
		snprintf(out, n, "%.1fs", (double)us / 1e6);
	else if (us < 3600LL * 1000000)
		snprintf(out, n, "%.0fs", (double)us / 1e6);
	else
		snprintf(out, n, "%.1fh", (double)us / 3.6e9);
}

/* Grand totals, one figure a line. */
static void
stats_print_total(const struct stats *s, const struct stat_group *g)
{
	static const char *const label[] = { [SF_RATE] = "delivery rate",
	    [SF_AVG] = "delay average", [SF_P95] = "delay p95",
	    [SF_COMPLAINED] = "complained", [SF_CRATE] = "complaint rate" };
	char v[64];

	for (size_t c = 0; c < nitems(stat_cols); c++) {
		const struct stat_col *col = &stat_cols[c];

		if (!stats_shows(s, col))
			continue;
		stats_cell(s, g, col, 1, v, sizeof(v));
		printf("  %-14s %10s\n", col->action != -1 ?
		    stats_col_name(col) : label[col->fig], v);
	}
}

static void
stats_print_table(const struct stats *s)
{
	struct buf key;
	char v[64];

	buf_init(&key, 0);
	printf("%-30s", stats_by_name[s->by]);
	for (size_t c = 0; c < nitems(stat_cols); c++)
		if (stats_shows(s, &stat_cols[c]))
			printf(stat_cols[c].action != -1 ? " %9s" : " %7s",
			    stat_cols[c].action != -1 ?
			    stats_col_name(&stat_cols[c]) : stat_cols[c].title);
	printf("\n");
	for (size_t i = 0; i < s->ng; i++) {
		/* A domain is from a recipient's address: cleaned. */
		format_clean(&key, s->g[i].key);
		printf("%-30s", buf_cstr(&key));
		buf_reset(&key);
		for (size_t c = 0; c < nitems(stat_cols); c++) {
			if (!stats_shows(s, &stat_cols[c]))
				continue;
			stats_cell(s, &s->g[i], &stat_cols[c], 1, v, sizeof(v));
			printf(stat_cols[c].action != -1 ? " %9s" : " %7s", v);
		}
		printf("\n");
	}
	buf_free(&key);
}

/* One JSON object a row; the key under the grouping's name. */
static void
stats_print_json(const struct stats *s)
{
	struct json_obj o;
	struct buf b;
	char v[64];

	buf_init(&b, 0);
	for (size_t i = 0; i < s->ng; i++) {
		json_obj_begin(&o, &b);
		if (s->by != BY_TOTAL)
			json_obj_str(&o, stats_by_name[s->by], s->g[i].key);
		for (size_t c = 0; c < nitems(stat_cols); c++) {
			if (!stats_shows(s, &stat_cols[c]))
				continue;
			stats_cell(s, &s->g[i], &stat_cols[c], 0, v, sizeof(v));
			if (v[0] == '\0')
				json_obj_null(&o, stats_col_name(&stat_cols[c]));
			else
				json_obj_raw(&o, stats_col_name(&stat_cols[c]),
				    v);
		}
		if (json_obj_end(&o) == -1)
			fatalx("output too long");
		printf("%s\n", buf_cstr(&b));
		buf_reset(&b);
	}
	buf_free(&b);
}

/* RFC 4180: a header row, then a row each (CRLF line ends); a key (a
 * domain from a recipient's address may hold anything) quoted as
 * format.c quotes every field. */
static void
stats_print_csv(const struct stats *s)
{
	struct buf b;
	char v[64];
	int first;

	buf_init(&b, 0);
	for (size_t i = 0; i <= s->ng; i++) {
		first = 1;
		if (s->by != BY_TOTAL) {
			format_csv_field(&b, i == 0 ? stats_by_name[s->by] :
			    s->g[i - 1].key, 1);
			first = 0;
		}
		for (size_t c = 0; c < nitems(stat_cols); c++) {
			if (!stats_shows(s, &stat_cols[c]))
				continue;
			if (i == 0)
				format_csv_field(&b,
				    stats_col_name(&stat_cols[c]), first);
			else {
				stats_cell(s, &s->g[i - 1], &stat_cols[c], 0,
				    v, sizeof(v));
				format_csv_field(&b, v, first);
			}
			first = 0;
		}
		printf("%s\r\n", buf_cstr(&b));
		buf_reset(&b);
	}
	buf_free(&b);
}

static void
stats_print(struct stats *s, enum format f, int64_t since, int64_t until)
{
	char a[40], b[40];

	/* Without rows, the totals are zero: one row all the same. */
	if (s->by == BY_TOTAL && s->ng == 0)
		stats_group(s, "total");
	for (size_t i = 0; i < s->ng; i++)
		stats_figures(&s->g[i]);
	stats_sort_by = s->by;
	qsort(s->g, s->ng, sizeof(*s->g), stats_order);
	if (f == FMT_JSON) {
		stats_print_json(s);
		return;
	}
	if (f == FMT_CSV) {
		stats_print_csv(s);
		return;
	}
	if (since > 0)
		format_time(since, a, sizeof(a));
	else
		gw_strlcpy(a, "the beginning", sizeof(a));
	if (until != INT64_MAX)
		format_time(until, b, sizeof(b));
	else
		gw_strlcpy(b, "now", sizeof(b));
	printf("%s (%s to %s)\n", s->by == BY_CLASS ? "Failures by class" :
	    "Grand totals", a, b);
	if (s->by == BY_TOTAL)
		stats_print_total(s, &s->g[0]);
	else
		stats_print_table(s);
}

int
stats_by_parse(const char *name)
{
	for (size_t i = BY_TOTAL + 1; i < nitems(stats_by_name); i++)
		if (strcmp(name, stats_by_name[i]) == 0)
			return (int)i;
	return -1;
}

const char *
stats_by_word(int i)
{
	return i > BY_TOTAL && (size_t)i < nitems(stats_by_name) ?
	    stats_by_name[i] : NULL;
}

int
stats_main(sqlite3 *db, int64_t since, int64_t until, const char *by,
    enum format f)
{
	struct stats s = { NULL, 0, BY_TOTAL };
	sqlite3_stmt *st;
	int rc;

	if (by != NULL)
		s.by = (enum stats_by)stats_by_parse(by);
	/* The reception of a delivered message, and the subaccount of an
	 * event that names none, come from the index event_received
	 * (log.db schema 8) alone: one seek, no row read. */
	rc = sqlite3_prepare_v2(db, "SELECT e.action, e.recipient, e.ts, "
	    "CASE WHEN e.action = 'delivered' THEN (SELECT min(r.ts) FROM "
	    "event r WHERE r.qid = e.qid AND r.action = 'received') END, "
	    "coalesce(e.subaccount, (SELECT "
	    "r.subaccount FROM event r WHERE r.qid = e.qid AND r.action = "
	    "'received' LIMIT 1)), e.class FROM event e WHERE e.ts >= ?1 AND "
	    "e.ts < ?2 AND e.action IN (?3, ?4, ?5, ?6, ?7, ?8, ?9)", -1, &st,
	    NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, since);
		sqlite3_bind_int64(st, 2, until);
		for (int k = 0; k < S_N; k++)
			sqlite3_bind_text(st, 3 + k, event_name(
			    (enum event_action)k), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3 + S_N, event_name(EV_COMPLAINED), -1,
		    SQLITE_STATIC);
	}
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		stats_row(&s, st);
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_DONE) {
		log_warnx("log.db: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return EX_UNAVAILABLE;
	}
	sqlite3_finalize(st);
	stats_print(&s, f, since, until);
	for (size_t i = 0; i < s.ng; i++) {
		free(s.g[i].key);
		free(s.g[i].delay);
	}
	free(s.g);
	return EX_OK;
}
