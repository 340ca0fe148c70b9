// sources: gwd/alertstat.c gwd/metrics.c
/*
 * test_alertstat.c - the rates alerts watch (gwd/alertstat.h): which
 * scopes an outcome counts in, what each rate divides, too few outcomes
 * (NAN), the window's end, and the latency percentile's bucket.
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

#include "alertstat.h"

#define S	1000000LL	/* a second, in µs */
#define T0	(1800000000LL * S)

static void
test_rates_and_scopes(void **state)
{
	alertstat_init(60000);		/* a minute: slots of 1 s */
	alertstat_watch("s:shop");
	alertstat_watch("d:dest.example");
	/* shop: 3 delivered, 1 hard bounce, 1 soft, 2 deferrals, all to
	 * dest.example (written in capitals once); another sub, elsewhere,
	 * 5 delivered. */
	for (int i = 0; i < 3; i++)
		alertstat_outcome("shop", "a@dest.example", GM_DELIVERED,
		    BC_NONE, T0 - 2 * S, T0);
	alertstat_outcome("shop", "b@DEST.example", GM_BOUNCED, BC_HARD, 0,
	    T0);
	alertstat_outcome("shop", "c@dest.example", GM_EXPIRED, BC_SOFT, 0,
	    T0);
	alertstat_outcome("shop", "c@dest.example", GM_DEFERRED, BC_SOFT, 0,
	    T0);
	alertstat_outcome("shop", "c@dest.example", GM_DEFERRED, BC_SOFT, 0,
	    T0);
	for (int i = 0; i < 5; i++)
		alertstat_outcome("other", "x@else.example", GM_DELIVERED,
		    BC_NONE, T0 - S, T0);
	alertstat_complaint("shop", "a@dest.example", T0);

	assert_true(alertstat_value("s:shop", AM_BOUNCE_RATE, 1, T0) == 40);
	assert_true(alertstat_value("s:shop", AM_HARD_BOUNCE_RATE, 1, T0) ==
	    20);
	assert_true(alertstat_value("s:shop", AM_COMPLAINT_RATE, 1, T0) ==
	    20);
	/* 2 deferred of 7 attempts. */
	assert_true(fabs(alertstat_value("s:shop", AM_DEFERRAL_RATE, 1, T0) -
	    200.0 / 7) < 1e-9);
	assert_true(alertstat_value("d:dest.example", AM_BOUNCE_RATE, 1, T0) ==
	    40);
	/* All mail: 2 of 10. */
	assert_true(alertstat_value(NULL, AM_BOUNCE_RATE, 1, T0) == 20);
	/* Too few outcomes, or a scope nobody watches: not known. */
	assert_true(isnan(alertstat_value("s:shop", AM_BOUNCE_RATE, 6, T0)));
	assert_true(isnan(alertstat_value("s:other", AM_BOUNCE_RATE, 1, T0)));
	/* The latency of 3 deliveries of 2 s: the bucket bound above 2 s. */
	{
		double p = alertstat_value("s:shop", AM_LATENCY_P95, 1, T0);

		assert_true(p >= 2 && p <= 5);
	}
	/* A minute on, the window holds none of it. */
	assert_true(isnan(alertstat_value("s:shop", AM_BOUNCE_RATE, 1,
	    T0 + 60 * S)));
	assert_true(alertstat_value("s:shop", AM_BOUNCE_RATE, 1,
	    T0 + 59 * S) == 40);
	/* New outcomes then: only they count. */
	alertstat_outcome("shop", "a@dest.example", GM_DELIVERED, BC_NONE, 0,
	    T0 + 61 * S);
	assert_true(alertstat_value("s:shop", AM_BOUNCE_RATE, 1,
	    T0 + 61 * S) == 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rates_and_scopes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
