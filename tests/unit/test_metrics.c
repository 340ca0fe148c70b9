// sources: gwd/metrics.c
/*
 * test_metrics.c - gwd's counters without a daemon: histogram buckets at
 * and past their bounds, each result and class counted once, and the
 * per-subaccount table through its growth.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"
#include "util.h"

static uint64_t
bucket(enum gm_hist_id id, int i)
{
	return atomic_load(&gm.hist[id].counts[i]);
}

static void
test_histogram(void **state)
{
	const double *b;
	int n = metrics_hist_bounds(GM_HIST_COMMIT, &b);
	static const struct {
		const char	*name;
		int64_t		 us;
		int		 bucket;	/* -1: +Inf */
	} cases[] = {
		{ "zero", 0, 0 },
		{ "clock stepped back", -5, 0 },
		{ "equal to the first bound", 500, 0 },
		{ "just above it", 501, 1 },
		{ "equal to the last bound", 10000000, -2 },
		{ "above every bound", 10000001, -1 },
	};
	uint64_t sum = 0;

	memset(&gm, 0, sizeof(gm));
	assert_true(n > 2 && n < GM_HIST_MAX);
	assert_true(b[0] == 0.0005 && b[n - 1] == 10);
	for (size_t i = 0; i < nitems(cases); i++) {
		int k = cases[i].bucket < 0 ? n + 1 + cases[i].bucket :
		    cases[i].bucket;
		uint64_t before = bucket(GM_HIST_COMMIT, k);

		metrics_observe(GM_HIST_COMMIT, cases[i].us);
		if (bucket(GM_HIST_COMMIT, k) != before + 1)
			fail_msg("%s: not in bucket %d", cases[i].name, k);
		sum += cases[i].us > 0 ? (uint64_t)cases[i].us : 0;
	}
	assert_int_equal(atomic_load(&gm.hist[GM_HIST_COMMIT].sum_us), sum);
	/* The other histogram saw nothing. */
	for (int i = 0; i < GM_HIST_MAX; i++)
		assert_int_equal(bucket(GM_HIST_DELIVERY, i), 0);
}

static void
count_sub(const char *name, const uint64_t *c, void *arg)
{
	int *i = arg;
	char want[32];

	snprintf(want, sizeof(want), "sub%d", *i);
	assert_string_equal(name, want);	/* in the order first seen */
	assert_int_equal(c[GM_SUB_ACCEPTED], (uint64_t)*i % 7);
	assert_int_equal(c[GM_SUB_DELIVERED], *i == 3 ? 1 : 0);
	assert_int_equal(c[GM_SUB_BOUNCED], *i == 3 ? 2 : 0);
	(*i)++;
}

static void
test_subaccounts_and_deliveries(void **state)
{
	char name[32];
	int seen = 0;

	memset(&gm, 0, sizeof(gm));
	/* 1000 names: the index grows many times over. */
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "sub%d", i);
		metrics_sub_add(name, GM_SUB_ACCEPTED, 0);
	}
	for (int i = 999; i >= 0; i--) {
		snprintf(name, sizeof(name), "sub%d", i);
		metrics_sub_add(name, GM_SUB_ACCEPTED, (uint64_t)i % 7);
	}
	metrics_sub_add("", GM_SUB_ACCEPTED, 1);	/* none: not counted */
	metrics_sub_add(NULL, GM_SUB_ACCEPTED, 1);
	metrics_delivery("sub3", GM_DELIVERED, BC_NONE, now_us());
	metrics_delivery("sub3", GM_BOUNCED, BC_HARD, 0);
	metrics_delivery("sub3", GM_EXPIRED, BC_SOFT, 0);
	metrics_delivery("sub3", GM_DEFERRED, BC_SOFT, 0);
	metrics_delivery(NULL, GM_DELIVERED, BC_NONE, now_us());  /* a DSN */
	metrics_sub_foreach(count_sub, &seen);
	assert_int_equal(seen, 1000);
	assert_int_equal(metrics_result_total(GM_DELIVERED), 2);
	assert_int_equal(metrics_result_total(GM_BOUNCED), 1);
	assert_int_equal(metrics_result_total(GM_EXPIRED), 1);
	assert_int_equal(metrics_result_total(GM_DEFERRED), 1);
	assert_int_equal(gm.deliveries[GM_BOUNCED][BC_HARD], 1);
	assert_int_equal(gm.deliveries[GM_EXPIRED][BC_SOFT], 1);
	/* Only deliveries have a latency. */
	uint64_t n = 0;
	for (int i = 0; i < GM_HIST_MAX; i++)
		n += bucket(GM_HIST_DELIVERY, i);
	assert_int_equal(n, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_subaccounts_and_deliveries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
