/*
 * mime_plain.c - the check of mime_plain.h: one plain text part, read
 * without GMime (the content walk's fast path, mime_walk.c).
 * Standards: RFC 5322 2.2 (header fields, folding), RFC 2045 5.1
 * (Content-Type syntax), 6.1 (Content-Transfer-Encoding).
 * Exposure: reads an untrusted message's header section; one pass, no
 * allocation, nothing kept past the call.  Every doubt answers no, so
 * the worst a hostile header does is send the message to GMime.
 * Diagnostics: none.
 */
#include <string.h>
#include <strings.h>

#include "mime_plain.h"

/* RFC 2045 token characters: printable, no space, no tspecials. */
static int
tchar(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

static int
wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* s[0..n) without the blanks around it. */
static void
trim(const char **s, size_t *n)
{
	while (*n > 0 && wsp(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && wsp((*s)[*n - 1]))
		(*n)--;
}

static int
is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

/* A token at s[*i..n), its length (0: none). */
static size_t
token(const char *s, size_t n, size_t *i)
{
	size_t at = *i;

	while (*i < n && tchar((unsigned char)s[*i]))
		(*i)++;
	return *i - at;
}

/* The charset parameter's value is one we take as it is. */
static int
plain_charset(const char *v, size_t n)
{
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v++;
		n -= 2;
	}
	return is(v, n, "us-ascii") || is(v, n, "utf-8") || is(v, n, "utf8");
}

/*
 * "text/plain" or "text/html", then "; attr=value" parameters of which
 * only charset (once, US-ASCII or UTF-8) and parameters that change
 * nothing here (format, delsp...) may appear.  0, or -1 for a doubt.
 */
static int
content_type(const char *s, size_t n, struct mime_plain *p)
{
	size_t i = 0, t, sub, a, v;
	int charset = 0;

	trim(&s, &n);
	if ((t = token(s, n, &i)) == 0 || i >= n || s[i++] != '/' ||
	    (sub = token(s, n, &i)) == 0)
		return -1;
	if (!is(s, t, "text"))
		return -1;
	if (is(s + t + 1, sub, "html"))
		p->html = 1;
	else if (!is(s + t + 1, sub, "plain"))
		return -1;
	for (;;) {
		while (i < n && wsp(s[i]))
			i++;
		if (i == n)
			return 0;
		if (s[i++] != ';')
			return -1;
		while (i < n && wsp(s[i]))
			i++;
		a = i;
		if (token(s, n, &i) == 0 || i >= n || s[i] != '=')
			return -1;
		/* name=, filename= and RFC 2231's attr*= go to GMime. */
		if (memchr(s + a, '*', i - a) || is(s + a, i - a, "name"))
			return -1;
		v = ++i;
		if (i < n && s[i] == '"') {
			for (i++; i < n && s[i] != '"'; i++)
				if (s[i] == '\\')
					return -1;
			if (i++ >= n)
				return -1;
		} else if (token(s, n, &i) == 0)
			return -1;
		if (is(s + a, v - 1 - a, "charset")) {
			if (charset++ || !plain_charset(s + v, i - v))
				return -1;
		}
	}
}

static int
transfer_encoding(const char *s, size_t n, struct mime_plain *p)
{
	trim(&s, &n);
	if (is(s, n, "quoted-printable"))
		p->qp = 1;
	else if (!is(s, n, "7bit") && !is(s, n, "8bit") &&
	    !is(s, n, "binary"))
		return -1;
	return 0;
}

int
mime_plain_field(const char *msg, size_t len, size_t *i, size_t *nl,
    const char **v, size_t *vl, int *folded)
{
	size_t at = *i, k = *i;

	while (k < len && msg[k] != ':') {
		unsigned char c = (unsigned char)msg[k];

		if (c <= 0x20 || c >= 0x7f)
			return -1;
		k++;
	}
	if (k == at || k >= len)
		return -1;
	*nl = k - at;
	*v = msg + ++k;
	*folded = 0;
	for (;;) {
		unsigned char c;

		if (k >= len)
			return -1;
		c = (unsigned char)msg[k];
		if (c == '\r') {
			if (k + 1 >= len || msg[k + 1] != '\n')
				return -1;
			if (k + 2 < len && wsp(msg[k + 2])) {
				*folded = 1;
				k += 3;
				continue;
			}
			*vl = (size_t)(msg + k - *v);
			*i = k + 2;
			return 0;
		}
		if ((c < 0x20 && c != '\t') || c >= 0x7f)
			return -1;
		k++;
	}
}

int
mime_plain_head(const char *msg, size_t len, struct mime_plain *p)
{
	size_t i = 0, nl, vl;
	const char *v;
	int folded, ct = 0, cte = 0;

	memset(p, 0, sizeof(*p));
	while (i + 1 >= len || msg[i] != '\r' || msg[i + 1] != '\n') {
		const char *name = msg + i;

		if (mime_plain_field(msg, len, &i, &nl, &v, &vl, &folded) == -1)
			return -1;
		if (is(name, nl, "content-type")) {
			if (ct++ || folded || content_type(v, vl, p) == -1)
				return -1;
		} else if (is(name, nl, "content-transfer-encoding")) {
			if (cte++ || folded || transfer_encoding(v, vl,
			    p) == -1)
				return -1;
		} else if (is(name, nl, "subject")) {
			if (p->subject)
				return -1;
			p->subject = v;
			p->subjectlen = vl;
		} else if (is(name, nl, "content-disposition"))
			return -1;
	}
	p->body = i + 2;
	return 0;
}
