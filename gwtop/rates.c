/*
 * rates.c - figures derived from the event counts, and the bands admins
 * watch them by.
 *
 *   in_per_s   received / window seconds (messages accepted)
 *   out_per_s  delivered / window seconds (recipients delivered)
 *   delivery   delivered / (delivered + bounced + expired), percent
 *   deferral   deferred / (delivered + deferred + bounced + expired)
 *   bounce     bounced / (delivered + bounced + expired)
 *   hard_bounce  bounced with class 'hard' / the same
 *   complaint  complained (abuse reports matched by the feedback
 *              listener) / delivered, percent
 *
 * Bands: bounce < 3% good, < 5% warning, else bad; hard_bounce < 1% /
 * < 3% (the thresholds admins watch, see CONVENTIONS); deferral < 10% / < 25%; delivery
 * >= 97% / >= 90%; latency < 60 s / < 300 s (p50 and p95 alike);
 * complaint < 0.1% / < 0.3% (the mailbox providers' own limits).
 * Diagnostics: never dies; a rate with nothing to divide by is -1.
 */
#include <stdio.h>

#include "gwtop.h"

const char *const rate_name[NRATE] = { "in_per_s", "out_per_s", "delivery",
    "deferral", "bounce", "hard_bounce", "latency_p50_s", "latency_p95_s",
    "complaint" };

static double
rates_seconds(int64_t ms)
{
	return ms < 0 ? -1 : (double)ms / 1000;
}

static double
rates_ratio(int64_t num, int64_t den)
{
	return den > 0 ? 100.0 * (double)num / (double)den : -1;
}

double
rates_get(const struct snapshot *s, enum win w, enum rate r)
{
	const int64_t *c = s->count[w];
	int64_t final = c[EV_DELIVERED] + c[EV_BOUNCED] + c[EV_EXPIRED];

	switch (r) {
	case RATE_IN:
		return (double)c[EV_RECEIVED] / win_seconds[w];
	case RATE_OUT:
		return (double)c[EV_DELIVERED] / win_seconds[w];
	case RATE_DELIVERY:
		return rates_ratio(c[EV_DELIVERED], final);
	case RATE_DEFERRAL:
		return rates_ratio(c[EV_DEFERRED], final + c[EV_DEFERRED]);
	case RATE_BOUNCE:
		return rates_ratio(c[EV_BOUNCED], final);
	case RATE_HARD:
		return rates_ratio(s->hard[w], final);
	case RATE_P50:
		return rates_seconds(s->lat_p50[w]);
	case RATE_P95:
		return rates_seconds(s->lat_p95[w]);
	case RATE_COMPLAINT:
		return rates_ratio(s->complained[w], c[EV_DELIVERED]);
	default:
		return -1;
	}
}

int
rates_is_percent(enum rate r)
{
	return r == RATE_DELIVERY || r == RATE_DEFERRAL || r == RATE_BOUNCE ||
	    r == RATE_HARD || r == RATE_COMPLAINT;
}

enum level
rates_level(enum rate r, double v)
{
	if (v < 0)
		return LEVEL_NONE;
	switch (r) {
	case RATE_BOUNCE:
		return v < 3 ? LEVEL_GOOD : v < 5 ? LEVEL_WARN : LEVEL_BAD;
	case RATE_HARD:
		return v < 1 ? LEVEL_GOOD : v < 3 ? LEVEL_WARN : LEVEL_BAD;
	case RATE_COMPLAINT:
		return v < 0.1 ? LEVEL_GOOD : v < 0.3 ? LEVEL_WARN : LEVEL_BAD;
	case RATE_DEFERRAL:
		return v < 10 ? LEVEL_GOOD : v < 25 ? LEVEL_WARN : LEVEL_BAD;
	case RATE_DELIVERY:
		return v >= 97 ? LEVEL_GOOD : v >= 90 ? LEVEL_WARN : LEVEL_BAD;
	case RATE_P50:
	case RATE_P95:
		return v < 60 ? LEVEL_GOOD : v < 300 ? LEVEL_WARN : LEVEL_BAD;
	default:
		return LEVEL_NONE;
	}
}

/* "0.033" per second, "97.5" percent, "0.125" complaint percent (its
 * threshold is a tenth of a percent), "1.2" seconds, "-" when there is
 * no data. */
void
rates_format(enum rate r, double v, char *out, size_t n)
{
	if (v < 0)
		snprintf(out, n, "-");
	else if (r == RATE_COMPLAINT)
		snprintf(out, n, "%.3f", v);
	else if (rates_is_percent(r) || r == RATE_P50 || r == RATE_P95)
		snprintf(out, n, "%.1f", v);
	else
		snprintf(out, n, "%.3f", v);
}
