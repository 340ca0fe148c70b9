/*
 * authguard.c - failed-login accounting, reservations and blocks (see
 * authguard.h).
 * Standards: RFC 4954 (SMTP AUTH).
 * Exposure: keyed by the client's address and the user name it sent
 * (untrusted, at most 255 bytes, no NUL); names are never shown to a
 * client and are cleaned of control bytes on the control socket.
 * Diagnostics: blocks are logged by the session that caused them;
 * control requests answer "error REASON" when malformed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authguard.h"
#include "buf.h"
#include "cidr.h"
#include "gwd.h"
#include "hmap.h"
#include "log.h"
#include "loop.h"
#include "util.h"

#define GUARD_TABLE_MAX	100000	/* entries before stale ones are pruned */
#define NAME_KEY_MAX	(INET6_ADDRSTRLEN + 1 + 256)

struct guard {
	int	 failures;	/* in the window; at a block, what led to it */
	int	 pending;	/* reserved: being checked now */
	int64_t	 window_start;
	int64_t	 blocked_until;
};

static struct hmap	 by_ip;		/* "IP" */
static void		(*share_blocked)(const char *, int64_t);
static void		(*share_lifted)(const char *);
static struct hmap	 by_name;	/* "IP\nNAME": an IP has no newline */

void
authguard_init(void)
{
	hmap_init(&by_ip);
	hmap_init(&by_name);
}

static const char *
name_key(const char *ip, const char *user, char key[NAME_KEY_MAX])
{
	/* Names are at most 255 bytes (sasl.c); longer would share a key. */
	snprintf(key, NAME_KEY_MAX, "%s\n%s", ip, user);
	return key;
}

static struct guard *
guard_get(struct hmap *m, const char *key, int create)
{
	struct guard *g = hmap_get(m, key);

	if (g == NULL && create) {
		g = xcalloc(1, sizeof(*g));
		hmap_put(m, key, g);
	}
	return g;
}

/* A block that ran out, or a window that did, starts counting afresh. */
static void
guard_roll(struct guard *g, int64_t now)
{
	if (g->blocked_until != 0 && g->blocked_until <= now) {
		g->blocked_until = 0;
		g->failures = 0;
		g->window_start = now;
	}
	if (g->window_start + gcfg->limits.auth_window_ms <= now) {
		g->window_start = now;
		g->failures = 0;
	}
}

static int
guard_is_blocked(const struct guard *g, int64_t now)
{
	return g != NULL && g->blocked_until > now;
}

static int
guard_stale(const char *key, void *v, void *arg)
{
	struct guard *g = v;
	int64_t now = *(int64_t *)arg;

	if (g->pending > 0 || g->blocked_until > now ||
	    g->window_start + gcfg->limits.auth_window_ms > now)
		return 0;
	free(g);
	return 1;
}

/* Bound the tables: attempts from many addresses and names must not grow
 * them without limit.  Entries in use or still counting stay. */
static void
guard_prune(int64_t now)
{
	if (hmap_count(&by_ip) > GUARD_TABLE_MAX)
		hmap_foreach(&by_ip, guard_stale, &now);
	if (hmap_count(&by_name) > GUARD_TABLE_MAX)
		hmap_foreach(&by_name, guard_stale, &now);
}

int
authguard_ip_blocked(const char *ip)
{
	return guard_is_blocked(hmap_get(&by_ip, ip), loop_now());
}

int
authguard_blocked(const char *ip, const char *user)
{
	char key[NAME_KEY_MAX];
	int64_t now = loop_now();

	return guard_is_blocked(hmap_get(&by_ip, ip), now) ||
	    guard_is_blocked(hmap_get(&by_name, name_key(ip, user, key)), now);
}

/* Failures and attempts under way reach limit. */
static int
guard_full(struct guard *g, int limit, int64_t now)
{
	if (g == NULL)
		return 0;
	guard_roll(g, now);
	return g->failures + g->pending >= limit;
}

enum guard_verdict
authguard_reserve(const char *ip, const char *user)
{
	char key[NAME_KEY_MAX];
	int64_t now = loop_now();
	struct guard *a, *n;

	guard_prune(now);
	name_key(ip, user, key);
	a = guard_get(&by_ip, ip, 0);
	n = guard_get(&by_name, key, 0);
	if (guard_is_blocked(a, now) || guard_is_blocked(n, now))
		return GUARD_BLOCKED;
	/* Count every attempt under way as a failure until it says
	 * otherwise: the limit holds however many arrive at once. */
	if (guard_full(a, gcfg->limits.auth_failures_ip, now) ||
	    guard_full(n, gcfg->limits.auth_failures, now))
		return GUARD_BUSY;
	if (a == NULL)
		(a = guard_get(&by_ip, ip, 1))->window_start = now;
	if (n == NULL)
		(n = guard_get(&by_name, key, 1))->window_start = now;
	a->pending++;
	n->pending++;
	return GUARD_OK;
}

/* An entry that holds nothing (a success, or a check never made) goes:
 * logins that fail nothing must not fill the tables. */
static void
guard_drop_empty(struct hmap *m, const char *key, struct guard *g)
{
	if (g->pending == 0 && g->failures == 0 && g->blocked_until == 0) {
		hmap_del(m, key);
		free(g);
	}
}

/* One failure more; 1 when it reaches limit and blocks. */
static int
guard_fail(struct guard *g, int limit, int64_t now)
{
	guard_roll(g, now);
	if (++g->failures < limit)
		return 0;
	g->blocked_until = now + gcfg->limits.auth_block_ms;
	return 1;
}

int
authguard_release(const char *ip, const char *user, int failed)
{
	char key[NAME_KEY_MAX];
	int64_t now = loop_now();
	struct guard *a, *n;
	int blocked;

	a = guard_get(&by_ip, ip, 1);
	n = guard_get(&by_name, name_key(ip, user, key), 1);
	if (a->pending > 0)
		a->pending--;
	if (n->pending > 0)
		n->pending--;
	if (!failed) {
		guard_drop_empty(&by_ip, ip, a);
		guard_drop_empty(&by_name, key, n);
		return 0;
	}
	blocked = guard_fail(n, gcfg->limits.auth_failures, now) ?
	    GUARD_NAME : 0;
	if (guard_fail(a, gcfg->limits.auth_failures_ip, now)) {
		blocked |= GUARD_IP;
		if (share_blocked)
			share_blocked(ip, gcfg->limits.auth_block_ms);
	}
	return blocked;
}

void
authguard_share(void (*blocked)(const char *, int64_t),
    void (*lifted)(const char *))
{
	share_blocked = blocked;
	share_lifted = lifted;
}

void
authguard_block_ip(const char *ip, int64_t ms)
{
	struct guard *g = guard_get(&by_ip, ip, 1);
	int64_t now = loop_now();

	if (g->blocked_until < now + ms) {
		if (!guard_is_blocked(g, now))
			log_info("auth: %s blocked for %llds by another node of "
			    "the cluster", ip, (long long)(ms / 1000));
		g->blocked_until = now + ms;
		g->window_start = now;
	}
}

void
authguard_unblock_ip(const char *ip)
{
	struct guard *g = hmap_get(&by_ip, ip);

	if (g != NULL && guard_is_blocked(g, loop_now())) {
		g->blocked_until = 0;
		g->failures = 0;
		g->window_start = loop_now();
		log_info("auth: %s unblocked: the cluster has lifted it", ip);
	}
}

/* The control socket. */

struct listing {
	struct buf	*out;
	int		 names;		/* walking by_name */
	int64_t		 now;
};

static int
list_block(const char *key, void *v, void *arg)
{
	struct listing *l = arg;
	const struct guard *g = v;
	size_t iplen = strcspn(key, "\n");

	if (!guard_is_blocked(g, l->now))
		return 0;
	/* Blocks run on the loop's monotonic clock; shown in wall time. */
	buf_printf(l->out, "block ip=%.*s failures=%d until=%lld", (int)iplen,
	    key, g->failures, (long long)((now_us() / 1000 +
	    g->blocked_until - l->now) / 1000));
	if (l->names) {
		buf_puts(l->out, " user=");
		for (const char *p = key + iplen + 1; *p; p++)
			buf_putc(l->out, (unsigned char)*p < 0x20 ||
			    *p == 0x7f ? '?' : *p);
	}
	buf_putc(l->out, '\n');
	return 0;
}

/* in as sessions name addresses (IPv4-mapped IPv6 as IPv4), or -1. */
static int
canonical_ip(const char *in, char *out, size_t outsz)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, in, &s4->sin_addr) == 1)
		s4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, in, &s6->sin6_addr) == 1)
		s6->sin6_family = AF_INET6;
	else
		return -1;
	sockaddr_ntop((struct sockaddr *)&ss, out, outsz);
	return 0;
}

struct unblock {
	const char	*ip;	/* NULL: all */
	int		 lifted;
	int64_t		 now;
};

static int
unblock_one(const char *key, void *v, void *arg)
{
	struct unblock *u = arg;
	struct guard *g = v;
	size_t iplen = strcspn(key, "\n");

	if (u->ip && (strlen(u->ip) != iplen ||
	    strncmp(key, u->ip, iplen) != 0))
		return 0;
	if (guard_is_blocked(g, u->now))
		u->lifted++;
	/* Reservations under way stay: their release still comes. */
	g->blocked_until = 0;
	g->failures = 0;
	g->window_start = u->now;
	return 0;
}

void
authguard_control(struct buf *out, const char *args)
{
	char ip[INET6_ADDRSTRLEN], extra[2];

	if (strcmp(args, "blocks") == 0) {
		struct listing l = { out, 0, loop_now() };

		hmap_foreach(&by_ip, list_block, &l);
		l.names = 1;
		hmap_foreach(&by_name, list_block, &l);
		buf_puts(out, "end\n");
	} else if (strncmp(args, "unblock ", 8) == 0 &&
	    sscanf(args + 8, "%45s %1s", ip, extra) == 1 &&
	    (strcmp(ip, "ALL") == 0 || canonical_ip(ip, ip, sizeof(ip)) == 0)) {
		struct unblock u = { strcmp(ip, "ALL") == 0 ? NULL : ip, 0,
		    loop_now() };

		hmap_foreach(&by_ip, unblock_one, &u);
		hmap_foreach(&by_name, unblock_one, &u);
		log_info("auth unblock %s: %d block%s lifted (control socket)",
		    u.ip ? u.ip : "ALL", u.lifted, u.lifted == 1 ? "" : "s");
		if (share_lifted)
			share_lifted(u.ip);
		buf_printf(out, "unblocked %d\n", u.lifted);
	} else
		buf_puts(out, "error usage: auth blocks | auth unblock IP|ALL\n");
}
