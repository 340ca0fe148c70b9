/*
 * auth.h - subaccounts as gwd sees them (a cache of gw.db, reloaded when
 * gwctl commits), SMTP AUTH credential checks, and the per-address count
 * of failed logins.
 */
#ifndef GW_AUTH_H
#define GW_AUTH_H

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
};

int	 accounts_init(const char *state_dir, char *err, size_t errsz);
/* Reload when gw.db changed since the last look (cheap; run each 500 ms). */
void	 accounts_poll(void);
/* Reload now, changed or not, with a new policy generation (SIGHUP). */
void	 accounts_reload(void);
const struct subaccount *account_find(const char *name);
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

/*
 * Check credentials off the event loop.  cb(arg, name) gets the
 * subaccount name on success, NULL on failure.  A failure looks the same
 * whatever the reason (unknown user, wrong password, disabled, address
 * not allowed) and costs the same time.
 */
struct auth_req;
typedef void (*auth_cb)(void *arg, const char *subaccount);
struct auth_req *auth_check(const char *user, size_t ulen, const char *pw,
	    size_t pwlen, const struct sockaddr *peer, auth_cb, void *arg);
/* The session went away: the callback will not be called. */
void	 auth_cancel(struct auth_req *);

/* Failed-login accounting per client address. */
int	 auth_blocked(const char *ip);
/* Count a failure; 1 when the address is now blocked. */
int	 auth_failure(const char *ip);

#endif
