// sources:
/*
 * test_alertrule.c - the pure parts of alerts (common/alertrule.h): targets,
 * the firing/resolved state machine with its hysteresis, and the
 * volume baseline (which buckets are samples, median, MAD, score).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "alertrule.h"

static void
test_targets(void **state)
{
	static const struct {
		const char		*in;
		int			 ok;
		enum alert_target_kind	 kind;
		const char		*value;
	} t[] = {
		{ "mailto:ops@example.com", 1, AT_MAIL, "ops@example.com" },
		{ "mailto:", 0, 0, NULL },
		{ "mailto:nobody", 0, 0, NULL },
		{ "mailto:a@b.example,c@d.example", 0, 0, NULL },
		{ "https://hooks.slack.example/services/T/B/x", 1, AT_WEBHOOK,
		    "https://hooks.slack.example/services/T/B/x" },
		{ "http://127.0.0.1:8080/hook", 1, AT_WEBHOOK,
		    "http://127.0.0.1:8080/hook" },
		{ "https://", 0, 0, NULL },
		{ "https:///path", 0, 0, NULL },
		{ "https://a.example/x y", 0, 0, NULL },
		{ "https://a.example/\r\nX: y", 0, 0, NULL },
		{ "pagerduty:R0123abc", 1, AT_PAGERDUTY, "R0123abc" },
		{ "pagerduty:", 0, 0, NULL },
		{ "pagerduty:a-b", 0, 0, NULL },
		{ "ftp://a.example/", 0, 0, NULL },
		{ "ops@example.com", 0, 0, NULL },
	};
	enum alert_target_kind k;
	const char *v;
	char err[200];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int r = alert_target_parse(t[i].in, &k, &v, err, sizeof(err));

		if (r != (t[i].ok ? 0 : -1))
			fail_msg("%s: %d", t[i].in, r);
		if (t[i].ok) {
			assert_int_equal(k, t[i].kind);
			assert_string_equal(v, t[i].value);
		} else
			assert_true(err[0] != '\0');
	}
}

static void
test_metric_names(void **state)
{
	for (int i = 0; i < AM_COUNT; i++)
		assert_int_equal(alert_metric_lookup(alert_metric_name(i)), i);
	assert_int_equal(alert_metric_lookup("bounce"), -1);
	assert_true(alert_metric_scopes(AM_QUEUE_DEPTH) == 0);
	assert_true(alert_metric_needs_sub(AM_VOLUME_ANOMALY));
	assert_true(alert_valid_name("bounces-eu.1"));
	assert_false(alert_valid_name(""));
	assert_false(alert_valid_name("a b"));
}

#define S	1000000		/* a second, in µs */

/* Threshold 5, clear 4.5, for 10 s: each row is a value at a time and
 * the change it must make. */
static void
test_hysteresis(void **state)
{
	static const struct {
		double			 v;
		int64_t			 t;
		enum alert_change	 want;
		enum alert_st		 st;
	} seq[] = {
		{ 1, 0, AC_NONE, AS_OK },
		{ 6, 1, AC_NONE, AS_PENDING },
		/* Back to the threshold: pending starts over. */
		{ 5, 5, AC_NONE, AS_OK },
		{ 6, 6, AC_NONE, AS_PENDING },
		/* Too little to tell: pending keeps its start. */
		{ NAN, 10, AC_NONE, AS_PENDING },
		{ 7, 15, AC_NONE, AS_PENDING },
		{ 7, 16, AC_FIRED, AS_FIRING },
		/* Firing again is no new change. */
		{ 9, 30, AC_NONE, AS_FIRING },
		/* Between clear and the threshold: still firing. */
		{ 4.6, 40, AC_NONE, AS_FIRING },
		{ 4.9, 100, AC_NONE, AS_FIRING },
		/* Below clear, then back up before for: no flap. */
		{ 4, 101, AC_NONE, AS_RESOLVING },
		{ 4.5, 105, AC_NONE, AS_FIRING },
		{ 1, 106, AC_NONE, AS_RESOLVING },
		{ 1, 115, AC_NONE, AS_RESOLVING },
		/* No outcomes (a restart): no resolving on nothing. */
		{ NAN, 116, AC_NONE, AS_RESOLVING },
		{ 0, 116, AC_RESOLVED, AS_OK },
		{ 0, 200, AC_NONE, AS_OK },
	};
	struct alert_state a = { 0 };

	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		enum alert_change c = alert_step(&a, seq[i].v, 5, 4.5, 10 * S,
		    seq[i].t * S);

		if (c != seq[i].want || a.st != seq[i].st)
			fail_msg("step %zu: change %d state %d", i, c, a.st);
	}
}

/* for 0: the first value above fires, the first below clear resolves. */
static void
test_hysteresis_immediate(void **state)
{
	struct alert_state a = { 0 };

	assert_int_equal(alert_step(&a, 10, 5, 4.5, 0, S), AC_FIRED);
	assert_int_equal(a.fired_us, S);
	assert_true(alert_is_firing(&a));
	assert_int_equal(alert_step(&a, 4.7, 5, 4.5, 0, 2 * S), AC_NONE);
	assert_int_equal(alert_step(&a, 4.4, 5, 4.5, 0, 3 * S), AC_RESOLVED);
	assert_false(alert_is_firing(&a));
}

/* Which buckets are the samples of bucket now: span around the same
 * time of each previous period that history covers, none of the ring's
 * reused slots. */
static void
test_gather(void **state)
{
	struct vol_shape sh = { .period = 10, .span = 2, .periods = 3 };
	uint32_t ring[40], out[16];
	size_t n;

	assert_int_equal(vol_samples_max(&sh), 9);
	for (uint32_t b = 0; b < 40; b++)
		ring[b] = 1000 + b;	/* bucket b of 0..39 */
	/* now = 35: periods back at 25, 15, 5, each +-1. */
	n = vol_gather(ring, 40, 0, 35, &sh, out);
	assert_int_equal(n, 9);
	assert_int_equal(out[0], 1024);
	assert_int_equal(out[1], 1025);
	assert_int_equal(out[2], 1026);
	assert_int_equal(out[8], 1006);
	/* History from bucket 15 only: two periods. */
	n = vol_gather(ring, 40, 15, 35, &sh, out);
	assert_int_equal(n, 5);		/* 24..26, 15..16 */
	assert_int_equal(out[3], 1015);
	/* A ring shorter than the history: what it reused is left out. */
	n = vol_gather(ring, 20, 0, 35, &sh, out);
	assert_int_equal(n, 4);		/* 24..26 and 16 (19 back); 15 reused */
}

static void
test_baseline(void **state)
{
	/* A steady account with one odd bucket: the outlier moves neither
	 * median nor MAD (a mean and deviation would move). */
	uint32_t s[] = { 100, 104, 96, 100, 102, 98, 5000, 100, 101, 99 };
	struct vol_baseline b;

	assert_int_equal(vol_baseline(s, 10, 5, &b), 0);
	assert_true(b.median == 100);
	assert_true(b.mad == 1.5);
	/* MAD 1.5 * 1.4826 < sqrt(100): the Poisson floor. */
	assert_true(b.scale == 10);
	assert_true(vol_score(&b, 150, 50) == 5);
	assert_true(vol_score(&b, 90, 50) == 0);
	assert_int_equal(vol_safe_rate(&b, 5, 50), 150);
	/* Too few samples: no baseline. */
	assert_int_equal(vol_baseline(s, 3, 5, &b), -1);
}

/* A quiet account (median 0, MAD 0): scale 1, and the floor keeps a
 * handful of messages from being an anomaly. */
static void
test_baseline_quiet(void **state)
{
	uint32_t s[20] = { 0 };
	struct vol_baseline b;

	s[3] = 2;
	assert_int_equal(vol_baseline(s, 20, 5, &b), 0);
	assert_true(b.median == 0 && b.mad == 0 && b.scale == 1);
	assert_true(vol_score(&b, 9, 10) == 0);
	assert_true(vol_score(&b, 30, 10) == 30);
	assert_int_equal(vol_safe_rate(&b, 5, 10), 10);
}

/* A spread-out account: MAD rules the scale, an even count halves. */
static void
test_baseline_spread(void **state)
{
	uint32_t s[] = { 10, 50, 90, 30, 70, 110 };
	struct vol_baseline b;

	assert_int_equal(vol_baseline(s, 6, 1, &b), 0);
	assert_true(b.median == 60);
	assert_true(b.mad == 30);
	assert_true(b.scale > 44.47 && b.scale < 44.49);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_targets),
		cmocka_unit_test(test_metric_names),
		cmocka_unit_test(test_hysteresis),
		cmocka_unit_test(test_hysteresis_immediate),
		cmocka_unit_test(test_gather),
		cmocka_unit_test(test_baseline),
		cmocka_unit_test(test_baseline_quiet),
		cmocka_unit_test(test_baseline_spread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
