/*
 * sts_cache.c - the MTA-STS cache (sts_priv.h): what gwd knows of each
 * destination domain's policy, for sts.c.
 * Exposure: the number of destination domains is the senders' choice,
 * so the cache is bounded (mta_sts.cache_size); the rows read back from
 * queue.db are parsed again (common/mtasts.c) like a fetched policy.
 * Diagnostics: dies only when memory runs out; sts_init() says why
 * queue.db could not be read.
 *
 * One entry per domain, made by its first lookup.  Entries without a
 * policy (most destinations) and entries with one are two LRU lists,
 * each of at most mta_sts.cache_size; a flood of new domains without
 * policies pushes out only their like.  Entries busy with a query or a
 * fetch (or with requests waiting) are never pushed out; they may go
 * once idle (sts_cache_trim()).  An expired policy is forgotten when
 * next looked at; the entry lives on, in the list without policies.
 *
 * Each policy fetched is also written to queue.db (table mta_sts,
 * through the store thread) and read back at start-up, so a restart
 * keeps enforcing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "dns.h"
#include "gwd.h"
#include "hmap.h"
#include "store.h"
#include "sts_priv.h"
#include "util.h"

#define STS_EVICT_SCAN	64		/* busy entries skipped, at most */

static struct hmap	 cache;
static int		 cache_init;
static struct {
	struct sts_dom	*head, *tail;
	int		 n;
}			 lru[2];

static int
cache_cap(void)
{
	return gcfg ? gcfg->mta_sts.cache_size : 10000;
}

static void
lru_unlink(struct sts_dom *d)
{
	if (d->prev)
		d->prev->next = d->next;
	else
		lru[d->lru].head = d->next;
	if (d->next)
		d->next->prev = d->prev;
	else
		lru[d->lru].tail = d->prev;
	d->prev = d->next = NULL;
	lru[d->lru].n--;
}

/* Newest in the list its policy (or none) puts it in. */
static void
lru_push(struct sts_dom *d)
{
	d->lru = d->pol != NULL;
	d->prev = NULL;
	if ((d->next = lru[d->lru].head) != NULL)
		d->next->prev = d;
	else
		lru[d->lru].tail = d;
	lru[d->lru].head = d;
	lru[d->lru].n++;
}

static void
lru_touch(struct sts_dom *d)
{
	lru_unlink(d);
	lru_push(d);
}

static int
dom_busy(const struct sts_dom *d)
{
	return d->dq != NULL || d->fetch != NULL || d->waiters != NULL;
}

static void
dom_free(struct sts_dom *d)
{
	dns_cancel(d->dq);
	if (d->fetch != NULL)
		d->fetch->dom = NULL;
	free(d->pol);
	free(d);
}

/* Push out the least recently used idle entries of list l past cap,
 * never keep (the entry the caller holds). */
static void
lru_trim(int l, int cap, const struct sts_dom *keep)
{
	struct sts_dom *d = lru[l].tail, *prev;

	for (int seen = 0; d != NULL && lru[l].n > cap &&
	    seen < STS_EVICT_SCAN; d = prev, seen++) {
		prev = d->prev;
		if (d == keep || dom_busy(d))
			continue;
		lru_unlink(d);
		hmap_del(&cache, d->name);
		dom_free(d);
	}
}

void
sts_cache_trim(void)
{
	lru_trim(0, cache_cap(), NULL);
	lru_trim(1, cache_cap(), NULL);
}

const struct sts_policy *
sts_cache_policy(struct sts_dom *d)
{
	if (d->pol != NULL && d->pol->expires <= time(NULL)) {
		free(d->pol);
		d->pol = NULL;
		lru_touch(d);
	}
	return d->pol;
}

struct sts_dom *
sts_cache_get(const char *domain)
{
	char name[sizeof(((struct sts_dom *)0)->name)];
	struct sts_dom *d;

	if (!cache_init) {
		hmap_init(&cache);
		cache_init = 1;
	}
	gw_strlcpy(name, domain, sizeof(name));
	if ((d = hmap_get(&cache, name)) != NULL) {
		lru_touch(d);
		return d;
	}
	d = xcalloc(1, sizeof(*d));
	memcpy(d->name, name, sizeof(name));
	hmap_put(&cache, name, d);
	lru_push(d);
	lru_trim(0, cache_cap(), d);
	return d;
}

void
sts_cache_set_policy(struct sts_dom *d, const char *id,
    const struct mtasts_policy *p, time_t expires)
{
	if (d->pol == NULL)
		d->pol = xcalloc(1, sizeof(*d->pol));
	gw_strlcpy(d->pol->id, id, sizeof(d->pol->id));
	d->pol->pol = *p;
	d->pol->expires = expires;
	lru_touch(d);
	lru_trim(1, cache_cap(), d);
}

void
sts_cache_keep(const char *domain, const struct sts_policy *sp,
    const char *body)
{
	struct store_op *op = store_op_new();

	op->sts_domain = xstrdup(domain);
	op->sts_id = xstrdup(sp->id);
	op->sts_policy = xstrdup(body);
	op->sts_fetched = (int64_t)time(NULL);
	op->sts_expires = (int64_t)sp->expires;
	store_submit(op);
}

int
sts_init(const char *state_dir, char *err, size_t errsz)
{
	sqlite3_stmt *st;
	sqlite3 *db;
	int rc;

	if ((db = db_open(state_dir, DB_QUEUE, DB_RDONLY, err, errsz)) ==
	    NULL)
		return -1;
	/* The latest first: past the cap, the oldest are left out. */
	st = db_prepare(db, "SELECT domain, id, policy, expires FROM mta_sts"
	    " WHERE expires > ? ORDER BY fetched");
	sqlite3_bind_int64(st, 1, (int64_t)time(NULL));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *dom = (const char *)sqlite3_column_text(st, 0);
		const char *id = (const char *)sqlite3_column_text(st, 1);
		const char *body = (const char *)sqlite3_column_text(st, 2);
		struct mtasts_policy p;
		const char *why;

		/* Parsed again: a row is only what a fetch returned. */
		if (dom == NULL || id == NULL || body == NULL ||
		    strlen(dom) >= sizeof(((struct sts_dom *)0)->name) ||
		    strlen(id) > MTASTS_ID_MAX || mtasts_parse(body,
		    strlen(body), &p, &why) == -1)
			continue;
		sts_cache_set_policy(sts_cache_get(dom), id, &p,
		    (time_t)sqlite3_column_int64(st, 3));
	}
	if (rc != SQLITE_DONE)
		snprintf(err, errsz, "queue.db: mta_sts: %s",
		    sqlite3_errmsg(db));
	sqlite3_finalize(st);
	db_close(db);
	return rc == SQLITE_DONE ? 0 : -1;
}

void
sts_cache_free(void)
{
	struct sts_dom *d, *next;

	for (int l = 0; l < 2; l++) {
		for (d = lru[l].head; d != NULL; d = next) {
			next = d->next;
			dom_free(d);
		}
		memset(&lru[l], 0, sizeof(lru[l]));
	}
	if (cache_init)
		hmap_free(&cache, NULL);
	cache_init = 0;
}

void
sts_cache_counts(int *domains, int *policies)
{
	*domains = lru[0].n + lru[1].n;
	*policies = lru[1].n;
}
