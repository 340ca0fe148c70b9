/*
 * spf.c - SPF terms and DMARC alignment for `gwctl domain check`; see
 * spf.h.
 * Standards: RFC 7208 4.6.1 (terms), 5.6 (ip4, ip6 and their prefixes);
 * RFC 7489 3.1 (alignment), 6.3 (tags), with the organisational domain
 * simplified to the last two labels.
 * Exposure: every input is text from DNS; nothing is written past out,
 * a prefix is digits only and in range, a target a bounded copy.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "spf.h"
#include "util.h"

/* "N" of at most max: digits only; -1 when not. */
static int
spf_prefix(const char *s, size_t n, int max)
{
	int v = 0;

	if (n == 0 || n > 3)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? v : -1;
}

/* "[:target][/n][//n6]" after a, mx: into out. */
static int
spf_target(const char *arg, const char *domain, int need_target,
    struct spf_term *out)
{
	const char *slash = strchr(arg, '/'), *end;
	size_t n = slash ? (size_t)(slash - arg) : strlen(arg);

	out->bits4 = 32;
	out->bits6 = 128;
	if (*arg == ':' || *arg == '=') {	/* include:, redirect= */
		arg++;
		n--;
		if (n == 0 || n > SPF_DOMAIN_MAX || memchr(arg, '%', n))
			return -1;	/* empty, too long, or a macro */
		memcpy(out->domain, arg, n);
		out->domain[n] = '\0';
	} else if (n != 0 || need_target)
		return -1;
	else
		gw_strlcpy(out->domain, domain, sizeof(out->domain));
	if (slash == NULL)
		return 0;
	if (need_target)
		return -1;
	if (slash[1] != '/') {
		end = strchr(slash + 1, '/');
		n = end ? (size_t)(end - slash - 1) : strlen(slash + 1);
		if ((out->bits4 = spf_prefix(slash + 1, n, 32)) == -1)
			return -1;
		if ((slash = end) == NULL)
			return 0;
		if (slash[1] != '/')
			return -1;
	}
	return (out->bits6 = spf_prefix(slash + 2, strlen(slash + 2), 128)) ==
	    -1 ? -1 : 0;
}

/* "ip4:NET[/n]" or "ip6:NET[/n]". */
static int
spf_ip(const char *arg, int family, struct spf_term *out)
{
	char a[INET6_ADDRSTRLEN];
	const char *slash = strchr(arg, '/');
	size_t n = slash ? (size_t)(slash - arg) : strlen(arg);
	int max = family == AF_INET ? 32 : 128;

	if (n == 0 || n >= sizeof(a))
		return -1;
	memcpy(a, arg, n);
	a[n] = '\0';
	out->family = family;
	if (inet_pton(family, a, out->addr) != 1)
		return -1;
	out->bits4 = 32;
	out->bits6 = 128;
	if (slash && (*(family == AF_INET ? &out->bits4 : &out->bits6) =
	    spf_prefix(slash + 1, strlen(slash + 1), max)) == -1)
		return -1;
	return 0;
}

int
spf_term_parse(const char *t, const char *domain, struct spf_term *out)
{
	memset(out, 0, sizeof(*out));
	out->qual = SPF_Q_PASS;
	if (strncasecmp(t, "redirect=", 9) == 0) {
		out->mech = SPF_M_REDIRECT;
		return spf_target(t + 8, domain, 1, out);
	}
	if (strchr(t, '=') != NULL && strchr(t, ':') == NULL) {
		out->mech = SPF_M_MODIFIER;
		return 0;
	}
	switch (*t) {
	case '+': out->qual = SPF_Q_PASS; t++; break;
	case '-': out->qual = SPF_Q_FAIL; t++; break;
	case '~': out->qual = SPF_Q_SOFTFAIL; t++; break;
	case '?': out->qual = SPF_Q_NEUTRAL; t++; break;
	}
	if (strcasecmp(t, "all") == 0) {
		out->mech = SPF_M_ALL;
		return 0;
	}
	if (strncasecmp(t, "ip4:", 4) == 0) {
		out->mech = SPF_M_IP4;
		return spf_ip(t + 4, AF_INET, out);
	}
	if (strncasecmp(t, "ip6:", 4) == 0) {
		out->mech = SPF_M_IP6;
		return spf_ip(t + 4, AF_INET6, out);
	}
	if (strncasecmp(t, "include:", 8) == 0) {
		out->mech = SPF_M_INCLUDE;
		return spf_target(t + 7, domain, 1, out);
	}
	if ((t[0] == 'a' || t[0] == 'A') && (t[1] == '\0' || t[1] == ':' ||
	    t[1] == '/')) {
		out->mech = SPF_M_A;
		return spf_target(t + 1, domain, 0, out);
	}
	if (strncasecmp(t, "mx", 2) == 0 && (t[2] == '\0' || t[2] == ':' ||
	    t[2] == '/')) {
		out->mech = SPF_M_MX;
		return spf_target(t + 2, domain, 0, out);
	}
	out->mech = SPF_M_OTHER;
	return 0;
}

int
spf_addr_in(int family, const unsigned char *ip, int net_family,
    const unsigned char *net, int bits4, int bits6)
{
	int bits = family == AF_INET ? bits4 : bits6;
	int len = family == AF_INET ? 4 : 16;

	if (family != net_family || bits < 0 || bits > len * 8)
		return 0;
	for (int i = 0; bits > 0; i++, bits -= 8) {
		unsigned char m = bits >= 8 ? 0xff :
		    (unsigned char)(0xff << (8 - bits));

		if ((ip[i] & m) != (net[i] & m))
			return 0;
	}
	return 1;
}

const char *
dmarc_org_domain(const char *d)
{
	const char *last = strrchr(d, '.'), *p;

	if (last == NULL)
		return d;
	for (p = last - 1; p > d && *p != '.'; p--)
		;
	return p > d ? p + 1 : d;
}

int
dmarc_aligned(const char *a, const char *b, int strict)
{
	return strict ? strcasecmp(a, b) == 0 :
	    strcasecmp(dmarc_org_domain(a), dmarc_org_domain(b)) == 0;
}

void
dmarc_tag(const char *rec, const char *tag, char *out, size_t n)
{
	size_t tl = strlen(tag);
	const char *p = rec, *semi, *v, *e;

	*out = '\0';
	for (; *p; p = *semi ? semi + 1 : semi) {
		if ((semi = strchr(p, ';')) == NULL)
			semi = p + strlen(p);
		while (p < semi && (*p == ' ' || *p == '\t'))
			p++;
		if ((size_t)(semi - p) <= tl || strncasecmp(p, tag, tl) != 0)
			continue;
		for (v = p + tl; v < semi && (*v == ' ' || *v == '\t'); v++)
			;
		if (v == semi || *v != '=')
			continue;
		for (v++; v < semi && (*v == ' ' || *v == '\t'); v++)
			;
		for (e = semi; e > v && (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		if (n > 0) {
			size_t len = (size_t)(e - v) < n - 1 ?
			    (size_t)(e - v) : n - 1;

			memcpy(out, v, len);
			out[len] = '\0';
		}
	}
}
