// sources:
/*
 * test_heap.c - the min-heap against a brute-force reference under random
 * inserts, removals and key changes; slots always say where items are.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "heap.h"

struct item {
	int	 pad;
	int	 slot;
	int64_t	 key;
};

#define N 500

static void
check(struct heap *h, struct item *it)
{
	int64_t min = INT64_MAX;
	int in = 0;

	for (int i = 0; i < N; i++) {
		if (it[i].slot < 0)
			continue;
		in++;
		assert_ptr_equal(h->v[it[i].slot], &it[i]);
		if (it[i].key < min)
			min = it[i].key;
	}
	assert_int_equal(in, h->n);
	if (in == 0)
		assert_null(heap_top(h));
	else
		assert_true(heap_key(h, heap_top(h)) == min);
}

static void
test_random(void **state)
{
	struct heap h = HEAP_INITIALIZER(struct item, key, slot);
	static struct item it[N];

	srandom(1);
	for (int i = 0; i < N; i++)
		it[i].slot = -1;
	for (int step = 0; step < 20000; step++) {
		struct item *x = &it[random() % N];

		switch (random() % 3) {
		case 0:
			if (x->slot < 0) {
				x->key = random() % 1000;
				heap_insert(&h, x);
			}
			break;
		case 1:
			heap_remove(&h, x);
			assert_int_equal(x->slot, -1);
			break;
		default:
			if (x->slot >= 0) {
				x->key = random() % 1000;
				heap_fix(&h, x);
			}
		}
		if (step % 97 == 0)
			check(&h, it);
	}
	/* Draining gives the keys in order. */
	for (int64_t last = -1; heap_top(&h) != NULL;) {
		struct item *x = heap_top(&h);

		assert_true(x->key >= last);
		last = x->key;
		heap_remove(&h, x);
	}
	heap_free(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
