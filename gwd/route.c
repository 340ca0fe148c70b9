/*
 * route.c - destinations to connectable addresses.
 * Standards: RFC 5321 5.1, RFC 7505 (null MX), RFC 3596 (AAAA), RFC 7672
 * 2.2 (which TLSA records count: DNSSEC-validated ones, of hosts whose
 * MX and address records were validated too).
 * Exposure: DNS answers are untrusted (parsed by dns_pkt.c); counts are
 * capped here so a huge answer cannot make a huge target list, and MX
 * addresses that lead nowhere or back to this host are dropped
 * (mxguard.c).
 * Diagnostics: dies only when memory runs out; DNS failures and empty
 * answers come back in the route_result as a status and a reply for the
 * recipients.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "cidr.h"
#include "dns.h"
#include "gwd.h"
#include "log.h"
#include "loop.h"
#include "mxguard.h"
#include "route.h"
#include "shlist.h"
#include "sts.h"
#include "util.h"

struct lookup {
	struct route_req *req;
	int		 mx;		/* index into hosts */
	int		 family;
	struct dns_req	*dns;
	enum dns_status	 status;
	int		 ad;		/* validated (DNSSEC) */
	int		 naddr;
	struct dns_addr	 addr[DNS_MAX_ADDR];
};

struct route_req {
	route_cb	 cb;
	void		*arg;
	char		 domain[256];
	int		 mx;		/* MX, not a smarthost */
	int		 port;
	int		 mx_secure;	/* the MX answer (or its denial) was
					   validated: DANE may apply */
	struct dns_req	*mxq;
	struct sts_req	*stsq;		/* the MTA-STS policy, in parallel */
	int		 sts_wait;	/* the route is ready but for it */
	struct dns_req	*tlsaq[ROUTE_MAX_MX];
	struct tlsa_wait {
		struct route_req *r;
		int		 h;
	}		 tw[ROUTE_MAX_MX];
	int		 nhosts;
	char		 hosts[ROUTE_MAX_MX][256];
	int		 ports[ROUTE_MAX_MX];	/* smarthosts: each its own */
	int		 shi[ROUTE_MAX_MX];	/* and its list entry */
	struct lookup	 lk[ROUTE_MAX_MX * 2];
	int		 pending;
	struct route_result res;
	struct ev_timer	 later;
};

static void
req_free(struct route_req *r)
{
	dns_cancel(r->mxq);
	sts_cancel(r->stsq);
	for (int i = 0; i < r->nhosts * 2; i++)
		dns_cancel(r->lk[i].dns);
	for (int i = 0; i < r->nhosts; i++)
		dns_cancel(r->tlsaq[i]);
	timer_del(&r->later);
	free(r);
}

static void
deliver(struct ev_timer *t)
{
	struct route_req *r = t->arg;

	/* A route that works waits for the domain's MTA-STS policy (its
	 * lookup is bounded by mta_sts.timeout): delivering before it
	 * would be the downgrade the policy exists to prevent. */
	if (r->res.status == ROUTE_OK && r->stsq != NULL) {
		r->sts_wait = 1;
		return;
	}
	r->cb(r->arg, &r->res);
	req_free(r);
}

static void
fail(struct route_req *r, enum route_status st, int code, const char *enh,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
fail(struct route_req *r, enum route_status st, int code, const char *enh,
    const char *fmt, ...)
{
	va_list ap;

	r->res.status = st;
	r->res.code = code;
	gw_strlcpy(r->res.enh, enh, sizeof(r->res.enh));
	va_start(ap, fmt);
	vsnprintf(r->res.text, sizeof(r->res.text), fmt, ap);
	va_end(ap);
	timer_add(&r->later, 0);
}

static struct target *
add_target(struct route_req *r, const char *host, int family,
    const unsigned char *a, int port, int shi, int hi)
{
	struct target *t;

	if (r->res.ntargets == ROUTE_MAX_TARGETS)
		return NULL;
	t = &r->res.targets[r->res.ntargets++];
	memset(t, 0, sizeof(*t));
	gw_strlcpy(t->host, host, sizeof(t->host));
	t->shi = shi;
	t->hi = hi;
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&t->sa;

		s->sin_family = AF_INET;
		s->sin_port = htons((uint16_t)port);
		memcpy(&s->sin_addr, a, 4);
		t->salen = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&t->sa;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons((uint16_t)port);
		memcpy(&s->sin6_addr, a, 16);
		t->salen = sizeof(*s);
	}
	return t;
}

/* An MX address that leads nowhere or back here is never a target. */
static int
refused(struct route_req *r, const struct target *t)
{
	const char *why;
	char ip[64];

	if (!r->mx || (why = mxguard_refuse((const struct sockaddr *)&t->sa,
	    gcfg->relay.allow_loopback_mx)) == NULL)
		return 0;
	sockaddr_ntop((const struct sockaddr *)&t->sa, ip, sizeof(ip));
	log_warnx("domain=%s: not connecting to MX host %s at %s: %s",
	    r->domain, t->host, ip, why);
	return 1;
}

/* All address lookups are back: order by MX preference, IPv4 first. */
static void
addresses_done(struct route_req *r)
{
	int tempfail = 0, nrefused = 0;

	for (int h = 0; h < r->nhosts; h++) {
		int port = r->mx ? r->port : r->ports[h];

		/* TLSA records count only for a host whose addresses were
		 * validated too (RFC 7672 2.2.2). */
		for (int f = 0; f < 2; f++)
			if (r->lk[h * 2 + f].naddr > 0 && !r->lk[h * 2 + f].ad)
				r->res.dane[h].state = DANE_NONE;

		for (int f = 0; f < 2; f++) {
			struct lookup *l = &r->lk[h * 2 + f];

			if (l->status == DNS_TEMPFAIL)
				tempfail = 1;
			for (int i = 0; i < l->naddr; i++) {
				struct target *t = add_target(r, r->hosts[h],
				    l->addr[i].family, l->addr[i].addr, port,
				    r->shi[h], h);

				if (t && refused(r, t)) {
					r->res.ntargets--;
					nrefused++;
				}
			}
		}
	}
	if (r->res.ntargets > 0) {
		r->res.status = ROUTE_OK;
		timer_add(&r->later, 0);
	} else if (tempfail)
		fail(r, ROUTE_TEMPFAIL, 451, "4.4.3", "Host or domain name "
		    "lookup failed for %s (DNS temporary failure)", r->domain);
	else if (nrefused > 0)
		/* Postfix's words for it. */
		fail(r, ROUTE_PERMFAIL, 554, "5.4.6", "mail for %s loops back "
		    "to myself", r->domain);
	else
		fail(r, ROUTE_PERMFAIL, 550, "5.4.4", "Host or domain name "
		    "not found: no address for the mail servers of %s",
		    r->domain);
}

static void
addr_cb(void *arg, enum dns_status st, const struct dns_answer *a,
    const char *why)
{
	struct lookup *l = arg;
	struct route_req *r = l->req;

	l->dns = NULL;
	l->status = st;
	l->ad = a != NULL && a->ad;
	if (st == DNS_OK) {
		for (int i = 0; i < a->naddr && l->naddr < DNS_MAX_ADDR; i++)
			if (a->addr[i].family == l->family)
				l->addr[l->naddr++] = a->addr[i];
	}
	if (--r->pending == 0)
		addresses_done(r);
}

/* Which TLSA records of a host count, and what they make of it. */
static void
tlsa_cb(void *arg, enum dns_status st, const struct dns_answer *a,
    const char *why)
{
	struct tlsa_wait *w = arg;
	struct route_req *r = w->r;
	int h = w->h;
	struct route_dane *d = &r->res.dane[h];

	r->tlsaq[h] = NULL;
	d->ntlsa = 0;
	switch (st) {
	case DNS_OK:
		if (!a->ad) {
			d->state = DANE_NONE;	/* insecure: no DANE */
			break;
		}
		for (int i = 0; i < a->ntlsa && d->ntlsa < ROUTE_MAX_TLSA; i++)
			/* DANE-TA(2) and DANE-EE(3) only (RFC 7672 3.1.3). */
			if ((a->tlsa[i].usage == 2 || a->tlsa[i].usage == 3) &&
			    a->tlsa[i].selector <= 1 && a->tlsa[i].mtype <= 2)
				d->tlsa[d->ntlsa++] = a->tlsa[i];
		d->state = d->ntlsa > 0 ? DANE_ON : DANE_UNUSABLE;
		break;
	case DNS_NODATA:
	case DNS_NXDOMAIN:
		d->state = DANE_NONE;
		break;
	case DNS_TEMPFAIL:
		/* A validating resolver says SERVFAIL for bogus records:
		 * never a reason to go on without them. */
		log_warnx("domain=%s: TLSA lookup for host %s failed (%s): "
		    "not delivering to it for now", r->domain, r->hosts[h],
		    why != NULL && *why != '\0' ? why : "SERVFAIL or no "
		    "answer");
		break;
	}
	if (--r->pending == 0)
		addresses_done(r);
}

/* DANE may apply: ask for the TLSA records of each host. */
static void
lookup_tlsa(struct route_req *r)
{
	char name[DNS_NAME_MAX + 1];

	for (int h = 0; h < r->nhosts; h++) {
		int port = r->mx ? r->port : r->ports[h];

		if (snprintf(name, sizeof(name), "_%d._tcp.%s", port,
		    r->hosts[h]) >= (int)sizeof(name))
			continue;
		/* FAILED until an answer says otherwise. */
		r->res.dane[h].state = DANE_FAILED;
		r->tw[h].r = r;
		r->tw[h].h = h;
		r->pending++;
		r->tlsaq[h] = dns_query(name, DNS_T_TLSA, tlsa_cb, &r->tw[h]);
	}
}

static void
lookup_hosts(struct route_req *r)
{
	r->pending = r->nhosts * 2;
	if (gcfg->dns.dnssec && (!r->mx || r->mx_secure))
		lookup_tlsa(r);
	for (int h = 0; h < r->nhosts; h++) {
		for (int f = 0; f < 2; f++) {
			struct lookup *l = &r->lk[h * 2 + f];

			l->req = r;
			l->mx = h;
			l->family = f == 0 ? AF_INET : AF_INET6;
			l->dns = dns_query(r->hosts[h], f == 0 ? DNS_T_A :
			    DNS_T_AAAA, addr_cb, l);
		}
	}
}

static int
cmp_mx(const void *a, const void *b)
{
	const struct dns_mx *x = a, *y = b;

	return (int)x->pref - (int)y->pref;
}

static void
mx_cb(void *arg, enum dns_status st, const struct dns_answer *a,
    const char *why)
{
	struct route_req *r = arg;
	struct dns_mx mx[DNS_MAX_MX];
	int n = 0, nullmx = 0;

	r->mxq = NULL;
	r->mx_secure = gcfg->dns.dnssec && a != NULL && a->ad;
	r->res.mx_secure = r->mx_secure;
	switch (st) {
	case DNS_TEMPFAIL:
		fail(r, ROUTE_TEMPFAIL, 451, "4.4.3", "Host or domain name "
		    "lookup failed for %s (DNS temporary failure)", r->domain);
		return;
	case DNS_NXDOMAIN:
		fail(r, ROUTE_PERMFAIL, 550, "5.4.4", "Host or domain name "
		    "not found: %s does not exist", r->domain);
		return;
	case DNS_NODATA:
		/* No MX: the domain itself is the implicit MX. */
		r->nhosts = 1;
		gw_strlcpy(r->hosts[0], r->domain, sizeof(r->hosts[0]));
		lookup_hosts(r);
		return;
	case DNS_OK:
		break;
	}
	for (int i = 0; i < a->nmx; i++) {
		if (a->mx[i].host[0] == '\0')
			nullmx = 1;
		else
			mx[n++] = a->mx[i];
	}
	if (n == 0 && nullmx) {
		fail(r, ROUTE_PERMFAIL, 556, "5.1.10", "Recipient domain %s "
		    "accepts no mail (null MX)", r->domain);
		return;
	}
	qsort(mx, (size_t)n, sizeof(mx[0]), cmp_mx);
	for (int i = 0; i < n && r->nhosts < ROUTE_MAX_MX; i++)
		gw_strlcpy(r->hosts[r->nhosts++], mx[i].host,
		    sizeof(r->hosts[0]));
	lookup_hosts(r);
}

/* A smarthost that is an IP address needs no DNS: its target now. */
static int
smarthost_literal(struct route_req *r, const struct sh_entry *e, int shi)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, e->host, a) == 1)
		add_target(r, e->host, AF_INET, a, e->port, shi, 0);
	else if (inet_pton(AF_INET6, e->host, a) == 1)
		add_target(r, e->host, AF_INET6, a, e->port, shi, 0);
	else
		return 0;
	return 1;
}

/* The hosts of a smarthost list: addresses at once, names by DNS. */
static void
smarthosts(struct route_req *r, const struct shlist *sh)
{
	if (sh == NULL || sh->n == 0) {
		fail(r, ROUTE_TEMPFAIL, 451, "4.3.5", "no usable smarthost "
		    "(see the warnings about gw.db's routing rules)");
		return;
	}
	gw_strlcpy(r->domain, sh->e[0].host, sizeof(r->domain));
	for (int i = 0; i < sh->n && i < ROUTE_MAX_MX; i++) {
		if (smarthost_literal(r, &sh->e[i], i))
			continue;
		gw_strlcpy(r->hosts[r->nhosts], sh->e[i].host,
		    sizeof(r->hosts[0]));
		r->ports[r->nhosts] = sh->e[i].port;
		r->shi[r->nhosts++] = i;
	}
	if (r->nhosts > 0)
		lookup_hosts(r);
	else {
		r->res.status = ROUTE_OK;
		timer_add(&r->later, 0);
	}
}

static void
route_on_sts(void *arg, const struct sts_result *sr)
{
	struct route_req *r = arg;

	r->stsq = NULL;
	r->res.sts_on = sr->on;
	r->res.sts = sr->pol;
	gw_strlcpy(r->res.sts_why, sr->why, sizeof(r->res.sts_why));
	if (r->sts_wait)
		deliver(&r->later);
}

struct route_req *
route_resolve(const char *domain, const struct shlist *sh, int port,
    route_cb cb, void *arg)
{
	struct route_req *r = xcalloc(1, sizeof(*r));
	char ascii[256];

	r->cb = cb;
	r->arg = arg;
	r->port = port;
	timer_init(&r->later, deliver, r);
	if (domain == NULL) {
		smarthosts(r, sh);
		return r;
	}
	gw_strlcpy(r->domain, domain, sizeof(r->domain));
	r->mx = 1;
	/* A U-label domain is asked for by its A-labels (RFC 6531 3.2);
	 * one that has none gets its NXDOMAIN from the DNS. */
	if (addr_domain_ascii(domain, ascii, sizeof(ascii)) == -1)
		gw_strlcpy(ascii, domain, sizeof(ascii));
	r->mxq = dns_query(ascii, DNS_T_MX, mx_cb, r);
	if (gcfg->mta_sts.enable)
		r->stsq = sts_lookup(ascii, route_on_sts, r);
	return r;
}

void
route_cancel(struct route_req *r)
{
	if (r)
		req_free(r);
}
