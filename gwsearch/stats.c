/*
 * stats.c - pflogsumm-style totals over a time range: messages received,
 * recipients delivered, deferred, bounced, expired and rejected, the
 * delivery rate and the delay from reception to delivery (average and
 * 95th percentile), overall or per recipient domain, subaccount or hour.
 * Diagnostics: never dies (memory aside); an unreadable log.db is 69
 * with SQLite's reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "event.h"
#include "gwsearch.h"
#include "log.h"
#include "util.h"

/* The counted actions are event.h's first EV_NTALLY, in column order. */
#define S_N	EV_NTALLY
_Static_assert(S_N == 6, "stats_main binds a parameter per action");

struct stat_group {
	char		*key;
	int64_t		 n[S_N];
	int64_t		*delay;		/* microseconds, one per delivery */
	size_t		 ndelay, capdelay;
};

struct stats {
	struct stat_group *g;
	size_t		 ng;
	const char	*by;
};

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
    const char *subaccount, int64_t ts, char *out, size_t outsz)
{
	const char *at;
	time_t t;
	struct tm tm;

	if (s->by == NULL)
		snprintf(out, outsz, "total");
	else if (strcmp(s->by, "subaccount") == 0)
		snprintf(out, outsz, "%s", subaccount && *subaccount ?
		    subaccount : "-");
	else if (strcmp(s->by, "hour") == 0) {
		t = (time_t)(ts / 1000000);
		gmtime_r(&t, &tm);
		strftime(out, outsz, "%Y-%m-%dT%H:00Z", &tm);
	} else if ((at = memchr(rcpt, '@', n)) != NULL) {
		snprintf(out, outsz, "%.*s", (int)(n - (size_t)(at + 1 - rcpt)),
		    at + 1);
		str_lower(out);
	} else
		snprintf(out, outsz, "-");
}

static void
stats_row(struct stats *s, sqlite3_stmt *st)
{
	const char *action = (const char *)sqlite3_column_text(st, 0);
	const char *rcpt = (const char *)sqlite3_column_text(st, 1);
	int64_t ts = sqlite3_column_int64(st, 2);
	const char *sub = (const char *)sqlite3_column_text(st, 4);
	const char *p = rcpt ? rcpt : "";
	char key[256];
	int k = -1;

	if ((k = event_lookup(action)) == -1 || k >= S_N)
		return;
	/* A received message counts once per recipient domain. */
	do {
		size_t n;

		p += strspn(p, ", ");
		n = strcspn(p, ",");
		while (n > 0 && p[n - 1] == ' ')
			n--;
		stats_key(s, p, n, sub, ts, key, sizeof(key));
		struct stat_group *g = stats_group(s, key);

		g->n[k]++;
		if (k == EV_DELIVERED && sqlite3_column_type(st, 3) !=
		    SQLITE_NULL)
			stats_delay(g, ts - sqlite3_column_int64(st, 3));
		p += n;
		p += strcspn(p, ",");
	} while (k == EV_RECEIVED && s->by && strcmp(s->by, "domain") == 0 &&
	    *p);
}

static int
stats_cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void
stats_secs(char *out, size_t n, int64_t us)
{
	if (us < 0)
		snprintf(out, n, "-");
	else if (us < 10000000)
		snprintf(out, n, "%.1fs", us / 1e6);
	else if (us < 3600LL * 1000000)
		snprintf(out, n, "%.0fs", us / 1e6);
	else
		snprintf(out, n, "%.1fh", us / 3.6e9);
}

/* Delivery rate, average and p95 delay of a group, as text. */
static void
stats_figures(struct stat_group *g, char *rate, char *avg, char *p95,
    size_t n)
{
	int64_t fin = g->n[EV_DELIVERED] + g->n[EV_BOUNCED] + g->n[EV_EXPIRED];
	int64_t sum = 0;

	if (fin > 0)
		snprintf(rate, n, "%.1f%%", 100.0 * g->n[EV_DELIVERED] / fin);
	else
		snprintf(rate, n, "-");
	qsort(g->delay, g->ndelay, sizeof(*g->delay), stats_cmp64);
	for (size_t i = 0; i < g->ndelay; i++)
		sum += g->delay[i];
	stats_secs(avg, n, g->ndelay ? sum / (int64_t)g->ndelay : -1);
	/* Nearest rank: the smallest value with 95% at or below it. */
	stats_secs(p95, n, g->ndelay ? g->delay[(g->ndelay * 95 + 99) / 100 -
	    1] : -1);
}

static void
stats_total(struct stat_group *g)
{
	char rate[32], avg[32], p95[32];

	stats_figures(g, rate, avg, p95, sizeof(rate));
	for (int i = 0; i < S_N; i++)
		printf("  %-14s %10lld\n", event_name((enum event_action)i),
		    (long long)g->n[i]);
	printf("  %-14s %10s\n  %-14s %10s\n  %-14s %10s\n", "delivery rate",
	    rate, "delay average", avg, "delay p95", p95);
}

static int
stats_order(const void *a, const void *b)
{
	const struct stat_group *x = a, *y = b;
	int64_t tx = x->n[EV_DELIVERED] + x->n[EV_DEFERRED] + x->n[EV_BOUNCED] +
	    x->n[EV_EXPIRED] + x->n[EV_RECEIVED];
	int64_t ty = y->n[EV_DELIVERED] + y->n[EV_DEFERRED] + y->n[EV_BOUNCED] +
	    y->n[EV_EXPIRED] + y->n[EV_RECEIVED];

	if (tx != ty)
		return tx > ty ? -1 : 1;
	return strcmp(x->key, y->key);
}

static int
stats_by_key(const void *a, const void *b)
{
	return strcmp(((const struct stat_group *)a)->key,
	    ((const struct stat_group *)b)->key);
}

static void
stats_table(struct stats *s)
{
	char rate[32], avg[32], p95[32];

	qsort(s->g, s->ng, sizeof(*s->g), strcmp(s->by, "hour") == 0 ?
	    stats_by_key : stats_order);
	printf("%-30s", s->by);
	for (int k = 0; k < S_N; k++)
		printf(" %9s", event_name((enum event_action)k));
	printf(" %7s %7s %7s\n", "rate", "avg", "p95");
	for (size_t i = 0; i < s->ng; i++) {
		struct stat_group *g = &s->g[i];

		stats_figures(g, rate, avg, p95, sizeof(rate));
		printf("%-30s", g->key);
		for (int k = 0; k < S_N; k++)
			printf(" %9lld", (long long)g->n[k]);
		printf(" %7s %7s %7s\n", rate, avg, p95);
	}
}

int
stats_main(sqlite3 *db, int64_t since, int64_t until, const char *by)
{
	struct stats s = { NULL, 0, by };
	struct stat_group total;
	sqlite3_stmt *st;
	char a[40], b[40];
	int rc;

	rc = sqlite3_prepare_v2(db, "SELECT e.action, e.recipient, e.ts, "
	    "(SELECT min(r.ts) FROM event r WHERE r.qid = e.qid AND "
	    "r.action = 'received'), coalesce(e.subaccount, (SELECT "
	    "r.subaccount FROM event r WHERE r.qid = e.qid AND r.action = "
	    "'received' LIMIT 1)) FROM event e WHERE e.ts >= ?1 AND e.ts < ?2 "
	    "AND e.action IN (?3, ?4, ?5, ?6, ?7, ?8)", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, since);
		sqlite3_bind_int64(st, 2, until);
		for (int k = 0; k < S_N; k++)
			sqlite3_bind_text(st, 3 + k, event_name(
			    (enum event_action)k), -1, SQLITE_STATIC);
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
	if (since > 0)
		format_time(since, a, sizeof(a));
	else
		gw_strlcpy(a, "the beginning", sizeof(a));
	if (until != INT64_MAX)
		format_time(until, b, sizeof(b));
	else
		gw_strlcpy(b, "now", sizeof(b));
	printf("Grand totals (%s to %s)\n", a, b);
	if (by == NULL) {
		if (s.ng == 0) {
			memset(&total, 0, sizeof(total));
			stats_total(&total);
		} else
			stats_total(&s.g[0]);
	} else
		stats_table(&s);
	for (size_t i = 0; i < s.ng; i++) {
		free(s.g[i].key);
		free(s.g[i].delay);
	}
	free(s.g);
	return EX_OK;
}
