/*
 * mtasts.c - MTA-STS records and policies, parsed (no I/O).
 * Standards: RFC 8461 3.1 (the TXT record), 3.2 (the policy), 4.1 (MX
 * host matching).
 * Exposure: parses DNS TXT data and HTTPS bodies from servers chosen by
 * the recipient domain; every read is bounded by the given length.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mtasts.h"

static int
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

int
mtasts_tag_next(const char **pp, const char **errstr)
{
	const char *p = *pp;

	while (is_wsp(*p))
		p++;
	if (*p == '\0')
		return 0;
	if (*p++ != ';') {
		*errstr = "fields must be separated by \";\"";
		return -1;
	}
	while (is_wsp(*p))
		p++;
	*pp = p;
	return *p != '\0';
}

int
mtasts_txt_id(const char *txt, char *id, const char **errstr)
{
	const char *p = txt;
	int have_id = 0;

	/* Case-sensitive, as the ABNF's %s says. */
	if (strncmp(p, "v=STSv1", 7) != 0 || (p[7] != ';' && !is_wsp(p[7]) &&
	    p[7] != '\0'))
		return 1;
	p += 7;
	for (;;) {
		const char *f;
		size_t n;
		int rc = mtasts_tag_next(&p, errstr);

		if (rc == -1)
			return -1;
		if (rc == 0)
			break;
		f = p;
		while (*p != '\0' && *p != ';' && !is_wsp(*p))
			p++;
		n = (size_t)(p - f);
		if (n > 3 && strncmp(f, "id=", 3) == 0) {
			if (have_id)
				continue;	/* the first counts */
			if (n - 3 > MTASTS_ID_MAX) {
				*errstr = "id longer than 32 characters";
				return -1;
			}
			for (size_t i = 3; i < n; i++)
				if (!isalnum((unsigned char)f[i])) {
					*errstr = "id is not letters and "
					    "digits";
					return -1;
				}
			memcpy(id, f + 3, n - 3);
			id[n - 3] = '\0';
			have_id = 1;
		} else if (memchr(f, '=', n) == NULL || f[0] == '=') {
			*errstr = "a field is not name=value";
			return -1;
		}
	}
	if (!have_id) {
		*errstr = "no id";
		return -1;
	}
	return 0;
}

/* RFC 8461 3.2: a pattern is a domain name, possibly "*." and a domain. */
static int
valid_pattern(const char *v, size_t n)
{
	size_t label = 0;

	if (n >= 2 && v[0] == '*' && v[1] == '.') {
		v += 2;
		n -= 2;
	}
	if (n == 0 || n > MTASTS_PATTERN_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if (isalnum(c) || c == '-' || c == '_') {
			if (++label > 63)
				return 0;
		} else
			return 0;
	}
	return label > 0 || n > 1;	/* a trailing dot is tolerated */
}

static int
parse_max_age(const char *v, size_t n, int64_t *out)
{
	int64_t a = 0;

	if (n == 0 || n > 10)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)v[i]))
			return -1;
		a = a * 10 + (v[i] - '0');
	}
	/* Longer than a year is cut to a year (RFC 8461 3.2 caps it). */
	*out = a > MTASTS_MAX_AGE_MAX ? MTASTS_MAX_AGE_MAX : a;
	return 0;
}

/* One "name: value" line; 0, or -1 with *errstr. */
static int
parse_field(const char *l, size_t n, struct mtasts_policy *p, int *seen,
    const char **errstr)
{
	const char *colon = memchr(l, ':', n), *v;
	size_t kn, vn;

	if (colon == NULL || colon == l) {
		*errstr = "a line is not \"name: value\"";
		return -1;
	}
	kn = (size_t)(colon - l);
	v = colon + 1;
	vn = n - kn - 1;
	while (vn > 0 && is_wsp(*v))
		v++, vn--;
	while (vn > 0 && is_wsp(v[vn - 1]))
		vn--;
	for (size_t i = 0; i < vn; i++)
		if ((unsigned char)v[i] < 0x20 && !is_wsp(v[i])) {
			*errstr = "a control character in a value";
			return -1;
		}
#define KEY(s)	(kn == sizeof(s) - 1 && memcmp(l, s, kn) == 0)
#define VAL(s)	(vn == sizeof(s) - 1 && memcmp(v, s, vn) == 0)
	if (KEY("version")) {
		if (*seen & 1)
			return 0;
		*seen |= 1;
		if (!VAL("STSv1")) {
			*errstr = "version is not STSv1";
			return -1;
		}
	} else if (KEY("mode")) {
		if (*seen & 2)
			return 0;
		*seen |= 2;
		if (VAL("enforce"))
			p->mode = MTASTS_ENFORCE;
		else if (VAL("testing"))
			p->mode = MTASTS_TESTING;
		else if (VAL("none"))
			p->mode = MTASTS_NONE;
		else {
			*errstr = "mode is not enforce, testing or none";
			return -1;
		}
	} else if (KEY("max_age")) {
		if (*seen & 4)
			return 0;
		*seen |= 4;
		if (parse_max_age(v, vn, &p->max_age) == -1) {
			*errstr = "max_age is not a number of seconds";
			return -1;
		}
	} else if (KEY("mx")) {
		if (!valid_pattern(v, vn)) {
			*errstr = "an mx pattern is not a host name";
			return -1;
		}
		if (p->nmx == MTASTS_MAX_MX) {
			*errstr = "too many mx patterns";
			return -1;
		}
		memcpy(p->mx[p->nmx], v, vn);
		p->mx[p->nmx++][vn] = '\0';
	}
#undef KEY
#undef VAL
	return 0;
}

int
mtasts_parse(const char *body, size_t len, struct mtasts_policy *p,
    const char **errstr)
{
	const char *l = body, *end = body + len;
	int seen = 0;

	memset(p, 0, sizeof(*p));
	if (len > MTASTS_BODY_MAX) {
		*errstr = "policy larger than 64 KB";
		return -1;
	}
	while (l < end) {
		const char *nl = memchr(l, '\n', (size_t)(end - l));
		const char *e = nl != NULL ? nl : end;

		if (e > l && e[-1] == '\r')
			e--;
		if (e > l && parse_field(l, (size_t)(e - l), p, &seen,
		    errstr) == -1)
			return -1;
		if (nl == NULL)
			break;
		l = nl + 1;
	}
	if ((seen & 7) != 7) {
		*errstr = !(seen & 1) ? "no version" : !(seen & 2) ?
		    "no mode" : "no max_age";
		return -1;
	}
	if (p->mode != MTASTS_NONE && p->nmx == 0) {
		*errstr = "no mx";
		return -1;
	}
	return 0;
}

int
mtasts_mx_match(const struct mtasts_policy *p, const char *host)
{
	size_t hn = strlen(host);

	if (hn > 0 && host[hn - 1] == '.')
		hn--;
	for (int i = 0; i < p->nmx; i++) {
		const char *pat = p->mx[i];
		size_t pn = strlen(pat);

		if (pn > 0 && pat[pn - 1] == '.')
			pn--;
		if (pat[0] == '*' && pat[1] == '.') {
			const char *dot = memchr(host, '.', hn);

			/* One label, not empty, then exactly the rest. */
			if (dot == NULL || dot == host)
				continue;
			if ((size_t)(host + hn - dot) == pn - 1 &&
			    strncasecmp(dot, pat + 1, pn - 1) == 0)
				return 1;
		} else if (hn == pn && strncasecmp(host, pat, pn) == 0)
			return 1;
	}
	return 0;
}

const char *
mtasts_mode_name(enum mtasts_mode m)
{
	return m == MTASTS_ENFORCE ? "enforce" : m == MTASTS_TESTING ?
	    "testing" : "none";
}
