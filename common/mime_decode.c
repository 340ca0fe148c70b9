/*
 * mime_decode.c - a GMime part's content decoded (mime_decode.h).
 * Standards: RFC 2045 6.7, 6.8 (quoted-printable, base64).
 * Exposure: decodes an untrusted part in READ_CHUNK steps; what is kept
 * is bounded by the caller's max, the rest only counted (base64 and
 * quoted-printable by counters that follow GMime's decoders exactly,
 * tests/unit/test_mime_count.c, without decoding).
 * Diagnostics: none; an unknown charset is the return value.
 */
#include <ctype.h>
#include <pthread.h>
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

/* The bytes GMime's base64 decoder takes as sextets ('=' is not one). */
static const unsigned char b64_sextet[256] = { ['A' ... 'Z'] = 1,
	['a' ... 'z'] = 1, ['0' ... '9'] = 1, ['+'] = 1, ['/'] = 1 };

static pthread_once_t	count_once = PTHREAD_ONCE_INIT;
static int		count_exact;

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

/*
 * GMime 3.2.13's g_mime_encoding_base64_decode_step, counted: every
 * sextet byte counts, anything else is skipped; four sextets make three
 * bytes.  The first '=' ends the stream (state -1, nothing more ever):
 * with two or three sextets pending it gives one or two bytes, with
 * fewer none.  Nothing depends on where the chunks end.
 */
static size_t
count_base64(GMimeEncoding *e, const unsigned char *p, size_t n)
{
	const unsigned char *eq, *end;
	size_t k, out;

	if (e->state < 0)
		return 0;
	eq = memchr(p, '=', n);
	end = eq ? eq : p + n;
	k = (size_t)e->state;
	for (; p + 4 <= end; p += 4)
		k += (size_t)b64_sextet[p[0]] + b64_sextet[p[1]] +
		    b64_sextet[p[2]] + b64_sextet[p[3]];
	for (; p < end; p++)
		k += b64_sextet[*p];
	out = k / 4 * 3;
	e->state = (int)(k % 4);
	if (eq) {
		if (e->state > 1)
			out += (size_t)e->state - 1;
		e->state = -1;
	}
	return out;
}

/*
 * g_mime_encoding_quoted_decode_step, counted: a byte is one, but '='
 * starts an escape.  "=\n" and "=\r\n" are soft breaks (none), "=XY" of
 * two hex digits is one byte, any other "=ab" is kept as its three; an
 * escape cut by the end of the part is lost.  The escape's state carries
 * over from one chunk to the next as GMime's does (state 1: after '=';
 * 2: after "=a", a in save).  isxdigit() as GMime calls it.
 */
static size_t
count_quoted(GMimeEncoding *e, const unsigned char *p, size_t n)
{
	const unsigned char *end = p + n, *eq;
	size_t out = 0;
	unsigned char c;

	while (p < end) {
		switch (e->state) {
		case 0:
			if ((eq = memchr(p, '=', (size_t)(end - p))) == NULL) {
				out += (size_t)(end - p);
				p = end;
				break;
			}
			out += (size_t)(eq - p);
			p = eq + 1;
			e->state = 1;
			break;
		case 1:
			if ((c = *p++) != '\n') {
				e->save = c;
				e->state = 2;
			} else
				e->state = 0;
			break;
		default:
			c = *p++;
			if (isxdigit(c) && isxdigit((int)e->save))
				out += 1;
			else if (c != '\n' || e->save != '\r')
				out += 3;
			e->state = 0;
			break;
		}
	}
	return out;
}

size_t
mime_decode_count(GMimeEncoding *e, const char *in, size_t n)
{
	const unsigned char *p = (const unsigned char *)in;

	switch (e->encoding) {
	case GMIME_CONTENT_ENCODING_BASE64:
		return count_base64(e, p, n);
	case GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE:
		return count_quoted(e, p, n);
	default:
		return n;
	}
}

/* Inputs whose decoded length tells GMime's decoders apart: 3.2.14's
 * base64 step, for one, reads past an '=' (see count_base64()). */
static const char *const count_probes[] = { "QUJD=QUJD", "QUI=", "QQ==",
	"QU=JD", "Q=", "QUJDQ", "Q U\r\nJ\nD*Q", "a=3D=\r\nb=\nc=ZZ=4x=",
	"=\r", "x=A" };

/* The counters agree with the library's decoders on the probes, in one
 * step and split in two: else sizes are decoded, not counted. */
static void
count_check(void)
{
	static const GMimeContentEncoding encs[] = {
	    GMIME_CONTENT_ENCODING_BASE64,
	    GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE };
	char out[64];

	count_exact = 1;
	for (size_t i = 0; i < sizeof(encs) / sizeof(encs[0]); i++)
		for (size_t j = 0; j < sizeof(count_probes) /
		    sizeof(count_probes[0]); j++) {
			const char *s = count_probes[j];
			size_t n = strlen(s), cut = n / 2, got = 0, want = 0;
			GMimeEncoding d, c;

			g_mime_encoding_init_decode(&d, encs[i]);
			g_mime_encoding_init_decode(&c, encs[i]);
			want += g_mime_encoding_step(&d, s, cut, out);
			want += g_mime_encoding_step(&d, s + cut, n - cut, out);
			want += g_mime_encoding_flush(&d, "", 0, out);
			got += mime_decode_count(&c, s, cut);
			got += mime_decode_count(&c, s + cut, n - cut);
			if (got != want)
				count_exact = 0;
		}
}

int
mime_decode_counted(void)
{
	pthread_once(&count_once, count_check);
	return count_exact;
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
	int count = coded && mime_decode_counted();
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
		/* Nothing more is kept (an attachment sniffed as not
		 * text, text past its room): the rest is only counted,
		 * in the same chunks (the flush gives nothing). */
		if (count && r->capped && buf_len(r->b) >= r->max) {
			if (n <= 0)
				return;
			*r->total += mime_decode_count(&e, in, (size_t)n);
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
