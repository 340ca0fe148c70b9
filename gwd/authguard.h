/*
 * authguard.h - failed logins: counted per client address and user name
 * and per client address, reserved before they are checked, and the
 * blocks they lead to.
 *
 * limits.auth_failures failures of one name from one address within
 * limits.auth_window block that name from that address; auth_failures_ip
 * failures of any names block the whole address (421 at connect).  So one
 * application with a stale password does not lock out the others behind
 * the same NAT address, and guessing across many names from one address
 * still ends soon.
 *
 * An attempt is counted when it starts, not when scrypt answers: each
 * check reserves a place under both limits first, so parallel attempts
 * can never check more than the limits allow.  A success gives its
 * place back.
 */
#ifndef GW_AUTHGUARD_H
#define GW_AUTHGUARD_H

#include <stdint.h>

struct buf;

enum guard_verdict {
	GUARD_OK,	/* reserved: check it, then authguard_release() */
	GUARD_BUSY,	/* attempts under way could still reach a limit:
			 * ask again after the next release */
	GUARD_BLOCKED
};

void	 authguard_init(void);
/*
 * Cluster mode (gwd/cluster_guard.c, wired by main.c so that neither
 * module depends on the other): blocked is told of each block of a
 * whole address this node makes (ms: how long it lasts), and lifted of
 * each address an administrator unblocks here (NULL: all);
 * authguard_block_ip() applies another node's block (ms from now),
 * authguard_unblock_ip() lifts one the cluster no longer has.
 */
void	 authguard_share(void (*blocked)(const char *ip, int64_t ms),
	    void (*lifted)(const char *ip));
void	 authguard_block_ip(const char *ip, int64_t ms);
void	 authguard_unblock_ip(const char *ip);
/* The whole address is blocked. */
int	 authguard_ip_blocked(const char *ip);
/* The address is blocked, or this name from it. */
int	 authguard_blocked(const char *ip, const char *user);
enum guard_verdict authguard_reserve(const char *ip, const char *user);
/* A reserved attempt is over; failed: count it.  What this failure
 * blocked: GUARD_NAME and/or GUARD_IP, or 0. */
#define GUARD_NAME	0x01
#define GUARD_IP	0x02
int	 authguard_release(const char *ip, const char *user, int failed);

/*
 * The control socket's "auth ..." commands (args after "auth "):
 *
 *   blocks		"block ip=IP failures=N until=UNIX-SECONDS[ user=NAME]"
 *			per block (user= last: the name, control bytes as
 *			'?'), then "end"
 *   unblock IP|ALL	lifts the blocks of IP (and of every name from it),
 *			or all; its failures are forgotten: "unblocked N"
 */
void	 authguard_control(struct buf *out, const char *args);

#endif
