/*
 * cshare.c - the pure parts of cluster mode (see cshare.h).
 * Exposure: none; numbers from gwd and Redis replies already parsed,
 * gwd.conf's cluster settings (already checked).
 * Diagnostics: cshare_redis_addr() and cshare_password() return -1;
 * nothing else fails.
 *
 * The scripts take the time from Redis (TIME), never from a node: the
 * nodes' clocks need not agree.  Redis 7 replicates a script's effects,
 * so a script that reads the time may write.
 */
#include <sys/socket.h>

#include <openssl/evp.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "cshare.h"
#include "util.h"

int
cshare_redis_addr(const char *s, char *ip, size_t ipsz, int *port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char p[16];

	if (sockaddr_parse(s, 6379, &ss, &sl) == -1 ||
	    getnameinfo((struct sockaddr *)&ss, sl, ip, (socklen_t)ipsz, p,
	    sizeof(p), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return -1;
	*port = atoi(p);
	return 0;
}

int
cshare_password(const char *path, char *out, size_t outsz, char *err,
    size_t errsz)
{
	char line[CSHARE_PASSWORD_MAX + 2];
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errsz, "cluster.password_file: %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	if (line[0] == '\0' || strlen(line) > CSHARE_PASSWORD_MAX ||
	    strlen(line) >= outsz) {
		snprintf(err, errsz, "cluster.password_file: %s: no password "
		    "on its first line (at most %d bytes)", path,
		    CSHARE_PASSWORD_MAX);
		return -1;
	}
	memcpy(out, line, strlen(line) + 1);
	explicit_bzero(line, sizeof(line));
	return 0;
}

int64_t
cshare_share(int64_t budget, int live)
{
	int64_t r;

	if (budget <= 0)
		return budget;
	if (live < 1)
		live = 1;
	r = budget / live;
	return r < 1 ? 1 : r;
}

int
cshare_batch(int per_minute)
{
	int b = per_minute / 60;

	if (b < 1)
		return 1;
	return b > TCACHE_BATCH_MAX ? TCACHE_BATCH_MAX : b;
}

int64_t
tcache_wait(struct tcache *t, int64_t now, int *ask)
{
	*ask = 0;
	if (t->tokens > 0 && now >= t->expires)
		t->tokens = 0;		/* lapsed: others may have them */
	if (t->tokens > 0) {
		*ask = t->tokens <= t->low && !t->pending &&
		    now >= t->retry_at;
		return 0;
	}
	if (t->pending)
		return TCACHE_POLL_MS;
	if (now < t->retry_at)
		return t->retry_at - now;
	*ask = 1;
	return TCACHE_POLL_MS;
}

void
tcache_asked(struct tcache *t)
{
	t->pending = 1;
}

void
tcache_use(struct tcache *t)
{
	if (t->tokens > 0)
		t->tokens--;
}

void
tcache_granted(struct tcache *t, int n, int64_t retry_ms, int64_t now)
{
	t->pending = 0;
	if (n > 0) {
		t->tokens += n;
		t->low = n / 2;
		t->expires = now + TCACHE_HOLD_MS;
		t->retry_at = 0;
	} else
		t->retry_at = now + (retry_ms > 0 ? retry_ms : TCACHE_POLL_MS);
}

void
tcache_failed(struct tcache *t)
{
	t->pending = 0;
}

/*
 * GCRA (the generic cell rate algorithm, as in ATM and KumoMTA's
 * throttles): one number per key, the theoretical arrival time of the
 * next message.  k messages may go when TAT + k*T stays within burst*T
 * of now.  Grants up to n at once; none: how long until one may.
 */
static const char gcra[] =
"local t = redis.call('TIME')\n"
"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
"local T = tonumber(ARGV[1])\n"
"local burst = tonumber(ARGV[2])\n"
"local n = tonumber(ARGV[3])\n"
"local tat = tonumber(redis.call('GET', KEYS[1]) or now)\n"
"if tat < now then tat = now end\n"
"local k = math.floor((now + burst * T - tat) / T)\n"
"if k > n then k = n end\n"
"if k <= 0 then return { 0, tat - burst * T + T - now } end\n"
"tat = tat + k * T\n"
"redis.call('SET', KEYS[1], tat, 'PX', tat - now + 1000)\n"
"return { k, 0 }\n";

/* The node's last-seen time, and how many nodes were seen within ttl
 * (itself included); nodes gone a day are forgotten. */
static const char heartbeat[] =
"local t = redis.call('TIME')\n"
"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
"redis.call('ZADD', KEYS[1], now, ARGV[1])\n"
"redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 86400000)\n"
"local prev = redis.call('HGET', KEYS[2], ARGV[1]) or ''\n"
"redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])\n"
"return { redis.call('ZCOUNT', KEYS[1], now - tonumber(ARGV[2]), '+inf'),"
" prev }\n";

/* One change of the suppression list: the hash holds the list, the
 * stream tells every node (trimmed: a node that falls behind reloads
 * the hash). */
static const char suppress[] =
"if ARGV[1] == 'add' then\n"
"  redis.call('HSET', KEYS[1], ARGV[2], ARGV[4] .. '\\n' .. ARGV[5] .. "
"'\\n' .. ARGV[3])\n"
"else\n"
"  redis.call('HDEL', KEYS[1], ARGV[2])\n"
"end\n"
"return redis.call('XADD', KEYS[2], 'MAXLEN', '~', 100000, '*', 'op', "
"ARGV[1], 'key', ARGV[2], 'reason', ARGV[3], 'source', ARGV[4], "
"'created', ARGV[5], 'node', ARGV[6])\n";

/*
 * A subaccount's messages per minute (a hash, field = minute); takes up
 * to n within the hour and day limits (0: none), or with ARGV[4] = 1
 * adds n whatever the limits (what a node accepted while Redis was
 * away; n < 0 gives back).
 */
static const char quota[] =
"local t = redis.call('TIME')\n"
"local m = math.floor(tonumber(t[1]) / 60)\n"
"local hl, dl = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
"local n, force = tonumber(ARGV[3]), ARGV[4] == '1'\n"
"local h, d = 0, 0\n"
"local all = redis.call('HGETALL', KEYS[1])\n"
"for i = 1, #all, 2 do\n"
"  local f, c = tonumber(all[i]), tonumber(all[i + 1])\n"
"  if f <= m - 1440 then redis.call('HDEL', KEYS[1], all[i])\n"
"  else\n"
"    d = d + c\n"
"    if f > m - 60 then h = h + c end\n"
"  end\n"
"end\n"
"local k = n\n"
"if not force then\n"
"  if hl > 0 and hl - h < k then k = hl - h end\n"
"  if dl > 0 and dl - d < k then k = dl - d end\n"
"  if k < 0 then k = 0 end\n"
"end\n"
"if k ~= 0 then\n"
"  redis.call('HINCRBY', KEYS[1], m, k)\n"
"  redis.call('PEXPIRE', KEYS[1], 90000000)\n"
"end\n"
"return { k, h + k, d + k }\n";

/*
 * Connections as leases: per key, a hash node -> connections it holds
 * and a sorted set node -> when they lapse (Redis time, ms).  A node
 * states how many it holds in all (ARGV[2]; 0: none), which is granted
 * when the others' unexpired leases leave room under the limit
 * (ARGV[3]; 0: granted whatever, for a release or a renewal); the
 * leases of a node that stopped renewing them (killed) lapse after
 * the TTL.  -> 1 granted, 0 not.
 */
static const char lease[] =
"local t = redis.call('TIME')\n"
"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
"for _, n in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do\n"
"  redis.call('ZREM', KEYS[1], n)\n"
"  redis.call('HDEL', KEYS[2], n)\n"
"end\n"
"local want, limit = tonumber(ARGV[2]), tonumber(ARGV[3])\n"
"local ttl = tonumber(ARGV[4])\n"
"if limit > 0 then\n"
"  local others = 0\n"
"  local all = redis.call('HGETALL', KEYS[2])\n"
"  for i = 1, #all, 2 do\n"
"    if all[i] ~= ARGV[1] then others = others + tonumber(all[i + 1]) end\n"
"  end\n"
"  if others + want > limit then return 0 end\n"
"end\n"
"if want > 0 then\n"
"  redis.call('HSET', KEYS[2], ARGV[1], want)\n"
"  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])\n"
"  redis.call('PEXPIRE', KEYS[1], ttl)\n"
"  redis.call('PEXPIRE', KEYS[2], ttl)\n"
"else\n"
"  redis.call('HDEL', KEYS[2], ARGV[1])\n"
"  redis.call('ZREM', KEYS[1], ARGV[1])\n"
"end\n"
"return 1\n";

/* gw.db's HMAC keys: the first node's stand (HSETNX); every node takes
 * them (gwd/cluster_config.c). */
static const char hmac[] =
"for i = 1, #ARGV - 1, 2 do\n"
"  redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1])\n"
"end\n"
"return redis.call('HGETALL', KEYS[1])\n";

/*
 * A snapshot of gw.db's shared tables as of stream id ARGV[1]: kept
 * unless the one there is as new; the stream is then trimmed below the
 * snapshot it replaces (field trimmed), so only a node that fell a
 * whole snapshot behind needs one.  The lock snapclaim gave is given
 * back if it is still the caller's (token ARGV[4]).  ARGV[5], the
 * nodes' marks (gwd/cluster_outbox.c), replaces those of the last.
 */
static const char snapshot[] =
"if redis.call('GET', KEYS[3]) == ARGV[4] then\n"
"  redis.call('DEL', KEYS[3])\n"
"end\n"
"local function sid(s)\n"
"  local a, b = string.match(s, '^(%d+)-(%d+)$')\n"
"  return tonumber(a) or 0, tonumber(b) or 0\n"
"end\n"
"local cur = redis.call('HGET', KEYS[1], 'id')\n"
"if cur then\n"
"  local cm, cs = sid(cur)\n"
"  local nm, ns = sid(ARGV[1])\n"
"  if cm > nm or (cm == nm and cs >= ns) then return 0 end\n"
"  redis.call('XTRIM', KEYS[2], 'MINID', cur)\n"
"  redis.call('HSET', KEYS[1], 'trimmed', cur)\n"
"end\n"
"redis.call('HSET', KEYS[1], 'id', ARGV[1], 'cs', ARGV[2], 'node', "
"ARGV[3], 'seqs', ARGV[5] or '')\n"
"return ARGV[1]\n";

/*
 * The right to publish the next snapshot (gwd/cluster_config.c): one
 * node at a time (the lock lapses after ARGV[2] ms: a node that dies
 * holding it stops no one for longer), and only a node that saw the
 * snapshot there now (ARGV[3]), so none publishes again the interval
 * another has just published.
 */
static const char snapclaim[] =
"if (redis.call('HGET', KEYS[2], 'id') or '') ~= ARGV[3] then\n"
"  return 0\n"
"end\n"
"if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then\n"
"  return 1\n"
"end\n"
"return 0\n";

static const char *const scripts[CS_COUNT] = { gcra, heartbeat, suppress,
    quota, lease, hmac, snapshot, snapclaim };

const char *const cshare_config_tables[] = {
	"subaccount", "subaccount_domain", "subaccount_ip", "api_key",
	"dkim_domain", "pool", "pool_address", "route_rule", "throttle",
	"content_policy", "hmac_key", "webhook", "alert", NULL
};

const char *
cshare_script(enum cscript s)
{
	return scripts[s];
}

const char *
cshare_script_sha(enum cscript s)
{
	static char hex[CS_COUNT][41];
	unsigned char md[20];

	if (hex[s][0] == '\0') {
		EVP_Digest(scripts[s], strlen(scripts[s]), md, NULL,
		    EVP_sha1(), NULL);
		hex_encode(md, sizeof(md), hex[s]);
	}
	return hex[s];
}
