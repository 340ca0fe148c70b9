/*
 * hmap.c - string-keyed hash map (FNV-1a, chained).
 * Diagnostics: dies only when memory runs out; a missing key is NULL.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "util.h"

unsigned
hmap_hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

void
hmap_init(struct hmap *m)
{
	m->nb = 16;
	m->n = 0;
	m->b = xcalloc(m->nb, sizeof(*m->b));
}

void
hmap_free(struct hmap *m, void (*freefn)(void *))
{
	for (size_t i = 0; i < m->nb; i++) {
		struct hmap_entry *e = m->b[i], *next;

		for (; e; e = next) {
			next = e->next;
			if (freefn)
				freefn(e->value);
			free(e);
		}
	}
	free(m->b);
	m->b = NULL;
	m->nb = m->n = 0;
}

static struct hmap_entry **
find(const struct hmap *m, const char *key, unsigned h)
{
	struct hmap_entry **pp = &m->b[h & (m->nb - 1)];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && strcmp((*pp)->key, key) == 0)
			return pp;
	return pp;
}

void *
hmap_get(const struct hmap *m, const char *key)
{
	struct hmap_entry **pp = find(m, key, hmap_hash(key));

	return *pp ? (*pp)->value : NULL;
}

/*
 * Entries are reached through void pointers and their fields copied
 * with memcpy, so entries of any type will do, as long as a chain
 * pointer and the hash are where the offsets say.
 */
void *
hmap_chains_grow(void *table, size_t *nb, size_t next_off, size_t hash_off)
{
	void **old = table, **b, *e, *next;
	size_t n = *nb * 2;
	unsigned h;

	b = xcalloc(n, sizeof(*b));
	for (size_t i = 0; i < *nb; i++)
		for (e = old[i]; e; e = next) {
			memcpy(&next, (char *)e + next_off, sizeof(next));
			memcpy(&h, (char *)e + hash_off, sizeof(h));
			memcpy((char *)e + next_off, &b[h & (n - 1)],
			    sizeof(void *));
			b[h & (n - 1)] = e;
		}
	free(old);
	*nb = n;
	return b;
}

static void
grow(struct hmap *m)
{
	m->b = hmap_chains_grow(m->b, &m->nb,
	    offsetof(struct hmap_entry, next),
	    offsetof(struct hmap_entry, hash));
}

void *
hmap_put(struct hmap *m, const char *key, void *value)
{
	unsigned h = hmap_hash(key);
	struct hmap_entry **pp = find(m, key, h), *e;
	size_t klen;
	void *old;

	if (*pp) {
		old = (*pp)->value;
		(*pp)->value = value;
		return old;
	}
	klen = strlen(key);
	e = xmalloc(sizeof(*e) + klen + 1);
	memcpy(e->key, key, klen + 1);
	e->hash = h;
	e->value = value;
	e->next = NULL;
	*pp = e;
	if (++m->n > m->nb)
		grow(m);
	return NULL;
}

void *
hmap_del(struct hmap *m, const char *key)
{
	struct hmap_entry **pp = find(m, key, hmap_hash(key)), *e = *pp;
	void *v;

	if (e == NULL)
		return NULL;
	*pp = e->next;
	v = e->value;
	free(e);
	m->n--;
	return v;
}

void
hmap_foreach(struct hmap *m, int (*fn)(const char *, void *, void *),
    void *arg)
{
	for (size_t i = 0; i < m->nb; i++) {
		struct hmap_entry **pp = &m->b[i];

		while (*pp) {
			struct hmap_entry *e = *pp;

			if (fn(e->key, e->value, arg) == 1) {
				*pp = e->next;
				free(e);
				m->n--;
			} else
				pp = &e->next;
		}
	}
}
