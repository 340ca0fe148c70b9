/*
 * cluster.h - several gwd nodes sharing limits and the suppression list
 * through Redis (gwd.conf's cluster section; common/cshare.h for the
 * pure parts and the slack of the shared limits).
 *
 * Without cluster.redis nothing here talks to anyone: cluster_enabled()
 * is 0 and every limit is this node's alone, as before.  With it, gwd
 * keeps one connection to Redis, driven from the loop (hiredis's async
 * API; no call here blocks), and is either
 *   up        Redis answers: per-minute limits and quotas are taken
 *             from shared budgets, a token batch at a time; the
 *             suppression list is shared (cluster_supp.c), and so
 *             is gw.db's configuration (cluster_config.c);
 *   degraded  Redis does not: each node applies its share of every
 *             budget (budget / the live nodes last seen), says so in
 *             the log, /health and gwtop, and reconnects with backoff.
 */
#ifndef GW_CLUSTER_H
#define GW_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

struct gw_config;

/* Before privileges are dropped: read the password file.  -1 with the
 * reason in err. */
int	 cluster_init(const struct gw_config *, char *err, size_t errsz);
/*
 * On the loop: connect, then keep connected.  Two modules above this
 * one are reached through the functions given here (so neither depends
 * on the other both ways): supp applies a change of the shared
 * suppression list (suppress_shared), stats writes this node's stats
 * lines (metrics_report_stats).
 */
struct buf;
void	 cluster_start(void (*supp)(int add, const char *key,
	    const char *reason, const char *source, int64_t created),
	    void (*stats)(struct buf *));

int	 cluster_enabled(void);
/* 1 while Redis answers. */
int	 cluster_up(void);
/* Nodes seen alive at the last heartbeat (this one included), >= 1. */
int	 cluster_live(void);
/* "ok", "degraded", or NULL when there is no cluster. */
const char *cluster_state(void);
/* This node's name in the cluster (cluster.node, else the hostname). */
const char *cluster_node(void);

/*
 * A shared per-minute limit (cluster_rate.c; up only): 0 when this
 * node holds a token for key now, else the milliseconds after which to
 * ask again (a request for more goes to Redis meanwhile).
 * cluster_rate_used() spends the token.
 */
int64_t	 cluster_rate_wait(const char *key, int per_minute, int64_t now);
void	 cluster_rate_used(const char *key);

/*
 * Connections as leases (cluster_lease.c): a throttle's connection
 * limit is the cluster's.  The scheduler gives count (this node's
 * connections under a key now) and kick (try key's destinations
 * again: a lease came, or a refusal's wait is over).
 * cluster_lease_room() (up only): 1 when this node holds a lease for
 * one more connection under key now, else 0 (Redis is asked; kick
 * comes later).  cluster_lease_closed(): one closed, its lease goes
 * back.  Leases are renewed every second and lapse
 * CSHARE_LEASE_TTL_MS after a node stops.
 */
void	 cluster_lease_hooks(int (*count)(const char *key),
	    void (*kick)(const char *key));
int	 cluster_lease_room(const char *key, int limit);
void	 cluster_lease_closed(const char *key);

/*
 * Quotas (cluster_quota.c): a transaction of subaccount sub, whose
 * quotas are hour and day (0: none), wants one message of them.
 *   CQ_NONE  no token is involved (no quota, or Redis away: the node's
 *            share applies, quota.c);
 *   CQ_OK    one is held for the transaction: spent when its message
 *            is accepted, else cluster_quota_return();
 *   CQ_OVER  the cluster's quota is used up;
 *   CQ_WAIT  Redis is asked: done(arg, CQ_OK, CQ_OVER or CQ_AWAY) comes
 *            later, unless cluster_quota_cancel(arg) first.
 * A message accepted without a token is told with
 * cluster_quota_unshared(): while the cluster is degraded it is counted
 * in Redis when Redis is back.
 */
enum { CQ_NONE, CQ_OK, CQ_OVER, CQ_WAIT, CQ_AWAY };
typedef void (*cquota_done)(void *arg, int verdict);
int	 cluster_quota_take(const char *sub, int64_t hour, int64_t day,
	    cquota_done done, void *arg);
void	 cluster_quota_return(const char *sub);
void	 cluster_quota_cancel(void *arg);
void	 cluster_quota_unshared(const char *sub);
/* An accepted message was not stored after all: it does not count. */
void	 cluster_quota_refund(const char *sub);

/*
 * Login blocks of whole addresses and subaccount pauses
 * (cluster_shared.c): the hooks given apply the cluster's on this node
 * (authguard.h, pause.h); publish and lift tell the cluster of this
 * node's (ip NULL: every address).
 */
void	 cluster_share_guard(void (*block)(const char *ip, int64_t ms),
	    void (*lift)(const char *ip));
void	 cluster_authblock_publish(const char *ip, int64_t ms);
void	 cluster_authblock_lift(const char *ip);
void	 cluster_share_pauses(void (*pause)(const char *sub,
	    const char *reason), void (*resume)(const char *sub));
void	 cluster_pause_publish(const char *sub, const char *reason);
void	 cluster_pause_lift(const char *sub);

/*
 * A change of the suppression list for every node: key is
 * "SUBACCOUNT\nADDRESS" (suppress.c's form).  Kept in memory while Redis
 * is away and sent when it is back.
 */
void	 cluster_suppress_publish(int add, const char *key,
	    const char *reason, const char *source, int64_t created);

#endif
