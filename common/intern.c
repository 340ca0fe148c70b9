/*
 * intern.c - the shared string pool (intern.h).
 * Exposure: none; strings come from gwd's own memory.
 * Diagnostics: dies only when memory runs out, or when asked to let go
 * of a string it never gave (a bug that would otherwise free memory
 * twice).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "intern.h"
#include "log.h"
#include "util.h"

struct intern_str {
	struct intern_str	*next;
	unsigned		 hash;
	unsigned		 refs;
	char			 s[];
};

void
intern_init(struct intern *p)
{
	p->nb = 64;
	p->n = 0;
	p->bytes = 0;
	p->b = xcalloc(p->nb, sizeof(*p->b));
}

static struct intern_str **
slot(const struct intern *p, const char *s, unsigned h)
{
	struct intern_str **pp = &p->b[h & (p->nb - 1)];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && strcmp((*pp)->s, s) == 0)
			return pp;
	return pp;
}

static void
grow(struct intern *p)
{
	p->b = hmap_chains_grow(p->b, &p->nb,
	    offsetof(struct intern_str, next),
	    offsetof(struct intern_str, hash));
}

const char *
intern_get(struct intern *p, const char *s)
{
	unsigned h;
	struct intern_str **pp, *e;
	size_t len;

	if (s == NULL)
		return NULL;
	if (p->b == NULL)
		intern_init(p);
	h = hmap_hash(s);
	if (*(pp = slot(p, s, h)) != NULL) {
		(*pp)->refs++;
		return (*pp)->s;
	}
	len = strlen(s) + 1;
	e = xmalloc(sizeof(*e) + len);
	memcpy(e->s, s, len);
	e->hash = h;
	e->refs = 1;
	e->next = NULL;
	*pp = e;
	p->bytes += len;
	if (++p->n > p->nb)
		grow(p);
	return e->s;
}

/* The entry that gave s (the very pointer, not an equal string). */
static struct intern_str **
owner(const struct intern *p, const char *s)
{
	struct intern_str **pp;

	if (p->b == NULL)
		return NULL;
	pp = slot(p, s, hmap_hash(s));
	if (*pp == NULL || (*pp)->s != s)
		return NULL;
	return pp;
}

const char *
intern_hold(struct intern *p, const char *s)
{
	struct intern_str **pp;

	if (s == NULL)
		return NULL;
	if ((pp = owner(p, s)) == NULL)
		fatalx("intern_hold: \"%.40s\" is not from the pool", s);
	(*pp)->refs++;
	return s;
}

void
intern_put(struct intern *p, const char *s)
{
	struct intern_str **pp, *e;

	if (s == NULL)
		return;
	if ((pp = owner(p, s)) == NULL)
		fatalx("intern_put: \"%.40s\" is not from the pool", s);
	e = *pp;
	if (--e->refs > 0)
		return;
	*pp = e->next;
	p->bytes -= strlen(e->s) + 1;
	p->n--;
	free(e);
}

unsigned
intern_refs(const struct intern *p, const char *s)
{
	struct intern_str **pp;

	if (p->b == NULL)
		return 0;
	pp = slot(p, s, hmap_hash(s));
	return *pp ? (*pp)->refs : 0;
}
