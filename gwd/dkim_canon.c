/*
 * dkim_canon.c - DKIM canonicalization (dkim_canon.h): a body, a header
 * field, the split of a message into its header fields, and the body
 * hash.  Pure apart from OpenSSL's digest.
 * Standards: RFC 6376 3.4 (canonicalization), 3.7 (the body hash),
 * 5.4 (header fields).
 * Exposure: canonicalizes message bytes from clients (untrusted, but
 * already accepted and stored).  Runs on a worker thread and keeps no
 * state between calls, apart from SHA-256 fetched once (dkim_sha256()).
 * Diagnostics: never dies; -1 when the output would pass its buffer's
 * maximum, or when memory or the digest fails.
 *
 * Lines are split at CRLF only.  A bare CR or LF in the body is an
 * ordinary byte: it is what goes out on the wire, so it is what the
 * verifier will hash.  (gwd stores CRLF; this is for robustness.)
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "buf.h"
#include "dkim_canon.h"

#define ISWSP(c)	((c) == ' ' || (c) == '\t')

/* Canonical bytes go either to a buffer or straight into a digest, so a
 * 25 MB body is hashed without being copied. */
struct sink {
	struct buf	*buf;
	EVP_MD_CTX	*md;
};

static int
sink_put(struct sink *s, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (s->md != NULL)
		return EVP_DigestUpdate(s->md, p, n) == 1 ? 0 : -1;
	return buf_append(s->buf, p, n);
}

static int
sink_crlfs(struct sink *s, size_t n)
{
	for (; n > 0; n--)
		if (sink_put(s, "\r\n", 2) == -1)
			return -1;
	return 0;
}

static int
ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int
name_eq(const char *a, size_t alen, const char *b)
{
	size_t i;

	if (alen != strlen(b))
		return 0;
	for (i = 0; i < alen; i++)
		if (ascii_lower((unsigned char)a[i]) != b[i])
			return 0;
	return 1;
}

int
dkim_parse_canon(const char *s, enum dkim_canon *h, enum dkim_canon *b)
{
	static const struct {
		const char	*name;
		enum dkim_canon	 h, b;
	} tab[] = {
		{ "simple",		DKIM_SIMPLE,	DKIM_SIMPLE },
		{ "relaxed",		DKIM_RELAXED,	DKIM_SIMPLE },
		{ "simple/simple",	DKIM_SIMPLE,	DKIM_SIMPLE },
		{ "simple/relaxed",	DKIM_SIMPLE,	DKIM_RELAXED },
		{ "relaxed/simple",	DKIM_RELAXED,	DKIM_SIMPLE },
		{ "relaxed/relaxed",	DKIM_RELAXED,	DKIM_RELAXED },
	};
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (strcmp(s, tab[i].name) == 0) {
			*h = tab[i].h;
			*b = tab[i].b;
			return 0;
		}
	}
	return -1;
}

/* "simple" or "relaxed", as c= writes it. */
const char *
dkim_canon_name(enum dkim_canon c)
{
	return c == DKIM_RELAXED ? "relaxed" : "simple";
}

/* Offset of the first CRLF in p[0..n), or n. */
static size_t
find_crlf(const char *p, size_t n)
{
	const char *q = p;

	while ((q = memchr(q, '\r', n - (q - p))) != NULL) {
		if ((size_t)(q - p) + 1 < n && q[1] == '\n')
			return q - p;
		q++;
	}
	return n;
}

/*
 * Simple (3.4.3): the body as is, minus empty lines at the end, with a
 * CRLF added when the last line lacks one.  Stripping every trailing CRLF
 * and adding one back does all of it, and turns "" into "\r\n".
 */
static int
canon_body_simple(const char *p, size_t n, struct sink *s)
{
	while (n >= 2 && p[n - 2] == '\r' && p[n - 1] == '\n')
		n -= 2;
	if (sink_put(s, p, n) == -1)
		return -1;
	return sink_crlfs(s, 1);
}

/* One relaxed body line p[0..n) without its CRLF, known to hold a
 * non-WSP byte: WSP runs become one SP, WSP at the end goes. */
static int
canon_line_relaxed(const char *p, size_t n, struct sink *s)
{
	size_t i = 0, j;

	while (n > 0 && ISWSP(p[n - 1]))
		n--;
	while (i < n) {
		if (ISWSP(p[i])) {
			while (i < n && ISWSP(p[i]))
				i++;
			if (sink_put(s, " ", 1) == -1)
				return -1;
			continue;
		}
		for (j = i; j < n && !ISWSP(p[j]); j++)
			;
		if (sink_put(s, p + i, j - i) == -1)
			return -1;
		i = j;
	}
	return sink_crlfs(s, 1);
}

/*
 * Relaxed (3.4.4).  Lines that become empty are held back and written
 * only when a non-empty line follows, which drops the trailing ones; an
 * empty body stays empty.  A last line without CRLF gets one.
 */
static int
canon_body_relaxed(const char *p, size_t n, struct sink *s)
{
	size_t off = 0, ll, i, empties = 0;

	while (off < n) {
		ll = find_crlf(p + off, n - off);
		for (i = 0; i < ll && ISWSP(p[off + i]); i++)
			;
		if (i == ll)
			empties++;
		else if (sink_crlfs(s, empties) == -1 ||
		    canon_line_relaxed(p + off, ll, s) == -1)
			return -1;
		else
			empties = 0;
		off += ll + (off + ll < n ? 2 : 0);
	}
	return 0;
}

static int
canon_body(enum dkim_canon c, const char *p, size_t n, struct sink *s)
{
	if (c == DKIM_RELAXED)
		return canon_body_relaxed(p, n, s);
	return canon_body_simple(p, n, s);
}

int
dkim_canon_body(enum dkim_canon c, const char *body, size_t len,
    struct buf *out)
{
	struct sink s = { out, NULL };
	size_t saved = out->len - out->off;

	if (canon_body(c, body, len, &s) == -1) {
		out->len = out->off + saved;
		return -1;
	}
	return 0;
}

/*
 * Relaxed text (3.4.2) of a field name or value: unfold, WSP runs to one
 * SP, none at the end, and none at the start when `trimlead`.  Unfolding
 * drops every CR and LF, not only those of CRLF+WSP: in a real field no
 * other can occur, dkimpy drops any CRLF too, and dropping single bytes
 * cannot make a new CRLF, so the output is canonical in turn.
 */
static int
canon_text_relaxed(const char *p, size_t n, int lower, int trimlead,
    struct buf *out)
{
	size_t i;
	int sp = 0, any = 0;
	char c;

	for (i = 0; i < n; i++) {
		c = p[i];
		if (c == '\r' || c == '\n')
			continue;
		if (ISWSP(c)) {
			sp = 1;
			continue;
		}
		if (sp && (any || !trimlead) && buf_putc(out, ' ') == -1)
			return -1;
		sp = 0;
		any = 1;
		if (buf_putc(out, lower ? ascii_lower((unsigned char)c) :
		    c) == -1)
			return -1;
	}
	return 0;
}

static int
canon_header(enum dkim_canon c, const char *p, size_t n, struct buf *out)
{
	const char *colon;

	if (n >= 2 && p[n - 2] == '\r' && p[n - 1] == '\n')
		n -= 2;
	if (c == DKIM_SIMPLE)
		return buf_append(out, p, n) == -1 ||
		    buf_append(out, "\r\n", 2) == -1 ? -1 : 0;

	/* WSP before the colon goes with the name's trailing WSP. */
	if ((colon = memchr(p, ':', n)) == NULL)
		return canon_text_relaxed(p, n, 1, 0, out) == -1 ||
		    buf_append(out, "\r\n", 2) == -1 ? -1 : 0;
	if (canon_text_relaxed(p, colon - p, 1, 0, out) == -1 ||
	    buf_putc(out, ':') == -1 ||
	    canon_text_relaxed(colon + 1, n - (colon - p) - 1, 0, 1,
	    out) == -1 ||
	    buf_append(out, "\r\n", 2) == -1)
		return -1;
	return 0;
}

int
dkim_canon_header(enum dkim_canon c, const char *field, size_t len,
    struct buf *out)
{
	size_t saved = out->len - out->off;

	if (canon_header(c, field, len, out) == -1) {
		out->len = out->off + saved;
		return -1;
	}
	return 0;
}

/*
 * Split the header section into fields.  The section ends at the first
 * empty line; without one the whole message is header and the body is
 * empty.  The body goes to *bodyp and *bodylenp.
 */
int
dkim_split_fields(const char *msg, size_t len, struct dkim_field **fp,
    size_t *nfp, const char **bodyp, size_t *bodylenp)
{
	struct dkim_field *f = NULL, *nf;
	size_t hend, off = 0, ll, n = 0, cap = 0, i;
	const char *colon;

	*bodyp = msg + len;
	*bodylenp = 0;
	hend = len;
	while (off < len) {
		ll = find_crlf(msg + off, len - off);
		if (ll == 0) {
			hend = off;
			*bodyp = msg + off + 2;
			*bodylenp = len - off - 2;
			break;
		}
		off += ll + (off + ll < len ? 2 : 0);
	}

	off = 0;
	while (off < hend) {
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			if ((nf = reallocarray(f, cap, sizeof(*f))) == NULL) {
				free(f);
				return -1;
			}
			f = nf;
		}
		nf = &f[n++];
		nf->p = msg + off;
		/* A field runs on over lines that start with WSP. */
		do {
			ll = find_crlf(msg + off, hend - off);
			off += ll + (off + ll < hend ? 2 : 0);
		} while (off < hend && ISWSP(msg[off]));
		nf->len = msg + off - nf->p;
		nf->namelen = 0;
		if ((colon = memchr(nf->p, ':', nf->len)) != NULL) {
			i = colon - nf->p;
			while (i > 0 && ISWSP(nf->p[i - 1]))
				i--;
			nf->namelen = i;
		}
	}
	*fp = f;
	*nfp = n;
	return 0;
}

int
dkim_field_is(const struct dkim_field *f, const char *name)
{
	return name_eq(f->p, f->namelen, name);
}

static EVP_MD	*sha256;

static void
sha256_fetch(void)
{
	sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

const EVP_MD *
dkim_sha256(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, sha256_fetch);
	return sha256 ? sha256 : EVP_sha256();
}

int
dkim_body_hash(enum dkim_canon c, const char *body, size_t len,
    unsigned char md[SHA256_DIGEST_LENGTH])
{
	struct sink s = { NULL, NULL };
	unsigned int mdlen;
	int rc = -1;

	if ((s.md = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestInit_ex(s.md, dkim_sha256(), NULL) == 1 &&
	    canon_body(c, body, len, &s) == 0 &&
	    EVP_DigestFinal_ex(s.md, md, &mdlen) == 1)
		rc = 0;
	EVP_MD_CTX_free(s.md);
	return rc;
}
