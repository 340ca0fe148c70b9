/*
 * sts.c - MTA-STS policy discovery and cache.
 * Standards: RFC 8461 3 (discovery), 3.3 (HTTPS fetch, no redirects,
 * verified certificate), 5.1 (the cache: a policy is kept until max_age;
 * a changed TXT id means fetch again; a failed lookup or fetch keeps
 * using an unexpired cached policy).
 * Exposure: the TXT data (dns_pkt.c) and the policy body (at most
 * HTTPC_BODY_MAX, parsed by common/mtasts.c) are untrusted.
 * Diagnostics: nothing fatal; a failure means no policy (RFC 8461 5),
 * and says why in the result.
 *
 * The cache is in memory, and each policy fetched is also written to
 * queue.db (table mta_sts, through the store thread) and read back at
 * start-up, so a restart keeps enforcing.
 *
 * The fetch runs on httpc's thread; its reply comes back to the loop
 * through a waker.  A request cancelled meanwhile leaves its fetch to
 * finish alone (the cache still learns the policy).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "dns.h"
#include "gwd.h"
#include "hmap.h"
#include "httpc.h"
#include "log.h"
#include "loop.h"
#include "store.h"
#include "sts.h"
#include "util.h"

#define STS_CACHE_MAX	10000	/* domains; past it, nothing new is kept */

struct sts_entry {
	char			 id[MTASTS_ID_MAX + 1];
	time_t			 expires;
	struct mtasts_policy	 pol;
};

struct fetch {
	struct fetch	*next;
	struct sts_req	*req;		/* NULL: cancelled */
	char		 domain[256];
	char		 id[MTASTS_ID_MAX + 1];
	long		 status;
	char		*body;
	size_t		 len;
	int		 truncated;
	char		 err[160];
};

struct sts_req {
	sts_cb		 cb;
	void		*arg;
	char		 domain[256];
	struct dns_req	*dq;
	struct fetch	*fetch;
	struct sts_result res;
	struct ev_timer	 later;
};

static struct hmap	 cache;
static int		 cache_init, ncache;
static pthread_mutex_t	 mtx = PTHREAD_MUTEX_INITIALIZER;
static struct fetch	*finished;
static struct loop_waker waker;
static int		 waker_init;

static const struct sts_entry *
cache_get(const char *domain)
{
	struct sts_entry *e;

	if (!cache_init || (e = hmap_get(&cache, domain)) == NULL)
		return NULL;
	return e->expires > time(NULL) ? e : NULL;
}

static struct sts_entry *
cache_put(const char *domain, const char *id, const struct mtasts_policy *p)
{
	struct sts_entry *e;

	if (!cache_init) {
		hmap_init(&cache);
		cache_init = 1;
	}
	if ((e = hmap_get(&cache, domain)) == NULL) {
		if (ncache >= STS_CACHE_MAX)
			return NULL;
		e = xcalloc(1, sizeof(*e));
		hmap_put(&cache, domain, e);
		ncache++;
	}
	gw_strlcpy(e->id, id, sizeof(e->id));
	e->pol = *p;
	e->expires = time(NULL) + (time_t)p->max_age;
	return e;
}

/* Keep a policy just fetched in queue.db too. */
static void
cache_store(const char *domain, const struct sts_entry *e, const char *body)
{
	struct store_op *op = store_op_new();

	op->sts_domain = xstrdup(domain);
	op->sts_id = xstrdup(e->id);
	op->sts_policy = xstrdup(body);
	op->sts_fetched = (int64_t)time(NULL);
	op->sts_expires = (int64_t)e->expires;
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
	st = db_prepare(db, "SELECT domain, id, policy, expires FROM mta_sts"
	    " WHERE expires > ?");
	sqlite3_bind_int64(st, 1, (int64_t)time(NULL));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *dom = (const char *)sqlite3_column_text(st, 0);
		const char *id = (const char *)sqlite3_column_text(st, 1);
		const char *body = (const char *)sqlite3_column_text(st, 2);
		struct mtasts_policy p;
		struct sts_entry *e;
		const char *why;

		/* Parsed again: a row is only what a fetch returned. */
		if (dom == NULL || id == NULL || body == NULL ||
		    strlen(id) > MTASTS_ID_MAX || mtasts_parse(body,
		    strlen(body), &p, &why) == -1)
			continue;
		if ((e = cache_put(dom, id, &p)) != NULL)
			e->expires = (time_t)sqlite3_column_int64(st, 3);
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
	if (cache_init)
		hmap_free(&cache, free);
	cache_init = 0;
	ncache = 0;
}

static void
deliver(struct ev_timer *t)
{
	struct sts_req *r = t->arg;

	r->cb(r->arg, &r->res);
	sts_cancel(r);
}

/* The answer, or (no fresh policy to be had) the cached one if any. */
static void
finish(struct sts_req *r, const struct mtasts_policy *p, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
finish(struct sts_req *r, const struct mtasts_policy *p, const char *fmt,
    ...)
{
	const struct sts_entry *e;
	va_list ap;

	if (p == NULL && (e = cache_get(r->domain)) != NULL)
		p = &e->pol;
	if (p != NULL) {
		r->res.on = 1;
		r->res.pol = *p;
	} else {
		va_start(ap, fmt);
		vsnprintf(r->res.why, sizeof(r->res.why), fmt, ap);
		va_end(ap);
	}
	timer_add(&r->later, 0);
}

/* httpc's thread: hand the reply to the loop. */
static void
on_fetched(void *arg, const struct httpc_reply *hr)
{
	struct fetch *f = arg;

	f->status = hr->status;
	if (hr->status == 0)
		snprintf(f->err, sizeof(f->err), "%s", hr->error);
	else if ((f->body = malloc(hr->body_len + 1)) != NULL) {
		memcpy(f->body, hr->body, hr->body_len + 1);
		f->len = hr->body_len;
		f->truncated = hr->body_truncated;
	} else
		snprintf(f->err, sizeof(f->err), "out of memory");
	pthread_mutex_lock(&mtx);
	f->next = finished;
	finished = f;
	pthread_mutex_unlock(&mtx);
	loop_wakeup(&waker);
}

/* The loop: what a fetch brought. */
static void
fetch_done(struct fetch *f)
{
	struct sts_req *r = f->req;
	struct mtasts_policy p;
	const char *err = NULL;
	char why[sizeof(((struct sts_result *)0)->why)];

	why[0] = '\0';
	if (f->status == 0)
		snprintf(why, sizeof(why), "policy fetch failed: %s", f->err);
	else if (f->status != 200)
		snprintf(why, sizeof(why), "policy fetch: HTTP status %ld",
		    f->status);
	else if (f->body == NULL)
		snprintf(why, sizeof(why), "policy fetch: %s", f->err);
	else if (f->truncated || mtasts_parse(f->body, f->len, &p, &err) ==
	    -1)
		snprintf(why, sizeof(why), "policy invalid: %s", f->truncated ?
		    "too large" : err);
	if (why[0] == '\0') {
		const struct sts_entry *e = cache_put(f->domain, f->id, &p);

		if (e != NULL)
			cache_store(f->domain, e, f->body);
	} else
		log_info("mta-sts domain=%s %s", f->domain, why);
	if (r != NULL) {
		r->fetch = NULL;
		if (why[0] == '\0')
			finish(r, &p, "%s", "");
		else
			finish(r, NULL, "%s", why);
	}
	free(f->body);
	free(f);
}

static void
on_wakeup(void *arg)
{
	struct fetch *list, *f;

	(void)arg;
	pthread_mutex_lock(&mtx);
	list = finished;
	finished = NULL;
	pthread_mutex_unlock(&mtx);
	while ((f = list) != NULL) {
		list = f->next;
		fetch_done(f);
	}
}

static void
fetch_start(struct sts_req *r, const char *id)
{
	struct fetch *f = xcalloc(1, sizeof(*f));
	struct httpc_request rq;
	char url[320];

	if (!waker_init) {
		loop_waker_init(&waker, on_wakeup, NULL);
		waker_init = 1;
	}
	gw_strlcpy(f->domain, r->domain, sizeof(f->domain));
	gw_strlcpy(f->id, id, sizeof(f->id));
	f->req = r;
	snprintf(url, sizeof(url), "https://mta-sts.%s/.well-known/"
	    "mta-sts.txt", r->domain);
	memset(&rq, 0, sizeof(rq));
	rq.url = url;
	rq.timeout_ms = (long)gcfg->mta_sts.timeout_ms;
	rq.ca_file = gcfg->mta_sts.ca_file;
	rq.connect_to = gcfg->mta_sts.connect_to;
	rq.done = on_fetched;
	rq.arg = f;
	if (httpc_submit(&rq) == -1) {
		free(f);
		finish(r, NULL, "policy fetch could not start");
		return;
	}
	r->fetch = f;
}

static void
txt_cb(void *arg, enum dns_status st, const struct dns_answer *a,
    const char *why)
{
	struct sts_req *r = arg;
	const struct sts_entry *e;
	char id[MTASTS_ID_MAX + 1], got[MTASTS_ID_MAX + 1];
	const char *err = NULL;
	int n = 0;

	r->dq = NULL;
	if (st == DNS_TEMPFAIL) {
		finish(r, NULL, "TXT lookup failed: %s", why);
		return;
	}
	for (int i = 0; st == DNS_OK && i < a->ntxt; i++) {
		int rc = mtasts_txt_id(a->txt[i], got, &err);

		if (rc == -1) {
			finish(r, NULL, "TXT record invalid: %s", err);
			return;
		}
		if (rc == 0 && n++ == 0)
			gw_strlcpy(id, got, sizeof(id));
	}
	if (n == 0) {
		/* No record: a cached policy still holds (RFC 8461 5.1). */
		if ((e = cache_get(r->domain)) != NULL)
			finish(r, &e->pol, "%s", "");
		else
			finish(r, NULL, "%s", "");
		return;
	}
	if (n > 1) {
		finish(r, NULL, "more than one STSv1 TXT record");
		return;
	}
	if ((e = cache_get(r->domain)) != NULL && strcmp(e->id, id) == 0) {
		finish(r, &e->pol, "%s", "");
		return;
	}
	fetch_start(r, id);
}

struct sts_req *
sts_lookup(const char *domain, sts_cb cb, void *arg)
{
	struct sts_req *r = xcalloc(1, sizeof(*r));
	char name[300];

	r->cb = cb;
	r->arg = arg;
	gw_strlcpy(r->domain, domain, sizeof(r->domain));
	timer_init(&r->later, deliver, r);
	snprintf(name, sizeof(name), "_mta-sts.%s", domain);
	if ((r->dq = dns_query(name, DNS_T_TXT, txt_cb, r)) == NULL)
		finish(r, NULL, "TXT lookup could not start");
	return r;
}

void
sts_cancel(struct sts_req *r)
{
	if (r == NULL)
		return;
	dns_cancel(r->dq);
	if (r->fetch != NULL)
		r->fetch->req = NULL;
	timer_del(&r->later);
	free(r);
}
