/*
 * urlx.c - hosts of URLs in text.
 * Standards: RFC 3986 (URI syntax: scheme, authority, host), RFC 5890
 * (IDNA2008 through libidn2), the Public Suffix List (libpsl).
 * Exposure: reads untrusted decoded message text; every read is bounded
 * by len, every host by URLX_HOST_MAX, the set by URLX_MAX.
 * Diagnostics: none; a host that is not a name is skipped.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <idn2.h>
#include <libpsl.h>

#include "urlx.h"
#include "util.h"

static const struct { const char *s; size_t n; } schemes[] = {
	{ "http://", 7 }, { "https://", 8 }, { "ftp://", 6 },
};

/* A byte that ends the authority part of a URL. */
static int
auth_end(unsigned char c)
{
	return c <= ' ' || c == 0x7f || strchr("/?#\\\"'<>()[]{}|^`,;", c);
}

/* A byte of a host name as written: ASCII letters, digits, '-', '_',
 * '.', and UTF-8 (an IDN). */
static int
host_byte(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c >= 0x80;
}

static int
all_digits_dots(const char *h)
{
	for (; *h; h++)
		if (!isdigit((unsigned char)*h) && *h != '.')
			return 0;
	return 1;
}

static void
add_host(struct urlx *u, const char *h, size_t n)
{
	char raw[URLX_HOST_MAX + 1], *ace = NULL;
	int utf8 = 0;

	while (n > 0 && h[n - 1] == '.')
		n--;
	while (n > 0 && h[0] == '.')
		h++, n--;
	if (n == 0 || n > URLX_HOST_MAX)
		return;
	for (size_t i = 0; i < n; i++) {
		if (!host_byte((unsigned char)h[i]))
			return;
		utf8 |= (unsigned char)h[i] >= 0x80;
		raw[i] = (char)tolower((unsigned char)h[i]);
	}
	raw[n] = '\0';
	if (strchr(raw, '.') == NULL || strstr(raw, ".."))
		return;
	if (all_digits_dots(raw)) {
		u->ips++;
		return;
	}
	if (utf8) {
		if (idn2_to_ascii_8z(raw, &ace, IDN2_NONTRANSITIONAL) !=
		    IDN2_OK || strlen(ace) > URLX_HOST_MAX) {
			free(ace);
			return;
		}
		gw_strlcpy(raw, ace, sizeof(raw));
		free(ace);
	}
	for (int i = 0; i < u->n; i++)
		if (strcmp(u->host[i], raw) == 0)
			return;
	if (u->n == URLX_MAX) {
		u->cut = 1;
		return;
	}
	if ((u->n & 15) == 0)
		u->host = xreallocarray(u->host, (size_t)u->n + 16,
		    sizeof(*u->host));
	u->host[u->n++] = xstrdup(raw);
}

/* The authority at s[0..len): skip userinfo and port, keep the host. */
static size_t
authority(struct urlx *u, const char *s, size_t len)
{
	size_t e = 0, h = 0, he;

	while (e < len && !auth_end((unsigned char)s[e]))
		e++;
	for (size_t i = 0; i < e; i++)
		if (s[i] == '@')
			h = i + 1;
	/* "[v6]" ends the authority (auth_end): an IP literal. */
	if (h < len && h == e && s[h] == '[') {
		u->ips++;
		return e;
	}
	he = h;
	while (he < e && s[he] != ':')
		he++;
	add_host(u, s + h, he - h);
	return e;
}

/* At text[i]: the start of a word (not inside another name). */
static int
word_start(const char *t, size_t i)
{
	return i == 0 || !host_byte((unsigned char)t[i - 1]);
}

void
urlx_text(struct urlx *u, const char *t, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t adv = 1;

		if (t[i] == ':' && i + 2 < len && t[i + 1] == '/' &&
		    t[i + 2] == '/') {
			/* "scheme://": which scheme ends here. */
			for (size_t k = 0; k < nitems(schemes); k++) {
				size_t sn = schemes[k].n - 3;

				if (i >= sn && strncasecmp(t + i - sn,
				    schemes[k].s, sn) == 0 &&
				    word_start(t, i - sn)) {
					adv = 3 + authority(u, t + i + 3,
					    len - i - 3);
					break;
				}
			}
		} else if ((t[i] == 'w' || t[i] == 'W') && i + 4 < len &&
		    strncasecmp(t + i, "www.", 4) == 0 && word_start(t, i))
			adv = authority(u, t + i, len - i);
		i += adv ? adv : 1;
	}
}

void
urlx_free(struct urlx *u)
{
	for (int i = 0; i < u->n; i++)
		free(u->host[i]);
	free(u->host);
	memset(u, 0, sizeof(*u));
}

static const psl_ctx_t	*psl;
static pthread_once_t	 psl_once = PTHREAD_ONCE_INIT;

static void
psl_load(void)
{
	/* The newest of the built-in list and the system's (Debian's
	 * publicsuffix package). */
	psl = psl_latest(NULL);
	if (psl == NULL)
		psl = psl_builtin();
}

int
urlx_registered(const char *host, char *out, size_t outsz)
{
	const char *r;

	pthread_once(&psl_once, psl_load);
	if (psl == NULL) {
		/* No list at all: the last two labels. */
		const char *d = strrchr(host, '.');

		r = host;
		while (d && d > host) {
			d--;
			if (*d == '.') {
				r = d + 1;
				break;
			}
		}
	} else if ((r = psl_registrable_domain(psl, host)) == NULL)
		return -1;
	if (strlen(r) >= outsz)
		return -1;
	memcpy(out, r, strlen(r) + 1);
	return 0;
}

int
urlx_in_domain(const char *host, const char *domain)
{
	size_t h = strlen(host), d = strlen(domain);

	if (d == 0 || d > h)
		return 0;
	return strcasecmp(host + h - d, domain) == 0 &&
	    (h == d || host[h - d - 1] == '.');
}
