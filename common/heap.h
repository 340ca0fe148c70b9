/*
 * heap.h - a binary min-heap of items that know their own slot.
 *
 * Items are any struct with an int64_t key and an int slot index; the
 * heap is told their offsets, so timers and queued recipients share one
 * implementation without a wrapper allocation.  An item's slot is -1
 * when it is not in a heap.  After changing the key of an item in the
 * heap, call heap_fix().  Allocation failure is fatal.
 */
#ifndef GW_HEAP_H
#define GW_HEAP_H

#include <stddef.h>
#include <stdint.h>

struct heap {
	void	**v;
	int	  n;
	int	  cap;
	size_t	  key_off;
	size_t	  idx_off;
};

#define HEAP_INITIALIZER(type, key, idx) \
	{ NULL, 0, 0, offsetof(type, key), offsetof(type, idx) }

void	 heap_insert(struct heap *, void *);
void	 heap_remove(struct heap *, void *);	/* no-op when not in it */
void	 heap_fix(struct heap *, void *);
void	 heap_free(struct heap *);

/* The item with the smallest key, or NULL. */
static inline void *
heap_top(const struct heap *h)
{
	return h->n > 0 ? h->v[0] : NULL;
}

static inline int64_t
heap_key(const struct heap *h, const void *item)
{
	return *(const int64_t *)(const void *)((const char *)item +
	    h->key_off);
}

#endif
