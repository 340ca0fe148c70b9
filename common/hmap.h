/*
 * hmap.h - a hash map from NUL-terminated string keys to pointers.
 * Keys are copied; values are the caller's.  Chained, power-of-two
 * buckets, grows at load factor 1.  Not thread-safe.
 */
#ifndef GW_HMAP_H
#define GW_HMAP_H

#include <stddef.h>

struct hmap_entry {
	struct hmap_entry	*next;
	unsigned		 hash;
	void			*value;
	char			 key[];
};

struct hmap {
	struct hmap_entry	**b;
	size_t			 nb;
	size_t			 n;
};

/* The hash of a key (FNV-1a), for tables of other shapes. */
unsigned hmap_hash(const char *);
void	 hmap_init(struct hmap *);
void	 hmap_free(struct hmap *, void (*freefn)(void *));
void	*hmap_get(const struct hmap *, const char *key);
/* Insert or replace; returns the old value or NULL. */
void	*hmap_put(struct hmap *, const char *key, void *value);
void	*hmap_del(struct hmap *, const char *key);
/* Visit every entry; fn may not modify the map, except by returning 1,
 * which deletes the entry just visited. */
void	 hmap_foreach(struct hmap *, int (*fn)(const char *, void *, void *),
	    void *arg);
static inline size_t
hmap_count(const struct hmap *m)
{
	return m->n;
}

#endif
