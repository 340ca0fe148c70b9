/*
 * intern.h - a pool of shared strings: equal strings are stored once,
 * with a count of their holders.  What a big queue repeats on every
 * recipient (its domain, its message's sender and subaccount, the reply
 * that deferred it) then costs a pointer each, not a copy each.
 * Chained, power-of-two buckets, grows at load factor 1.  Not
 * thread-safe.
 */
#ifndef GW_INTERN_H
#define GW_INTERN_H

#include <stddef.h>

struct intern_str;

struct intern {
	struct intern_str	**b;
	size_t			 nb;
	size_t			 n;	/* distinct strings */
	size_t			 bytes;	/* their lengths, NULs included */
};

/* A zeroed pool is ready too (it sets itself up on first use). */
void	 intern_init(struct intern *);
/* The pool's copy of s, held once more (s NULL: NULL). */
const char *intern_get(struct intern *, const char *s);
/* Hold a string the pool gave once more (NULL: NULL). */
const char *intern_hold(struct intern *, const char *s);
/* Let go of a string the pool gave (NULL: nothing); the last holder's
 * release frees it.  A string the pool did not give is a bug: fatal. */
void	 intern_put(struct intern *, const char *s);
/* How many hold s (0: not in the pool). */
unsigned intern_refs(const struct intern *, const char *s);

#endif
