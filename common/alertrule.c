/*
 * alertrule.c - alert metrics, notification targets, the firing/resolved
 * state machine and the volume baseline (see alertrule.h).
 * Exposure: alert_target_parse() reads what an admin typed (gwctl) or
 * gw.db holds; bounded, control characters refused.
 * Diagnostics: none; errors go back in the caller's buffer.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "alertrule.h"
#include "util.h"

static const struct {
	const char	*name;
	const char	*unit;
	int		 scopes;
} metrics[AM_COUNT] = {
	[AM_BOUNCE_RATE] = { "bounce_rate", "%",
	    ALERT_SCOPE_SUB | ALERT_SCOPE_DOMAIN },
	[AM_HARD_BOUNCE_RATE] = { "hard_bounce_rate", "%",
	    ALERT_SCOPE_SUB | ALERT_SCOPE_DOMAIN },
	[AM_COMPLAINT_RATE] = { "complaint_rate", "%",
	    ALERT_SCOPE_SUB | ALERT_SCOPE_DOMAIN },
	[AM_DEFERRAL_RATE] = { "deferral_rate", "%",
	    ALERT_SCOPE_SUB | ALERT_SCOPE_DOMAIN },
	[AM_QUEUE_DEPTH] = { "queue_depth", " recipients", 0 },
	[AM_OLDEST_QUEUED] = { "oldest_queued", " s", 0 },
	[AM_LATENCY_P95] = { "latency_p95", " s",
	    ALERT_SCOPE_SUB | ALERT_SCOPE_DOMAIN },
	[AM_VOLUME_ANOMALY] = { "volume_anomaly", "", ALERT_SCOPE_SUB },
};

int
alert_metric_lookup(const char *s)
{
	for (int i = 0; i < AM_COUNT; i++)
		if (strcmp(s, metrics[i].name) == 0)
			return i;
	return -1;
}

const char *
alert_metric_name(enum alert_metric m)
{
	return (unsigned)m < AM_COUNT ? metrics[m].name : "unknown";
}

int
alert_metric_scopes(enum alert_metric m)
{
	return (unsigned)m < AM_COUNT ? metrics[m].scopes : 0;
}

int
alert_metric_needs_sub(enum alert_metric m)
{
	return m == AM_VOLUME_ANOMALY;
}

const char *
alert_metric_unit(enum alert_metric m)
{
	return (unsigned)m < AM_COUNT ? metrics[m].unit : "";
}

const char *
alert_metric_names(void)
{
	return "bounce_rate|hard_bounce_rate|complaint_rate|deferral_rate|"
	    "queue_depth|oldest_queued|latency_p95|volume_anomaly";
}

int
alert_valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > ALERT_NAME_MAX)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789-_.") == n;
}

static int
target_err(char *err, size_t errsz, const char *why)
{
	snprintf(err, errsz, "%s", why);
	return -1;
}

int
alert_target_parse(const char *s, enum alert_target_kind *kind,
    const char **value, char *err, size_t errsz)
{
	size_t n = strlen(s);
	char canon[ADDR_PATH_MAX + 1];

	if (n > ALERT_TARGET_MAX)
		return target_err(err, errsz, "longer than 1024 bytes");
	if (str_has_ctl(s, n) || strchr(s, ' ') != NULL)
		return target_err(err, errsz, "holds a space or a control "
		    "character");
	if (strncmp(s, "mailto:", 7) == 0) {
		*kind = AT_MAIL;
		*value = s + 7;
		if (addr_canon(s + 7, 0, canon, sizeof(canon)) == -1 ||
		    strchr(s + 7, '@') == NULL)
			return target_err(err, errsz, "mailto: needs one mail "
			    "address (mailto:ops@example.com)");
		return 0;
	}
	if (strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0) {
		*kind = AT_WEBHOOK;
		*value = s;
		if (s[strcspn(s, ":") + 3] == '\0' ||
		    s[strcspn(s, ":") + 3] == '/')
			return target_err(err, errsz, "the URL has no host");
		return 0;
	}
	if (strncmp(s, "pagerduty:", 10) == 0) {
		*kind = AT_PAGERDUTY;
		*value = s + 10;
		if (s[10] == '\0' || strlen(s + 10) > 64 || strspn(s + 10,
		    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789") != strlen(s + 10))
			return target_err(err, errsz, "pagerduty: needs the "
			    "integration's routing key (1 to 64 letters and "
			    "digits)");
		return 0;
	}
	return target_err(err, errsz, "not mailto:ADDRESS, https://URL or "
	    "pagerduty:ROUTING-KEY");
}

enum alert_change
alert_step(struct alert_state *a, double v, double above, double clear,
    int64_t for_us, int64_t now)
{
	if (isnan(v))
		return AC_NONE;
	switch (a->st) {
	case AS_OK:
		if (!(v > above))
			return AC_NONE;
		a->st = AS_PENDING;
		a->since_us = now;
		/* FALLTHROUGH */
	case AS_PENDING:
		if (!(v > above)) {
			a->st = AS_OK;
			return AC_NONE;
		}
		if (now - a->since_us < for_us)
			return AC_NONE;
		a->st = AS_FIRING;
		a->fired_us = now;
		return AC_FIRED;
	case AS_FIRING:
		if (!(v < clear))
			return AC_NONE;
		a->st = AS_RESOLVING;
		a->since_us = now;
		/* FALLTHROUGH */
	case AS_RESOLVING:
		if (!(v < clear)) {
			a->st = AS_FIRING;
			return AC_NONE;
		}
		if (now - a->since_us < for_us)
			return AC_NONE;
		a->st = AS_OK;
		return AC_RESOLVED;
	}
	return AC_NONE;
}

int
alert_is_firing(const struct alert_state *a)
{
	return a->st == AS_FIRING || a->st == AS_RESOLVING;
}

size_t
vol_samples_max(const struct vol_shape *sh)
{
	return (size_t)sh->periods * (size_t)(sh->span + 1);
}

size_t
vol_gather(const uint32_t *ring, size_t ringlen, int64_t first, int64_t now,
    const struct vol_shape *sh, uint32_t *out)
{
	size_t n = 0;

	for (int k = 1; k <= sh->periods; k++) {
		int64_t mid = now - (int64_t)k * sh->period;

		for (int64_t b = mid - sh->span / 2; b <= mid + sh->span / 2;
		    b++) {
			/* Only buckets history covers, and never one the
			 * ring has reused for a later bucket. */
			if (b < first || b >= now || now - b >= (int64_t)ringlen)
				continue;
			out[n++] = ring[(size_t)b % ringlen];
		}
	}
	return n;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The median of n sorted values. */
static double
median_sorted(const uint32_t *v, size_t n)
{
	return n % 2 ? v[n / 2] : ((double)v[n / 2 - 1] + v[n / 2]) / 2;
}

int
vol_baseline(uint32_t *s, size_t n, size_t min_samples,
    struct vol_baseline *b)
{
	uint32_t *dev;
	double m;

	memset(b, 0, sizeof(*b));
	if (n == 0 || n < min_samples)
		return -1;
	qsort(s, n, sizeof(*s), cmp_u32);
	m = median_sorted(s, n);
	dev = xcalloc(n, sizeof(*dev));
	/* Deviations doubled, so a half-integer median stays exact. */
	for (size_t i = 0; i < n; i++)
		dev[i] = (uint32_t)fabs(2.0 * s[i] - 2.0 * m);
	qsort(dev, n, sizeof(*dev), cmp_u32);
	b->mad = median_sorted(dev, n) / 2;
	free(dev);
	b->median = m;
	b->n = n;
	b->scale = 1.4826 * b->mad;
	if (b->scale < sqrt(m))
		b->scale = sqrt(m);
	if (b->scale < 1)
		b->scale = 1;
	return 0;
}

double
vol_score(const struct vol_baseline *b, uint32_t cur, uint32_t minimum)
{
	if (cur < minimum || cur <= b->median)
		return 0;
	return ((double)cur - b->median) / b->scale;
}

uint32_t
vol_safe_rate(const struct vol_baseline *b, double above, uint32_t minimum)
{
	double r = floor(b->median + above * b->scale);

	if (r > UINT32_MAX)
		r = UINT32_MAX;
	return r < minimum ? minimum : (uint32_t)r;
}
