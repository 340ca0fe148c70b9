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
/*
 * Double a chained table of nb heads (a power of two) whose entries
 * hold their chain pointer at offset next_off and their hash (an
 * unsigned) at hash_off: the new table, with *nb updated and the old
 * one freed.  hmap's own growth, and that of tables of other shapes
 * (intern.c's).
 */
void	*hmap_chains_grow(void *table, size_t *nb, size_t next_off,
	    size_t hash_off);
static inline size_t
hmap_count(const struct hmap *m)
{
	return m->n;
}

#endif
