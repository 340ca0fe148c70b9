/*
 * account.h - subaccounts as gwd sees them: a snapshot of gw.db (with
 * the DKIM keys, the routing policy, the content policies and the
 * admins' suppression list read in the same transaction), reloaded when
 * gwctl commits.  SMTP AUTH checks credentials against it (auth.h).
 */
#ifndef GW_ACCOUNT_H
#define GW_ACCOUNT_H

#include <stdint.h>
#include <sys/socket.h>

#include "cidr.h"

struct apikey {
	char	id[24];
	char	hash[65];
};

struct subaccount {
	int64_t		 id;
	char		*name;
	int		 enabled;
	char		*pwhash;	/* NULL: no password login */
	char		**domains;
	int		 ndomains;
	struct cidr	*nets;
	int		 nnets;
	struct apikey	*keys;
	int		 nkeys;
	char		*dkim_org;	/* second signature's domain, or NULL */
	int64_t		 quota_hour;	/* messages; 0: no limit */
	int64_t		 quota_day;
	int		 bulk;		/* List-Unsubscribe on its mail */
	char		*bounce_domain;	/* VERP domain, or NULL */
};

int	 accounts_init(const char *state_dir, char *err, size_t errsz);
/* Reload when gw.db changed since the last look (cheap; run each 500 ms). */
void	 accounts_poll(void);
/* Reload now, changed or not, with a new policy generation (SIGHUP). */
void	 accounts_reload(void);
const struct subaccount *account_find(const char *name);
const struct subaccount *account_by_id(int64_t id);
/* 1 when domain is a subaccount's bounce domain (VERP, fbl.h). */
int	 account_is_bounce_domain(const char *domain);
/* The first enabled subaccount whose allowlist holds the address. */
const struct subaccount *account_by_ip(const struct sockaddr *);
/* 1 when `domain` is one of the subaccount's, or a subdomain of one. */
int	 account_owns_domain(const struct subaccount *, const char *domain);
/* 1 when the subaccount has no allowlist, or the address is on it. */
int	 account_ip_allowed(const struct subaccount *, const struct sockaddr *);
int	 accounts_count(void);
void	 accounts_foreach(void (*fn)(const struct subaccount *, void *),
	    void *arg);
/* The routing rules, pools and throttles now; *gen changes with them. */
struct policy;
const struct policy *policy_now(int *gen);
/* fn(what) runs after a reload that changed them (what: POLICY_* bits
 * of policy.h), inside accounts_poll(). */
void	 policy_on_change(void (*fn)(unsigned what));

#endif
