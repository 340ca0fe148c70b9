/*
 * webhook_priv.h - what the webhook dispatcher's files share (webhook.c,
 * webhook_hooks.c): a webhook, its queue of items, its batches.
 */
#ifndef GW_WEBHOOK_PRIV_H
#define GW_WEBHOOK_PRIV_H

#include <stdint.h>

#include "hookset.h"

#define REPLY_LOG	200	/* bytes of a failed reply that are logged */

struct batch;

struct item {
	struct item	*next;
	int64_t		 id;		/* the outbox row's */
	char		*qid;		/* NULL: no order to keep */
	char		*json;		/* the event's object */
	int64_t		 ts;		/* the event's time, unix us */
	int64_t		 queued;	/* loop_now() when read */
	struct batch	*inflight;
};

struct hook {
	struct hook	*next;
	long long	 id;
	char		*url, *secret, *subaccount, *events;
	struct hookset_entry filter;
	struct item	*head, **tail;
	int		 nitems;
	int64_t		 read_after;	/* the outbox id read last */
	int		 inflight;
	int		 fails;		/* failed requests in a row */
	int64_t		 retry_at;	/* loop_now() */
	int		 gone;		/* deleted from gw.db */
	char		 why[REPLY_LOG]; /* the last failure */
	uint64_t	 sent, failed, dropped;
};

struct batch {
	struct hook	*h;
	struct item	**items;
	int		 n;
};

/* webhook.c */
extern struct hook	*webhook_list;	/* gw.db's, and the deleted ones
					   with requests in flight */
extern int		 webhook_sweep;	/* the webhooks changed */
/* The acknowledgements so far (and a sweep), to the store thread. */
void	 webhook_flush_acks(void);
/* A deleted webhook: its items are done but those in flight. */
void	 webhook_hook_gone(struct hook *);
void	 webhook_hook_free(struct hook *);

#endif
