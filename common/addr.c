/*
 * addr.c - RFC 5321 paths, parsed strictly.
 *
 * The grammar (RFC 5321 4.1.2):
 *   Path       = "<" [ A-d-l ":" ] Mailbox ">"
 *   Mailbox    = Local-part "@" ( Domain / address-literal )
 *   Local-part = Dot-string / Quoted-string
 * Source routes (A-d-l) are refused rather than ignored: no client of a
 * submission gateway has a reason to send one.  Bytes are first screened
 * for controls and 8-bit data so that the reply says what was wrong.
 *
 * One address has many spellings: "a"@x, "\a"@x and a@x are the same
 * mailbox (RFC 5321 4.1.2: the quoted and unquoted forms are
 * equivalent, and a sender SHOULD use the one with the least quoting).
 * Every address leaves here in that one canonical form, so that a list
 * keyed by address (suppression) cannot be passed by quoting.
 * Diagnostics: never dies; a refused path is an addr_status, which names
 * the reply to send (addr_status_reply()); the canonical forms return -1
 * for what is not an address or does not fit the caller's buffer.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <strings.h>
#include <string.h>

#include "addr.h"

/* atext of RFC 5322 3.2.3, which RFC 5321 Atom uses. */
static int
is_atext(unsigned char c)
{
	if (isalnum(c))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static int
is_letdig(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* Length of a valid Dot-string at s[0..n), or 0. */
static size_t
dot_string(const char *s, size_t n)
{
	size_t i = 0;

	for (;;) {
		size_t start = i;

		while (i < n && is_atext((unsigned char)s[i]))
			i++;
		if (i == start)
			return 0;	/* empty atom: "..", leading or trailing dot */
		if (i < n && s[i] == '.') {
			i++;
			continue;
		}
		return i;
	}
}

/* Length of a valid Quoted-string at s[0..n) (quotes included), or 0. */
static size_t
quoted_string(const char *s, size_t n)
{
	size_t i = 1;

	if (n == 0 || s[0] != '"')
		return 0;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"')
			return i + 1;
		if (c == '\\') {
			if (i + 1 >= n || s[i + 1] < 32 || s[i + 1] > 126)
				return 0;
			i += 2;
			continue;
		}
		if (c < 32 || c > 126)
			return 0;
		i++;
	}
	return 0;
}

int
addr_unquote(const char *q, size_t n, char *out, size_t outsz)
{
	size_t o = 0;

	for (size_t i = 1; i + 1 < n; i++) {
		if (q[i] == '\r') {
			i++;		/* folding: its CRLF is invisible */
			continue;
		}
		if (q[i] == '\\')
			i++;
		if (o >= outsz)
			return -1;
		out[o++] = q[i];
	}
	return (int)o;
}

/* Validate s[0..n) as a Domain (LDH labels). */
static int
valid_domain_n(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || n > ADDR_DOMAIN_MAX)
		return 0;
	for (;;) {
		size_t start = i;

		if (i >= n || !is_letdig((unsigned char)s[i]))
			return 0;
		while (i < n && (is_letdig((unsigned char)s[i]) || s[i] == '-'))
			i++;
		if (i - start > 63 || s[i - 1] == '-')
			return 0;
		if (i == n)
			return 1;
		if (s[i] != '.')
			return 0;
		i++;
	}
}

int
addr_valid_domain(const char *s)
{
	return valid_domain_n(s, strlen(s));
}

/* "[1.2.3.4]" or "[IPv6:...]". */
static int
valid_literal(const char *s, size_t n)
{
	char tmp[64];
	unsigned char a[16];

	if (n < 3 || s[0] != '[' || s[n - 1] != ']' || n - 2 >= sizeof(tmp))
		return 0;
	memcpy(tmp, s + 1, n - 2);
	tmp[n - 2] = '\0';
	if (strncasecmp(tmp, "IPv6:", 5) == 0)
		return inet_pton(AF_INET6, tmp + 5, a) == 1;
	return inet_pton(AF_INET, tmp, a) == 1;
}

enum addr_status
addr_parse_path(const char *s, size_t len, int flags, struct mailpath *mp,
    size_t *consumed)
{
	size_t i, end, inner, llen, dlen;
	int inquote = 0;

	memset(mp, 0, sizeof(*mp));
	if (len < 2 || s[0] != '<')
		return ADDR_SYNTAX;

	/* Find the closing '>' outside quotes, screening every byte. */
	for (i = 1; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x80)
			return ADDR_NON_ASCII;
		if (c < 0x20 || c == 0x7f)
			return ADDR_CTL;
		if (inquote && c == '\\') {
			if (i + 1 < len && (unsigned char)s[i + 1] >= 0x80)
				return ADDR_NON_ASCII;
			if (i + 1 < len && ((unsigned char)s[i + 1] < 0x20 ||
			    s[i + 1] == 0x7f))
				return ADDR_CTL;
			i++;
			continue;
		}
		if (c == '"')
			inquote = !inquote;
		else if (c == '>' && !inquote)
			break;
	}
	if (i >= len)
		return ADDR_SYNTAX;
	end = i;
	inner = end - 1;
	*consumed = end + 1;

	if (inner == 0) {
		if (!(flags & ADDR_ALLOW_NULL))
			return ADDR_NULL_FORBIDDEN;
		return ADDR_OK;
	}
	if (s[1] == '@')
		return ADDR_SOURCE_ROUTE;
	if (inner > ADDR_PATH_MAX)
		return ADDR_TOO_LONG;

	if (s[1] == '"')
		llen = quoted_string(s + 1, inner);
	else
		llen = dot_string(s + 1, inner);
	if (llen == 0)
		return ADDR_SYNTAX;
	if (llen == inner)
		return ADDR_NO_DOMAIN;
	if (s[1 + llen] != '@')
		return ADDR_SYNTAX;
	if (llen > ADDR_LOCAL_MAX)
		return ADDR_TOO_LONG;
	dlen = inner - llen - 1;
	if (dlen == 0)
		return ADDR_SYNTAX;
	if (dlen > ADDR_DOMAIN_MAX)
		return ADDR_TOO_LONG;
	if (s[2 + llen] == '[') {
		if (!valid_literal(s + 2 + llen, dlen))
			return ADDR_SYNTAX;
		mp->literal = 1;
	} else if (!valid_domain_n(s + 2 + llen, dlen))
		return ADDR_SYNTAX;

	/* The canonical form is never longer than what was written: it
	 * only drops quotes and backslashes. */
	if (s[1] == '"') {
		char text[ADDR_PATH_MAX + 1];
		int tn = addr_unquote(s + 1, llen, text, sizeof(text));
		int cn = tn < 0 ? -1 : addr_local_canon(text, (size_t)tn,
		    mp->addr, sizeof(mp->addr));

		if (cn < 0)
			return ADDR_SYNTAX;
		mp->at = (size_t)cn;
	} else {
		memcpy(mp->addr, s + 1, llen);
		mp->at = llen;
	}
	mp->addr[mp->at] = '@';
	for (i = 0; i < dlen; i++)
		mp->addr[mp->at + 1 + i] = (char)tolower((unsigned char)
		    s[2 + llen + i]);
	mp->len = mp->at + 1 + dlen;
	mp->addr[mp->len] = '\0';
	return ADDR_OK;
}

int
addr_local_canon(const char *text, size_t n, char *out, size_t outsz)
{
	size_t o = 0;

	if (n > 0 && dot_string(text, n) == n) {
		if (n >= outsz)
			return -1;
		memcpy(out, text, n);
		out[n] = '\0';
		return (int)n;
	}
	/* Quoted, escaping only what must be (RFC 5321 qtextSMTP). */
	if (outsz < 3)
		return -1;
	out[o++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c < 32 || c > 126)
			return -1;
		if (o + 3 + (c == '"' || c == '\\') > outsz)
			return -1;
		if (c == '"' || c == '\\')
			out[o++] = '\\';
		out[o++] = (char)c;
	}
	out[o++] = '"';
	out[o] = '\0';
	return (int)o;
}

int
addr_canon(const char *addr, int flags, char *out, size_t outsz)
{
	char tmp[ADDR_PATH_MAX + 3];
	struct mailpath mp;
	size_t used;
	int n = snprintf(tmp, sizeof(tmp), "<%s>", addr);

	if (n < 0 || (size_t)n >= sizeof(tmp) || addr_parse_path(tmp,
	    (size_t)n, 0, &mp, &used) != ADDR_OK || used != (size_t)n ||
	    mp.len >= outsz)
		return -1;
	memcpy(out, mp.addr, mp.len + 1);
	if (flags & ADDR_CANON_FOLD)
		for (size_t i = 0; i < mp.at; i++)
			out[i] = (char)tolower((unsigned char)out[i]);
	return (int)mp.len;
}

int
addr_key(const char *addr, char *out, size_t outsz)
{
	size_t n;

	if (addr_canon(addr, ADDR_CANON_FOLD, out, outsz) >= 0)
		return 0;
	if ((n = strlen(addr)) >= outsz)
		return -1;
	for (size_t i = 0; i <= n; i++)
		out[i] = (char)tolower((unsigned char)addr[i]);
	return 0;
}

const char *
addr_status_reply(enum addr_status st)
{
	switch (st) {
	case ADDR_OK:
		return "250 2.1.0 Ok";
	case ADDR_SYNTAX:
		return "501 5.1.3 Bad address syntax";
	case ADDR_TOO_LONG:
		return "501 5.1.3 Address too long";
	case ADDR_NON_ASCII:
		return "553 5.6.7 Non-ASCII address requires SMTPUTF8, "
		    "which is not offered";
	case ADDR_NO_DOMAIN:
		return "501 5.1.3 Address must have a domain";
	case ADDR_SOURCE_ROUTE:
		return "501 5.1.3 Source routes are not accepted";
	case ADDR_NULL_FORBIDDEN:
		return "501 5.1.3 Null address not allowed here";
	case ADDR_CTL:
		return "501 5.1.3 Control character in address";
	}
	return "501 5.1.3 Bad address syntax";
}

int
addr_domain_within(const char *domain, const char *owned)
{
	size_t dl = strlen(domain), ol = strlen(owned);

	if (ol == 0)
		return 0;
	if (dl == ol)
		return strcmp(domain, owned) == 0;
	/* A subdomain only at a label boundary: "evilexample.com" is not
	 * within "example.com". */
	return dl > ol && domain[dl - ol - 1] == '.' &&
	    strcmp(domain + dl - ol, owned) == 0;
}
