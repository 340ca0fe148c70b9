/*
 * mime7.c - the 8BITMIME downgrade (see mime7.h).
 * Standards: RFC 6152, RFC 2045, RFC 2046, RFC 1428.
 * Exposure: the message is a client's, already through DATA (CRLF lines,
 * no NUL); nothing here trusts its structure: every boundary and field
 * is bounded by the entity it sits in.
 * Diagnostics: never dies; what cannot be converted faithfully returns
 * -1 with the reason, and the caller refuses the delivery (5.6.3)
 * instead of sending something else.
 *
 * An entity is a header section, a blank line and a body.  Only a leaf
 * body is re-encoded; the header of an entity is copied field by field,
 * unchanged except for the fields the new encoding replaces, so a part
 * reads the same after the walk.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "mime7.h"

#define MIME7_DEPTH	32
#define QP_WIDTH	76	/* encoded line, "=" of a soft break included */

int
mime7_is_8bit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 1;
	return 0;
}

/* One header field: raw bytes [p, p + n) with its CRLF and folds. */
struct field {
	const char	*p;
	size_t		 n;
	const char	*val;		/* after the colon */
	size_t		 vallen;	/* to the end of the field */
};

/* The end of the field starting at h[i]: past the CRLF not followed by
 * a fold. */
static size_t
field_end(const char *h, size_t n, size_t i)
{
	for (;;) {
		const char *lf = memchr(h + i, '\n', n - i);

		if (lf == NULL)
			return n;
		i = (size_t)(lf - h) + 1;
		if (i >= n || (h[i] != ' ' && h[i] != '\t'))
			return i;
	}
}

static int
field_is(const struct field *f, const char *name)
{
	size_t k = strlen(name);

	return f->n > k && f->p[k] == ':' && strncasecmp(f->p, name, k) == 0;
}

/* The next field of h[0..n) at *pos; 0 at the end. */
static int
field_next(const char *h, size_t n, size_t *pos, struct field *f)
{
	const char *colon;

	if (*pos >= n)
		return 0;
	f->p = h + *pos;
	f->n = field_end(h, n, *pos) - *pos;
	*pos += f->n;
	colon = memchr(f->p, ':', f->n);
	f->val = colon ? colon + 1 : f->p + f->n;
	f->vallen = (size_t)(f->p + f->n - f->val);
	return 1;
}

/* Split an entity: header fields [0, *hlen), body [*boff, n). */
static void
entity_split(const char *e, size_t n, size_t *hlen, size_t *boff)
{
	const char *p;

	if (n >= 2 && e[0] == '\r' && e[1] == '\n') {
		*hlen = 0;
		*boff = 2;
		return;
	}
	p = memmem(e, n, "\r\n\r\n", 4);
	*hlen = p ? (size_t)(p - e) + 2 : n;
	*boff = p ? *hlen + 2 : n;
}

/* A value with folds and comments out (quoted strings kept whole):
 * enough to read a type, a token or a parameter. */
static size_t
unfold(const char *v, size_t n, char *out, size_t outsz)
{
	size_t o = 0;
	int depth = 0, quoted = 0;

	for (size_t i = 0; i < n && o + 1 < outsz; i++) {
		char c = v[i];

		if (c == '\r' || c == '\n')
			continue;
		if (!quoted && c == '(') {
			depth++;
			continue;
		}
		if (!quoted && depth > 0) {
			if (c == ')')
				depth--;
			else if (c == '\\')
				i++;
			continue;
		}
		if (c == '"')
			quoted = !quoted;
		out[o++] = c;
	}
	out[o] = '\0';
	return o;
}

struct ctype {
	char	type[80];	/* "text/plain", lower case; "" when absent */
	char	boundary[72];	/* RFC 2046: 70 at most */
	char	cte[32];	/* lower case; "" when absent */
	int	has_type, has_version;
};

/* The boundary parameter of a Content-Type value (unfolded). */
static void
ct_boundary(const char *v, char *out, size_t outsz)
{
	const char *p = v;

	out[0] = '\0';
	while ((p = strchr(p, ';')) != NULL) {
		size_t o = 0;

		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, "boundary", 8) != 0)
			continue;
		p += 8;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p++ != '=')
			continue;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '"') {
			for (p++; *p && *p != '"' && o + 1 < outsz; p++) {
				if (*p == '\\' && p[1])
					p++;
				out[o++] = *p;
			}
		} else {
			while (*p && *p != ';' && *p != ' ' && *p != '\t' &&
			    o + 1 < outsz)
				out[o++] = *p++;
		}
		out[o] = '\0';
		return;
	}
}

/* Read the fields that matter from a header section. */
static void
header_read(const char *h, size_t hlen, struct ctype *ct)
{
	struct field f;
	size_t pos = 0;
	char v[1024];

	memset(ct, 0, sizeof(*ct));
	while (field_next(h, hlen, &pos, &f)) {
		if (field_is(&f, "Content-Type")) {
			size_t i = 0, o = 0;

			unfold(f.val, f.vallen, v, sizeof(v));
			while (v[i] == ' ' || v[i] == '\t')
				i++;
			while (v[i] && v[i] != ';' && v[i] != ' ' &&
			    v[i] != '\t' && o + 1 < sizeof(ct->type))
				ct->type[o++] = (char)tolower(
				    (unsigned char)v[i++]);
			ct->type[o] = '\0';
			ct_boundary(v, ct->boundary, sizeof(ct->boundary));
			ct->has_type = 1;
		} else if (field_is(&f, "Content-Transfer-Encoding")) {
			size_t i = 0, o = 0;

			unfold(f.val, f.vallen, v, sizeof(v));
			while (v[i] == ' ' || v[i] == '\t')
				i++;
			while (v[i] && v[i] != ' ' && v[i] != '\t' &&
			    o + 1 < sizeof(ct->cte))
				ct->cte[o++] = (char)tolower(
				    (unsigned char)v[i++]);
			ct->cte[o] = '\0';
		} else if (field_is(&f, "MIME-Version"))
			ct->has_version = 1;
	}
}

struct walk {
	struct buf	*out;
	const char	*err;
};

static int
put(struct walk *w, const void *p, size_t n)
{
	if (buf_append(w->out, p, n) == -1) {
		w->err = "the converted message is too big";
		return -1;
	}
	return 0;
}

static int
put_str(struct walk *w, const char *s)
{
	return put(w, s, strlen(s));
}

/*
 * Copy a header section, leaving out the encoding field when `drop_cte`
 * (the entity gets a new one, or none) and the DKIM-Signature fields
 * when `strip_dkim`.
 */
static int
header_copy(struct walk *w, const char *h, size_t hlen, int drop_cte,
    int strip_dkim)
{
	struct field f;
	size_t pos = 0;

	while (field_next(h, hlen, &pos, &f)) {
		if (drop_cte && field_is(&f, "Content-Transfer-Encoding"))
			continue;
		if (strip_dkim && field_is(&f, "DKIM-Signature"))
			continue;
		if (put(w, f.p, f.n) == -1)
			return -1;
	}
	return 0;
}

static int
qp_byte(struct walk *w, unsigned char c)
{
	static const char hex[] = "0123456789ABCDEF";
	char e[3] = { '=', hex[c >> 4], hex[c & 15] };

	return put(w, e, 3);
}

/*
 * Quoted-printable, RFC 2045 6.7: CRLF stays a hard line break; '=',
 * controls and 8-bit bytes are encoded, and a space or tab before a line
 * end; lines are cut by soft breaks.  A line continued after a soft
 * break never starts with '-', so it cannot read as a boundary.
 */
static int
qp_encode(struct walk *w, const char *b, size_t n)
{
	size_t i = 0, col = 0;

	while (i < n) {
		const char *lf = memchr(b + i, '\n', n - i);
		size_t end = lf ? (size_t)(lf - b) : n;
		int crlf = lf && end > i && b[end - 1] == '\r';

		if (crlf)
			end--;
		for (size_t k = i; k < end; k++) {
			unsigned char c = (unsigned char)b[k];
			int last = k + 1 == end;
			int enc = c >= 0x7f || c == '=' || (c < 32 &&
			    c != '\t') || ((c == ' ' || c == '\t') && last) ||
			    (c == '-' && col == 0 && k > i);
			size_t width = enc ? 3 : 1;

			/* Room for this and, unless it ends the line, the
			 * "=" of a soft break after it. */
			if (col + width + (last ? 0 : 1) > QP_WIDTH) {
				if (put(w, "=\r\n", 3) == -1)
					return -1;
				col = 0;
				enc = enc || c == '-';
				width = enc ? 3 : 1;
			}
			if (enc ? qp_byte(w, c) : put(w, &b[k], 1))
				return -1;
			col += width;
		}
		if (lf == NULL)
			break;
		if (!crlf && put(w, "=0A", 3) == -1)
			return -1;
		if (crlf && put(w, "\r\n", 2) == -1)
			return -1;
		col = crlf ? 0 : col + 3;
		i = (size_t)(lf - b) + 1;
	}
	return 0;
}

int
mime7_qp(struct buf *out, const char *b, size_t n)
{
	struct walk w = { out, NULL };

	return qp_encode(&w, b, n);
}

static int entity(struct walk *, const char *, size_t, int depth, int top,
    int strip_dkim);

/* A line of a multipart body that is "--boundary" (its close when
 * followed by "--"), with only transport padding after it. */
static int
is_delimiter(const char *l, size_t n, const char *bd, size_t bdl,
    int *close)
{
	size_t i;

	if (n < 2 + bdl || l[0] != '-' || l[1] != '-' ||
	    memcmp(l + 2, bd, bdl) != 0)
		return 0;
	i = 2 + bdl;
	*close = n - i >= 2 && l[i] == '-' && l[i + 1] == '-';
	if (*close)
		i += 2;
	while (i < n && (l[i] == ' ' || l[i] == '\t' || l[i] == '\r' ||
	    l[i] == '\n'))
		i++;
	return i == n;
}

/* A preamble or epilogue: nobody reads it; it must be 7-bit already. */
static int
filler(struct walk *w, const char *s, size_t n)
{
	if (mime7_is_8bit(s, n)) {
		w->err = "8-bit text outside the parts of a multipart";
		return -1;
	}
	return put(w, s, n);
}

/*
 * A multipart body: the parts between delimiter lines are entities of
 * their own.  The CRLF before a delimiter belongs to the delimiter
 * (RFC 2046 5.1.1) and is copied with it.
 */
static int
multipart(struct walk *w, const char *b, size_t n, const char *bd, int depth)
{
	size_t bdl = strlen(bd), i = 0, seg = 0;
	int seen = 0, closed = 0, close;

	while (i < n && !closed) {
		const char *lf = memchr(b + i, '\n', n - i);
		size_t le = lf ? (size_t)(lf - b) + 1 : n;

		if (is_delimiter(b + i, le - i, bd, bdl, &close)) {
			size_t segend = i;

			if (i > seg)	/* the line break before it */
				segend = i >= seg + 2 && b[i - 2] == '\r' ?
				    i - 2 : i - 1;

			if ((seen ? entity(w, b + seg, segend - seg, depth + 1,
			    0, 0) : filler(w, b + seg, segend - seg)) == -1)
				return -1;
			if (put(w, b + segend, le - segend) == -1)
				return -1;
			seen = 1;
			closed = close;
			seg = le;
		}
		i = le;
	}
	if (seen && !closed)
		return entity(w, b + seg, n - seg, depth + 1, 0, 0);
	return filler(w, b + seg, n - seg);
}

/*
 * One entity: its header, then its body walked (multipart, message) or
 * re-encoded (an 8-bit leaf).  `top`: a message, whose header may get
 * MIME-Version:.
 */
static int
entity(struct walk *w, const char *e, size_t n, int depth, int top,
    int strip_dkim)
{
	struct ctype ct;
	size_t hlen, boff;
	const char *b;
	size_t bn;
	int leaf;

	if (depth > MIME7_DEPTH) {
		w->err = "MIME parts nested too deep";
		return -1;
	}
	entity_split(e, n, &hlen, &boff);
	if (mime7_is_8bit(e, hlen)) {
		w->err = "an 8-bit header field (needs SMTPUTF8)";
		return -1;
	}
	b = e + boff;
	bn = n - boff;
	header_read(e, hlen, &ct);
	leaf = strncmp(ct.type, "multipart/", 10) != 0 &&
	    strcmp(ct.type, "message/rfc822") != 0;
	if (!mime7_is_8bit(b, bn)) {
		/* Nothing to change below; the DKIM fields still go. */
		if (header_copy(w, e, hlen, 0, strip_dkim) == -1)
			return -1;
		return put(w, e + hlen, n - hlen);
	}
	if (leaf && ct.cte[0] && strcmp(ct.cte, "7bit") != 0 &&
	    strcmp(ct.cte, "8bit") != 0 && strcmp(ct.cte, "binary") != 0) {
		w->err = "8-bit bytes in a part encoded as base64 or "
		    "quoted-printable";
		return -1;
	}
	if (!leaf && !strncmp(ct.type, "multipart/", 10) && !ct.boundary[0]) {
		w->err = "a multipart without a boundary";
		return -1;
	}
	/* The header: its encoding field replaced (leaf) or dropped (7bit
	 * is the default for what is walked). */
	if (header_copy(w, e, hlen, 1, strip_dkim) == -1)
		return -1;
	if (top && !ct.has_version && put_str(w, "MIME-Version: 1.0\r\n"))
		return -1;
	if (leaf && !ct.has_type && put_str(w, "Content-Type: text/plain; "
	    "charset=unknown-8bit\r\n"))
		return -1;
	if (leaf && put_str(w, "Content-Transfer-Encoding: quoted-printable\r\n"))
		return -1;
	if (put(w, e + hlen, boff - hlen) == -1)
		return -1;
	if (leaf)
		return qp_encode(w, b, bn);
	if (ct.type[0] == 'm' && ct.type[1] == 'e')
		return entity(w, b, bn, depth + 1, 1, 0);
	return multipart(w, b, bn, ct.boundary, depth);
}

int
mime7_has_dkim(const char *msg, size_t n)
{
	struct field f;
	size_t hlen, boff, pos = 0;

	entity_split(msg, n, &hlen, &boff);
	while (field_next(msg, hlen, &pos, &f))
		if (field_is(&f, "DKIM-Signature"))
			return 1;
	return 0;
}

int
mime7_downgrade(const char *msg, size_t n, int flags, struct buf *out,
    const char **err)
{
	struct walk w = { out, NULL };

	if (entity(&w, msg, n, 0, 1, flags & MIME7_STRIP_DKIM) == -1) {
		*err = w.err ? w.err : "the converted message is too big";
		return -1;
	}
	return 0;
}
