/*
 * authguard.c - failed-login accounting, reservations and blocks (see
 * authguard.h).
 * Standards: RFC 4954 (SMTP AUTH).
 * Exposure: keyed by the client's address and the user name it sent
 * (untrusted, at most 255 bytes, no NUL); names are never shown to a
 * client and are cleaned of control bytes on the control socket.
 * Diagnostics: blocks are logged by the session that caused them.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authguard.h"
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

enum guard_verdict
authguard_reserve(const char *ip, const char *user)
{
	char key[NAME_KEY_MAX];
	int64_t now = loop_now();
	struct guard *a, *n;

	guard_prune(now);
	a = guard_get(&by_ip, ip, 1);
	n = guard_get(&by_name, name_key(ip, user, key), 1);
	if (guard_is_blocked(a, now) || guard_is_blocked(n, now))
		return GUARD_BLOCKED;
	guard_roll(a, now);
	guard_roll(n, now);
	/* Count every attempt under way as a failure until it says
	 * otherwise: the limit holds however many arrive at once. */
	if (a->failures + a->pending >= gcfg->limits.auth_failures_ip ||
	    n->failures + n->pending >= gcfg->limits.auth_failures)
		return GUARD_BUSY;
	a->pending++;
	n->pending++;
	return GUARD_OK;
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
	if (!failed)
		return 0;
	blocked = guard_fail(n, gcfg->limits.auth_failures, now) ?
	    GUARD_NAME : 0;
	if (guard_fail(a, gcfg->limits.auth_failures_ip, now))
		blocked |= GUARD_IP;
	return blocked;
}
