/*
 * mime_decode.c - a GMime part's content decoded (mime_decode.h).
 * Standards: RFC 2045 6.7, 6.8 (quoted-printable, base64).
 * Exposure: decodes an untrusted part in READ_CHUNK steps; what is kept
 * is bounded by the caller's max, the rest only counted.
 * Diagnostics: none; an unknown charset is the return value.
 */
#include <stdint.h>
#include <string.h>

#include <gmime/gmime.h>

#include "buf.h"
#include "mime_decode.h"
#include "mime_walk.h"

#define READ_CHUNK	16384
/* What GMime's filter stream reads of its source at a time: the base64
 * step drops output for '=' at the end of the chunk it is given, so the
 * steps here take the same chunks. */
#define FILTER_READ	4096

struct reading {
	struct buf		*b;
	size_t			 max;
	size_t			*total;
	const struct read_cap	*cap;
	int			 capped;
};

/* One decoded chunk: counted, kept up to max, the cap's function called
 * once its first bytes are in.  -1 when memory runs out. */
static int
take(struct reading *r, const char *chunk, size_t n)
{
	struct buf *b = r->b;
	size_t room = r->max > buf_len(b) ? r->max - buf_len(b) : 0;
	size_t kept = n;

	*r->total += n;
	if (kept > room)
		kept = room;
	if (kept > 0 && buf_append(b, chunk, kept) == -1)
		return -1;
	if (r->capped || buf_len(b) < r->cap->at)
		return 0;
	r->capped = 1;
	r->max = r->cap->fn(r->cap->arg, buf_ptr(b), buf_len(b));
	/* The rest of this chunk, past the first bytes. */
	room = r->max > buf_len(b) ? r->max - buf_len(b) : 0;
	if (n - kept < room)
		room = n - kept;
	if (room > 0 && buf_append(b, chunk + kept, room) == -1)
		return -1;
	return 0;
}

/* Through GMime's filter stream: the transfer encoding's filter, then
 * the charset's. */
static int
read_filtered(GMimeStream *raw, GMimeContentEncoding enc, const char *cs,
    struct reading *r)
{
	GMimeStream *fs = g_mime_stream_filter_new(raw);
	GMimeFilter *f;
	char chunk[READ_CHUNK];
	ssize_t n;
	int bad = 0;

	if (enc == GMIME_CONTENT_ENCODING_BASE64 ||
	    enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
	    enc == GMIME_CONTENT_ENCODING_UUENCODE) {
		f = g_mime_filter_basic_new(enc, FALSE);
		g_mime_stream_filter_add(GMIME_STREAM_FILTER(fs), f);
		g_object_unref(f);
	}
	if (cs != NULL) {
		if ((f = g_mime_filter_charset_new(cs, "UTF-8")) == NULL)
			bad = 1;
		else {
			g_mime_stream_filter_add(GMIME_STREAM_FILTER(fs), f);
			g_object_unref(f);
		}
	}
	while ((n = g_mime_stream_read(fs, chunk, sizeof(chunk))) > 0)
		if (take(r, chunk, (size_t)n) == -1)
			break;
	g_object_unref(fs);
	return bad;
}

/* The raw content through GMime's base64 or quoted-printable decoder
 * step, as its basic filter steps it (g_mime_encoding_step, then
 * g_mime_encoding_flush at the end), or as it is when it has no
 * transfer encoding to undo.  Not uuencode: GMime's filter looks for
 * the "begin" line itself. */
static void
read_stepped(GMimeStream *raw, GMimeContentEncoding enc, struct reading *r)
{
	GMimeEncoding e;
	char in[FILTER_READ], out[READ_CHUNK];
	int coded = enc == GMIME_CONTENT_ENCODING_BASE64 ||
	    enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
	ssize_t n;
	size_t m;

	g_mime_encoding_init_decode(&e, enc);
	for (;;) {
		n = g_mime_stream_read(raw, in, sizeof(in));
		if (!coded) {
			if (n <= 0 || take(r, in, (size_t)n) == -1)
				return;
			continue;
		}
		/* Decoded output never outgrows its input by more than
		 * a few bytes (g_mime_encoding_outlen() bounds it). */
		m = n > 0 ? g_mime_encoding_step(&e, in, (size_t)n, out) :
		    g_mime_encoding_flush(&e, "", 0, out);
		if (m > 0 && take(r, out, m) == -1)
			return;
		if (n <= 0)
			return;
	}
}

int
mime_read_decoded(void *part, const char *cs, struct buf *b, size_t max,
    size_t *total, const struct read_cap *cap, int filters)
{
	GMimeDataWrapper *dw = g_mime_part_get_content(part);
	GMimeStream *raw;
	GMimeContentEncoding enc;
	struct reading r = { b, cap ? cap->at : max, total, cap, cap == NULL };
	int bad = 0;

	*total = 0;
	if (dw == NULL || (raw = g_mime_data_wrapper_get_stream(dw)) == NULL) {
		if (cap)
			cap->fn(cap->arg, "", 0);
		return 0;
	}
	g_mime_stream_reset(raw);
	enc = g_mime_data_wrapper_get_encoding(dw);
	if (filters || cs != NULL || enc == GMIME_CONTENT_ENCODING_UUENCODE)
		bad = read_filtered(raw, enc, cs, &r);
	else
		read_stepped(raw, enc, &r);
	if (!r.capped)
		cap->fn(cap->arg, buf_ptr(b) ? buf_ptr(b) : "", buf_len(b));
	return bad;
}

int
mime_part_decoded(void *part, const char *cs, struct buf *b, size_t max,
    size_t *total)
{
	return mime_read_decoded(part, cs, b, max, total, NULL, 1);
}
