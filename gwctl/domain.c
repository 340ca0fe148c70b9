/*
 * domain.c - `gwctl domain check DOMAIN`: what a sending domain needs in
 * DNS for gw, one line per check ("CHECK NAME: ok|missing|wrong (why)"),
 * each line that is not ok followed by "  publish: RECORD".
 *
 * Checks: the DKIM records of DOMAIN's keys (dkim_check_keys()); for
 * each bounce domain of the subaccounts owning DOMAIN (their own, else
 * feedback.bounce_domain): its MX must name gwd.conf's hostname, and its
 * SPF must pass gw's source addresses (the pools' addresses, else the
 * addresses of hostname); DMARC at _dmarc.DOMAIN, else at the
 * organisational domain (the last two labels: a simple rule, not the
 * Public Suffix List), and DKIM and return-path alignment (relaxed,
 * strict when the record's adkim=s / aspf=s say so).
 * Terms, alignment and DMARC tags are read by common/spf.c.
 * Standards: RFC 7208 (SPF: ip4, ip6, a, mx, include, redirect, all;
 * 10 DNS-querying terms at most; macros are not expanded), RFC 7489
 * (DMARC discovery and alignment, simplified as said), RFC 6376.
 * Exposure: records come from DNS; they are only read and compared.
 * Diagnostics: exit 0 all ok, 1 something missing or wrong, EX_NOUSER
 * no subaccount sends from DOMAIN, EX_UNAVAILABLE DNS not answering.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sysexits.h>

#include "addr.h"
#include "buf.h"
#include "dns_pkt.h"
#include "gwctl.h"
#include "log.h"
#include "spf.h"
#include "util.h"

#define SPF_MAX_LOOKUPS	10	/* RFC 7208 4.6.4 */
#define SPF_MAX_DEPTH	10
#define DOMAIN_MAX_SRC	32
#define DOMAIN_MAX_BD	8

enum spf_result { SPF_NONE, SPF_NEUTRAL, SPF_PASS, SPF_FAIL, SPF_SOFTFAIL,
	SPF_PERMERROR };
static const char *const spf_results[] = { "none", "neutral", "pass",
	"fail", "softfail", "permerror" };

struct spf_eval {
	struct ctx	*ctx;
	int		 lookups;
	int		 r;		/* EX_OK, or the DNS failure */
	char		 why[300];	/* for permerror */
};

static struct dns_answer *
domain_ask(struct ctx *ctx, const char *name, uint16_t qtype, int *r)
{
	struct dns_answer *ans = xcalloc(1, sizeof(*ans));

	if ((*r = resolver_query(ctx, name, qtype, ans)) != EX_OK) {
		free(ans);
		return NULL;
	}
	return ans;
}

/* Text from DNS goes to a terminal: control bytes become '?'. */
static void
domain_clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* The one TXT record of name starting with tag (case-insensitive, then
 * a space or the end), copied into out; 0 none, 1 one, 2 several. */
static int
domain_txt(struct dns_answer *ans, const char *tag, char *out, size_t n)
{
	size_t tl = strlen(tag);
	int found = 0;

	for (int i = 0; i < ans->ntxt; i++)
		if (strncasecmp(ans->txt[i], tag, tl) == 0 &&
		    (ans->txt[i][tl] == '\0' || ans->txt[i][tl] == ' ' ||
		    ans->txt[i][tl] == ';')) {
			if (found++ == 0) {
				gw_strlcpy(out, ans->txt[i], n);
				domain_clean(out);
			}
		}
	return found > 1 ? 2 : found;
}

/* Does any A/AAAA record of host match ip?  -1: error (e->r). */
static int
spf_host_match(struct spf_eval *e, const char *host,
    const struct dns_addr *ip, int b4, int b6)
{
	struct dns_answer *ans;
	int m = 0;

	if ((ans = domain_ask(e->ctx, host, ip->family == AF_INET ?
	    DNS_T_A : DNS_T_AAAA, &e->r)) == NULL)
		return -1;
	for (int i = 0; i < ans->naddr && !m; i++)
		m = spf_addr_in(ip->family, ip->addr, ans->addr[i].family,
		    ans->addr[i].addr, b4, b6);
	free(ans);
	return m;
}

static enum spf_result spf_check(struct spf_eval *, const char *domain,
    const struct dns_addr *, int depth);

/* One term's match: 1, 0, or -1 (permerror or DNS failure, said). */
static int
spf_term(struct spf_eval *e, const struct spf_term *t, const char *text,
    const struct dns_addr *ip, int depth)
{
	struct dns_answer *ans;
	enum spf_result r;
	int m = 0;

	switch (t->mech) {
	case SPF_M_ALL:
		return 1;
	case SPF_M_IP4:
	case SPF_M_IP6:
		return spf_addr_in(ip->family, ip->addr, t->family, t->addr,
		    t->bits4, t->bits6);
	case SPF_M_OTHER:
		/* ptr, exists, or unknown: not evaluated here. */
		snprintf(e->why, sizeof(e->why), "\"%.40s\" is not evaluated "
		    "by gwctl (use ip4:, ip6:, a, mx or include:)", text);
		return -1;
	default:
		break;
	}
	if (++e->lookups > SPF_MAX_LOOKUPS) {
		snprintf(e->why, sizeof(e->why), "more than %d DNS lookups",
		    SPF_MAX_LOOKUPS);
		return -1;
	}
	if (t->mech == SPF_M_INCLUDE) {
		r = spf_check(e, t->domain, ip, depth + 1);
		if (r == SPF_PERMERROR || r == SPF_NONE) {
			if (!*e->why)
				snprintf(e->why, sizeof(e->why), "include:%.200s "
				    "has no SPF record", t->domain);
			return -1;
		}
		return r == SPF_PASS;
	}
	if (t->mech == SPF_M_A)
		return spf_host_match(e, t->domain, ip, t->bits4, t->bits6);
	/* mx */
	if ((ans = domain_ask(e->ctx, t->domain, DNS_T_MX, &e->r)) == NULL)
		return -1;
	for (int i = 0; i < ans->nmx && i < 10 && m == 0; i++)
		if (*ans->mx[i].host)
			m = spf_host_match(e, ans->mx[i].host, ip, t->bits4,
			    t->bits6);
	free(ans);
	return m;
}

/* RFC 7208 check_host() for the mechanisms above. */
static enum spf_result
spf_check(struct spf_eval *e, const char *domain, const struct dns_addr *ip,
    int depth)
{
	char rec[DNS_TXT_MAX + 1], *p, *t, redirect[DNS_NAME_MAX + 1] = "";
	struct dns_answer *ans;
	int n, m;

	if (depth > SPF_MAX_DEPTH) {
		snprintf(e->why, sizeof(e->why), "includes nested too deep");
		return SPF_PERMERROR;
	}
	if ((ans = domain_ask(e->ctx, domain, DNS_T_TXT, &e->r)) == NULL)
		return SPF_PERMERROR;
	n = domain_txt(ans, "v=spf1", rec, sizeof(rec));
	free(ans);
	if (n == 0)
		return SPF_NONE;
	if (n > 1) {
		snprintf(e->why, sizeof(e->why), "%s has several SPF records",
		    domain);
		return SPF_PERMERROR;
	}
	for (p = rec + 6; (t = strsep(&p, " ")) != NULL;) {
		static const enum spf_result quals[] = { SPF_PASS, SPF_FAIL,
		    SPF_SOFTFAIL, SPF_NEUTRAL };
		struct spf_term term;

		if (*t == '\0')
			continue;
		if (spf_term_parse(t, domain, &term) == -1) {
			snprintf(e->why, sizeof(e->why), "\"%.60s\" in %.100s's "
			    "SPF is not valid", t, domain);
			return SPF_PERMERROR;
		}
		if (term.mech == SPF_M_REDIRECT) {
			gw_strlcpy(redirect, term.domain, sizeof(redirect));
			continue;
		}
		if (term.mech == SPF_M_MODIFIER)
			continue;	/* exp=... */
		if ((m = spf_term(e, &term, t, ip, depth)) == -1)
			return SPF_PERMERROR;
		if (m)
			return quals[term.qual];
	}
	if (*redirect) {
		if (++e->lookups > SPF_MAX_LOOKUPS) {
			snprintf(e->why, sizeof(e->why), "more than %d DNS "
			    "lookups", SPF_MAX_LOOKUPS);
			return SPF_PERMERROR;
		}
		return spf_check(e, redirect, ip, depth + 1);
	}
	return SPF_NEUTRAL;
}

static void
domain_ntop(const struct dns_addr *a, char *out, size_t n)
{
	inet_ntop(a->family, a->addr, out, (socklen_t)n);
}

/* gw's source addresses: the pools', else hostname's. */
static int
domain_sources(struct ctx *ctx, struct dns_addr *src, int *nsrc,
    int *from_pools)
{
	sqlite3_stmt *st;
	struct dns_answer *ans;
	int rc, r;

	*nsrc = 0;
	if ((st = ctx_stmt(ctx, "SELECT DISTINCT address FROM pool_address "
	    "ORDER BY address", "")) == NULL)
		return ctx_sqlerr(ctx, "gw.db");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *nsrc < DOMAIN_MAX_SRC) {
		const char *s = (const char *)sqlite3_column_text(st, 0);
		struct dns_addr *a = &src[*nsrc];

		a->family = strchr(s, ':') ? AF_INET6 : AF_INET;
		if (inet_pton(a->family, s, a->addr) == 1)
			(*nsrc)++;
	}
	sqlite3_finalize(st);
	if ((*from_pools = *nsrc > 0))
		return EX_OK;
	for (int q = 0; q < 2; q++) {
		if ((ans = domain_ask(ctx, ctx->cfg.hostname, q ? DNS_T_AAAA :
		    DNS_T_A, &r)) == NULL)
			return r;
		for (int i = 0; i < ans->naddr && *nsrc < DOMAIN_MAX_SRC; i++)
			src[(*nsrc)++] = ans->addr[i];
		free(ans);
	}
	return EX_OK;
}

static void
domain_line(const char *check, const char *name, const char *status,
    const char *why)
{
	printf("%s %s: %s%s%s%s\n", check, name, status, *why ? " (" : "",
	    why, *why ? ")" : "");
}

static int
domain_mx(struct ctx *ctx, const char *bd, int *bad)
{
	const char *host = ctx->cfg.hostname;
	struct dns_answer *ans;
	char why[300] = "";
	int r, ok = 0;

	if ((ans = domain_ask(ctx, bd, DNS_T_MX, &r)) == NULL)
		return r;
	for (int i = 0; i < ans->nmx; i++) {
		domain_clean(ans->mx[i].host);
		ok |= strcasecmp(ans->mx[i].host, host) == 0;
	}
	if (!ok && ans->nmx > 0)
		snprintf(why, sizeof(why), "points at %s%s, not %s",
		    *ans->mx[0].host ? ans->mx[0].host : "nothing (null MX)",
		    ans->nmx > 1 ? " ..." : "", host);
	else if (!ok)
		snprintf(why, sizeof(why), "no MX record");
	domain_line("mx", bd, ok ? "ok" : ans->nmx ? "wrong" : "missing", why);
	if (!ok) {
		printf("  publish: %s. IN MX 10 %s.\n", bd, host);
		(*bad)++;
	}
	free(ans);
	return EX_OK;
}

static int
domain_spf(struct ctx *ctx, const char *bd, const struct dns_addr *src,
    int nsrc, int from_pools, int *bad)
{
	char rec[DNS_TXT_MAX + 1] = "", ip[INET6_ADDRSTRLEN], why[400] = "";
	struct dns_answer *ans;
	struct buf add, pub;
	int r, n, nbad = 0;

	if (nsrc == 0) {
		domain_line("spf", bd, "wrong", "");
		printf("  gw sends from the machine's default address, and %s "
		    "has no A or AAAA record to say which: add ip4:ADDRESS "
		    "(or ip6:) to %s's SPF\n", ctx->cfg.hostname, bd);
		(*bad)++;
		return EX_OK;
	}
	if ((ans = domain_ask(ctx, bd, DNS_T_TXT, &r)) == NULL)
		return r;
	n = domain_txt(ans, "v=spf1", rec, sizeof(rec));
	free(ans);
	buf_init(&add, 0);
	for (int i = 0; i < nsrc; i++) {
		struct spf_eval e = { .ctx = ctx, .r = EX_OK };
		enum spf_result res = SPF_NONE;

		if (n == 1)
			res = spf_check(&e, bd, &src[i], 0);
		if (e.r != EX_OK) {
			buf_free(&add);
			return e.r;
		}
		if (res == SPF_PASS)
			continue;
		domain_ntop(&src[i], ip, sizeof(ip));
		buf_printf(&add, " ip%c:%s", src[i].family == AF_INET ? '4' :
		    '6', ip);
		if (nbad++ == 0 && n == 1)
			snprintf(why, sizeof(why), "%s gets %s%s%s", ip,
			    spf_results[res], *e.why ? ": " : "", e.why);
	}
	if (n == 0)
		snprintf(why, sizeof(why), "no SPF record");
	else if (n > 1)
		snprintf(why, sizeof(why), "several SPF records");
	if (!from_pools && nbad)
		snprintf(why + strlen(why), sizeof(why) - strlen(why), "; no "
		    "pools: gw sends from the machine's default address, "
		    "taken as %s's", ctx->cfg.hostname);
	domain_line("spf", bd, nbad == 0 ? "ok" : n == 0 ? "missing" :
	    "wrong", why);
	if (nbad) {
		buf_init(&pub, 0);
		if (n == 1) {
			/* Before the last all, if any. */
			char *all = NULL, *p = rec;

			while ((p = strstr(p, "all")) != NULL) {
				if (p > rec && strchr(" +-~?", p[-1]) &&
				    (p[3] == '\0' || p[3] == ' '))
					all = p - (p[-1] == ' ' ? 0 : 1);
				p += 3;
			}
			if (all) {
				buf_append(&pub, rec, (size_t)(all - rec));
				buf_printf(&pub, "%s %s", buf_cstr(&add) + 1,
				    all);
			} else
				buf_printf(&pub, "%s%s", rec, buf_cstr(&add));
		} else
			buf_printf(&pub, "v=spf1%s -all", buf_cstr(&add));
		printf("  publish: %s. IN TXT \"%s\"\n", bd, buf_cstr(&pub));
		buf_free(&pub);
		(*bad)++;
	}
	buf_free(&add);
	return EX_OK;
}

static int
domain_dmarc(struct ctx *ctx, const char *domain, const char *dkim_d,
    char bds[][DNS_NAME_MAX + 1], int nbd, int *bad)
{
	char rec[DNS_TXT_MAX + 1] = "", name[DNS_NAME_MAX + 16], why[1024];
	char adkim[8], aspf[8], p[32];
	const char *org = dmarc_org_domain(domain);
	struct dns_answer *ans;
	int r, n = 0;

	for (int pass = 0; pass < 2 && n == 0; pass++) {
		if (pass == 1 && strcmp(org, domain) == 0)
			break;
		snprintf(name, sizeof(name), "_dmarc.%s", pass ? org : domain);
		if ((ans = domain_ask(ctx, name, DNS_T_TXT, &r)) == NULL)
			return r;
		n = domain_txt(ans, "v=DMARC1", rec, sizeof(rec));
		free(ans);
	}
	if (n != 1) {
		snprintf(name, sizeof(name), "_dmarc.%s", domain);
		domain_line("dmarc", name, n ? "wrong" : "missing", n ?
		    "several DMARC records" : "no DMARC record here or at the "
		    "organisational domain");
		printf("  publish: _dmarc.%s. IN TXT \"v=DMARC1; p=none; "
		    "rua=mailto:dmarc-reports@%s\"\n", org, org);
		(*bad)++;
	} else {
		dmarc_tag(rec, "p", p, sizeof(p));
		snprintf(why, sizeof(why), "p=%s", *p ? p : "(none given)");
		domain_line("dmarc", name, "ok", why);
	}
	dmarc_tag(rec, "adkim", adkim, sizeof(adkim));
	dmarc_tag(rec, "aspf", aspf, sizeof(aspf));
	if (dkim_d == NULL) {
		domain_line("dkim-alignment", domain, "missing", "gw does not "
		    "sign this domain's mail: no active DKIM key");
		printf("  publish: the record of a new key: gwctl dkim keygen "
		    "%s --activate\n", domain);
		(*bad)++;
	} else if (dmarc_aligned(dkim_d, domain, *adkim == 's')) {
		snprintf(why, sizeof(why), "d=%s, %s", dkim_d, *adkim == 's' ?
		    "strict" : "relaxed");
		domain_line("dkim-alignment", domain, "ok", why);
	} else {
		snprintf(why, sizeof(why), "d=%s does not align with %s (%s)",
		    dkim_d, domain, *adkim == 's' ? "strict" : "relaxed");
		domain_line("dkim-alignment", domain, "wrong", why);
		(*bad)++;
	}
	for (int i = 0; i < nbd; i++) {
		int ok = dmarc_aligned(bds[i], domain, *aspf == 's');

		snprintf(why, sizeof(why), "return path at %.255s%s, %s", bds[i],
		    ok ? "" : " does not align", *aspf == 's' ? "strict" :
		    "relaxed");
		domain_line("spf-alignment", domain, ok ? "ok" : "wrong", why);
		if (!ok) {
			printf("  use a bounce domain under %s: gwctl "
			    "subaccount set NAME --bounce-domain bounces.%s\n",
			    org, org);
			(*bad)++;
		}
	}
	return EX_OK;
}

/* The bounce domains of DOMAIN's subaccounts; EX_NOUSER when none owns
 * it; *none set when one of them has no bounce domain at all. */
static int
domain_bounce_domains(struct ctx *ctx, const char *domain,
    char bds[][DNS_NAME_MAX + 1], int *nbd, int *none)
{
	sqlite3_stmt *st;
	int rc, owners = 0;

	*nbd = *none = 0;
	if ((st = ctx_stmt(ctx, "SELECT s.bounce_domain FROM subaccount s "
	    "JOIN subaccount_domain d ON d.subaccount_id = s.id WHERE "
	    "d.domain = ?1 ORDER BY s.name", "t", domain)) == NULL)
		return ctx_sqlerr(ctx, "gw.db");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *b = (const char *)sqlite3_column_text(st, 0);
		int seen = 0;

		owners++;
		if (b == NULL || *b == '\0')
			b = ctx->cfg.feedback.bounce_domain;
		if (b == NULL) {
			*none = 1;
			continue;
		}
		for (int i = 0; i < *nbd; i++)
			seen |= strcasecmp(bds[i], b) == 0;
		if (!seen && *nbd < DOMAIN_MAX_BD)
			gw_strlcpy(bds[(*nbd)++], b, DNS_NAME_MAX + 1);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return ctx_sqlerr(ctx, "gw.db");
	if (owners == 0) {
		log_warnx("no subaccount sends from %s (gwctl subaccount "
		    "domain-add NAME %s)", domain, domain);
		return EX_NOUSER;
	}
	return EX_OK;
}

/* Exit status 0 when every check is ok, 1 when one is not. */
int
domain_check(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	char domain[ADDR_DOMAIN_MAX + 2], bds[DOMAIN_MAX_BD][DNS_NAME_MAX + 1];
	struct dns_addr src[DOMAIN_MAX_SRC];
	int r, nkeys, kbad, nbd, none, nsrc, from_pools, bad = 0;

	if ((r = dkim_domain_arg(a->argv[0], domain)) != EX_OK ||
	    (r = ctx_config(ctx)) != EX_OK || (r = ctx_db(ctx)) != EX_OK ||
	    (r = domain_bounce_domains(ctx, domain, bds, &nbd, &none)) !=
	    EX_OK)
		return r;
	/* 1: DKIM */
	if ((r = dkim_check_keys(ctx, domain, NULL, "dkim ", 1, &nkeys,
	    &kbad)) != EX_OK)
		return r;
	bad += kbad;
	if (nkeys == 0) {
		domain_line("dkim", domain, "missing", "no active DKIM key");
		printf("  publish: the record gwctl dkim keygen %s prints\n",
		    domain);
		bad++;
	}
	/* 2, 3: the bounce domains' MX and SPF */
	if (none) {
		domain_line("bounce-domain", domain, "missing", "a subaccount "
		    "sending from it has no bounce domain: bounces come back "
		    "to the senders, not to gw");
		printf("  set one: gwctl subaccount set NAME --bounce-domain "
		    "bounces.%s, or feedback.bounce_domain in %s\n", domain,
		    ctx->cfg.path);
		bad++;
	}
	if (nbd > 0 && (r = domain_sources(ctx, src, &nsrc, &from_pools)) !=
	    EX_OK)
		return r;
	for (int i = 0; i < nbd; i++)
		if ((r = domain_mx(ctx, bds[i], &bad)) != EX_OK ||
		    (r = domain_spf(ctx, bds[i], src, nsrc, from_pools,
		    &bad)) != EX_OK)
			return r;
	/* 4: DMARC and alignment; gw signs with d=DOMAIN when it has an
	 * active key. */
	if ((r = domain_dmarc(ctx, domain, dkim_domain_active(ctx, domain) >
	    0 ? domain : NULL, bds, nbd, &bad)) != EX_OK)
		return r;
	return bad ? 1 : EX_OK;
}
