/*
 * api_mime.c - the writer of a JSON send API message (api_priv.h): the
 * draft api_msg.c read, as RFC 5322 lines.  Each text part's charset and
 * transfer encoding come from one scan of it (7bit for ASCII with lines
 * within 998 octets, quoted-printable for mostly ASCII text, base64
 * otherwise); attachments are base64; header fields are folded at their
 * white space, 8-bit text in them written as RFC 2047 encoded-words.
 * Standards: RFC 5322 2.1.1 and 2.2.3 (line length, folding), 3.4
 * (addresses), RFC 2045 6 (transfer encodings), RFC 2046 5.1
 * (multipart: a boundary no content holds), RFC 2047 (encoded-words in
 * unstructured text and display names), RFC 2183 and 2231
 * (Content-Disposition, 8-bit file names), RFC 6532 (UTF-8 addresses
 * stay as they are).
 * Exposure: the draft holds a client's text, already checked by
 * api_msg.c: valid UTF-8 without NUL (Jansson), header text without
 * control characters, addresses read by addrlist.c.  Pure but for a
 * counter that makes boundaries; no I/O.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "addrlist.h"
#include "api_priv.h"
#include "base64.h"
#include "mime7.h"
#include "util.h"

#define LINE_SOFT	78	/* RFC 5322 2.1.1: SHOULD */
#define LINE_HARD	998	/* ... MUST */
#define EW_BYTES	39	/* text in one encoded-word: 52 base64
				   characters, 64 with "=?utf-8?b?" "?=" */
#define B64_LINE	57	/* bytes of a 76-character base64 line */

static uint64_t boundary_seq;

enum api_cte
api_mime_choose(const char *s, size_t n, int *ascii)
{
	size_t eight = 0, col = 0, longest = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n' || c == '\r') {
			if (c == '\r' && i + 1 < n && s[i + 1] == '\n')
				i++;
			col = 0;
			continue;
		}
		eight += c >= 0x80;
		if (++col > longest)
			longest = col;
	}
	*ascii = eight == 0;
	if (eight == 0 && longest <= LINE_HARD)
		return API_CTE_7BIT;
	return eight <= n / 6 ? API_CTE_QP : API_CTE_BASE64;
}

/* s[0..n) with every line break (LF, CRLF, a lone CR) made CRLF. */
static int
put_crlf(struct buf *out, const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t k = i;

		while (k < n && s[k] != '\n' && s[k] != '\r')
			k++;
		if (buf_append(out, s + i, k - i) == -1)
			return -1;
		if (k == n)
			break;
		if (buf_append(out, "\r\n", 2) == -1)
			return -1;
		i = k + 1 + (s[k] == '\r' && k + 1 < n && s[k + 1] == '\n');
	}
	return 0;
}

int
api_mime_base64(struct buf *out, const void *p, size_t n)
{
	const unsigned char *d = p;
	char line[BASE64_ENCODED_SIZE(B64_LINE) + 2];

	for (size_t i = 0; i < n; i += B64_LINE) {
		size_t k = n - i < B64_LINE ? n - i : B64_LINE;
		ssize_t w = base64_encode(d + i, k, line, sizeof(line) - 2);

		if (w < 0)
			return -1;
		if (i + k < n) {
			line[w++] = '\r';
			line[w++] = '\n';
		}
		if (buf_append(out, line, (size_t)w) == -1)
			return -1;
	}
	return 0;
}

int
api_mime_text(struct buf *out, const char *s, size_t n, enum api_cte cte)
{
	struct buf canon;
	int r;

	if (cte == API_CTE_7BIT)
		return put_crlf(out, s, n);
	/* RFC 2045 6.4 and 6.7: the canonical form (CRLF lines) encoded. */
	buf_init(&canon, 0);
	r = put_crlf(&canon, s, n);
	if (r == 0 && cte == API_CTE_QP)
		r = mime7_qp(out, buf_ptr(&canon), buf_len(&canon));
	else if (r == 0)
		r = api_mime_base64(out, buf_ptr(&canon), buf_len(&canon));
	buf_free(&canon);
	return r;
}

static int
is_8bit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 1;
	return 0;
}

/* s[0..n) as RFC 2047 B encoded-words of whole UTF-8 characters, one
 * space between them (which readers drop). */
static int
put_encoded_words(struct buf *out, const char *s, size_t n)
{
	char ew[BASE64_ENCODED_SIZE(EW_BYTES)];

	for (size_t i = 0; i < n;) {
		size_t k = n - i < EW_BYTES ? n - i : EW_BYTES;

		while (k > 1 && i + k < n &&
		    ((unsigned char)s[i + k] & 0xc0) == 0x80)
			k--;
		if (base64_encode(s + i, k, ew, sizeof(ew)) < 0 ||
		    buf_printf(out, "%s=?utf-8?b?%s?=", i ? " " : "", ew) ==
		    -1)
			return -1;
		i += k;
	}
	return 0;
}

/*
 * "name: value" and CRLF, value[0..n) folded before white space (RFC
 * 5322 2.2.3: unfolding gives the value back) so that lines stay within
 * 78 octets where a break allows, and -1 when a line would pass 998.
 */
static int
put_folded(struct buf *out, const char *name, const char *v, size_t n)
{
	size_t col = strlen(name) + 1, i = 0;

	if (buf_printf(out, "%s:", name) == -1)
		return -1;
	if (n == 0 || (v[0] != ' ' && v[0] != '\t')) {
		if (buf_putc(out, ' ') == -1)
			return -1;
		col++;
	}
	while (i < n) {
		/* A word: its white space, then up to the next. */
		size_t k = i, w;

		while (k < n && (v[k] == ' ' || v[k] == '\t'))
			k++;
		while (k < n && v[k] != ' ' && v[k] != '\t')
			k++;
		w = k - i;
		if (col + w > LINE_SOFT && i > 0 &&
		    (v[i] == ' ' || v[i] == '\t') && k > i &&
		    v[k - 1] != ' ' && v[k - 1] != '\t') {
			if (buf_append(out, "\r\n", 2) == -1)
				return -1;
			col = 0;
		}
		if (col + w > LINE_HARD)
			return -1;
		if (buf_append(out, v + i, w) == -1)
			return -1;
		col += w;
		i = k;
	}
	return buf_append(out, "\r\n", 2);
}

int
api_mime_field(struct buf *out, const char *name, const char *value)
{
	struct buf ew;
	size_t n = strlen(value);
	int r;

	if (!is_8bit(value, n) && put_folded(out, name, value, n) == 0)
		return 0;
	/* 8-bit text, or a word too long for a line: encoded-words. */
	buf_init(&ew, 0);
	r = put_encoded_words(&ew, value, n);
	if (r == 0)
		r = put_folded(out, name, buf_ptr(&ew), buf_len(&ew));
	buf_free(&ew);
	return r;
}

/* The text of display name p[0..n): quotes and quoted-pairs undone,
 * comments dropped, white space runs made one space. */
static void
phrase_text(const char *p, size_t n, struct buf *t)
{
	int quoted = 0, depth = 0, space = 0;

	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (c == '\\' && i + 1 < n && (quoted || depth)) {
			if (!depth)
				buf_putc(t, p[++i]);
			else
				i++;
			continue;
		}
		if (!quoted && c == '(') {
			depth++;
			continue;
		}
		if (depth) {
			depth -= c == ')';
			continue;
		}
		if (c == '"') {
			quoted = !quoted;
			continue;
		}
		if (c == ' ' || c == '\t') {
			space = buf_len(t) > 0;
			continue;
		}
		if (space)
			buf_putc(t, ' ');
		space = 0;
		buf_putc(t, c);
	}
}

/* A display name as words, a quoted string, or encoded-words. */
static int
put_display_name(struct buf *out, const char *s, size_t n)
{
	int atoms = 1;
	size_t word = 0, longest = 0;

	for (size_t i = 0; i < n; i++) {
		word = s[i] == ' ' ? 0 : word + 1;
		if (word > longest)
			longest = word;
	}
	if (is_8bit(s, n) || longest > LINE_SOFT)
		return put_encoded_words(out, s, n);
	for (size_t i = 0; i < n; i++)
		if (strchr("()<>[]:;@\\,.\"", s[i]) != NULL)
			atoms = 0;
	if (atoms)
		return buf_append(out, s, n);
	if (buf_putc(out, '"') == -1)
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((s[i] == '"' || s[i] == '\\') ? buf_putc(out, '\\') == -1 ||
		    buf_putc(out, s[i]) == -1 : buf_putc(out, s[i]) == -1)
			return -1;
	return buf_putc(out, '"');
}

static const char *
named_add(void *arg, const char *addr, size_t at, const char *name,
    size_t namelen)
{
	struct buf *v = arg;
	struct buf t;
	int r = 0;

	if (buf_len(v) > 0)
		r = buf_append(v, ", ", 2);
	buf_init(&t, 0);
	if (name)
		phrase_text(name, namelen, &t);
	if (r == 0 && buf_len(&t) > 0)
		r = put_display_name(v, buf_ptr(&t), buf_len(&t)) == -1 ||
		    buf_printf(v, " <%s>", addr) == -1 ? -1 : 0;
	else if (r == 0)
		r = buf_puts(v, addr);
	buf_free(&t);
	return r == -1 ? "too long" : NULL;
}

int
api_mime_addr_field(struct buf *out, const char *name, const char *value)
{
	struct buf v;
	const char *why;
	size_t n = strlen(value);
	int r;

	/* An ASCII list goes as the client wrote it (addrlist.c read it). */
	if (!is_8bit(value, n) && put_folded(out, name, value, n) == 0)
		return 0;
	/* 8-bit display names become encoded-words (the addresses stay
	 * UTF-8, RFC 6532); groups are opened into their members. */
	buf_init(&v, 0);
	r = addrlist_parse_named(value, n, named_add, &v, &why) == -1 ? -1 :
	    put_folded(out, name, buf_ptr(&v), buf_len(&v));
	buf_free(&v);
	return r;
}

/* A boundary: "=_" cannot occur in quoted-printable or base64, and no
 * 7bit text of the message holds it (checked, or the next is taken). */
static void
boundary_new(const struct api_draft *d, char *b, size_t bsz)
{
	for (;;) {
		uint64_t n = __atomic_fetch_add(&boundary_seq, 1,
		    __ATOMIC_RELAXED);
		int clash = 0;

		snprintf(b, bsz, "=_gw_%016llx", (unsigned long long)n);
		for (int i = 0; i < 2; i++) {
			const char *t = i ? d->html : d->text;

			if (t && strstr(t, b) != NULL)
				clash = 1;
		}
		if (!clash)
			return;
	}
}

static int
text_part(struct buf *out, const char *subtype, const char *s)
{
	static const char *const cte_name[] = { "7bit", "quoted-printable",
	    "base64" };
	size_t n = strlen(s);
	int ascii;
	enum api_cte cte = api_mime_choose(s, n, &ascii);

	if (buf_printf(out, "Content-Type: text/%s; charset=%s\r\n"
	    "Content-Transfer-Encoding: %s\r\n\r\n", subtype, ascii ?
	    "us-ascii" : "utf-8", cte_name[cte]) == -1)
		return -1;
	return api_mime_text(out, s, n, cte);
}

/* RFC 2231 4: name*=utf-8''%XX for a name of more than plain ASCII. */
static int
put_filename(struct buf *out, const char *name)
{
	size_t n = strlen(name);
	int plain = !is_8bit(name, n);

	for (size_t i = 0; plain && i < n; i++)
		plain = name[i] != '"' && name[i] != '\\';
	if (plain)
		return buf_printf(out, "Content-Disposition: attachment;\r\n"
		    " filename=\"%s\"\r\n", name);
	if (buf_puts(out, "Content-Disposition: attachment;\r\n"
	    " filename*=utf-8''") == -1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("!#$&+-.^_`|~", c)) {
			if (buf_putc(out, c) == -1)
				return -1;
		} else if (buf_printf(out, "%%%02X", c) == -1)
			return -1;
	}
	return buf_append(out, "\r\n", 2);
}

static int
attachment(struct buf *out, const struct api_att *a)
{
	if (buf_printf(out, "Content-Type: %s\r\n", a->ctype) == -1 ||
	    put_filename(out, a->name) == -1 ||
	    buf_puts(out, "Content-Transfer-Encoding: base64\r\n\r\n") == -1)
		return -1;
	return api_mime_base64(out, a->data, a->len);
}

/* text, html, or both as multipart/alternative: its header and body. */
static int
body(struct buf *out, const struct api_draft *d)
{
	char b[32];

	if (d->html == NULL)
		return text_part(out, "plain", d->text);
	if (d->text == NULL)
		return text_part(out, "html", d->html);
	boundary_new(d, b, sizeof(b));
	if (buf_printf(out, "Content-Type: multipart/alternative;\r\n"
	    " boundary=\"%s\"\r\n\r\n--%s\r\n", b, b) == -1 ||
	    text_part(out, "plain", d->text) == -1 ||
	    buf_printf(out, "\r\n--%s\r\n", b) == -1 ||
	    text_part(out, "html", d->html) == -1)
		return -1;
	return buf_printf(out, "\r\n--%s--\r\n", b);
}

/* The body, then each attachment, in multipart/mixed. */
static int
mixed(struct buf *out, const struct api_draft *d)
{
	char b[32];
	size_t i;

	boundary_new(d, b, sizeof(b));
	if (buf_printf(out, "Content-Type: multipart/mixed;\r\n"
	    " boundary=\"%s\"\r\n\r\n", b) == -1)
		return -1;
	if ((d->text || d->html) && (buf_printf(out, "--%s\r\n", b) == -1 ||
	    body(out, d) == -1 || buf_append(out, "\r\n", 2) == -1))
		return -1;
	for (i = 0; i < d->natt; i++)
		if (buf_printf(out, "--%s\r\n", b) == -1 ||
		    attachment(out, &d->att[i]) == -1 ||
		    buf_append(out, "\r\n", 2) == -1)
			return -1;
	return buf_printf(out, "--%s--\r\n", b);
}

static int
addr_fields(struct buf *out, const char *name, const char *const *v,
    size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (api_mime_addr_field(out, name, v[i]) == -1)
			return -1;
	return 0;
}

int
api_mime_write(const struct api_draft *d, struct buf *out, char *err,
    size_t errsz)
{
	size_t start = buf_len(out);

	if (api_mime_addr_field(out, "From", d->from) == -1 ||
	    (d->reply_to && api_mime_addr_field(out, "Reply-To",
	    d->reply_to) == -1) ||
	    addr_fields(out, "To", d->to, d->nto) == -1 ||
	    addr_fields(out, "Cc", d->cc, d->ncc) == -1 ||
	    (d->subject && api_mime_field(out, "Subject", d->subject) == -1))
		goto fail;
	for (size_t i = 0; i < d->nhdr; i++)
		if (api_mime_field(out, d->hdr[i].name, d->hdr[i].value) == -1)
			goto fail;
	if (buf_puts(out, "MIME-Version: 1.0\r\n") == -1)
		goto fail;
	if (d->natt ? mixed(out, d) == -1 : body(out, d) == -1)
		goto fail;
	/* A single text part may end without a line break. */
	if (buf_len(out) < 2 || memcmp(buf_ptr(out) + buf_len(out) - 2,
	    "\r\n", 2) != 0)
		if (buf_append(out, "\r\n", 2) == -1)
			goto fail;
	return 0;
fail:
	out->len = out->off + start;
	return errf(err, errsz, "%s", "message too large, or a header field "
	    "with a word too long for a line");
}
