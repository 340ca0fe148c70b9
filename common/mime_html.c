/*
 * mime_html.c - text/html to the text the content policy scans: tags
 * dropped, block elements a line break, character references decoded;
 * and the link targets (href, src, action) of its tags.
 * Standards: HTML 5 12.1.4 (character references).
 * Exposure: parses untrusted HTML.  Into the caller's buffers, at most
 * the input's length and a NUL (mime_walk.h); no allocation.
 * Diagnostics: none.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime_walk.h"
#include "util.h"

static void
put_utf8(char **o, unsigned long cp)
{
	unsigned char *p = (unsigned char *)*o;

	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = '?';
	if (cp < 0x80) {
		*p++ = (unsigned char)cp;
	} else if (cp < 0x800) {
		*p++ = (unsigned char)(0xc0 | cp >> 6);
		*p++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*p++ = (unsigned char)(0xe0 | cp >> 12);
		*p++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		*p++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else {
		*p++ = (unsigned char)(0xf0 | cp >> 18);
		*p++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		*p++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		*p++ = (unsigned char)(0x80 | (cp & 0x3f));
	}
	*o = (char *)p;
}

/*
 * A character reference at s[0] == '&' within s[0..n): its length, with
 * the character written at *o; 0 when it is none (the '&' is kept).
 * Only the references that matter for reading are known by name; a
 * numeric one (&#52; &#x34;) is what hides digits from a naive scan.
 */
static size_t
html_ref(const char *s, size_t n, char **o)
{
	static const struct { const char *name; unsigned long cp; } names[] = {
	    { "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' }, { "quot;", '"' },
	    { "apos;", '\'' }, { "nbsp;", ' ' }, { "shy;", 0 },
	    { "ndash;", '-' }, { "minus;", '-' }, { "hyphen;", '-' } };
	unsigned long cp = 0;
	size_t i = 1, digits = 0;
	int hex;

	if (n > 1 && s[1] == '#') {
		i = 2;
		hex = i < n && (s[i] == 'x' || s[i] == 'X');
		i += (size_t)hex;
		for (; i < n && digits < 8 && (hex ? isxdigit((unsigned char)s[i])
		    : isdigit((unsigned char)s[i])); i++, digits++)
			cp = cp * (hex ? 16 : 10) + (unsigned long)(isdigit(
			    (unsigned char)s[i]) ? s[i] - '0' :
			    (tolower((unsigned char)s[i]) - 'a' + 10));
		if (digits == 0 || digits == 8)
			return 0;
		if (i < n && s[i] == ';')
			i++;
		put_utf8(o, cp);
		return i;
	}
	for (size_t k = 0; k < nitems(names); k++) {
		size_t l = strlen(names[k].name);

		if (n - 1 >= l && strncasecmp(s + 1, names[k].name, l) == 0) {
			if (names[k].cp)
				*(*o)++ = (char)names[k].cp;
			return l + 1;
		}
	}
	return 0;
}

/* A tag's name, lower case, into nm (at most nmsz - 1 bytes). */
static void
tag_name(const char *s, size_t n, char *nm, size_t nmsz)
{
	size_t i = 0, k = 0;

	if (i < n && s[i] == '/')
		i++;
	for (; i < n && k + 1 < nmsz && isalnum((unsigned char)s[i]); i++)
		nm[k++] = (char)tolower((unsigned char)s[i]);
	nm[k] = '\0';
}

static int
block_tag(const char *nm)
{
	static const char *const blocks[] = { "br", "p", "div", "tr", "td",
	    "th", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol",
	    "hr", "blockquote", "pre", "title", "section", "article" };

	for (size_t i = 0; i < nitems(blocks); i++)
		if (nm[0] == blocks[i][0] && strcmp(nm, blocks[i]) == 0)
			return 1;
	return 0;
}

/* Where the element's content ends: past "</name", or n. */
static size_t
skip_element(const char *s, size_t n, size_t i, const char *name)
{
	size_t l = strlen(name);

	for (; i + l + 2 <= n; i++)
		if (s[i] == '<' && s[i + 1] == '/' &&
		    strncasecmp(s + i + 2, name, l) == 0)
			return i;
	return n;
}

size_t
mime_html_text_map(const char *s, size_t n, char *out, size_t *map)
{
	char *o = out, *o0, nm[16];
	size_t i = 0, r, at;
	const char *e;
	int closing;

	while (i < n) {
		at = i;
		o0 = o;
		if (s[i] == '&') {
			if ((r = html_ref(s + i, n - i, &o)) == 0)
				*o++ = s[i++];
			else
				i += r;
		} else if (s[i] != '<') {
			/* A run of plain bytes, copied at once, each mapped
			 * to its own offset. */
			size_t j = i + 1;

			while (j < n && s[j] != '&' && s[j] != '<')
				j++;
			memcpy(o, s + i, j - i);
			for (size_t k = 0; map && k < j - i; k++)
				map[(size_t)(o - out) + k] = i + k;
			o += j - i;
			i = j;
			continue;
		} else if (n - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
			e = memmem(s + i + 4, n - i - 4, "-->", 3);
			i = e ? (size_t)(e - s) + 3 : n;
		} else {
			closing = i + 1 < n && s[i + 1] == '/';
			tag_name(s + i + 1, n - i - 1, nm, sizeof(nm));
			e = memchr(s + i, '>', n - i);
			i = e ? (size_t)(e - s) + 1 : n;
			/* <script>...</script> is skipped whole; <script/>
			 * is empty. */
			if (!closing && !(e && e[-1] == '/') && nm[0] == 's' &&
			    (strcmp(nm, "script") == 0 ||
			    strcmp(nm, "style") == 0))
				i = skip_element(s, n, i, nm);
			else if (block_tag(nm))
				*o++ = '\n';
		}
		for (char *p = o0; map && p < o; p++)
			map[p - out] = at;
	}
	*o = '\0';
	return (size_t)(o - out);
}

size_t
mime_html_text(const char *s, size_t n, char *out)
{
	return mime_html_text_map(s, n, out, NULL);
}

size_t
mime_html_unit(const char *s, size_t n, size_t at)
{
	char tmp[8], *o = tmp;
	size_t r;

	if (at >= n)
		return 0;
	if (s[at] == '&' && (r = html_ref(s + at, n - at, &o)) > 0)
		return r;
	return 1;
}

/* Is s[0..n) a link attribute's name, at a name boundary? */
static size_t
link_attr(const char *s, size_t n, size_t i)
{
	static const char *const attrs[] = { "href", "src", "action" };
	int c = tolower((unsigned char)s[i]);

	if (c != 'h' && c != 's' && c != 'a')
		return 0;
	if (i > 0 && !isspace((unsigned char)s[i - 1]) && s[i - 1] != '<' &&
	    s[i - 1] != '"' && s[i - 1] != '\'' && s[i - 1] != '/')
		return 0;
	for (size_t k = 0; k < nitems(attrs); k++) {
		size_t l = strlen(attrs[k]), j;

		if (n - i < l || strncasecmp(s + i, attrs[k], l) != 0)
			continue;
		for (j = i + l; j < n && isspace((unsigned char)s[j]); j++)
			;
		if (j < n && s[j] == '=')
			return j + 1 - i;
	}
	return 0;
}

size_t
mime_html_links(const char *s, size_t n, char *out)
{
	char *o = out;
	size_t i = 0, r, a;
	int intag = 0;

	while (i < n) {
		if (!intag) {
			const char *lt = memchr(s + i, '<', n - i);

			if (lt == NULL)
				break;
			i = (size_t)(lt - s) + 1;
			intag = 1;
			continue;
		}
		if (s[i] == '>') {
			intag = 0;
			i++;
			continue;
		}
		if ((a = link_attr(s, n, i)) == 0) {
			i++;
			continue;
		}
		/* The value: quoted, or up to a space or '>'. */
		char q = 0;

		for (i += a; i < n && isspace((unsigned char)s[i]); i++)
			;
		if (i < n && (s[i] == '"' || s[i] == '\''))
			q = s[i++];
		while (i < n && (q ? s[i] != q : !isspace((unsigned char)s[i]) &&
		    s[i] != '>')) {
			if (s[i] == '&' && (r = html_ref(s + i, n - i, &o)) > 0)
				i += r;
			else
				*o++ = s[i++];
		}
		if (q && i < n)
			i++;
		*o++ = '\n';
	}
	*o = '\0';
	return (size_t)(o - out);
}
