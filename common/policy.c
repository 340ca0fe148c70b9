/*
 * policy.c - routing rules, IP pools and throttles from gw.db.
 * Exposure: none; gw.db is written by gwctl, which checks every value.
 * Rows that no longer parse (an address gone bad) are skipped with a
 * warning rather than stopping gwd.
 * Diagnostics: dies only when memory runs out; policy_load() returns -1
 * when gw.db cannot be read whole, and its caller keeps the previous
 * policy.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cidr.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "policy.h"
#include "util.h"

static char *
col_str(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s ? xstrdup((const char *)s) : NULL;
}

static int64_t
col_int(sqlite3_stmt *st, int i, int64_t none)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? none :
	    sqlite3_column_int64(st, i);
}

/* The parts' indexes in policy.sum; POLICY_X (policy.h) is 1 << PART_X. */
enum { PART_RULES, PART_POOLS, PART_THROTTLES };

#define FNV_BASIS	0xcbf29ce484222325ULL
#define FNV_PRIME	0x100000001b3ULL

static void
fnv(uint64_t *h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		*h = (*h ^ b[i]) * FNV_PRIME;
}

/*
 * A row as read, into its part's sum (FNV-1a over each column's type
 * and value), so a reload can tell whether the part changed.  Before
 * the row is parsed: the values are read in their own types, with no
 * conversion that would change what sqlite3_column_type() says later.
 */
static void
row_sum(sqlite3_stmt *st, uint64_t *h)
{
	for (int i = 0; i < sqlite3_column_count(st); i++) {
		unsigned char t = (unsigned char)sqlite3_column_type(st, i);
		int64_t v;

		fnv(h, &t, 1);
		switch (t) {
		case SQLITE_NULL:
			break;
		case SQLITE_INTEGER:
			v = sqlite3_column_int64(st, i);
			fnv(h, &v, sizeof(v));
			break;
		default:
			fnv(h, sqlite3_column_blob(st, i),
			    (size_t)sqlite3_column_bytes(st, i));
		}
	}
	fnv(h, "\n", 1);
}

static void *
grow(void *v, int n, size_t size)
{
	/* Doubling at powers of two. */
	if (n > 0 && (n & (n - 1)) != 0)
		return v;
	return xreallocarray(v, n ? (size_t)n * 2 : 4, size);
}

static void
rule_row(sqlite3_stmt *st, void *arg)
{
	struct policy *p = arg;
	struct rule *r;
	const char *s;

	row_sum(st, &p->sum[PART_RULES]);
	p->rules = grow(p->rules, p->nrules, sizeof(*p->rules));
	r = &p->rules[p->nrules++];
	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, 0);
	r->subaccount = col_str(st, 1);
	r->from_domain = col_str(st, 2);
	r->to_domain = col_str(st, 3);
	r->header = col_str(st, 4);
	r->header_value = col_str(st, 5);
	r->size_over = col_int(st, 6, -1);
	r->size_under = col_int(st, 7, -1);
	s = (const char *)sqlite3_column_text(st, 8);
	r->action = strcmp(s, "hold") == 0 ? RULE_HOLD :
	    strcmp(s, "reject") == 0 ? RULE_REJECT : RULE_ROUTE;
	s = (const char *)sqlite3_column_text(st, 9);
	r->prio = s ? rules_prio_parse(s) : -1;
	r->pool = col_str(st, 10);
	r->smarthost = col_str(st, 11);
	if (r->smarthost && strcmp(r->smarthost, "mx") != 0) {
		char err[512];

		/* gwctl checked it; parsed once here, not per recipient. */
		r->via = xcalloc(1, sizeof(*r->via));
		if (shlist_parse(r->smarthost, 25, r->via, err,
		    sizeof(err)) == -1) {
			log_warnx("gw.db: route %lld: smarthost %s: %s",
			    (long long)r->id, r->smarthost, err);
			free(r->via);
			r->via = NULL;
		}
	}
	s = (const char *)sqlite3_column_text(st, 12);
	r->tls = s ? tls_policy_parse(s) : -1;
	r->reply = col_str(st, 13);
	r->auth_user = col_str(st, 14);
	r->auth_password = col_str(st, 15);
	r->bulk = sqlite3_column_int(st, 16);
	r->archive = col_int(st, 17, -1);
	if (r->auth_user && (r->auth_password == NULL ||
	    strlen(r->auth_user) > RELAY_CRED_MAX ||
	    strlen(r->auth_password) > RELAY_CRED_MAX))
		/* Never sent: mta_auth.c defers rather than send them. */
		log_warnx("gw.db: route %lld: smarthost credentials missing "
		    "a password or longer than %d bytes", (long long)r->id,
		    RELAY_CRED_MAX);
	if (r->header && r->header_value == NULL)
		r->header_value = xstrdup("*");
}

static struct pool *
pool_get(struct policy *p, const char *name)
{
	struct pool *pl;

	for (int i = 0; i < p->npools; i++)
		if (strcmp(p->pools[i].name, name) == 0)
			return &p->pools[i];
	p->pools = grow(p->pools, p->npools, sizeof(*p->pools));
	pl = &p->pools[p->npools++];
	memset(pl, 0, sizeof(*pl));
	pl->name = xstrdup(name);
	return pl;
}

static void
pool_row(sqlite3_stmt *st, void *arg)
{
	struct policy *p = arg;
	struct pool *pl;
	const char *addr;
	struct pool_addr *a;
	struct sockaddr_storage ss;
	socklen_t len;

	row_sum(st, &p->sum[PART_POOLS]);
	pl = pool_get(p, (const char *)sqlite3_column_text(st, 0));
	addr = (const char *)sqlite3_column_text(st, 1);
	if (addr == NULL)
		return;		/* a pool without addresses yet */
	if (sockaddr_parse(addr, 0, &ss, &len) == -1) {
		log_warnx("gw.db: pool %s: bad address %s, skipped", pl->name,
		    addr);
		return;
	}
	pl->addr = grow(pl->addr, pl->naddr, sizeof(*pl->addr));
	a = &pl->addr[pl->naddr++];
	a->address = xstrdup(addr);
	a->helo = col_str(st, 2);
	a->sa = ss;
	a->salen = len;
}

static void
throttle_row(sqlite3_stmt *st, void *arg)
{
	struct policy *p = arg;
	struct throttle *t;

	row_sum(st, &p->sum[PART_THROTTLES]);
	p->throttles = grow(p->throttles, p->nthrottles,
	    sizeof(*p->throttles));
	t = &p->throttles[p->nthrottles++];
	t->domain = col_str(st, 0);
	t->connections = (int)col_int(st, 1, -1);
	t->per_connection = (int)col_int(st, 2, -1);
	t->per_minute = (int)col_int(st, 3, -1);
}

int
policy_load(sqlite3 *db, struct policy *p)
{
	memset(p, 0, sizeof(*p));
	for (int i = 0; i < POLICY_NPARTS; i++)
		p->sum[i] = FNV_BASIS;
	if (db_rows(db, "SELECT id, subaccount, from_domain, to_domain, "
	    "header, header_value, size_over, size_under, action, priority, "
	    "pool, smarthost, tls, reply, auth_user, auth_password, bulk, archive "
	    "FROM "
	    "route_rule ORDER BY position, "
	    "id", rule_row, p) == -1 ||
	    db_rows(db, "SELECT p.name, a.address, a.helo FROM pool p LEFT "
	    "JOIN pool_address a ON a.pool = p.name ORDER BY p.name, "
	    "a.address", pool_row, p) == -1 ||
	    db_rows(db, "SELECT domain, connections, per_connection, "
	    "per_minute FROM throttle ORDER BY domain", throttle_row, p) ==
	    -1) {
		policy_free(p);
		return -1;
	}
	return 0;
}

void
policy_free(struct policy *p)
{
	for (int i = 0; i < p->nrules; i++) {
		struct rule *r = &p->rules[i];

		free(r->subaccount);
		free(r->from_domain);
		free(r->to_domain);
		free(r->header);
		free(r->header_value);
		free(r->pool);
		free(r->smarthost);
		free(r->via);
		free(r->reply);
		free(r->auth_user);
		if (r->auth_password)
			explicit_bzero(r->auth_password,
			    strlen(r->auth_password));
		free(r->auth_password);
	}
	for (int i = 0; i < p->npools; i++) {
		for (int j = 0; j < p->pools[i].naddr; j++) {
			free(p->pools[i].addr[j].address);
			free(p->pools[i].addr[j].helo);
		}
		free(p->pools[i].addr);
		free(p->pools[i].name);
	}
	for (int i = 0; i < p->nthrottles; i++)
		free(p->throttles[i].domain);
	free(p->rules);
	free(p->pools);
	free(p->throttles);
	memset(p, 0, sizeof(*p));
}

unsigned
policy_diff(const struct policy *a, const struct policy *b)
{
	unsigned what = 0;

	for (int i = 0; i < POLICY_NPARTS; i++)
		if (a->sum[i] != b->sum[i])
			what |= 1u << i;
	return what;
}

const struct pool *
policy_pool(const struct policy *p, const char *name)
{
	for (int i = 0; name && i < p->npools; i++)
		if (strcmp(p->pools[i].name, name) == 0)
			return &p->pools[i];
	return NULL;
}

const struct throttle *
policy_throttle(const struct policy *p, const char *domain)
{
	const struct throttle *best = NULL;

	for (int i = 0; i < p->nthrottles; i++) {
		const struct throttle *t = &p->throttles[i];

		if (strcasecmp(t->domain, domain) == 0)
			return t;
		if (rules_domain_match(t->domain, domain) && (best == NULL ||
		    strlen(t->domain) > strlen(best->domain)))
			best = t;
	}
	return best;
}
