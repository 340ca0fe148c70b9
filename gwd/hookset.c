/*
 * hookset.c - the events webhooks want (see hookset.h).
 * Exposure: the lists come from gw.db (gwctl checked them) and the
 * actions from gwd's own event table.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "hookset.h"
#include "util.h"

static pthread_mutex_t		 mtx = PTHREAD_MUTEX_INITIALIZER;
static struct hookset_entry	*set;
static int			 nset;

uint64_t
hookset_parse(const char *list)
{
	const char *p = list;
	uint64_t mask = 0;
	char name[34];
	int a;

	if (list == NULL || *list == '\0')
		return hookset_parse(HOOKSET_EVENTS);
	while (*p) {
		size_t n = strcspn(p, ",");

		if (n == 0 || n + 2 >= sizeof(name))
			return 0;
		/* ",name," among the list's: not any action gwd logs. */
		name[0] = ',';
		memcpy(name + 1, p, n);
		memcpy(name + 1 + n, ",", 2);
		if (strstr("," HOOKSET_EVENTS ",", name) == NULL)
			return 0;
		name[n + 1] = '\0';
		if ((a = event_lookup(name + 1)) < 0)
			return 0;
		mask |= (uint64_t)1 << a;
		p += n;
		if (*p == ',' && *++p == '\0')
			return 0;
	}
	return mask;
}

static void
free_set(struct hookset_entry *s, int n)
{
	for (int i = 0; i < n; i++)
		free((char *)s[i].subaccount);
	free(s);
}

void
hookset_set(const struct hookset_entry *e, int n)
{
	struct hookset_entry *ns = NULL, *old;
	int oldn;

	if (n > 0)
		ns = xcalloc((size_t)n, sizeof(*ns));
	for (int i = 0; i < n; i++) {
		ns[i].subaccount = e[i].subaccount ?
		    xstrdup(e[i].subaccount) : NULL;
		ns[i].actions = e[i].actions;
		ns[i].hook = e[i].hook;
	}
	pthread_mutex_lock(&mtx);
	old = set;
	oldn = nset;
	set = ns;
	nset = n;
	pthread_mutex_unlock(&mtx);
	free_set(old, oldn);
}

int
hookset_match(const struct hookset_entry *e, const char *subaccount,
    const char *action)
{
	int a = event_lookup(action);

	if (a < 0 || (e->actions & ((uint64_t)1 << a)) == 0)
		return 0;
	return e->subaccount == NULL || (subaccount != NULL &&
	    strcmp(e->subaccount, subaccount) == 0);
}

int
hookset_wants(const char *subaccount, const char *action, long long *ids,
    int max)
{
	int n = 0;

	pthread_mutex_lock(&mtx);
	for (int i = 0; i < nset && n < max; i++)
		if (hookset_match(&set[i], subaccount, action))
			ids[n++] = set[i].hook;
	pthread_mutex_unlock(&mtx);
	return n;
}

int
hookset_has(long long hook)
{
	int yes = 0;

	pthread_mutex_lock(&mtx);
	for (int i = 0; i < nset && !yes; i++)
		yes = set[i].hook == hook;
	pthread_mutex_unlock(&mtx);
	return yes;
}

int
hookset_count(void)
{
	int n;

	pthread_mutex_lock(&mtx);
	n = nset;
	pthread_mutex_unlock(&mtx);
	return n;
}
