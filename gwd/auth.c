/*
 * auth.c - subaccounts, credential checks (failed-login accounting is
 * authguard.c's).
 * Standards: RFC 4954 (SMTP AUTH), RFC 7914 (scrypt).
 * Exposure: compares attacker-supplied credentials; every failure path
 * takes the same route through scrypt so timing does not tell an unknown
 * user from a wrong password.  An attempt takes its place in authguard
 * before scrypt runs, so parallel guesses are held to the limits too.
 * Diagnostics: dies only when memory runs out; a gw.db that cannot be
 * read whole keeps the previous subaccounts (logged once per reason),
 * and accounts_init() returns -1 with the reason in err at start-up.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include "addr.h"
#include "auth.h"
#include "authguard.h"
#include "content.h"
#include "db.h"
#include "gwd.h"
#include "hmap.h"
#include "log.h"
#include "metrics.h"
#include "signer.h"
#include "suppress.h"
#include "loop.h"
#include "policy.h"
#include "pwhash.h"
#include "util.h"
#include "worker.h"

static sqlite3			*gdb;
static int			 data_version = -1;
static int			 ndkim;		/* active DKIM keys loaded */
static struct subaccount	*accts;
static int			 naccts;
static struct hmap		 byname;
/* Routing rules, pools, throttles: the same snapshot as the accounts. */
static struct policy		 pol;
static int			 pol_gen;
static void			(*pol_changed)(unsigned);
static unsigned			 pol_force;	/* changed, whatever gw.db
						   says (POLICY_*) */

/* Successful checks are remembered (keyed by an HMAC under a per-process
 * secret) so an application that logs in per message pays scrypt once. */
#define CACHE_TTL_MS	(10 * 60 * 1000)
#define CACHE_MAX	10000
static unsigned char		 cache_secret[32];
static struct hmap		 cache;		/* hex hmac -> struct cached */

struct cached {
	int64_t	 expires;
	char	*pwhash;	/* the hash it was verified against */
};

/* Checks on the pool, by the same key.  The same credentials arriving
 * meanwhile against the same hash take that check's verdict instead of
 * running scrypt again: 16 connections of one application right after
 * a restart cost one scrypt, not 16 x ~180 ms in a queue.  Each keeps
 * its own place in authguard and is counted on its own; unknown users
 * coalesce alike, so the time taken still tells nothing about names. */
static struct hmap		 inflight;	/* hex hmac -> struct auth_req */

/* One thread: a flood of logins takes at most one core and one scrypt's
 * memory (32 MiB); past AUTH_QUEUE_MAX checks waiting, 454 at once. */
#define AUTH_THREADS	1
#define AUTH_QUEUE_MAX	32

static struct worker_pool	*auth_pool;

static void
free_accounts(struct subaccount *a, int n)
{
	for (int i = 0; i < n; i++) {
		free(a[i].name);
		free(a[i].pwhash);
		for (int j = 0; j < a[i].ndomains; j++)
			free(a[i].domains[j]);
		free(a[i].domains);
		free(a[i].nets);
		free(a[i].keys);
		free(a[i].dkim_org);
		free(a[i].bounce_domain);
	}
	free(a);
}

static struct subaccount *
by_id(struct subaccount *a, int n, int64_t id)
{
	/* Rows come ordered by id: binary search. */
	int lo = 0, hi = n - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;

		if (a[mid].id == id)
			return &a[mid];
		if (a[mid].id < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

/* The subaccounts being read, before they replace the current ones. */
struct snap {
	struct subaccount	*a;
	int			 n, cap;
};

static void
row_account(sqlite3_stmt *st, void *arg)
{
	struct snap *sn = arg;
	const char *pw = (const char *)sqlite3_column_text(st, 3);
	struct subaccount *s;

	if (sn->n == sn->cap) {
		sn->cap = sn->cap ? sn->cap * 2 : 16;
		sn->a = xreallocarray(sn->a, (size_t)sn->cap, sizeof(*sn->a));
	}
	s = &sn->a[sn->n++];
	memset(s, 0, sizeof(*s));
	s->id = sqlite3_column_int64(st, 0);
	s->name = xstrdup((const char *)sqlite3_column_text(st, 1));
	s->enabled = sqlite3_column_int(st, 2);
	s->pwhash = pw ? xstrdup(pw) : NULL;
	s->dkim_org = sqlite3_column_type(st, 4) == SQLITE_NULL ? NULL :
	    xstrdup((const char *)sqlite3_column_text(st, 4));
	s->quota_hour = sqlite3_column_int64(st, 5);
	s->quota_day = sqlite3_column_int64(st, 6);
	s->bounce_domain = sqlite3_column_type(st, 7) == SQLITE_NULL ? NULL :
	    xstrdup((const char *)sqlite3_column_text(st, 7));
}

static void
row_domain(sqlite3_stmt *st, void *arg)
{
	struct snap *sn = arg;
	struct subaccount *s = by_id(sn->a, sn->n, sqlite3_column_int64(st, 0));

	if (s == NULL)
		return;
	s->domains = xreallocarray(s->domains, (size_t)s->ndomains + 1,
	    sizeof(*s->domains));
	s->domains[s->ndomains++] = xstrdup((const char *)
	    sqlite3_column_text(st, 1));
}

static void
row_ip(sqlite3_stmt *st, void *arg)
{
	struct snap *sn = arg;
	struct subaccount *s = by_id(sn->a, sn->n, sqlite3_column_int64(st, 0));
	struct cidr c;

	if (s == NULL || cidr_parse((const char *)sqlite3_column_text(st, 1),
	    &c) == -1)
		return;
	s->nets = xreallocarray(s->nets, (size_t)s->nnets + 1,
	    sizeof(*s->nets));
	s->nets[s->nnets++] = c;
}

static void
row_apikey(sqlite3_stmt *st, void *arg)
{
	struct snap *sn = arg;
	struct subaccount *s = by_id(sn->a, sn->n, sqlite3_column_int64(st, 0));
	struct apikey *k;

	if (s == NULL)
		return;
	s->keys = xreallocarray(s->keys, (size_t)s->nkeys + 1,
	    sizeof(*s->keys));
	k = &s->keys[s->nkeys++];
	gw_strlcpy(k->id, (const char *)sqlite3_column_text(st, 1),
	    sizeof(k->id));
	gw_strlcpy(k->hash, (const char *)sqlite3_column_text(st, 2),
	    sizeof(k->hash));
}

/*
 * Read gw.db in one read transaction and install it.  Runs at start-up,
 * every 500 ms when gw.db changed, and on AUTH, MAIL and RCPT, so
 * nothing here may die: when the subaccounts cannot be read whole (a
 * prepare error after a schema change, SQLITE_BUSY, a damaged page) the
 * previous ones stay, as the DKIM keys, the policy and the suppression
 * list below keep theirs.  A partial table would lock out the
 * subaccounts past the failure, or drop an allowlist or an API key.
 * 0, or -1 with the reason in err; *changed: the parts of the policy
 * that changed (POLICY_*), and only then a new policy generation.
 */
static int
load(char *err, size_t errsz, unsigned *changed)
{
	struct snap sn = { NULL, 0, 0 };
	struct policy np;
	int nk;

	*changed = 0;
	if (sqlite3_exec(gdb, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errsz, "%s", sqlite3_errmsg(gdb));
		return -1;
	}
	if (db_rows(gdb, "SELECT id, name, enabled, password, dkim_org_domain,"
	    " quota_hour, quota_day, bounce_domain FROM subaccount ORDER BY id",
	    row_account,
	    &sn) == -1 ||
	    db_rows(gdb, "SELECT subaccount_id, domain FROM subaccount_domain",
	    row_domain, &sn) == -1 ||
	    db_rows(gdb, "SELECT subaccount_id, cidr FROM subaccount_ip",
	    row_ip, &sn) == -1 ||
	    db_rows(gdb, "SELECT subaccount_id, key_id, hash FROM api_key",
	    row_apikey, &sn) == -1) {
		snprintf(err, errsz, "%s", sqlite3_errmsg(gdb));
		sqlite3_exec(gdb, "ROLLBACK", NULL, NULL, NULL);
		free_accounts(sn.a, sn.n);
		return -1;
	}
	/* The DKIM keys and the delivery policy in the same snapshot as
	 * the subaccounts. */
	if ((nk = signer_load(gdb)) == -1) {
		log_warnx("gw.db: cannot read DKIM keys, keeping the previous "
		    "ones: %s", sqlite3_errmsg(gdb));
		nk = ndkim;
	}
	if (policy_load(gdb, &np) == -1) {
		log_warnx("gw.db: cannot read routing rules, keeping the "
		    "previous ones: %s", sqlite3_errmsg(gdb));
		np = pol;
		memset(&pol, 0, sizeof(pol));
		*changed = pol_force;
	} else if ((*changed = policy_diff(&pol, &np) | pol_force) == 0) {
		/* Another table changed: the queue has nothing to redo. */
		policy_free(&np);
		np = pol;
		memset(&pol, 0, sizeof(pol));
	}
	if (*changed)
		pol_gen++;
	pol_force = 0;
	/* The content policies (content.c keeps its previous set when
	 * these cannot be read or compiled). */
	content_load(gdb);
	/* And the admins' suppression list. */
	if (suppress_load_admin(gdb) == -1)
		log_warnx("gw.db: cannot read the suppression list: %s",
		    sqlite3_errmsg(gdb));
	sqlite3_exec(gdb, "COMMIT", NULL, NULL, NULL);
	policy_free(&pol);
	pol = np;

	hmap_free(&byname, NULL);
	hmap_init(&byname);
	for (int i = 0; i < sn.n; i++)
		hmap_put(&byname, sn.a[i].name, &sn.a[i]);
	free_accounts(accts, naccts);
	accts = sn.a;
	naccts = sn.n;
	ndkim = nk;
	return 0;
}

int
accounts_init(const char *state_dir, char *err, size_t errsz)
{
	char why[256];
	unsigned changed;
	sqlite3 *db;

	/* gwctl owns gw.db; if it was never run, create the empty schema so
	 * gwd starts and sees the first subaccount when it is added. */
	if ((db = db_open(state_dir, DB_GW, 0, err, errsz)) == NULL)
		return -1;
	db_close(db);
	if ((gdb = db_open(state_dir, DB_GW, DB_RDONLY, err, errsz)) == NULL)
		return -1;
	hmap_init(&byname);
	hmap_init(&cache);
	hmap_init(&inflight);
	authguard_init();
	auth_pool = worker_pool_new(AUTH_THREADS, AUTH_QUEUE_MAX);
	random_bytes(cache_secret, sizeof(cache_secret));
	data_version = db_data_version(gdb);
	if (load(why, sizeof(why), &changed) == -1) {
		snprintf(err, errsz, "gw.db: %s", why);
		return -1;
	}
	log_info("subaccounts loaded: %d, active DKIM keys: %d, routing "
	    "rules: %d", naccts, ndkim, pol.nrules);
	return 0;
}

/*
 * Reload when another connection (gwctl) committed to gw.db.  A failed
 * reload is tried again at the next poll (the change is still unread);
 * it is said once, and again only when the reason changes.
 */
void
accounts_poll(void)
{
	static char failed[256];
	char why[256];
	int v = db_data_version(gdb);
	unsigned changed;

	if (v == data_version || v < 0)
		return;
	if (load(why, sizeof(why), &changed) == -1) {
		if (strcmp(why, failed) != 0)
			log_warnx("gw.db: cannot read the subaccounts, keeping "
			    "the previous ones (%d): %s", naccts, why);
		gw_strlcpy(failed, why, sizeof(failed));
		return;
	}
	data_version = v;
	failed[0] = '\0';
	log_info("subaccounts reloaded: %d, active DKIM keys: %d, "
	    "routing rules: %d", naccts, ndkim, pol.nrules);
	if (changed && pol_changed)
		pol_changed(changed);
}

void
policy_on_change(void (*fn)(unsigned what))
{
	pol_changed = fn;
}

/*
 * SIGHUP: load now, changed or not.  The relay defaults of a
 * configuration just reloaded are the throttles' defaults: the load
 * counts as a throttle change, a new policy generation, so every
 * destination re-reads its limits at once.
 */
void
accounts_reload(void)
{
	data_version = -2;	/* no version db_data_version() gives */
	pol_force = POLICY_THROTTLES;
	accounts_poll();
}

void
accounts_foreach(void (*fn)(const struct subaccount *, void *), void *arg)
{
	for (int i = 0; i < naccts; i++)
		fn(&accts[i], arg);
}

const struct policy *
policy_now(int *gen)
{
	*gen = pol_gen;
	return &pol;
}

int
accounts_count(void)
{
	return naccts;
}

const struct subaccount *
account_find(const char *name)
{
	return hmap_get(&byname, name);
}

int
account_is_bounce_domain(const char *domain)
{
	for (int i = 0; i < naccts; i++)
		if (accts[i].bounce_domain &&
		    strcasecmp(accts[i].bounce_domain, domain) == 0)
			return 1;
	return 0;
}

int
account_ip_allowed(const struct subaccount *s, const struct sockaddr *sa)
{
	if (s->nnets == 0)
		return 1;
	for (int i = 0; i < s->nnets; i++)
		if (cidr_match(&s->nets[i], sa))
			return 1;
	return 0;
}

const struct subaccount *
account_by_ip(const struct sockaddr *sa)
{
	for (int i = 0; i < naccts; i++)
		if (accts[i].enabled && accts[i].nnets > 0 &&
		    account_ip_allowed(&accts[i], sa))
			return &accts[i];
	return NULL;
}

int
account_owns_domain(const struct subaccount *s, const char *domain)
{
	for (int i = 0; i < s->ndomains; i++)
		if (addr_domain_within(domain, s->domains[i]))
			return 1;
	return 0;
}

/* The credential check proper. */

struct auth_req {
	struct work	 w;
	auth_cb		 cb;
	void		*arg;
	char		*user;
	int		 valid_name;	/* no NUL in it: may name an account */
	char		*pw;
	size_t		 pwlen;
	char		*hash;		/* copy of the stored hash to verify */
	char		 cachekey[65];
	const char	*refuse;	/* fail whatever the check says */
	int		 result;	/* 1: the password or key matched */
	int		 apikey;	/* shaped like an API key */
	int		 cached;	/* decided without scrypt */
	int		 reserved;	/* holds a place in authguard */
	int		 leader;	/* in `inflight` */
	struct auth_req	*followers;	/* take this check's verdict */
	struct auth_req	*fnext;
	struct sockaddr_storage peer;
	char		 ip[INET6_ADDRSTRLEN];
	struct auth_req	*wnext;		/* waiting for a place */
};

/* Attempts waiting for authguard to give them a place, oldest first. */
static struct auth_req		*waiting, **waiting_tail = &waiting;
static int			 nwaiting;

static int auth_proceed(struct auth_req *);

static void
cache_key(const char *user, const char *pw, size_t pwlen, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = sizeof(md);
	size_t ulen = strlen(user) + 1;
	unsigned char *in = xmalloc(ulen + pwlen);

	/* HMAC over user NUL password: never the password itself. */
	memcpy(in, user, ulen);
	memcpy(in + ulen, pw, pwlen);
	HMAC(EVP_sha256(), cache_secret, sizeof(cache_secret), in,
	    ulen + pwlen, md, &mdlen);
	OPENSSL_cleanse(in, ulen + pwlen);
	free(in);
	hex_encode(md, 32, out);
}

static int
expire_cache(const char *key, void *v, void *arg)
{
	struct cached *c = v;

	if (c->expires > *(int64_t *)arg)
		return 0;
	free(c->pwhash);
	free(c);
	return 1;
}

/* Remember a success, against the hash it matched. */
static void
cache_put(const struct auth_req *r)
{
	struct cached *c;
	int64_t now = loop_now();

	if (hmap_count(&cache) >= CACHE_MAX)
		hmap_foreach(&cache, expire_cache, &now);
	if (hmap_count(&cache) >= CACHE_MAX)
		return;
	c = xcalloc(1, sizeof(*c));
	c->expires = now + CACHE_TTL_MS;
	c->pwhash = xstrdup(r->hash);
	if ((c = hmap_put(&cache, r->cachekey, c)) != NULL) {
		free(c->pwhash);
		free(c);
	}
}

static void
auth_run(struct work *w)
{
	struct auth_req *r = (struct auth_req *)w;

	r->result = pwhash_verify(r->pw, r->pwlen, r->hash) == 1;
}

static void
req_free(struct auth_req *r)
{
	if (r->pw) {
		OPENSSL_cleanse(r->pw, r->pwlen);
		free(r->pw);
	}
	free(r->user);
	free(r->hash);
	free(r);
}

static const struct subaccount *
req_account(const struct auth_req *r)
{
	return r->valid_name ? account_find(r->user) : NULL;
}

/* Tell the session, and forget the request. */
static void
auth_finish(struct auth_req *r, enum auth_status st, const char *reason,
    int blocked)
{
	const struct subaccount *s = req_account(r);
	struct auth_result res = { st, r->user, s ? s->name : NULL, reason,
	    blocked, NULL };
	char id[APIKEY_ID_LEN + 1];

	/* Which credential it was, for the audit trail. */
	if (st == AUTH_OK && r->apikey && apikey_parse(r->pw, r->pwlen, id))
		res.key_id = id;
	if (r->cb)
		r->cb(r->arg, &res);
	req_free(r);
}

/*
 * A place was given back: the attempts waiting for one try again, in
 * the order they came.  Re-entered from a release inside the walk, it
 * only asks for another walk.
 */
static void
auth_wake(void)
{
	static int walking, again;
	struct auth_req *list, *r;

	if (walking) {
		again = 1;
		return;
	}
	walking = 1;
	do {
		again = 0;
		list = waiting;
		waiting = NULL;
		waiting_tail = &waiting;
		nwaiting = 0;
		while ((r = list) != NULL) {
			list = r->wnext;
			if (r->cb == NULL)
				req_free(r);	/* the session went away */
			else
				auth_proceed(r);
		}
	} while (again);
	walking = 0;
}

/* Why the attempt fails (for the log), or NULL when it succeeds.  Read
 * on the main thread: what changed meanwhile in gw.db applies. */
static const char *
auth_reason(const struct auth_req *r, const struct subaccount *s)
{
	if (s == NULL)
		return "unknown user";
	if (!r->result)
		return r->apikey ? "wrong API key" : s->pwhash ?
		    "wrong password" : "no password set (API keys only)";
	if (r->refuse)
		return r->refuse;
	if (!s->enabled)
		return "subaccount disabled";
	if (!account_ip_allowed(s, (const struct sockaddr *)&r->peer))
		return "address not on the subaccount's allowlist";
	return NULL;
}

/* The check is over (on a worker, or at once): count it, answer. */
static void
auth_over(struct auth_req *r)
{
	const struct subaccount *s = req_account(r);
	const char *reason = auth_reason(r, s);
	int blocked = 0;

	if (r->reserved) {
		blocked = authguard_release(r->ip, r->user, reason != NULL);
		r->reserved = 0;
	}
	if (reason == NULL && !r->cached && s->pwhash &&
	    strcmp(s->pwhash, r->hash) == 0)
		cache_put(r);
	auth_finish(r, reason ? AUTH_FAILED : AUTH_OK, reason, blocked);
}

static void
auth_done(struct work *w)
{
	struct auth_req *r = (struct auth_req *)w, *f, *next;

	if (r->leader)
		hmap_del(&inflight, r->cachekey);
	for (f = r->followers; f != NULL; f = next) {
		next = f->fnext;
		f->result = r->result;
		f->cached = 1;		/* the leader caches a success */
		auth_over(f);
	}
	auth_over(r);
	auth_wake();
}

/* API keys: a SHA-256 compare, no scrypt needed (keys are random). */
static int
check_apikey(const struct subaccount *s, const char *pw, size_t pwlen)
{
	char id[APIKEY_ID_LEN + 1], hex[65];

	if (!apikey_parse(pw, pwlen, id))
		return -1;		/* not shaped like a key */
	apikey_hash(pw, pwlen, hex);
	for (int i = 0; s && i < s->nkeys; i++)
		if (strcmp(s->keys[i].id, id) == 0 &&
		    CRYPTO_memcmp(s->keys[i].hash, hex, 64) == 0)
			return 1;
	return 0;
}

/* A repeat of a login that succeeded lately, still allowed: answered
 * without scrypt and without a place (it guesses nothing). */
static int
cache_hit(const struct auth_req *r, const struct subaccount *s)
{
	struct cached *c;

	if (r->refuse || s == NULL || s->pwhash == NULL || !s->enabled ||
	    !account_ip_allowed(s, (const struct sockaddr *)&r->peer))
		return 0;
	c = hmap_get(&cache, r->cachekey);
	return c && c->expires > loop_now() &&
	    strcmp(c->pwhash, s->pwhash) == 0;
}

/*
 * Take the attempt as far as it goes now: refused when blocked, answered
 * from the cache, parked until authguard has a place for it, decided at
 * once (API keys), or handed to the pool.  Returns 1 while it is under
 * way, 0 once it was answered (and freed).
 */
static int
auth_proceed(struct auth_req *r)
{
	const struct subaccount *s = req_account(r);
	struct auth_req *lead;
	int k;

	if (authguard_blocked(r->ip, r->user)) {
		auth_finish(r, AUTH_BLOCKED, NULL, 0);
		return 0;
	}
	if (cache_hit(r, s)) {
		r->result = r->cached = 1;
		auth_done(&r->w);
		return 0;
	}
	switch (authguard_reserve(r->ip, r->user)) {
	case GUARD_BLOCKED:
		auth_finish(r, AUTH_BLOCKED, NULL, 0);
		return 0;
	case GUARD_BUSY:
		r->wnext = NULL;
		*waiting_tail = r;
		waiting_tail = &r->wnext;
		nwaiting++;
		return 1;
	case GUARD_OK:
		break;
	}
	r->reserved = 1;
	if ((k = check_apikey(s, r->pw, r->pwlen)) != -1) {
		/* Decided here, for known and unknown users alike, so the
		 * time taken tells nothing about which names exist. */
		r->result = k;
		r->apikey = r->cached = 1;
		auth_done(&r->w);
		return 0;
	}
	free(r->hash);
	r->hash = xstrdup(s && s->pwhash ? s->pwhash : pwhash_dummy());
	if ((lead = hmap_get(&inflight, r->cachekey)) != NULL &&
	    strcmp(lead->hash, r->hash) == 0) {
		r->fnext = lead->followers;
		lead->followers = r;
		return 1;
	}
	if (worker_pool_submit(auth_pool, &r->w) == -1) {
		authguard_release(r->ip, r->user, 0);
		r->reserved = 0;
		gm.auth_busy_total++;
		auth_finish(r, AUTH_BUSY, NULL, 0);
		auth_wake();
		return 0;
	}
	gm.auth_checks_total++;
	if (lead == NULL) {
		hmap_put(&inflight, r->cachekey, r);
		r->leader = 1;
	}
	return 1;
}

struct auth_req *
auth_check(const char *user, size_t ulen, const char *pw, size_t pwlen,
    const struct sockaddr *peer, const char *ip, const char *refuse,
    auth_cb cb, void *arg)
{
	struct auth_req *r = xcalloc(1, sizeof(*r));

	r->cb = cb;
	r->arg = arg;
	r->user = xstrndup(user, ulen);
	r->valid_name = strlen(r->user) == ulen;
	r->pw = xstrndup(pw, pwlen);
	r->pwlen = pwlen;
	r->refuse = refuse;
	memcpy(&r->peer, peer, peer->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	gw_strlcpy(r->ip, ip, sizeof(r->ip));
	r->w.run = auth_run;
	r->w.done = auth_done;
	cache_key(r->user, pw, pwlen, r->cachekey);
	/* A login sees the latest gw.db, not the last timer's: an account
	 * made a moment ago works at once.  PRAGMA data_version is cheap. */
	accounts_poll();
	return auth_proceed(r) ? r : NULL;
}

void
auth_cancel(struct auth_req *r)
{
	/* Freed when its check ends, or by the next walk of the waiting. */
	if (r) {
		r->cb = NULL;
		r->arg = NULL;
	}
}

int
auth_queue_depth(void)
{
	return auth_pool ? worker_pool_depth(auth_pool) : 0;
}

int
auth_waiting(void)
{
	return nwaiting;
}
