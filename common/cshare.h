/*
 * cshare.h - the pure parts of cluster mode (gwd/cluster.c, gwctl):
 * a node's share of a budget while Redis is away, how many tokens to
 * take from Redis at once, the local token cache the scheduler asks
 * synchronously, and the Lua scripts and key names every node and
 * gwctl agree on.  No I/O; times are monotonic milliseconds.
 *
 * The slack of the token cache.  A node takes at most cshare_batch()
 * tokens of a per-minute limit at once (about a second's worth), from
 * a GCRA bucket in Redis whose burst is that batch; a token it has not
 * used within TCACHE_HOLD_MS lapses.  So in any window of W ms the
 * whole cluster sends at most W / T + batch + TCACHE_HOLD_MS / T
 * messages (T = 60000 / limit): for 60/min, 60 + 1 + 1 a minute; for
 * 600/min, 600 + 10 + 10.
 */
#ifndef GW_CSHARE_H
#define GW_CSHARE_H

#include <stddef.h>
#include <stdint.h>

#define TCACHE_HOLD_MS	1000	/* a granted token lapses after */
#define TCACHE_POLL_MS	20	/* ask the scheduler back while waiting */
#define TCACHE_BATCH_MAX 20

/* Redis keys (a prefix and a name). */
#define CK_RATE		"gw:rate:"	/* GCRA state: the TAT, ms */
#define CK_NODES	"gw:nodes"	/* zset: node -> last seen, ms */
#define CK_NODE_GWD	"gw:nodes:gwd"	/* hash: node -> the gwd that
					   heartbeat last */
#define CK_STATS	"gw:stats:"	/* a node's snapshot, JSON */
#define CK_SUPP_HASH	"gw:suppressed"	/* "SUB\nADDR" -> entry */
#define CK_SUPP_STREAM	"gw:suppression"	/* its changes */
#define CK_QUOTA	"gw:quota:"	/* hash: minute -> count */
#define CK_CONFIG	"gw:config"	/* stream: gw.db changesets */
#define CK_CONFIG_SNAP	"gw:config:snapshot"	/* hash: id, cs, node,
						   trimmed, seqs */
#define CK_CONFIG_SNAP_LOCK "gw:config:snapshot:lock"	/* the node
						   publishing one */
#define CK_AUTHBLOCK	"gw:authblock"	/* zset: address -> until, Unix ms */
#define CK_PAUSED	"gw:paused"	/* hash: subaccount -> reason */
#define CK_HMAC		"gw:hmac"	/* hash: purpose -> key, base64 */
#define CK_LEASE	"gw:lease:"	/* zset: node -> lapses at, ms */
#define CK_LEASE_N	"gw:leasen:"	/* hash: node -> connections */

/*
 * The gw.db tables every node shares (gwd/cluster_config.c): gwctl
 * records their changes as SQLite changesets, NULL-terminated.  Not
 * among them: suppression (shared entry by entry, CK_SUPP_*), dkim_key
 * (it holds the private keys, which stay on the node that made them:
 * gwd.conf(5) CLUSTER), and the cluster_* bookkeeping itself.
 */
extern const char *const cshare_config_tables[];

/* A node's heartbeat lives this long: a node not seen for it is gone. */
#define CSHARE_NODE_TTL_MS	10000
/* A node's connection leases (renewed every second) lapse after this
 * when it stops renewing them: a node killed frees its share then. */
#define CSHARE_LEASE_TTL_MS	5000

/*
 * A node's share of budget while Redis cannot be asked: budget / live
 * nodes (the last count seen), rounded down, but at least 1 so that no
 * node stops entirely (a budget smaller than the node count is then
 * exceeded by at most live - budget).  budget <= 0 (no limit) as is.
 */
int64_t	 cshare_share(int64_t budget, int live);

/* Tokens to ask for at once for a per-minute limit: a second's worth,
 * 1..TCACHE_BATCH_MAX. */
int	 cshare_batch(int per_minute);

struct tcache {
	int	 tokens;	/* granted, not used yet */
	int	 low;		/* ask again when down to this many */
	int64_t	 expires;	/* they lapse then */
	int64_t	 retry_at;	/* Redis said none before then */
	int	 pending;	/* a request is under way */
};

/*
 * 0 when a token is held now; else how long to wait before asking
 * again.  *ask is set when a request should go to Redis now (the
 * caller then calls tcache_asked()): when none is held, and also while
 * tokens remain but are down to half the last grant, so that the next
 * batch is there before they run out (deliveries never wait a poll
 * for a round trip while the rate allows them).
 */
int64_t	 tcache_wait(struct tcache *, int64_t now, int *ask);
void	 tcache_asked(struct tcache *);
void	 tcache_use(struct tcache *);
/* Redis granted n tokens, added to those held, all held for
 * TCACHE_HOLD_MS from now (n 0: none before retry_ms from now). */
void	 tcache_granted(struct tcache *, int n, int64_t retry_ms,
	    int64_t now);
/* The request got no answer (Redis went away). */
void	 tcache_failed(struct tcache *);

/* cluster.redis ("IP:port", "[IPv6]:port") as hiredis takes it: -1
 * when it is not an address. */
int	 cshare_redis_addr(const char *s, char *ip, size_t ipsz, int *port);
/* The first line of cluster.password_file into out (at most
 * CSHARE_PASSWORD_MAX bytes); -1 with the reason in err. */
#define CSHARE_PASSWORD_MAX	512
int	 cshare_password(const char *path, char *out, size_t outsz,
	    char *err, size_t errsz);

/* The Lua scripts, by number; EVALSHA with cshare_script_sha(). */
enum cscript {
	CS_GCRA,	/* KEYS: rate key; ARGV: T ms, burst, n ->
			   { granted, retry ms } */
	CS_HEARTBEAT,	/* KEYS: nodes, node gwd; ARGV: node, ttl ms, this
			   gwd -> { live, the gwd before ("": none) } */
	CS_SUPPRESS,	/* KEYS: hash, stream; ARGV: op, key, reason,
			   source, created, node -> stream id */
	CS_QUOTA,	/* KEYS: quota key; ARGV: hour limit, day limit,
			   n -> { granted, hour used, day used } */
	CS_LEASE,	/* KEYS: lease zset, lease hash; ARGV: node, held,
			   limit (0: none), ttl ms -> 1 granted, 0 not */
	CS_HMAC,	/* KEYS: hmac hash; ARGV: purpose, key, ... ->
			   the hash (the first node's keys) */
	CS_SNAPSHOT,	/* KEYS: snapshot hash, config stream, lock;
			   ARGV: id, changeset, node, lock token, marks
			   -> id kept, or 0 (older); the lock given
			   back */
	CS_SNAPCLAIM,	/* KEYS: lock, snapshot hash; ARGV: token, ttl
			   ms, snapshot id seen ("": none) -> 1 the lock
			   taken, 0 not */
	CS_COUNT
};
const char *cshare_script(enum cscript);
/* Its SHA1 in hex (41 bytes), as SCRIPT LOAD names it. */
const char *cshare_script_sha(enum cscript);

#endif
