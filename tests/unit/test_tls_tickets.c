// sources: gwd/tls.c
/*
 * test_tls_tickets.c - the session ticket key ring: the newest key seals,
 * the one before still opens (asking for a new ticket), and a key two
 * periods old opens nothing, whenever the ring is next looked at.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tls.h"

#define P	3600000		/* one period, ms */

static void
test_seal_open_rotate(void **state)
{
	struct ticket_keys t;
	unsigned char a[TICKET_NAME_LEN], b[TICKET_NAME_LEN];
	const struct ticket_key *k;
	int renew = -1;

	ticket_keys_init(&t, P, 1000);
	memcpy(a, ticket_keys_seal(&t, 1000)->name, sizeof(a));
	/* Within the period: the same key seals, and opens fresh. */
	assert_memory_equal(ticket_keys_seal(&t, 1000 + P - 1)->name, a,
	    sizeof(a));
	k = ticket_keys_open(&t, a, 1000 + P - 1, &renew);
	assert_non_null(k);
	assert_int_equal(renew, 0);
	/* One period on: a new key seals; the old one opens, renewing. */
	memcpy(b, ticket_keys_seal(&t, 1000 + P)->name, sizeof(b));
	assert_memory_not_equal(a, b, sizeof(a));
	k = ticket_keys_open(&t, a, 1000 + P + 1, &renew);
	assert_non_null(k);
	assert_int_equal(renew, 1);
	k = ticket_keys_open(&t, b, 1000 + P + 1, &renew);
	assert_non_null(k);
	assert_int_equal(renew, 0);
	/* Another period: a is gone, b still opens. */
	assert_null(ticket_keys_open(&t, a, 1000 + 2 * P, &renew));
	assert_non_null(ticket_keys_open(&t, b, 1000 + 2 * P, &renew));
	assert_int_equal(renew, 1);
}

static void
test_long_silence_forgets_both(void **state)
{
	struct ticket_keys t;
	unsigned char a[TICKET_NAME_LEN];
	int renew;

	ticket_keys_init(&t, P, 0);
	memcpy(a, ticket_keys_seal(&t, 0)->name, sizeof(a));
	/* Nothing looked at the ring for two periods: a key that sealed
	 * tickets two periods ago must not open them, even though the ring
	 * turned only once since. */
	assert_null(ticket_keys_open(&t, a, 2 * P, &renew));
	assert_memory_not_equal(ticket_keys_seal(&t, 2 * P)->name, a,
	    sizeof(a));
}

static void
test_unknown_name(void **state)
{
	struct ticket_keys t;
	unsigned char z[TICKET_NAME_LEN] = { 0 };
	int renew;

	ticket_keys_init(&t, P, 0);
	assert_null(ticket_keys_open(&t, z, 1, &renew));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seal_open_rotate),
		cmocka_unit_test(test_long_silence_forgets_both),
		cmocka_unit_test(test_unknown_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
