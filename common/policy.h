/*
 * policy.h - the delivery policy an admin keeps in gw.db (written by
 * gwctl route/pool/throttle): routing rules in order, IP pools with
 * their source addresses and HELO names, and per-domain throttles.
 * gwd loads it in the same snapshot as the subaccounts; gwctl's
 * `route test` loads it to show what gwd would do.
 */
#ifndef GW_POLICY_H
#define GW_POLICY_H

#include <stdint.h>
#include <sys/socket.h>

#include <sqlite3.h>

#include "rules.h"

struct pool_addr {
	char			*address;	/* as stored: "127.0.0.2" */
	char			*helo;		/* NULL: gwd's hostname */
	struct sockaddr_storage	 sa;		/* port 0 */
	socklen_t		 salen;
};

struct pool {
	char			*name;
	struct pool_addr	*addr;
	int			 naddr;
};

/* Per recipient domain; -1: the default (relay.* in gwd.conf). */
struct throttle {
	char	*domain;	/* a domain or a pattern ("*.yahoo.com") */
	int	 connections;
	int	 per_connection;
	int	 per_minute;
};

/* The parts of a policy, as bits: which changed (policy_diff). */
#define POLICY_RULES		0x1
#define POLICY_POOLS		0x2
#define POLICY_THROTTLES	0x4
#define POLICY_NPARTS		3

struct policy {
	struct rule	*rules;
	int		 nrules;
	struct pool	*pools;
	int		 npools;
	struct throttle	*throttles;
	int		 nthrottles;
	uint64_t	 sum[POLICY_NPARTS];	/* of the rows read, per part */
};

/* Read everything (inside the caller's read transaction): 0, or -1. */
int	 policy_load(sqlite3 *, struct policy *);
/* The parts (POLICY_* bits) in which two loaded policies differ; 0: the
 * same rows were read for both. */
unsigned policy_diff(const struct policy *, const struct policy *);
void	 policy_free(struct policy *);
const struct pool *policy_pool(const struct policy *, const char *name);
/* The throttle for a recipient domain: an exact entry, else the longest
 * matching pattern; NULL: defaults. */
const struct throttle *policy_throttle(const struct policy *,
	    const char *domain);

#endif
