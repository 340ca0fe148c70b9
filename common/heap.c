/*
 * heap.c - binary min-heap with slot-tracking items (see heap.h).
 * Diagnostics: dies only when memory runs out (xreallocarray); nothing
 * else fails.
 */
#include <stdlib.h>

#include "heap.h"
#include "util.h"

static int *
slot(const struct heap *h, void *item)
{
	return (int *)(void *)((char *)item + h->idx_off);
}

static int64_t
key_at(const struct heap *h, int i)
{
	return heap_key(h, h->v[i]);
}

static void
put(struct heap *h, int i, void *item)
{
	h->v[i] = item;
	*slot(h, item) = i;
}

static void
sift_up(struct heap *h, int i)
{
	void *item = h->v[i];
	int64_t k = heap_key(h, item);

	while (i > 0 && key_at(h, (i - 1) / 2) > k) {
		put(h, i, h->v[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	put(h, i, item);
}

static void
sift_down(struct heap *h, int i)
{
	void *item = h->v[i];
	int64_t k = heap_key(h, item);

	for (;;) {
		int l = 2 * i + 1, r = l + 1, m;

		if (l >= h->n)
			break;
		m = r < h->n && key_at(h, r) < key_at(h, l) ? r : l;
		if (key_at(h, m) >= k)
			break;
		put(h, i, h->v[m]);
		i = m;
	}
	put(h, i, item);
}

void
heap_insert(struct heap *h, void *item)
{
	if (h->n == h->cap) {
		int cap = h->cap ? h->cap * 2 : 64;
		h->v = xreallocarray(h->v, (size_t)cap, sizeof(*h->v));
		h->cap = cap;
	}
	put(h, h->n++, item);
	sift_up(h, h->n - 1);
}

void
heap_remove(struct heap *h, void *item)
{
	int i = *slot(h, item);

	if (i < 0)
		return;
	*slot(h, item) = -1;
	if (i == --h->n)
		return;
	put(h, i, h->v[h->n]);
	heap_fix(h, h->v[i]);
}

void
heap_fix(struct heap *h, void *item)
{
	int i = *slot(h, item);

	if (i > 0 && key_at(h, (i - 1) / 2) > heap_key(h, item))
		sift_up(h, i);
	else
		sift_down(h, i);
}

void
heap_free(struct heap *h)
{
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}
