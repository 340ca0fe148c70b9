// sources:
/*
 * test_util.c - parse_int: whole decimal numbers within bounds, the one
 * parser gwctl's and gwsearch's numeric options share; xreallocarray
 * and xasprintf, which replace hand-made realloc(n + 1) growth; errf,
 * the one way to print a message into a caller's error buffer;
 * buf_putnum, "%lld" without stdio.
 */
#include <sys/wait.h>

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "log.h"
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

static void
test_xreallocarray_grows(void **state)
{
	int *v = NULL;

	for (int i = 0; i < 1000; i++) {
		v = xreallocarray(v, (size_t)i + 1, sizeof(*v));
		v[i] = i;
	}
	for (int i = 0; i < 1000; i++)
		assert_int_equal(v[i], i);
	free(v);
	/* Zero elements is still a pointer to free. */
	v = xreallocarray(NULL, 0, sizeof(*v));
	assert_non_null(v);
	free(v);
}

/* The exit status of fn run in a child: how a fatal() is seen. */
static int
child_status(void (*fn)(void))
{
	pid_t pid = fork();
	int st;

	assert_true(pid != -1);
	if (pid == 0) {
		log_init("test_util", LOG_DEST_STDERR, 0);
		fn();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void
overflow(void)
{
	/* (SIZE_MAX / 8 + 1) * 16 wraps to a small number: realloc(n *
	 * size) would hand back a tiny block for a huge array. */
	void *p = xreallocarray(NULL, SIZE_MAX / 8 + 1, 16);

	free(p);
}

static void
test_xreallocarray_overflow_dies(void **state)
{
	assert_int_equal(child_status(overflow), 1);
}

static void
test_xasprintf(void **state)
{
	char *s = xasprintf("%s/%d", "dir", 42);

	assert_string_equal(s, "dir/42");
	free(s);
	s = xasprintf("%s", "");
	assert_string_equal(s, "");
	free(s);
}

/* errf: the message, cut to fit and ended, and -1 to return. */
static void
test_errf(void **state)
{
	char err[8];

	memset(err, 'x', sizeof(err));
	assert_int_equal(errf(err, sizeof(err), "%s: %d", "no", 5), -1);
	assert_string_equal(err, "no: 5");
	assert_int_equal(errf(err, sizeof(err), "%s", "much too long"), -1);
	assert_string_equal(err, "much to");
	assert_int_equal(errf(err, 0, "%s", "nothing written"), -1);
	assert_string_equal(err, "much to");
}

/* buf_putnum: what "%lld" writes, the extremes too; the maximum holds. */
static void
test_buf_putnum(void **state)
{
	const long long v[] = { 0, 7, -7, 10, -100, 1234567890123LL,
	    LLONG_MAX, LLONG_MIN };
	char want[32];
	struct buf b;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		buf_init(&b, 0);
		assert_int_equal(buf_putnum(&b, v[i]), 0);
		snprintf(want, sizeof(want), "%lld", v[i]);
		assert_string_equal(buf_cstr(&b), want);
		buf_free(&b);
	}
	buf_init(&b, 4);
	assert_int_equal(buf_putnum(&b, 123), 0);
	assert_int_equal(buf_putnum(&b, 45), -1);
	assert_string_equal(buf_cstr(&b), "123");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_int),
		cmocka_unit_test(test_xreallocarray_grows),
		cmocka_unit_test(test_xreallocarray_overflow_dies),
		cmocka_unit_test(test_xasprintf),
		cmocka_unit_test(test_errf),
		cmocka_unit_test(test_buf_putnum),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
