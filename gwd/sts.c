/*
 * sts.c - MTA-STS policy discovery; the cache is sts_cache.c's
 * (sts_priv.h).
 * Standards: RFC 8461 3 (discovery), 3.3 (HTTPS fetch, no redirects,
 * verified certificate; a failed fetch not tried again for five minutes
 * or more per id), 5.1 (the cache: a policy is kept until max_age; a
 * changed TXT id means fetch again; a failed lookup or fetch keeps
 * using an unexpired cached policy); RFC 2308 5 (how long "no record"
 * is kept).
 * Exposure: the TXT data (dns_pkt.c) and the policy body (at most
 * HTTPC_BODY_MAX, parsed by common/mtasts.c) are untrusted.
 * Diagnostics: nothing fatal; a failure means no policy (RFC 8461 5),
 * and says why in the result.
 *
 * One entry per domain holds what is known of it: the TXT answer until
 * its TTL (between STS_TTL_MIN and STS_TTL_MAX; "no record" too, for
 * the SOA's negative TTL or STS_NEG_TTL), the policy until its max_age,
 * and a failed fetch's backoff (STS_BACKOFF_MIN, doubling to
 * STS_BACKOFF_MAX while the same id keeps failing, forgotten on a
 * success).  A domain's TXT query and fetch are the entry's, shared by
 * every request that comes meanwhile, and go on when those requests
 * are cancelled, so the cache still learns.  So a busy destination
 * costs one TXT query per TTL and one fetch per policy id, however many
 * routes are looked up.  A policy fetched is kept in queue.db too
 * (sts_cache_keep()).
 *
 * The fetch runs on httpc's thread; its reply comes back on the loop
 * (httpc.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auditlog.h"
#include "dns.h"
#include "event.h"
#include "gwd.h"
#include "httpc.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "store.h"
#include "sts_priv.h"
#include "tls_count.h"
#include "util.h"

#define STS_TTL_MIN	60		/* s: a TXT answer is kept at least */
#define STS_TTL_MAX	3600		/* and at most */
#define STS_NEG_TTL	300		/* no record, and no SOA to say */
#define STS_BACKOFF_MIN	300		/* s: after a failed fetch */
#define STS_BACKOFF_MAX	3600

struct sts_req {
	struct sts_req	*next, **prevp;	/* its domain's waiters */
	struct sts_dom	*dom;		/* NULL: answered */
	sts_cb		 cb;
	void		*arg;
	struct sts_result res;
	struct ev_timer	 later;
};

static void
deliver(struct ev_timer *t)
{
	struct sts_req *r = t->arg;

	r->cb(r->arg, &r->res);
	sts_cancel(r);
}

/* The answer to r (it stops waiting): p, or (no fresh policy to be had)
 * the cached one if any; without either, why. */
static void
finish(struct sts_req *r, const struct mtasts_policy *p, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
finish(struct sts_req *r, const struct mtasts_policy *p, const char *fmt,
    ...)
{
	const struct sts_policy *sp;
	va_list ap;

	if (p == NULL && (sp = sts_cache_policy(r->dom)) != NULL)
		p = &sp->pol;
	if (p != NULL) {
		r->res.on = 1;
		r->res.pol = *p;
	} else {
		va_start(ap, fmt);
		vsnprintf(r->res.why, sizeof(r->res.why), fmt, ap);
		va_end(ap);
	}
	if ((*r->prevp = r->next) != NULL)
		r->next->prevp = r->prevp;
	r->dom = NULL;
	timer_add(&r->later, 0);
}

/*
 * A domain publishes a policy (its TXT record) that could not be had:
 * say so in the log and as an audit event (gwsearch
 * action:sts_fetch_failed).  Once per fetch, so once per backoff.  For
 * TLS-RPT (RFC 8460 4.3.2.1: sts-policy-fetch-error, sts-policy-invalid,
 * sts-webpki-invalid) the sessions count: without a policy, each
 * delivery session is a failure of that type (mta.c); with a cached
 * policy the sessions count under it, and the fetch once here.
 */
static void
fetch_failed(struct sts_dom *d, const char *why)
{
	struct audit_event *ev;
	int cached = sts_cache_policy(d) != NULL;

	gm.sts_fetch_failures_total++;
	log_warnx("mta-sts domain=%s %s; %s; not fetched again for %llds",
	    d->name, why, cached ? "its cached policy still applies" :
	    "delivering as if it published no policy",
	    (long long)(d->backoff_ms / 1000));
	ev = audit_new(event_name(EV_STS_FETCH_FAILED), NULL);
	ev->remote_host = xasprintf("mta-sts.%s", d->name);
	ev->tls_policy = "mta-sts";
	ev->tls_verified = 0;
	ev->tls_note = xstrdup(why);
	ev->detail = xasprintf("domain=%s cached=%d reason=%s", d->name,
	    cached, why);
	store_event(ev);
	if (cached)
		tls_count_session(d->name, "mta-sts", 0, why, NULL, NULL,
		    NULL);
}

/* Why a fetch brought no policy (why[0] == '\0': it did, in *p). */
static void
fetch_verdict(const struct httpc_reply *hr, struct mtasts_policy *p,
    char *why, size_t whysz)
{
	const char *err = NULL;

	why[0] = '\0';
	if (hr->status == 0 && hr->cert_invalid)
		snprintf(why, whysz, "policy fetch: certificate not valid: %s",
		    hr->error);
	else if (hr->status == 0)
		snprintf(why, whysz, "policy fetch failed: %s", hr->error);
	else if (hr->status != 200)
		snprintf(why, whysz, "policy fetch: HTTP status %ld",
		    hr->status);
	else if (hr->body_truncated || mtasts_parse(hr->body, hr->body_len,
	    p, &err) == -1)
		snprintf(why, whysz, "policy invalid: %s", hr->body_truncated ?
		    "too large" : err);
}

/* httpc's done(), on the loop: what a fetch brought, for every request
 * waiting. */
static void
on_fetched(void *arg, const struct httpc_reply *hr)
{
	struct sts_fetch *f = arg;
	struct sts_dom *d = f->dom;
	struct mtasts_policy p;
	char why[sizeof(d->fail_why)];

	if (d == NULL)
		goto out;
	d->fetch = NULL;
	if (hr->stopping)		/* gwd is stopping: no verdict */
		goto out;
	fetch_verdict(hr, &p, why, sizeof(why));
	if (why[0] == '\0') {
		d->fail_id[0] = '\0';
		d->backoff_ms = 0;
		sts_cache_set_policy(d, f->id, &p, time(NULL) + (time_t)p.max_age);
		sts_cache_keep(d->name, d->pol, hr->body);
	} else {
		/* RFC 8461 3.3: not again soon for this id; longer each
		 * time it fails again. */
		if (strcmp(d->fail_id, f->id) != 0 || d->backoff_ms == 0)
			d->backoff_ms = STS_BACKOFF_MIN * 1000;
		else if ((d->backoff_ms *= 2) > STS_BACKOFF_MAX * 1000)
			d->backoff_ms = STS_BACKOFF_MAX * 1000;
		gw_strlcpy(d->fail_id, f->id, sizeof(d->fail_id));
		gw_strlcpy(d->fail_why, why, sizeof(d->fail_why));
		d->fail_until = loop_now() + d->backoff_ms;
		fetch_failed(d, why);
	}
	/* A TXT query under way answers them instead (its id may differ). */
	while (d->dq == NULL && d->waiters != NULL)
		finish(d->waiters, why[0] ? NULL : &p, "%s", why);
	sts_cache_trim();
out:
	free(f);
}

/* 0, or -1 when the fetch could not start. */
static int
fetch_start(struct sts_dom *d)
{
	struct sts_fetch *f = xcalloc(1, sizeof(*f));
	struct httpc_request rq;
	char url[320];

	gw_strlcpy(f->id, d->id, sizeof(f->id));
	f->dom = d;
	snprintf(url, sizeof(url), "https://mta-sts.%s/.well-known/"
	    "mta-sts.txt", d->name);
	memset(&rq, 0, sizeof(rq));
	rq.url = url;
	rq.timeout_ms = (long)gcfg->mta_sts.timeout_ms;
	rq.ca_file = gcfg->mta_sts.ca_file;
	rq.connect_to = gcfg->mta_sts.connect_to;
	rq.done = on_fetched;
	rq.arg = f;
	if (httpc_submit(&rq) == -1) {
		free(f);
		return -1;
	}
	gm.sts_fetches_total++;
	d->fetch = f;
	return 0;
}

/*
 * What the TXT answer of d (fresh) says for r: an answer now, or (a
 * fetch under way, or started here) r waits for it.
 */
static void
decide(struct sts_dom *d, struct sts_req *r)
{
	const struct sts_policy *sp;

	switch (d->txt) {
	case TXT_FAILED:
		finish(r, NULL, "%s", d->why);
		return;
	case TXT_NONE:
		/* No record: a cached policy still holds (RFC 8461 5.1). */
		finish(r, NULL, "%s", "");
		return;
	case TXT_ID:
	case TXT_UNKNOWN:
		break;
	}
	if ((sp = sts_cache_policy(d)) != NULL && strcmp(sp->id, d->id) == 0) {
		finish(r, &sp->pol, "%s", "");
		return;
	}
	if (d->fetch != NULL)
		return;
	if (strcmp(d->fail_id, d->id) == 0 && loop_now() < d->fail_until) {
		gm.sts_fetch_backoff_total++;
		finish(r, NULL, "%s (not fetched again yet)", d->fail_why);
		return;
	}
	if (fetch_start(d) == -1)
		finish(r, NULL, "policy fetch could not start");
}

/* How long an answer of status st is kept, in ms. */
static int64_t
txt_keep_ms(enum dns_status st, const struct dns_answer *a)
{
	int64_t s = STS_TTL_MIN;

	if (st == DNS_OK && a != NULL && a->ttl >= 0)
		s = a->ttl;
	else if ((st == DNS_NXDOMAIN || st == DNS_NODATA) && a != NULL)
		s = a->neg_ttl >= 0 ? a->neg_ttl : STS_NEG_TTL;
	if (s < STS_TTL_MIN)
		s = STS_TTL_MIN;
	if (s > STS_TTL_MAX)
		s = STS_TTL_MAX;
	return s * 1000;
}

/* The TXT records of _mta-sts.DOMAIN, into d's state. */
static void
txt_read(struct sts_dom *d, enum dns_status st, const struct dns_answer *a,
    const char *why)
{
	char got[MTASTS_ID_MAX + 1];
	const char *err = NULL;
	int n = 0;

	d->txt = TXT_NONE;
	d->why[0] = '\0';
	if (st == DNS_TEMPFAIL) {
		d->txt = TXT_FAILED;
		snprintf(d->why, sizeof(d->why), "TXT lookup failed: %s", why);
		return;
	}
	for (int i = 0; st == DNS_OK && i < a->ntxt; i++) {
		int rc = mtasts_txt_id(a->txt[i], got, &err);

		if (rc == -1) {
			d->txt = TXT_FAILED;
			snprintf(d->why, sizeof(d->why), "TXT record invalid: "
			    "%s", err);
			return;
		}
		if (rc == 0 && n++ == 0)
			gw_strlcpy(d->id, got, sizeof(d->id));
	}
	if (n > 1) {
		d->txt = TXT_FAILED;
		snprintf(d->why, sizeof(d->why), "more than one STSv1 TXT "
		    "record");
	} else if (n == 1)
		d->txt = TXT_ID;
}

static void
txt_cb(void *arg, enum dns_status st, const struct dns_answer *a,
    const char *why)
{
	struct sts_dom *d = arg;

	d->dq = NULL;
	txt_read(d, st, a, why);
	d->txt_until = loop_now() + txt_keep_ms(st, a);
	/* decide() answers a request, or leaves it for the fetch. */
	for (struct sts_req *r = d->waiters, *next; r != NULL; r = next) {
		next = r->next;
		decide(d, r);
	}
	sts_cache_trim();
}

struct sts_req *
sts_lookup(const char *domain, sts_cb cb, void *arg)
{
	struct sts_req *r = xcalloc(1, sizeof(*r));
	struct sts_dom *d = sts_cache_get(domain);
	char name[300];

	r->cb = cb;
	r->arg = arg;
	r->dom = d;
	timer_init(&r->later, deliver, r);
	if ((r->next = d->waiters) != NULL)
		d->waiters->prevp = &r->next;
	r->prevp = &d->waiters;
	d->waiters = r;
	if (d->dq != NULL)
		return r;		/* its answer comes for all */
	if (d->txt != TXT_UNKNOWN && loop_now() < d->txt_until) {
		gm.sts_txt_cache_hits_total++;
		decide(d, r);
		return r;
	}
	snprintf(name, sizeof(name), "_mta-sts.%s", d->name);
	if ((d->dq = dns_query(name, DNS_T_TXT, txt_cb, d)) == NULL)
		finish(r, NULL, "TXT lookup could not start");
	else
		gm.sts_txt_queries_total++;
	return r;
}

void
sts_cancel(struct sts_req *r)
{
	if (r == NULL)
		return;
	if (r->dom != NULL && (*r->prevp = r->next) != NULL)
		r->next->prevp = r->prevp;
	timer_del(&r->later);
	free(r);
}
