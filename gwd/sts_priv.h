/*
 * sts_priv.h - what MTA-STS's two files share, and nothing else of gwd
 * sees (sts.h is their public face):
 *
 *   sts.c        discovery: the TXT query, the policy fetch and its
 *                backoff, the answer to each request
 *   sts_cache.c  the cache: one entry per domain, its two LRU lists
 *                bounded by mta_sts.cache_size, an entry's life from
 *                its first lookup to its eviction, the policies kept in
 *                queue.db
 */
#ifndef GW_STS_PRIV_H
#define GW_STS_PRIV_H

#include <stdint.h>
#include <time.h>

#include "mtasts.h"
#include "sts.h"

struct dns_req;

enum txt_state {
	TXT_UNKNOWN,	/* never asked, or its TTL ran out */
	TXT_ID,		/* one STSv1 record: id */
	TXT_NONE,	/* no STSv1 record */
	TXT_FAILED	/* the lookup failed, or the record is invalid: why */
};

struct sts_policy {
	char			 id[MTASTS_ID_MAX + 1];
	time_t			 expires;	/* wall clock: kept in queue.db */
	struct mtasts_policy	 pol;
};

/* What is known of one domain: the cache's entry, sts.c's state. */
struct sts_dom {
	struct sts_dom	*prev, *next;	/* its LRU list, newest first */
	int		 lru;		/* which list: 1 with a policy */
	char		 name[256];
	enum txt_state	 txt;
	int64_t		 txt_until;	/* monotonic ms */
	char		 id[MTASTS_ID_MAX + 1];
	char		 why[240];	/* as sts_result.why */
	struct sts_policy *pol;
	/* The last fetch of fail_id failed: not again before fail_until. */
	char		 fail_id[MTASTS_ID_MAX + 1];
	int64_t		 fail_until, backoff_ms;
	char		 fail_why[240];
	struct dns_req	*dq;
	struct sts_fetch *fetch;
	struct sts_req	*waiters;
};

/* A policy fetch under way (its reply may outlive the entry). */
struct sts_fetch {
	struct sts_dom	*dom;		/* NULL: the cache was freed */
	char		 id[MTASTS_ID_MAX + 1];
};

/* sts_cache.c */
/* The entry of domain, made (and the oldest idle entries without a
 * policy pushed out) when there is none; now the newest of its list. */
struct sts_dom *sts_cache_get(const char *domain);
/* The valid policy of d, if any (an expired one is forgotten). */
const struct sts_policy *sts_cache_policy(struct sts_dom *);
/* d learns a policy (replacing any): the LRU of policies makes room. */
void	 sts_cache_set_policy(struct sts_dom *, const char *id,
	    const struct mtasts_policy *, time_t expires);
/* Keep a policy just fetched in queue.db too. */
void	 sts_cache_keep(const char *domain, const struct sts_policy *,
	    const char *body);
/* An entry fell idle (its query or fetch is over): entries left over
 * the cap while every one was busy may go now. */
void	 sts_cache_trim(void);

#endif
