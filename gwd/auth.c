/*
 * auth.c - SMTP AUTH credential checks against the subaccounts
 * (account.c), on a worker pool of their own, with a cache of recent
 * successes and coalescing of the same credentials checked at once
 * (failed-login accounting is authguard.c's).
 * Standards: RFC 4954 (SMTP AUTH), RFC 7914 (scrypt).
 * Exposure: compares attacker-supplied credentials; every failure path
 * takes the same route through scrypt so timing does not tell an unknown
 * user from a wrong password.  An attempt takes its place in authguard
 * before scrypt runs, so parallel guesses are held to the limits too.
 * Diagnostics: dies only when memory runs out; a check that cannot be
 * queued is refused unchecked (AUTH_BUSY), and every failure reaches
 * the caller as a status with its reason for the log.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth.h"
#include "authguard.h"
#include "hmap.h"
#include "metrics.h"
#include "log.h"
#include "loop.h"
#include "pwhash.h"
#include "util.h"
#include "worker.h"
/* Successful checks are remembered (keyed by an HMAC under a per-process
 * secret) so an application that logs in per message pays scrypt once. */
#define CACHE_TTL_MS	(10 * 60 * 1000)
#define CACHE_MAX	10000
static unsigned char		 cache_secret[32];
/* HMAC-SHA256 keyed with cache_secret, made once: HMAC() fetches HMAC
 * and SHA-256 by name and sets the key up at each call (OpenSSL 3); a
 * copy of this context does not (callgrind: a cached AUTH 34,000 ->
 * 23,000 instructions). */
static EVP_MAC_CTX		*cache_mac;
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
cache_mac_init(void)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	OSSL_PARAM p[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
		    (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};

	if (mac == NULL || (cache_mac = EVP_MAC_CTX_new(mac)) == NULL ||
	    EVP_MAC_init(cache_mac, cache_secret, sizeof(cache_secret),
	    p) != 1)
		fatalx("auth: cannot set up HMAC-SHA256");
	EVP_MAC_free(mac);
}

static void
cache_key(const char *user, const char *pw, size_t pwlen, char out[65])
{
	unsigned char md[32];
	size_t mdlen = 0;
	EVP_MAC_CTX *c = EVP_MAC_CTX_dup(cache_mac);

	/* HMAC over user NUL password: never the password itself. */
	if (c == NULL ||
	    EVP_MAC_update(c, (const unsigned char *)user,
	    strlen(user) + 1) != 1 ||
	    EVP_MAC_update(c, (const unsigned char *)pw, pwlen) != 1 ||
	    EVP_MAC_final(c, md, &mdlen, sizeof(md)) != 1 || mdlen != 32)
		fatalx("auth: HMAC-SHA256 failed");
	EVP_MAC_CTX_free(c);
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

/* Before the first check: the cache, the pool, authguard. */
void
auth_init(void)
{
	hmap_init(&cache);
	hmap_init(&inflight);
	authguard_init();
	auth_pool = worker_pool_new(AUTH_THREADS, AUTH_QUEUE_MAX);
	random_bytes(cache_secret, sizeof(cache_secret));
	cache_mac_init();
}
