/*
 * sts.h - the MTA-STS policy (RFC 8461) of a destination domain, for
 * route.c: the _mta-sts TXT record by gwd's resolver (kept for its
 * TTL), the policy file by httpc (certificate verified; a failure
 * backs off), kept by id until max_age in memory and in queue.db.
 */
#ifndef GW_STS_H
#define GW_STS_H

#include "mtasts.h"

struct sts_result {
	int			 on;	/* a policy applies (any mode) */
	struct mtasts_policy	 pol;
	char			 why[240];	/* no policy: why ("" = the
						   domain has none) */
};

struct sts_req;
/* Runs from the loop, never inside sts_lookup(). */
typedef void (*sts_cb)(void *arg, const struct sts_result *);

/* The policy of domain (A-labels): bounded by mta_sts.timeout plus the
 * DNS timeout. */
struct sts_req *sts_lookup(const char *domain, sts_cb, void *arg);
void	 sts_cancel(struct sts_req *);
/* Load the unexpired policies kept in queue.db (start-up, before the
 * loop); 0, or -1 with err. */
int	 sts_init(const char *state_dir, char *err, size_t errsz);
/* Forget every cached policy (gwd shutdown, every request cancelled). */
void	 sts_cache_free(void);
/* Domains in the cache, and how many of them have a policy. */
void	 sts_cache_counts(int *domains, int *policies);

#endif
