/*
 * shlist.c - smarthost lists: parse and print (grammar in shlist.h).
 * Exposure: parses gwd.conf, gw.db rows and gwctl arguments (admin
 * input); every word and number is bounded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "shlist.h"
#include "util.h"

/* N of "prio=N" or "weight=N" within [min, max]: 0 or -1. */
static int
sh_number(const char *v, int min, int max, int *out)
{
	char *end;
	long n;

	if (*v < '0' || *v > '9')
		return -1;
	n = strtol(v, &end, 10);
	if (*end != '\0' || n < min || n > max)
		return -1;
	*out = (int)n;
	return 0;
}

/* One word: an option of the last entry, or a new entry. */
static int
sh_word(const char *w, int dflt_port, struct shlist *l, int *set,
    char *err, size_t errsz)
{
	struct sh_entry *e = l->n > 0 ? &l->e[l->n - 1] : NULL;
	char why[128];

	if (strncmp(w, "prio=", 5) == 0 || strncmp(w, "weight=", 7) == 0) {
		int prio = w[0] == 'p', bit = prio ? 1 : 2;

		if (e == NULL)
			return errf(err, errsz, "%s: comes after a host", w);
		if (*set & bit)
			return errf(err, errsz, "%s: given twice for one "
			    "host", w);
		*set |= bit;
		if (prio && sh_number(w + 5, 0, SHLIST_PRIO_MAX,
		    &e->prio) == -1)
			return errf(err, errsz, "%s: the priority is 0 to "
			    "65535", w);
		if (!prio && sh_number(w + 7, 1, SHLIST_WEIGHT_MAX,
		    &e->weight) == -1)
			return errf(err, errsz, "%s: the weight is 1 to "
			    "1000", w);
		return 0;
	}
	if (strchr(w, '=') != NULL)
		return errf(err, errsz, "%s: expected HOST[:PORT], prio=N "
		    "or weight=N", w);
	if (l->n == SHLIST_MAX)
		return errf(err, errsz, "at most %d smarthosts", SHLIST_MAX);
	e = &l->e[l->n];
	memset(e, 0, sizeof(*e));
	if (rules_parse_hostport(w, e->host, sizeof(e->host), &e->port, why,
	    sizeof(why)) == -1)
		return errf(err, errsz, "%.300s: %s", w, why);
	if (strchr(w, ']') == NULL && strchr(w, ':') == NULL)
		e->port = dflt_port;
	else if (w[0] == '[' && strstr(w, "]:") == NULL)
		e->port = dflt_port;
	e->prio = l->n > 0 ? l->e[l->n - 1].prio + 1 : 1;
	if (e->prio > SHLIST_PRIO_MAX)
		e->prio = SHLIST_PRIO_MAX;
	e->weight = 1;
	l->n++;
	*set = 0;
	return 0;
}

int
shlist_parse(const char *s, int dflt_port, struct shlist *l, char *err,
    size_t errsz)
{
	char w[512];
	int set = 0, start = l->n;

	for (;;) {
		size_t n;

		s += strspn(s, " \t");
		if (*s == '\0')
			break;
		n = strcspn(s, " \t");
		if (n >= sizeof(w))
			return errf(err, errsz, "a word longer than %zu "
			    "bytes", sizeof(w) - 1);
		memcpy(w, s, n);
		w[n] = '\0';
		s += n;
		if (sh_word(w, dflt_port, l, &set, err, errsz) == -1)
			return -1;
	}
	if (l->n == start)
		return errf(err, errsz, "no smarthost given");
	return 0;
}

int
shlist_entry_name(const struct sh_entry *e, char *out, size_t n)
{
	int r = snprintf(out, n, strchr(e->host, ':') ? "[%s]:%d" : "%s:%d",
	    e->host, e->port);

	return r < 0 || (size_t)r >= n ? -1 : 0;
}

int
shlist_format(const struct shlist *l, char *out, size_t n)
{
	size_t o = 0;
	char name[300];
	int r;

	out[0] = '\0';
	for (int i = 0; i < l->n; i++) {
		const struct sh_entry *e = &l->e[i];
		int dflt = i > 0 ? l->e[i - 1].prio + 1 : 1;

		if (shlist_entry_name(e, name, sizeof(name)) == -1)
			return -1;
		r = snprintf(out + o, n - o, "%s%s", i ? " " : "", name);
		if (r < 0 || (size_t)r >= n - o)
			return -1;
		o += (size_t)r;
		if (e->prio != dflt) {
			r = snprintf(out + o, n - o, " prio=%d", e->prio);
			if (r < 0 || (size_t)r >= n - o)
				return -1;
			o += (size_t)r;
		}
		if (e->weight != 1) {
			r = snprintf(out + o, n - o, " weight=%d", e->weight);
			if (r < 0 || (size_t)r >= n - o)
				return -1;
			o += (size_t)r;
		}
	}
	return 0;
}
