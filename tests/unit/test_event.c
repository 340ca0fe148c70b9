// sources:
/*
 * test_event.c - the table of audit event actions that gwd, gwsearch
 * and gwtop share: every action has one name, names come back to their
 * action, unknown names have a neutral row, and the list of names that
 * error messages print holds every one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "event.h"

static void
test_names_round_trip(void **state)
{
	for (int i = 0; i < EV_COUNT; i++) {
		const char *n = event_name((enum event_action)i);

		assert_non_null(n);
		assert_int_equal(event_lookup(n), i);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(n, event_name(
			    (enum event_action)j));
	}
}

static void
test_rows_in_range(void **state)
{
	for (int i = -1; i <= EV_COUNT; i++) {
		const struct event_kind *k = event_kind(i);

		assert_true(k->cef_severity >= 0 && k->cef_severity <= 10);
		assert_true(k->outcome <= EO_FAILURE);
		assert_true(k->phase <= EP_OTHER);
		assert_true(k->tone <= ET_BAD);
	}
}

/* What gwsearch exports and gwtop shows, as they did before the table. */
static void
test_known_rows(void **state)
{
	static const struct {
		const char	*name;
		const char	*outcome;
		int		 cef;
		enum event_phase phase;
		enum event_tone	 tone;
	} rows[] = {
		{ "received", "success", 3, EP_RECEIVED, ET_PLAIN },
		{ "delivered", "success", 3, EP_ATTEMPT, ET_GOOD },
		{ "deferred", "unknown", 5, EP_ATTEMPT, ET_WARN },
		{ "bounced", "failure", 7, EP_ATTEMPT, ET_BAD },
		{ "expired", "failure", 7, EP_ATTEMPT, ET_BAD },
		{ "rejected", "failure", 5, EP_POLICY, ET_BAD },
		{ "quarantined", "unknown", 7, EP_POLICY, ET_PLAIN },
		{ "unsigned", "unknown", 5, EP_SIGNING, ET_PLAIN },
		{ "dsn", "success", 3, EP_OTHER, ET_PLAIN },
		{ "deleted", "failure", 3, EP_ATTEMPT, ET_PLAIN },
		{ "auth", "failure", 5, EP_OTHER, ET_PLAIN },
		{ "held", "unknown", 3, EP_OTHER, ET_PLAIN },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct event_kind *k = event_kind(event_lookup(
		    rows[i].name));

		assert_string_equal(k->name, rows[i].name);
		assert_string_equal(event_outcome_name(k->outcome),
		    rows[i].outcome);
		assert_int_equal(k->cef_severity, rows[i].cef);
		assert_int_equal(k->phase, rows[i].phase);
		assert_int_equal(k->tone, rows[i].tone);
	}
}

static void
test_unknown(void **state)
{
	const struct event_kind *k;

	assert_int_equal(event_lookup("teleported"), -1);
	assert_int_equal(event_lookup(""), -1);
	assert_int_equal(event_lookup("Received"), -1);
	assert_int_equal(event_lookup(NULL), -1);
	k = event_kind(-1);
	assert_null(k->name);
	assert_string_equal(event_outcome_name(k->outcome), "unknown");
	assert_int_equal(k->cef_severity, 3);
	assert_int_equal(k->phase, EP_OTHER);
	assert_int_equal(k->tone, ET_PLAIN);
	assert_ptr_equal(event_kind(EV_COUNT), k);
}

/* The counted outcomes come first, in gwtop's and stats' column order. */
static void
test_tally_order(void **state)
{
	static const char *const want[] = { "received", "delivered",
	    "deferred", "bounced", "expired", "rejected" };

	assert_int_equal(EV_NTALLY, 6);
	for (int i = 0; i < EV_NTALLY; i++)
		assert_string_equal(event_name((enum event_action)i), want[i]);
}

static void
test_names_list(void **state)
{
	char out[512], tiny[40];

	assert_int_equal(event_names(out, sizeof(out)), 0);
	assert_true(strncmp(out, "received, delivered, ", 21) == 0);
	assert_non_null(strstr(out, " or sts_fetch_failed"));
	for (int i = 0; i < EV_COUNT; i++)
		assert_non_null(strstr(out, event_name((enum event_action)i)));
	assert_int_equal(event_names(tiny, sizeof(tiny)), -1);
	assert_int_equal(event_names(tiny, 0), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_round_trip),
		cmocka_unit_test(test_rows_in_range),
		cmocka_unit_test(test_known_rows),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_tally_order),
		cmocka_unit_test(test_names_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
