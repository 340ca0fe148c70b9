/*
 * auth.h - subaccounts as gwd sees them (a cache of gw.db, reloaded when
 * gwctl commits) and SMTP AUTH credential checks.  Failed logins are
 * counted and blocked by authguard.h.
 */
#ifndef GW_AUTH_H
#define GW_AUTH_H

#include <stdint.h>
#include <sys/socket.h>

#include "authguard.h"
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
	char		*bounce_domain;	/* VERP domain, or NULL */
};

int	 accounts_init(const char *state_dir, char *err, size_t errsz);
/* Reload when gw.db changed since the last look (cheap; run each 500 ms). */
void	 accounts_poll(void);
/* Reload now, changed or not, with a new policy generation (SIGHUP). */
void	 accounts_reload(void);
const struct subaccount *account_find(const char *name);
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

/*
 * Check credentials off the event loop, on a pool of their own (a flood
 * of logins never delays signing).  The client sees the same 535 and the
 * same time whatever the reason; the reason goes to the log.
 */
enum auth_status {
	AUTH_OK,
	AUTH_FAILED,	/* reason says why; blocked: what it blocked */
	AUTH_BLOCKED,	/* refused unchecked: too many failures before */
	AUTH_BUSY	/* refused unchecked: the check queue is full */
};

struct auth_result {
	enum auth_status status;
	const char	*user;		/* the name tried */
	const char	*subaccount;	/* the name's subaccount, or NULL */
	const char	*reason;	/* AUTH_FAILED */
	int		 blocked;	/* AUTH_FAILED: GUARD_NAME, GUARD_IP */
	const char	*key_id;	/* AUTH_OK with an API key: its id;
					   NULL: the password */
};

struct auth_req;
typedef void (*auth_cb)(void *arg, const struct auth_result *);
/*
 * ip is peer's text form (failures are counted by it).  refuse, when not
 * NULL, fails the attempt with that reason however the check goes (it
 * still runs: the answer takes the same time).  Returns the request
 * while it is under way, or NULL when cb was called already.
 */
struct auth_req *auth_check(const char *user, size_t ulen, const char *pw,
	    size_t pwlen, const struct sockaddr *peer, const char *ip,
	    const char *refuse, auth_cb, void *arg);
/* The session went away: the callback will not be called. */
void	 auth_cancel(struct auth_req *);
/* Checks queued or running; sessions waiting for a place to check. */
int	 auth_queue_depth(void);
int	 auth_waiting(void);

#endif
