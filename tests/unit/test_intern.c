// sources:
/*
 * test_intern.c - the shared string pool: equal strings are one copy,
 * counted; the last release frees it; a pointer the pool did not give
 * is refused (fatal), never freed.  Many strings against a reference
 * count kept here, through the table's growth.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "expect_fatal.h"
#include "intern.h"

static void
test_equal_strings_shared(void **state)
{
	struct intern p = { 0 };		/* zeroed: ready */
	char buf[32];
	const char *a, *b, *c;

	strcpy(buf, "example.com");
	a = intern_get(&p, buf);
	strcpy(buf, "other.test");
	b = intern_get(&p, buf);
	c = intern_get(&p, "example.com");
	assert_ptr_equal(a, c);
	assert_ptr_not_equal(a, b);
	assert_string_equal(a, "example.com");
	assert_int_equal(p.n, 2);
	assert_int_equal(p.bytes, strlen("example.com") + strlen("other.test")
	    + 2);
	assert_int_equal(intern_refs(&p, "example.com"), 2);
	assert_ptr_equal(intern_hold(&p, a), a);
	assert_int_equal(intern_refs(&p, "example.com"), 3);
	assert_null(intern_get(&p, NULL));
	intern_put(&p, NULL);
	for (int i = 0; i < 3; i++)
		intern_put(&p, a);
	assert_int_equal(intern_refs(&p, "example.com"), 0);
	assert_int_equal(p.n, 1);
	intern_put(&p, b);
	assert_int_equal(p.n, 0);
	assert_int_equal(p.bytes, 0);
	free(p.b);
}

#define N 5000

static void
test_many_through_growth(void **state)
{
	static const char *got[N];
	static int refs[N];
	struct intern p;
	char s[32];

	intern_init(&p);
	srandom(7);
	for (int round = 0; round < 20 * N; round++) {
		int i = (int)(random() % N);

		snprintf(s, sizeof(s), "reply %d", i);
		if (refs[i] == 0 || random() % 3) {
			const char *g = intern_get(&p, s);

			assert_true(refs[i] == 0 || g == got[i]);
			got[i] = g;
			refs[i]++;
		} else {
			intern_put(&p, got[i]);
			refs[i]--;
		}
		assert_int_equal(intern_refs(&p, s), refs[i]);
	}
	for (int i = 0; i < N; i++)
		while (refs[i]-- > 0)
			intern_put(&p, got[i]);
	assert_int_equal(p.n, 0);
	free(p.b);
}

static void
put_a_copy(void *arg)
{
	char mine[] = "x@example.com";

	intern_put(arg, mine);
}

/* An equal string that is not the pool's copy is a caller's bug. */
static void
test_foreign_pointer_is_fatal(void **state)
{
	struct intern p = { 0 };
	const char *s = intern_get(&p, "x@example.com");

	expect_fatal(put_a_copy, &p, "not from the pool");
	assert_int_equal(intern_refs(&p, "x@example.com"), 1);
	intern_put(&p, s);
	assert_int_equal(p.n, 0);
	free(p.b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_equal_strings_shared),
		cmocka_unit_test(test_many_through_growth),
		cmocka_unit_test(test_foreign_pointer_is_fatal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
