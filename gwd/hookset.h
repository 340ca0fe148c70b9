/*
 * hookset.h - which events each webhook wants: the filter the store
 * thread applies when it puts an event into the outbox (outbox.c), so
 * that only those rows carry the webhook consumer's bit, with one
 * hook_pending row for each webhook that wants it.  webhook.c
 * installs the set on the main thread whenever gw.db's webhooks are
 * reloaded; the store thread reads it.  A mutex guards it: both sides
 * hold it for a few comparisons.
 */
#ifndef GW_HOOKSET_H
#define GW_HOOKSET_H

#include <stdint.h>

#include "event.h"

/* The events a webhook may ask for (gwctl webhook add --events). */
#define HOOKSET_EVENTS	EVENT_WEBHOOK_ACTIONS

struct hookset_entry {
	long long	 hook;		/* gw.db's webhook.id */
	const char	*subaccount;	/* NULL: every subaccount's */
	uint64_t	 actions;	/* 1 << enum event_action */
};

/* The mask of a comma-separated list of HOOKSET_EVENTS names (empty or
 * NULL: all of them), or 0 when a name is not one of them. */
uint64_t hookset_parse(const char *list);
/* Install n entries (copied).  Main thread. */
void	 hookset_set(const struct hookset_entry *, int n);
/* The webhooks that want this event, into ids (at most max): how
 * many.  Any thread. */
int	 hookset_wants(const char *subaccount, const char *action,
	    long long *ids, int max);
/* Is there a webhook of this id?  Any thread. */
int	 hookset_has(long long hook);
/* How many webhooks there are. */
int	 hookset_count(void);
/* Does e want it (the same test, on one entry)? */
int	 hookset_match(const struct hookset_entry *e, const char *subaccount,
	    const char *action);

#endif
