/*
 * smarthost.h - the health of smarthosts: which of a list's hosts a
 * connection tries, in what order, and the checks and delivery outcomes
 * that mark a host down (a circuit breaker) and up again.
 */
#ifndef GW_SMARTHOST_H
#define GW_SMARTHOST_H

#include <stdint.h>

struct buf;
struct sh_entry;
struct shlist;
struct target;

void	 smarthost_start(void);
void	 smarthost_stop(void);
/*
 * The targets of a smarthost route (route.c: each names its entry of
 * l), put in the order one connection tries them: the hosts that are
 * up, lower priority first, hosts of one priority in a weighted random
 * order; hosts that are down are left out, unless every host is down:
 * then all are tried, in the same order, as if they were up.
 */
void	 smarthost_order(const struct shlist *l, struct target *t, int *n);
/* A delivery connection's setup on entry e: connected and greeted (ok),
 * or not (why).  Counts towards fall and rise as a check does. */
void	 smarthost_outcome(const struct sh_entry *e, int ok, const char *why);
/* How many of l's hosts are up now, of how many. */
void	 smarthost_health(const struct shlist *l, int *up, int *total);
/* Each smarthost of gwd.conf and the rules, for `destinations`:
 * "smarthost NAME up=0|1 failures=N successes=N changed=UNIX
 * error=TEXT" lines. */
void	 smarthost_control(struct buf *out);
/* gw_smarthost_up{host="NAME"} 0|1 for /metrics. */
void	 smarthost_prometheus(struct buf *out);

#endif
