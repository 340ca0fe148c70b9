// sources: gwd/whsig.c gwd/hookset.c
/*
 * test_webhook_pure.c - the pure parts of webhooks: the GW-Signature
 * value (vectors from Python's hmac module, an implementation of its
 * own) and the --events lists gwd accepts from gw.db.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "event.h"
#include "hookset.h"
#include "whsig.h"

static void
test_signature_vectors(void **state)
{
	static const struct {
		const char	*secret;
		int64_t		 t;
		const char	*body;
		const char	*want;
	} v[] = {
		{ "whsec-test", 1765065600, "{\"events\":[]}",
		  "t=1765065600,v1=f07448bb3de6d5b7c91c6433eb22c424a5adcb87"
		  "a2d13fc0914ac13930563ed7" },
		{ "k", 0, "",
		  "t=0,v1=6b4a4b8b3c40f1e8f53a3d36682e5f99f7ad2ac1df1c93df"
		  "e336f329167641e7" },
	};
	char out[WHSIG_MAX];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(whsig_value(v[i].secret, v[i].t, v[i].body,
		    strlen(v[i].body), out, sizeof(out)), 0);
		assert_string_equal(out, v[i].want);
	}
	/* Too small a buffer is an error, never a cut signature. */
	assert_int_equal(whsig_value("k", 0, "", 0, out, 40), -1);
}

static void
test_events_lists(void **state)
{
	uint64_t d = (uint64_t)1 << EV_DELIVERED, b = (uint64_t)1 << EV_BOUNCED;
	uint64_t all = hookset_parse(NULL);

	assert_int_equal(hookset_parse("delivered"), d);
	assert_int_equal(hookset_parse("bounced,delivered"), d | b);
	assert_int_equal(hookset_parse(""), all);
	assert_true(all & ((uint64_t)1 << EV_UNSUBSCRIBED));
	assert_false(all & ((uint64_t)1 << EV_RECEIVED));
	/* Not a webhook's event, a part of a name, or an empty name. */
	assert_int_equal(hookset_parse("received"), 0);
	assert_int_equal(hookset_parse("deliver"), 0);
	assert_int_equal(hookset_parse("ed"), 0);
	assert_int_equal(hookset_parse("delivered,"), 0);
	assert_int_equal(hookset_parse(",delivered"), 0);
	assert_int_equal(hookset_parse("delivered,,bounced"), 0);
	assert_int_equal(hookset_parse("delivered bounced"), 0);
}

/* Each webhook's id comes back for the events it wants, in order. */
static int
wants(const char *sub, const char *action, long long *ids)
{
	return hookset_wants(sub, action, ids, 4);
}

static void
test_wants(void **state)
{
	struct hookset_entry e[3] = {
		{ 7, "shop", (uint64_t)1 << EV_BOUNCED },
		{ 9, NULL, (uint64_t)1 << EV_DELIVERED },
		{ 12, NULL, ((uint64_t)1 << EV_DELIVERED) |
		    ((uint64_t)1 << EV_BOUNCED) },
	};
	long long ids[4];

	assert_int_equal(wants("shop", "bounced", ids), 0);
	assert_int_equal(hookset_count(), 0);
	hookset_set(e, 3);
	assert_int_equal(hookset_count(), 3);
	assert_int_equal(wants("shop", "bounced", ids), 2);
	assert_int_equal(ids[0], 7);
	assert_int_equal(ids[1], 12);
	assert_int_equal(wants("news", "bounced", ids), 1);
	assert_int_equal(ids[0], 12);
	assert_int_equal(wants(NULL, "bounced", ids), 1);
	assert_int_equal(wants("news", "delivered", ids), 2);
	assert_int_equal(ids[0], 9);
	assert_int_equal(wants("shop", "received", ids), 0);
	assert_int_equal(wants("shop", "no-such-action", ids), 0);
	/* At most max. */
	assert_int_equal(hookset_wants("news", "delivered", ids, 1), 1);
	assert_true(hookset_has(9));
	assert_false(hookset_has(8));
	hookset_set(NULL, 0);
	assert_int_equal(wants("news", "delivered", ids), 0);
	assert_false(hookset_has(9));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signature_vectors),
		cmocka_unit_test(test_events_lists),
		cmocka_unit_test(test_wants),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
