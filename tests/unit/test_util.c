// sources:
/*
 * test_util.c - parse_int: whole decimal numbers within bounds, the one
 * parser gwctl's and gwsearch's numeric options share.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util.h"

static void
test_parse_int(void **state)
{
	int64_t v = 7;

	assert_int_equal(parse_int("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_int("10", 0, 10, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(parse_int("9223372036854775807", 1, INT64_MAX, &v),
	    0);
	assert_int_equal(v, INT64_MAX);
	v = 7;
	assert_int_equal(parse_int("11", 0, 10, &v), -1);
	assert_int_equal(parse_int("-1", 0, 10, &v), -1);
	assert_int_equal(parse_int("", 0, 10, &v), -1);
	assert_int_equal(parse_int(NULL, 0, 10, &v), -1);
	assert_int_equal(parse_int("5x", 0, 10, &v), -1);
	assert_int_equal(parse_int("x", 0, 10, &v), -1);
	/* Past int64: not clamped into range. */
	assert_int_equal(parse_int("9223372036854775808", 1, INT64_MAX, &v),
	    -1);
	assert_int_equal(v, 7);		/* untouched on failure */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_int),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
