/*
 * auth.h - SMTP AUTH credential checks against the subaccounts
 * (account.h, included here for the files that use both).  Failed
 * logins are counted and blocked by authguard.h.
 */
#ifndef GW_AUTH_H
#define GW_AUTH_H

#include <stdint.h>
#include <sys/socket.h>

#include "account.h"
#include "authguard.h"

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

/* Before the first check (after worker_init()). */
void	 auth_init(void);

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
