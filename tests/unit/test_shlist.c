// sources:
/*
 * test_shlist.c - smarthost lists: the grammar of relay.host and
 * --smarthost, default priorities, bounds, and the canonical text
 * gwctl stores (which must read back the same).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "shlist.h"

static const struct {
	const char	*in;
	const char	*canon;		/* NULL: an error */
	const char	*err;		/* part of the error */
} cases[] = {
	{ "relay.example", "relay.example:2525", NULL },
	{ "a.example:587 b.example:587", "a.example:587 b.example:587",
	    NULL },
	{ "  a:25\tb:26  ", "a:25 b:26", NULL },
	{ "a:25 prio=1 weight=3 b:25 prio=1", "a:25 weight=3 b:25 prio=1",
	    NULL },
	{ "a:25 prio=10 b:25", "a:25 prio=10 b:25", NULL },
	{ "[::1]:25 127.0.0.1", "[::1]:25 127.0.0.1:2525", NULL },
	{ "[::1]", "[::1]:2525", NULL },
	{ "a:25 prio=0", "a:25 prio=0", NULL },
	{ "", NULL, "no smarthost" },
	{ "prio=1 a:25", NULL, "comes after a host" },
	{ "a:25 prio=1 prio=2", NULL, "given twice" },
	{ "a:25 weight=0", NULL, "weight is 1 to 1000" },
	{ "a:25 weight=1001", NULL, "weight is 1 to 1000" },
	{ "a:25 prio=65536", NULL, "priority is 0 to 65535" },
	{ "a:25 prio=-1", NULL, "priority is 0 to 65535" },
	{ "a:25 prio=1x", NULL, "priority is 0 to 65535" },
	{ "a:25 color=red", NULL, "expected HOST[:PORT]" },
	{ "a:0", NULL, "port must be 1-65535" },
	{ "::1", NULL, "brackets" },
	{ "a b c d e f g h i", NULL, "at most 8" },
	{ "bad_host", NULL, "bad character" },
};

static void
test_cases(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct shlist l = { 0 }, again = { 0 };
		char err[512] = "", out[4096], out2[4096];
		int r = shlist_parse(cases[i].in, 2525, &l, err, sizeof(err));

		if (cases[i].canon == NULL) {
			if (r != -1 || strstr(err, cases[i].err) == NULL)
				fail_msg("\"%s\": want an error with \"%s\", "
				    "got %d \"%s\"", cases[i].in,
				    cases[i].err, r, err);
			continue;
		}
		if (r != 0)
			fail_msg("\"%s\": %s", cases[i].in, err);
		assert_int_equal(shlist_format(&l, out, sizeof(out)), 0);
		assert_string_equal(out, cases[i].canon);
		/* The stored text reads back as the same list. */
		assert_int_equal(shlist_parse(out, 1, &again, err,
		    sizeof(err)), 0);
		assert_int_equal(shlist_format(&again, out2, sizeof(out2)), 0);
		assert_string_equal(out, out2);
		assert_memory_equal(&l, &again, sizeof(l));
	}
}

static void
test_defaults(void **state)
{
	struct shlist l = { 0 };
	char err[128];

	assert_int_equal(shlist_parse("a:1 b:2 prio=7 weight=4 c:3", 25, &l,
	    err, sizeof(err)), 0);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.e[0].prio, 1);
	assert_int_equal(l.e[0].weight, 1);
	assert_int_equal(l.e[1].prio, 7);
	assert_int_equal(l.e[1].weight, 4);
	assert_int_equal(l.e[2].prio, 8);	/* after the one before */
	assert_int_equal(l.e[2].port, 3);
	/* gwd.conf's list elements add up to one list. */
	assert_int_equal(shlist_parse("d:4 prio=8", 25, &l, err,
	    sizeof(err)), 0);
	assert_int_equal(l.n, 4);
	assert_int_equal(l.e[3].prio, 8);
	/* A tiny buffer: an error, never a cut list. */
	assert_int_equal(shlist_format(&l, err, 10), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_defaults),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
