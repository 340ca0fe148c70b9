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

#include <idn2.h>

#include "addr.h"
#include "util.h"

static int local_canon(const char *, size_t, char *, size_t, int);

/* Copy the string s into out[outsz]: 0, or -1 when it does not fit. */
static int
gw_copy(char *out, const char *s, size_t outsz)
{
	size_t n = strlen(s);

	if (n >= outsz)
		return -1;
	memcpy(out, s, n + 1);
	return 0;
}

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

/* One atext at s[0..n), with UTF8-non-ascii when utf8 (RFC 6531 3.3):
 * its length, or 0. */
static size_t
atext_len(const char *s, size_t n, int utf8)
{
	if (n > 0 && is_atext((unsigned char)s[0]))
		return 1;
	return utf8 ? utf8_char_len(s, n) : 0;
}

/* Length of a valid Dot-string at s[0..n), or 0. */
static size_t
dot_string(const char *s, size_t n, int utf8)
{
	size_t i = 0, k;

	for (;;) {
		size_t start = i;

		while (i < n && (k = atext_len(s + i, n - i, utf8)) > 0)
			i += k;
		if (i == start)
			return 0;	/* empty atom: "..", leading or trailing dot */
		if (i < n && s[i] == '.') {
			i++;
			continue;
		}
		return i;
	}
}

/* Length of a valid Quoted-string at s[0..n) (quotes included), or 0;
 * qtextSMTP takes UTF8-non-ascii when utf8. */
static size_t
quoted_string(const char *s, size_t n, int utf8)
{
	size_t i = 1, k;

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
		if (c >= 0x80 && utf8 &&
		    (k = utf8_char_len(s + i, n - i)) > 0) {
			i += k;
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

/* One character of a label at s[0..n): letter, digit, '-' or, when
 * utf8, a UTF-8 character of a U-label; its length, or 0. */
static size_t
label_char(const char *s, size_t n, int utf8)
{
	if (n > 0 && (is_letdig((unsigned char)s[0]) || s[0] == '-'))
		return 1;
	return utf8 ? utf8_char_len(s, n) : 0;
}

/*
 * Validate s[0..n) as a Domain: LDH labels, or with utf8 also U-labels
 * (RFC 6531 3.3), whose IDNA rules addr_parse_path leaves to libidn2;
 * a label of 63 octets at most applies to what DNS sees, the A-label.
 */
static int
valid_domain_n(const char *s, size_t n, int utf8)
{
	size_t i = 0, k;

	if (n == 0 || n > ADDR_DOMAIN_MAX)
		return 0;
	for (;;) {
		size_t start = i;
		int ulabel = 0;

		if (i >= n || s[i] == '-' || (k = label_char(s + i, n - i,
		    utf8)) == 0)
			return 0;
		while (i < n && (k = label_char(s + i, n - i, utf8)) > 0) {
			ulabel |= k > 1;
			i += k;
		}
		if ((!ulabel && i - start > 63) || s[i - 1] == '-')
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
	return valid_domain_n(s, strlen(s), 0);
}

int
addr_is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

int
addr_domain_ascii(const char *dom, char *out, size_t outsz)
{
	char *a = NULL;
	int rc = 0;

	if (addr_is_ascii(dom))
		return gw_copy(out, dom, outsz);
	if (idn2_to_ascii_8z(dom, &a, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) !=
	    IDN2_OK)
		return -1;
	rc = gw_copy(out, a, outsz);
	idn2_free(a);
	return rc;
}

/*
 * The canonical spelling of a domain with U-labels d[0..n): through its
 * A-labels (IDNA2008 with UTS #46 mapping: lower case, NFC) and back, so
 * that every spelling of one domain is one string.  Its length in out,
 * or -1 when it is no valid IDN or does not fit.
 */
static int
domain_canon_utf8(const char *d, size_t n, char *out, size_t outsz)
{
	char tmp[ADDR_DOMAIN_MAX + 1], a[ADDR_DOMAIN_MAX + 1];
	char *u = NULL;
	int rc;

	memcpy(tmp, d, n);
	tmp[n] = '\0';
	if (addr_domain_ascii(tmp, a, sizeof(a)) == -1 ||
	    !valid_domain_n(a, strlen(a), 0) ||
	    idn2_to_unicode_8z8z(a, &u, 0) != IDN2_OK)
		return -1;
	/* An A-label given as such is decoded unchecked: its U-label must
	 * map back to it, or the spelling would not be canonical (and the
	 * domain no valid IDN: "xn--rmk" is U+320F, which UTS #46 maps to
	 * parentheses). */
	rc = addr_domain_ascii(u, tmp, sizeof(tmp)) == -1 ||
	    strcasecmp(tmp, a) != 0 || gw_copy(out, u, outsz) == -1 ? -1 :
	    (int)strlen(u);
	idn2_free(u);
	return rc;
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
	size_t i, end, inner, llen, dlen, k;
	int inquote = 0, utf8 = (flags & ADDR_ALLOW_UTF8) != 0;

	memset(mp, 0, sizeof(*mp));
	if (len < 2 || s[0] != '<')
		return ADDR_SYNTAX;

	/* Find the closing '>' outside quotes, screening every byte. */
	for (i = 1; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x80 && !utf8)
			return ADDR_NON_ASCII;
		if (c >= 0x80) {
			if ((k = utf8_char_len(s + i, len - i)) == 0)
				return ADDR_SYNTAX;	/* not UTF-8 */
			i += k - 1;
			continue;
		}
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
		llen = quoted_string(s + 1, inner, utf8);
	else
		llen = dot_string(s + 1, inner, utf8);
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
	} else if (!valid_domain_n(s + 2 + llen, dlen, utf8))
		return ADDR_SYNTAX;

	/* The canonical form is never longer than what was written: it
	 * only drops quotes and backslashes. */
	if (s[1] == '"') {
		char text[ADDR_PATH_MAX + 1];
		int tn = addr_unquote(s + 1, llen, text, sizeof(text));
		int cn = tn < 0 ? -1 : local_canon(text, (size_t)tn,
		    mp->addr, sizeof(mp->addr), utf8);

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
	if (!addr_is_ascii(mp->addr + mp->at + 1)) {
		/* A U-label domain: its one spelling, which may differ in
		 * length from what was written. */
		int dn = domain_canon_utf8(s + 2 + llen, dlen,
		    mp->addr + mp->at + 1, sizeof(mp->addr) - mp->at - 1);

		if (dn < 0)
			return ADDR_SYNTAX;
		if (dn > ADDR_DOMAIN_MAX || mp->at + 1 + (size_t)dn >
		    ADDR_PATH_MAX)
			return ADDR_TOO_LONG;
		mp->len = mp->at + 1 + (size_t)dn;
	}
	return ADDR_OK;
}

int
addr_local_canon(const char *text, size_t n, char *out, size_t outsz)
{
	return local_canon(text, n, out, outsz, 0);
}

static int
local_canon(const char *text, size_t n, char *out, size_t outsz, int utf8)
{
	size_t o = 0;

	if (n > 0 && dot_string(text, n, utf8) == n) {
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
		size_t k;

		if (c >= 0x80 && utf8 &&
		    (k = utf8_char_len(text + i, n - i)) > 0) {
			if (o + 2 + k > outsz)
				return -1;
			memcpy(out + o, text + i, k);
			o += k;
			i += k - 1;
			continue;
		}
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
	    (size_t)n, ADDR_ALLOW_UTF8, &mp, &used) != ADDR_OK ||
	    used != (size_t)n ||
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
