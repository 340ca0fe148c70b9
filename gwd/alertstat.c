/*
 * alertstat.c - windowed outcome counts for alerts (see alertstat.h).
 * Exposure: recipient domains come from the queue (already parsed);
 * scopes from gw.db.
 * Diagnostics: dies only when memory runs out.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertstat.h"
#include "hmap.h"
#include "util.h"

#define NSLOTS	60

enum { C_DELIVERED, C_BOUNCED, C_HARD, C_DEFERRED, C_COMPLAINED, NC };

struct slot {
	int64_t		 no;		/* which slot of time it holds */
	uint32_t	 c[NC];
	uint32_t	 lat[GM_HIST_MAX];
};

struct scope {
	struct slot	 s[NSLOTS];
};

static struct scope	 all;
static struct hmap	 scopes;
static int64_t		 slot_us = 15000000;	/* alerts.window 15m; set by
					   alertstat_init() */

void
alertstat_init(int64_t window_ms)
{
	hmap_init(&scopes);
	slot_us = window_ms * 1000 / NSLOTS;
	if (slot_us < 1)
		slot_us = 1;
}

void
alertstat_watch(const char *scope)
{
	if (hmap_get(&scopes, scope) == NULL)
		hmap_put(&scopes, scope, xcalloc(1, sizeof(struct scope)));
}

/* The slot of now in sc, emptied when it last held an older one. */
static struct slot *
slot_at(struct scope *sc, int64_t now)
{
	int64_t no = now / slot_us;
	struct slot *s = &sc->s[no % NSLOTS];

	if (s->no != no) {
		memset(s, 0, sizeof(*s));
		s->no = no;
	}
	return s;
}

/* fn on all mail's scope, the subaccount's and the domain's, if
 * watched. */
static void
each_scope(const char *sub, const char *rcpt, int64_t now,
    void (*fn)(struct slot *, void *), void *arg)
{
	const char *at = rcpt ? strrchr(rcpt, '@') : NULL;
	struct scope *sc;
	char key[300];

	fn(slot_at(&all, now), arg);
	if (hmap_count(&scopes) == 0)
		return;
	if (sub && *sub && snprintf(key, sizeof(key), "s:%s", sub) <
	    (int)sizeof(key) && (sc = hmap_get(&scopes, key)) != NULL)
		fn(slot_at(sc, now), arg);
	if (at && snprintf(key, sizeof(key), "d:%s", at + 1) <
	    (int)sizeof(key)) {
		str_lower(key);
		if ((sc = hmap_get(&scopes, key)) != NULL)
			fn(slot_at(sc, now), arg);
	}
}

struct outcome {
	enum gm_result		 r;
	enum bounce_class	 cls;
	int			 lat_bucket;	/* -1: none */
};

static void
count_outcome(struct slot *s, void *arg)
{
	struct outcome *o = arg;

	switch (o->r) {
	case GM_DELIVERED:
		s->c[C_DELIVERED]++;
		if (o->lat_bucket >= 0)
			s->lat[o->lat_bucket]++;
		break;
	case GM_DEFERRED:
		s->c[C_DEFERRED]++;
		break;
	case GM_BOUNCED:
	case GM_EXPIRED:
		s->c[C_BOUNCED]++;
		if (o->cls == BC_HARD)
			s->c[C_HARD]++;
		break;
	default:
		break;
	}
}

void
alertstat_outcome(const char *sub, const char *rcpt, enum gm_result r,
    enum bounce_class cls, int64_t received_us, int64_t now)
{
	struct outcome o = { r, cls, -1 };
	const double *bounds;
	int n = metrics_hist_bounds(GM_HIST_DELIVERY, &bounds);

	if (r == GM_DELIVERED && received_us > 0) {
		double sec = (double)(now - received_us) / 1e6;

		for (o.lat_bucket = 0; o.lat_bucket < n &&
		    sec > bounds[o.lat_bucket]; o.lat_bucket++)
			;
	}
	each_scope(sub, rcpt, now, count_outcome, &o);
}

static void
count_complaint(struct slot *s, void *arg)
{
	s->c[C_COMPLAINED]++;
}

void
alertstat_complaint(const char *sub, const char *rcpt, int64_t now)
{
	each_scope(sub, rcpt, now, count_complaint, NULL);
}

/* The p-th fraction's latency bucket bound, seconds (the +Inf bucket:
 * twice the last bound). */
static double
latency_quantile(const uint64_t *lat, uint64_t total, double p)
{
	const double *bounds;
	int n = metrics_hist_bounds(GM_HIST_DELIVERY, &bounds);
	uint64_t cum = 0;

	for (int i = 0; i <= n; i++) {
		cum += lat[i];
		if ((double)cum >= p * (double)total)
			return i < n ? bounds[i] : 2 * bounds[n - 1];
	}
	return 0;
}

double
alertstat_value(const char *scope, enum alert_metric m, int min_outcomes,
    int64_t now)
{
	struct scope *sc = scope ? hmap_get(&scopes, scope) : &all;
	uint64_t c[NC] = { 0 }, lat[GM_HIST_MAX] = { 0 }, fin, att;
	int64_t no = now / slot_us;

	if (sc == NULL)
		return NAN;
	for (int i = 0; i < NSLOTS; i++) {
		const struct slot *s = &sc->s[i];

		if (s->no <= no - NSLOTS || s->no > no)
			continue;	/* out of the window */
		for (int k = 0; k < NC; k++)
			c[k] += s->c[k];
		for (int k = 0; k < GM_HIST_MAX; k++)
			lat[k] += s->lat[k];
	}
	fin = c[C_DELIVERED] + c[C_BOUNCED];
	att = fin + c[C_DEFERRED];
	switch (m) {
	case AM_BOUNCE_RATE:
		return fin < (uint64_t)min_outcomes ? NAN :
		    100.0 * (double)c[C_BOUNCED] / (double)fin;
	case AM_HARD_BOUNCE_RATE:
		return fin < (uint64_t)min_outcomes ? NAN :
		    100.0 * (double)c[C_HARD] / (double)fin;
	case AM_COMPLAINT_RATE:
		return fin < (uint64_t)min_outcomes ? NAN :
		    100.0 * (double)c[C_COMPLAINED] / (double)fin;
	case AM_DEFERRAL_RATE:
		return att < (uint64_t)min_outcomes ? NAN :
		    100.0 * (double)c[C_DEFERRED] / (double)att;
	case AM_LATENCY_P95:
		return c[C_DELIVERED] < (uint64_t)min_outcomes ? NAN :
		    latency_quantile(lat, c[C_DELIVERED], 0.95);
	default:
		return NAN;
	}
}
