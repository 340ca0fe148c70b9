/*
 * rules.c - routing rule matching and argument parsing (see rules.h).
 * Standards: RFC 5322 2.2 (header fields, folding), RFC 5321 4.2
 * (replies), RFC 3463 (enhanced status codes).
 * Exposure: rules_header_get() reads the header section of a message a
 * client sent; the parsers read what an admin typed.  Neither trusts its
 * input: lengths are bounded, nothing is copied unchecked.
 * Diagnostics: never dies; the parsers return -1 with the reason in the
 * caller's err.
 */
#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules.h"

static const char *const prio_names[PRIO_COUNT] = {
	[PRIO_TRANSACTIONAL] = "transactional", [PRIO_BULK] = "bulk",
};

int
rules_prio_parse(const char *s)
{
	for (int i = 0; i < PRIO_COUNT; i++)
		if (strcmp(s, prio_names[i]) == 0)
			return i;
	return -1;
}

const char *
rules_prio_name(int p)
{
	return p >= 0 && p < PRIO_COUNT ? prio_names[p] : "transactional";
}

const char *
rules_action_name(enum rule_action a)
{
	switch (a) {
	case RULE_HOLD:
		return "hold";
	case RULE_REJECT:
		return "reject";
	default:
		return "route";
	}
}

int
rules_domain_match(const char *pattern, const char *domain)
{
	if (pattern == NULL)
		return 1;
	return fnmatch(pattern, domain ? domain : "", FNM_CASEFOLD) == 0;
}

static const char *
domain_of(const char *addr)
{
	const char *at;

	if (addr == NULL || (at = strrchr(addr, '@')) == NULL)
		return "";
	return at + 1;
}

static int
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* The end of the line at p (after its \n), or end. */
static const char *
line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl ? nl + 1 : end;
}

/* Is the line [p, e) empty (the end of the header section)? */
static int
line_blank(const char *p, const char *e)
{
	return e - p == 0 || (e - p == 1 && p[0] == '\n') ||
	    (e - p == 2 && p[0] == '\r' && p[1] == '\n');
}

/* Append [p, e) without its line break to out, up to outsz - 1. */
static void
put_value(char *out, size_t outsz, size_t *n, const char *p, const char *e)
{
	while (e > p && (e[-1] == '\n' || e[-1] == '\r'))
		e--;
	/* A NUL would end the value early, leaving what follows it. */
	for (; p < e && *n + 1 < outsz; p++)
		if (*p != '\0')
			out[(*n)++] = *p;
}

int
rules_header_get(const char *msg, size_t len, const char *name, char *out,
    size_t outsz)
{
	const char *p = msg, *end = msg + len, *e;
	size_t nlen = strlen(name), n = 0, lead = 0;

	if (outsz == 0 || msg == NULL)
		return 0;
	out[0] = '\0';
	for (; p < end; p = e) {
		const char *c;

		e = line_end(p, end);
		if (line_blank(p, e))
			return 0;
		if (is_wsp((unsigned char)*p) || (size_t)(e - p) <= nlen ||
		    strncasecmp(p, name, nlen) != 0)
			continue;
		for (c = p + nlen; c < e && is_wsp((unsigned char)*c); c++)
			;
		if (c == e || *c != ':')
			continue;
		for (c++; c < e && is_wsp((unsigned char)*c); c++)
			;
		put_value(out, outsz, &n, c, e);
		/* Folded continuation lines are part of the value. */
		for (p = e; p < end && is_wsp((unsigned char)*p); p = e) {
			e = line_end(p, end);
			put_value(out, outsz, &n, p, e);
		}
		while (n > 0 && is_wsp((unsigned char)out[n - 1]))
			n--;
		while (lead < n && is_wsp((unsigned char)out[lead]))
			lead++;
		memmove(out, out + lead, n - lead);
		out[n - lead] = '\0';
		return 1;
	}
	return 0;
}

int
rules_match(const struct rule *rules, int n, const struct rule_msg *m)
{
	char value[RULE_HEADER_MAX + 1];

	for (int i = 0; i < n; i++) {
		const struct rule *r = &rules[i];
		int unknown = 0;

		if (r->subaccount && strcmp(r->subaccount,
		    m->subaccount ? m->subaccount : "") != 0)
			continue;
		if (!rules_domain_match(r->from_domain, domain_of(m->sender)) ||
		    !rules_domain_match(r->to_domain, domain_of(m->rcpt)))
			continue;
		if (r->size_over >= 0 || r->size_under >= 0) {
			if (m->size < 0)
				unknown = 1;
			else if ((r->size_over >= 0 && m->size <= r->size_over) ||
			    (r->size_under >= 0 && m->size >= r->size_under))
				continue;
		}
		if (r->header) {
			if (m->headers == NULL)
				unknown = 1;
			else if (!rules_header_get(m->headers, m->hlen,
			    r->header, value, sizeof(value)) ||
			    fnmatch(r->header_value, value, FNM_CASEFOLD) != 0)
				continue;
		}
		return unknown ? RULES_UNKNOWN : i;
	}
	return RULES_NONE;
}

/* Parsers. */

static int
fail(char *err, size_t errsz, const char *why)
{
	snprintf(err, errsz, "%s", why);
	return -1;
}

int
rules_parse_header(const char *arg, char *name, size_t namesz, char *value,
    size_t valuesz, char *err, size_t errsz)
{
	const char *colon = strchr(arg, ':'), *v;
	size_t nlen, vlen;

	if (colon == NULL)
		return fail(err, errsz, "expected 'Name: value'");
	nlen = (size_t)(colon - arg);
	if (nlen == 0 || nlen >= namesz || nlen > 76)
		return fail(err, errsz, "bad header name length");
	for (size_t i = 0; i < nlen; i++)
		if (arg[i] < 33 || arg[i] > 126)
			return fail(err, errsz, "a header name is printable "
			    "ASCII without spaces");
	for (v = colon + 1; is_wsp((unsigned char)*v); v++)
		;
	vlen = strlen(v);
	while (vlen > 0 && is_wsp((unsigned char)v[vlen - 1]))
		vlen--;
	if (vlen == 0)
		return fail(err, errsz, "empty header value (use * for any)");
	if (vlen >= valuesz || vlen > RULE_HEADER_MAX)
		return fail(err, errsz, "header value too long");
	for (size_t i = 0; i < vlen; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return fail(err, errsz, "control character in the "
			    "header value");
	memcpy(name, arg, nlen);
	name[nlen] = '\0';
	memcpy(value, v, vlen);
	value[vlen] = '\0';
	return 0;
}

int
rules_parse_reply(const char *s, int *code, char *status, size_t statussz,
    const char **text, char *err, size_t errsz)
{
	const char *p = s;
	size_t n;

	if (!(p[0] == '4' || p[0] == '5') || !isdigit((unsigned char)p[1]) ||
	    !isdigit((unsigned char)p[2]) || p[1] > '5' ||
	    (p[3] != ' ' && p[3] != '\0'))
		return fail(err, errsz, "expected a 4xx or 5xx reply code, "
		    "e.g. '550 5.7.1 not allowed'");
	*code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	p += 3;
	while (*p == ' ')
		p++;
	status[0] = '\0';
	/* An enhanced status code: class.subject.detail, class = code's. */
	n = strspn(p, "0123456789.");
	if (n > 0 && memchr(p, '.', n) != NULL && (p[n] == ' ' ||
	    p[n] == '\0')) {
		int c, sub, det, len = 0;

		if (sscanf(p, "%1d.%3d.%3d%n", &c, &sub, &det, &len) != 3 ||
		    (size_t)len != n || c != *code / 100)
			return fail(err, errsz, "bad enhanced status code (its "
			    "class must match the reply code: 5.x.x for 5xx)");
		if (n >= statussz)
			return fail(err, errsz, "enhanced status code too long");
		memcpy(status, p, n);
		status[n] = '\0';
		p += n;
		while (*p == ' ')
			p++;
	}
	if (*p == '\0')
		return fail(err, errsz, "the reply needs a text");
	if (strlen(p) > 400)
		return fail(err, errsz, "reply text too long (400 at most)");
	for (const char *q = p; *q; q++)
		if (*q < 0x20 || *q > 0x7e)
			return fail(err, errsz, "the reply text is printable "
			    "ASCII");
	*text = p;
	return 0;
}

int
rules_parse_hostport(const char *s, char *host, size_t hostsz, int *port,
    char *err, size_t errsz)
{
	const char *h = s, *colon;
	size_t hlen;

	*port = 25;
	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL)
			return fail(err, errsz, "missing ]");
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close[1] == ':' ? close + 1 : NULL;
		if (close[1] != '\0' && colon == NULL)
			return fail(err, errsz, "expected [address]:port");
	} else {
		colon = strrchr(s, ':');
		if (colon && strchr(s, ':') != colon)
			return fail(err, errsz, "an IPv6 address goes in "
			    "brackets: [::1]:25");
		hlen = colon ? (size_t)(colon - s) : strlen(s);
	}
	if (hlen == 0 || hlen >= hostsz || hlen > 253)
		return fail(err, errsz, "bad host name length");
	for (size_t i = 0; i < hlen; i++)
		if (!isalnum((unsigned char)h[i]) && h[i] != '-' &&
		    h[i] != '.' && !(*s == '[' && h[i] == ':'))
			return fail(err, errsz, "bad character in host name");
	if (colon) {
		char *end;
		long v = strtol(colon + 1, &end, 10);

		if (colon[1] == '\0' || *end != '\0' || v < 1 || v > 65535)
			return fail(err, errsz, "port must be 1-65535");
		*port = (int)v;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	return 0;
}

int
rules_parse_domain_pattern(const char *s, char *err, size_t errsz)
{
	size_t n = strlen(s);

	if (n == 0 || n > 255)
		return fail(err, errsz, "bad domain pattern length");
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("-.*?", s[i]) ==
		    NULL)
			return fail(err, errsz, "a domain pattern has letters, "
			    "digits, '-', '.' and the wildcards * and ?");
	return 0;
}
