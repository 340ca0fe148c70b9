/*
 * alertrule.h - the pure parts of alerts (gwctl alert, gwd/alert.c): the
 * metrics an alert can watch, its notification targets, the state
 * machine that turns a value into "fired" and "resolved" with
 * hysteresis, and the volume baseline (median and MAD of the same time
 * of the previous days).  No I/O: unit-tested in tests/unit/test_alert.c.
 */
#ifndef GW_ALERTRULE_H
#define GW_ALERTRULE_H

#include <stddef.h>
#include <stdint.h>

#define ALERT_NAME_MAX		64
#define ALERT_TARGET_MAX	1024	/* one --notify */
#define ALERT_TARGETS_MAX	16	/* --notify per alert */

enum alert_metric {
	AM_BOUNCE_RATE,		/* % of final outcomes bounced/expired */
	AM_HARD_BOUNCE_RATE,	/* % of final outcomes hard-bounced */
	AM_COMPLAINT_RATE,	/* % of final outcomes complained of */
	AM_DEFERRAL_RATE,	/* % of delivery attempts deferred */
	AM_QUEUE_DEPTH,		/* recipients queued */
	AM_OLDEST_QUEUED,	/* seconds, the oldest queued message */
	AM_LATENCY_P95,		/* seconds, acceptance to delivery */
	AM_VOLUME_ANOMALY,	/* robust score of the last bucket's volume */
	AM_COUNT
};

/* The scopes a metric can take besides "everything". */
#define ALERT_SCOPE_SUB		0x01
#define ALERT_SCOPE_DOMAIN	0x02

/* "bounce_rate", ...; -1 for a name that is not one. */
int		 alert_metric_lookup(const char *);
const char	*alert_metric_name(enum alert_metric);
/* ALERT_SCOPE_* bits the metric accepts; volume_anomaly needs a
 * subaccount (alert_metric_needs_sub). */
int		 alert_metric_scopes(enum alert_metric);
int		 alert_metric_needs_sub(enum alert_metric);
/* "%", "recipients", "s", "" (a score): for messages. */
const char	*alert_metric_unit(enum alert_metric);
/* Every metric name, "a|b|...", for usage. */
const char	*alert_metric_names(void);

/* 1..64 letters, digits, '-', '_', '.'. */
int		 alert_valid_name(const char *);

enum alert_target_kind { AT_MAIL, AT_WEBHOOK, AT_PAGERDUTY };

/*
 * A --notify value: mailto:ADDRESS, http(s)://URL (Slack's {"text": ...}
 * shape) or pagerduty:ROUTING-KEY.  0 with the kind and where the value
 * begins (the address, the whole URL, the key), or -1 with why in err.
 */
int		 alert_target_parse(const char *, enum alert_target_kind *,
		    const char **value, char *err, size_t errsz);

/*
 * The state machine of one alert.  A value above the threshold for
 * for_us fires; a firing alert resolves once the value stayed below
 * clear (a lower bound, the threshold times the resolve ratio) for
 * for_us too.  A pending alert whose value falls back to the threshold
 * starts over; a firing one whose value is between clear and the
 * threshold stays firing: that band is what stops flapping.  A value of
 * NAN (too little to tell) changes nothing: no firing, no resolving,
 * and a pending or resolving alert keeps its start.
 */
enum alert_st { AS_OK, AS_PENDING, AS_FIRING, AS_RESOLVING };
enum alert_change { AC_NONE, AC_FIRED, AC_RESOLVED };

struct alert_state {
	enum alert_st	 st;
	int64_t		 since_us;	/* PENDING, RESOLVING: from when */
	int64_t		 fired_us;	/* FIRING, RESOLVING: when it fired */
};

enum alert_change alert_step(struct alert_state *, double value,
		    double above, double clear, int64_t for_us,
		    int64_t now_us);
/* 1 while a notification of firing stands (FIRING or RESOLVING). */
int		 alert_is_firing(const struct alert_state *);

/*
 * Volume baseline.  History is a ring of counts per bucket: ring[b %
 * ringlen] holds bucket b (absolute bucket numbers, time / bucket
 * length), valid from bucket `first` (the oldest one history covers).
 * The samples are the buckets within span/2 of the same time in each of
 * the `periods` previous periods (days), those history covers.
 */
struct vol_shape {
	int64_t		 period;	/* buckets in a period (a day) */
	int64_t		 span;		/* buckets around the same time */
	int		 periods;	/* how many periods back */
};

/* How many samples vol_gather() may write at most. */
size_t		 vol_samples_max(const struct vol_shape *);
/* The samples for bucket now into out; returns how many. */
size_t		 vol_gather(const uint32_t *ring, size_t ringlen,
		    int64_t first, int64_t now, const struct vol_shape *,
		    uint32_t *out);

struct vol_baseline {
	double		 median;
	double		 mad;		/* median absolute deviation */
	double		 scale;		/* what one unit of score is */
	size_t		 n;		/* samples it is made of */
};

/*
 * The baseline of n samples (sorted in place): median, MAD, and the
 * scale of the score, 1.4826 * MAD (a standard deviation for normal
 * data) but never below sqrt(median) (the spread of a Poisson count: a
 * steady account has MAD 0) nor 1.  -1 when n < min_samples.
 */
int		 vol_baseline(uint32_t *samples, size_t n, size_t min_samples,
		    struct vol_baseline *);
/* How far above normal current is, in scales; 0 when current is below
 * floor (a quiet account's burst of a few messages is no anomaly). */
double		 vol_score(const struct vol_baseline *, uint32_t current,
		    uint32_t minimum);
/* The most messages per bucket whose score stays at `above` (at least
 * floor): the rate a throttled subaccount keeps. */
uint32_t	 vol_safe_rate(const struct vol_baseline *, double above,
		    uint32_t minimum);

#endif
