/*
 * shlist.h - a list of smarthosts with priorities and weights, as
 * gwd.conf's relay.host and a routing rule's --smarthost give it.
 *
 * Text form (one grammar for both): words separated by blanks; a word
 * HOST[:PORT] (an IPv6 address in brackets) starts an entry, and the
 * words prio=N (0-65535) and weight=N (1-1000) after it set that
 * entry's priority and weight.  An entry without prio= comes after the
 * one before it (its priority is that one's plus one, the first's is
 * 1), so a plain list is tried in its order; entries of one priority
 * share the mail by weight (default 1).  Lower priority first.
 * Diagnostics: none; errors come back as text in a caller's buffer.
 */
#ifndef GW_SHLIST_H
#define GW_SHLIST_H

#include <stddef.h>

#define SHLIST_MAX		8
#define SHLIST_PRIO_MAX		65535
#define SHLIST_WEIGHT_MAX	1000

struct sh_entry {
	char	 host[256];	/* name or address, no brackets */
	int	 port;
	int	 prio;
	int	 weight;
};

struct shlist {
	int		 n;
	struct sh_entry	 e[SHLIST_MAX];
};

/* Append the entries of text s to l (ports default to dflt_port): 0, or
 * -1 with the reason in err.  l->n = 0 first for a new list. */
int	 shlist_parse(const char *s, int dflt_port, struct shlist *l,
	    char *err, size_t errsz);
/* The canonical text of l ("a.example:587 b.example:587 prio=1
 * weight=3"; prio= and weight= only where they are not the default):
 * 0, or -1 when it does not fit in n bytes. */
int	 shlist_format(const struct shlist *l, char *out, size_t n);
/* "host:port" of one entry ("[::1]:25" for IPv6). */
int	 shlist_entry_name(const struct sh_entry *e, char *out, size_t n);

#endif
