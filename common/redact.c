/*
 * redact.c - the redact action: values replaced in a message's text
 * parts and Subject, the MIME written again (GMime 3).
 * Standards: RFC 2045 (transfer encodings), RFC 2046 (text, multipart,
 * message/rfc822), RFC 2047 (the Subject's encoded words), RFC 5322
 * (CRLF line ends).
 * Exposure: parses an untrusted message.  Parts are entered as the walk
 * (mime_walk.c) enters them: message/rfc822 to its depth, leaf parts to
 * its count; a part's decoded text is held whole while it is rewritten,
 * so memory grows with the message's size (gwd's limits.message_size),
 * no more.  The scan (dlp.c) is linear in the text.
 * Diagnostics: none of its own; redact_message() returns the reason.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>

#include "mime_walk.h"
#include "redact.h"
#include "util.h"

struct span {
	int	 det;
	size_t	 from, to;
};

struct redact {
	const struct dlp_db	*db;
	const int		*want;
	int			 whole;		/* DLP_R_ALL for every value */
	struct buf		*out;
	int			 replaced;
	int			 failed;
	int			 parts;
	char			*err;
	size_t			 errsz;
	/* the spans of the text being rewritten */
	struct span		*sp;
	int			 nsp, spcap;
};

static void
on_span(void *arg, int det, size_t from, size_t to)
{
	struct redact *r = arg;

	if (r->nsp == r->spcap) {
		r->spcap = r->spcap ? r->spcap * 2 : 16;
		r->sp = xreallocarray(r->sp, (size_t)r->spcap, sizeof(*r->sp));
	}
	r->sp[r->nsp++] = (struct span){ det, from, to };
}

/* text[0..len) with the values found replaced, in place: how many. */
static int
redact_text(struct redact *r, char *text, size_t len)
{
	r->nsp = 0;
	if (dlp_spans(r->db, r->want, text, len, on_span, r, r->err,
	    r->errsz) == -1) {
		r->failed = 1;
		return 0;
	}
	for (int i = 0; i < r->nsp; i++)
		dlp_redact(r->whole ? DLP_R_ALL : dlp_redact_how(r->db,
		    r->sp[i].det),
		    text + r->sp[i].from, r->sp[i].to - r->sp[i].from);
	return r->nsp;
}

/*
 * HTML: the values are found in its text (mime_html_text_map()), and
 * the source of each character replaced there becomes one 'X' ("&#52;"
 * as well as "4"); tags between the digits stay.  NULL when nothing was
 * replaced, else the new source (its length in *outlen).
 */
static char *
redact_html(struct redact *r, const char *html, size_t len, size_t *outlen,
    int *n)
{
	char *text = xmalloc(len + 1), *orig;
	size_t *map = xcalloc(len ? len : 1, sizeof(*map));
	size_t tl = mime_html_text_map(html, len, text, map), at = 0;
	struct buf b;

	orig = xmalloc(tl + 1);
	memcpy(orig, text, tl);
	*n = redact_text(r, text, tl);
	if (*n == 0) {
		free(text);
		free(orig);
		free(map);
		return NULL;
	}
	buf_init(&b, 0);
	for (size_t i = 0; i < tl; i++) {
		if (text[i] == orig[i] || map[i] < at)
			continue;
		buf_append(&b, html + at, map[i] - at);
		buf_putc(&b, 'X');
		at = map[i] + mime_html_unit(html, len, map[i]);
	}
	buf_append(&b, html + at, len - at);
	free(text);
	free(orig);
	free(map);
	return buf_steal(&b, outlen);
}

static int
has_8bit(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			return 1;
	return 0;
}

/* The part's content from p[0..n), encoded as it was (or as
 * quoted-printable when 7-bit text gained 8-bit bytes). */
static void
set_content(GMimePart *part, const char *p, size_t n, int utf8)
{
	GMimeContentEncoding enc = g_mime_part_get_content_encoding(part);
	GMimeStream *st = g_mime_stream_mem_new_with_buffer(p, n);
	GMimeDataWrapper *dw = g_mime_data_wrapper_new_with_stream(st,
	    GMIME_CONTENT_ENCODING_DEFAULT);

	g_mime_part_set_content(part, dw);
	g_object_unref(dw);
	g_object_unref(st);
	if (utf8)
		g_mime_object_set_content_type_parameter(GMIME_OBJECT(part),
		    "charset", "utf-8");
	if ((enc == GMIME_CONTENT_ENCODING_DEFAULT ||
	    enc == GMIME_CONTENT_ENCODING_7BIT) && has_8bit(p, n))
		enc = GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
	if (enc != GMIME_CONTENT_ENCODING_DEFAULT)
		g_mime_part_set_content_encoding(part, enc);
}

static void
redact_part(struct redact *r, GMimePart *part)
{
	GMimeContentType *ct = g_mime_object_get_content_type(
	    GMIME_OBJECT(part));
	const char *cs = ct ? g_mime_content_type_get_parameter(ct, "charset") :
	    NULL;
	int html = ct && g_mime_content_type_is_type(ct, "text", "html");
	int convert, n = 0;
	size_t total, nl;
	struct buf b;
	char *nh;

	convert = cs && strcasecmp(cs, "us-ascii") != 0 &&
	    strcasecmp(cs, "utf-8") != 0 && strcasecmp(cs, "utf8") != 0;
	buf_init(&b, 0);
	/* A charset iconv does not know: the bytes as they are. */
	if (mime_part_decoded(part, convert ? cs : NULL, &b, SIZE_MAX,
	    &total) == 1)
		convert = 0;
	if (html) {
		nh = redact_html(r, buf_ptr(&b) ? buf_ptr(&b) : "", buf_len(&b),
		    &nl, &n);
		if (nh) {
			set_content(part, nh, nl, convert);
			free(nh);
		}
	} else if (buf_len(&b) > 0 &&
	    (n = redact_text(r, buf_ptr(&b), buf_len(&b))) > 0)
		set_content(part, buf_ptr(&b), buf_len(&b), convert);
	r->replaced += n;
	buf_free(&b);
}

/*
 * A message's Subject: GMime gives it with its encoded words (RFC 2047)
 * decoded to UTF-8; the values found replaced, it is set again and GMime
 * encodes it anew (encoded words where it is not ASCII) when the
 * message is written.
 */
static void
redact_subject(struct redact *r, GMimeMessage *m)
{
	const char *subj = g_mime_message_get_subject(m);
	char *s;
	int n;

	if (subj == NULL || *subj == '\0' || r->failed)
		return;
	s = xstrdup(subj);
	if ((n = redact_text(r, s, strlen(s))) > 0) {
		g_mime_message_set_subject(m, s, "utf-8");
		r->replaced += n;
	}
	free(s);
}

static void redact_object(struct redact *, GMimeObject *, int depth);

static void
redact_leaf(struct redact *r, GMimePart *part)
{
	GMimeContentType *ct = g_mime_object_get_content_type(
	    GMIME_OBJECT(part));
	const char *disp = g_mime_object_get_disposition(GMIME_OBJECT(part));

	/* As the walk reads parts: the same ones are scanned and redacted. */
	if (++r->parts > mime_limits_default.parts || ct == NULL)
		return;
	if ((g_mime_content_type_is_type(ct, "text", "plain") ||
	    g_mime_content_type_is_type(ct, "text", "html")) &&
	    g_mime_part_get_filename(part) == NULL && (disp == NULL ||
	    g_ascii_strcasecmp(disp, "attachment") != 0))
		redact_part(r, part);
}

static void
redact_object(struct redact *r, GMimeObject *obj, int depth)
{
	if (r->failed)
		return;
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		int n = g_mime_multipart_get_count(mp);

		for (int i = 0; i < n && !r->failed; i++)
			redact_object(r, g_mime_multipart_get_part(mp, i),
			    depth);
	} else if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *m = g_mime_message_part_get_message(
		    GMIME_MESSAGE_PART(obj));

		if (m == NULL || depth + 1 > mime_limits_default.depth)
			return;
		redact_subject(r, m);
		if (g_mime_message_get_mime_part(m))
			redact_object(r, g_mime_message_get_mime_part(m),
			    depth + 1);
	} else if (GMIME_IS_PART(obj))
		redact_leaf(r, GMIME_PART(obj));
}

/* p[0..n) into out with every line end CRLF: GMime keeps some parts
 * (a multipart's preamble) with bare LF, and gwd never sends one. */
static int
append_crlf(struct buf *out, const char *p, size_t n)
{
	size_t i, from = 0;
	int r = 0;

	for (i = 0; i < n && r == 0; i++) {
		if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n') {
			i++;
			continue;
		}
		if (p[i] != '\r' && p[i] != '\n')
			continue;
		r = buf_append(out, p + from, i - from) == -1 ||
		    buf_puts(out, "\r\n") == -1 ? -1 : 0;
		from = i + 1;
	}
	if (r == 0)
		r = buf_append(out, p + from, n - from);
	/* And the last line end, which GMime may leave out: SMTP's DATA
	 * and DKIM's body want it. */
	if (r == 0 && (buf_len(out) < 2 ||
	    memcmp(buf_ptr(out) + buf_len(out) - 2, "\r\n", 2) != 0))
		r = buf_puts(out, "\r\n");
	return r;
}

/* The message written again, CRLF line ends, into r->out. */
static void
redact_write(struct redact *r, GMimeMessage *m)
{
	GMimeFormatOptions *fo = g_mime_format_options_new();
	GByteArray *ba = g_byte_array_new();
	GMimeStream *st = g_mime_stream_mem_new_with_byte_array(ba);

	g_mime_format_options_set_newline_format(fo,
	    GMIME_NEWLINE_FORMAT_DOS);
	if (g_mime_object_write_to_stream(GMIME_OBJECT(m), fo, st) == -1 ||
	    append_crlf(r->out, (const char *)ba->data, ba->len) == -1) {
		snprintf(r->err, r->errsz, "cannot write the redacted message");
		r->failed = 1;
	}
	g_object_unref(st);	/* frees ba */
	g_mime_format_options_free(fo);
}

static void
redact_top(void *arg, void *msg)
{
	struct redact *r = arg;
	GMimeMessage *m = msg;

	if (m == NULL)
		return;
	redact_subject(r, m);
	if (g_mime_message_get_mime_part(m) != NULL)
		redact_object(r, g_mime_message_get_mime_part(m), 1);
	if (!r->failed && r->replaced > 0)
		redact_write(r, m);
}

int
redact_message(const struct dlp_db *db, const int *want, const char *msg,
    size_t len, struct buf *out, char *err, size_t errsz)
{
	struct redact r = { db, want, 0, out, 0, 0, 0, err, errsz, NULL, 0,
	    0 };

	mime_with_message(msg, len, redact_top, &r);
	free(r.sp);
	if (r.failed)
		return -1;
	return r.replaced;
}

int
redact_string(const struct dlp_db *db, const int *want, int whole, char *s,
    size_t len, char *err, size_t errsz)
{
	int n = dlp_db_count(db), *all = NULL;
	struct redact r = { db, want, whole, NULL, 0, 0, 0, err, errsz, NULL,
	    0, 0 };

	if (want == NULL) {
		all = xcalloc((size_t)(n ? n : 1), sizeof(*all));
		for (int i = 0; i < n; i++)
			all[i] = 1;
		r.want = all;
	}
	n = redact_text(&r, s, len);
	free(r.sp);
	free(all);
	return r.failed ? -1 : n;
}
