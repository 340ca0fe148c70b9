/*
 * mime_decode.c - a GMime part's content decoded (mime_decode.h).
 * Standards: RFC 2045 6.7, 6.8 (quoted-printable, base64).
 * Exposure: decodes an untrusted part in READ_CHUNK steps; what is kept
 * is bounded by the caller's max, the rest only counted.  Base64 and
 * quoted-printable are decoded and counted by steps of this file's that
 * follow GMime 3.2.13's decoders byte for byte, checked against the
 * library at the first use (mime_decode_own()) and by
 * tests/unit/test_mime_count.c; GMime's own step where they disagree.
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
/* What GMime's filter stream reads of its source at a time.  The base64
 * step of GMime 3.2.10 to 3.2.13 does not care where chunks end; that of
 * 3.2.9 and 3.2.14 drops output for an '=' that ends a chunk.  When the
 * library's step is used (mime_decode_own() is 0) it takes the same
 * chunks as its filter would. */
#define FILTER_READ	4096

/* A byte's sextet in base64, 0xff for none ('=' is none): GMime's rank
 * table.  X256(F) is F(0), ..., F(255), for constant tables. */
#define B64_VALUE(c)	((unsigned char)( \
			 (c) >= 'A' && (c) <= 'Z' ? (c) - 'A' : \
			 (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26 : \
			 (c) >= '0' && (c) <= '9' ? (c) - '0' + 52 : \
			 (c) == '+' ? 62 : (c) == '/' ? 63 : 0xff))
#define B64_SEXTET(c)	(B64_VALUE(c) < 64)
/* A byte's sextet shifted to its place in a quartet's 24 bits, or bit
 * 31 for none: four bytes ORed give the quartet's bits, or bit 31. */
#define B64_AT(c, sh)	(B64_VALUE(c) < 64 ? (guint32)B64_VALUE(c) << (sh) : \
			 0x80000000u)
#define B64_AT18(c)	B64_AT(c, 18)
#define B64_AT12(c)	B64_AT(c, 12)
#define B64_AT6(c)	B64_AT(c, 6)
#define B64_AT0(c)	B64_AT(c, 0)
#define X4(F, c)	F(c), F((c) + 1), F((c) + 2), F((c) + 3)
#define X16(F, c)	X4(F, c), X4(F, (c) + 4), X4(F, (c) + 8), X4(F, (c) + 12)
#define X64(F, c)	X16(F, c), X16(F, (c) + 16), X16(F, (c) + 32), \
			X16(F, (c) + 48)
#define X256(F)		X64(F, 0), X64(F, 64), X64(F, 128), X64(F, 192)

/* 1 for a sextet: counted by adding. */
static const unsigned char b64_sextet[256] = { X256(B64_SEXTET) };
static const guint32 b64_at[4][256] = { { X256(B64_AT18) },
	{ X256(B64_AT12) }, { X256(B64_AT6) }, { X256(B64_AT0) } };

static pthread_once_t	own_once = PTHREAD_ONCE_INIT;
static int		own_exact;

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
 * GMime 3.2.13's base64 step, four sextets at a time where it can (a
 * line of base64 is nearly all whole quartets), else byte by byte as
 * GMime goes: the same bytes out, the same state and save after it.
 */
static size_t
step_base64(GMimeEncoding *e, const unsigned char *p, size_t n,
    unsigned char *out)
{
	const unsigned char *end = p + n;
	unsigned char *o = out;
	guint32 saved = e->save, v;
	int k = e->state;

	if (k < 0)
		return 0;
	while (p < end) {
		/* Whole quartets, as nearly all of a line is. */
		for (; k == 0 && end - p >= 4; p += 4, o += 3) {
			v = b64_at[0][p[0]] | b64_at[1][p[1]] | b64_at[2][p[2]] |
			    b64_at[3][p[3]];
			if (v & 0x80000000u)
				break;
			o[0] = (unsigned char)(v >> 16);
			o[1] = (unsigned char)(v >> 8);
			o[2] = (unsigned char)v;
		}
		if (p == end)
			break;
		if (((v = b64_at[3][*p++]) & 0x80000000u) == 0) {
			saved = saved << 6 | v;
			if (++k == 4) {
				*o++ = (unsigned char)(saved >> 16);
				*o++ = (unsigned char)(saved >> 8);
				*o++ = (unsigned char)saved;
				saved = 0;
				k = 0;
			}
		} else if (p[-1] == '=') {
			/* The end, as in count_base64(). */
			if (k > 1) {
				saved <<= 6 * (4 - k);
				*o++ = (unsigned char)(saved >> 16);
				if (k > 2)
					*o++ = (unsigned char)(saved >> 8);
			}
			k = -1;
			break;
		}
	}
	e->state = k;
	e->save = saved;
	return (size_t)(o - out);
}

/* A hex digit's value, after toupper(), as GMime computes it. */
static int
qp_hex(int c)
{
	return (c >= 'A' ? c - 'A' + 10 : c - '0') & 0x0f;
}

/*
 * g_mime_encoding_quoted_decode_step, a run between escapes copied at
 * once (out NULL: only counted): a byte is one, but '=' starts an
 * escape.  "=\n" and "=\r\n" are soft breaks (none), "=XY" of two hex
 * digits is one byte, any other "=ab" is kept as its three; an escape
 * cut by the end of the part is lost.  The escape's state carries over
 * from one chunk to the next as GMime's does (state 1: after '='; 2:
 * after "=a", a in save; a decoded "=XY" leaves toupper('X') in save).
 * isxdigit() and toupper() as GMime calls them.
 */
static size_t
step_quoted(GMimeEncoding *e, const unsigned char *p, size_t n,
    unsigned char *out)
{
	const unsigned char *end = p + n, *eq;
	unsigned char c;
	size_t len = 0, run;
	int hi;

	while (p < end) {
		switch (e->state) {
		case 0:
			eq = memchr(p, '=', (size_t)(end - p));
			run = (size_t)((eq ? eq : end) - p);
			if (out != NULL)
				memcpy(out + len, p, run);
			len += run;
			p += run;
			if (eq) {
				p++;
				e->state = 1;
			}
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
			if (isxdigit(c) && isxdigit((int)e->save)) {
				hi = toupper((int)e->save);
				if (out != NULL)
					out[len] = (unsigned char)(qp_hex(hi) <<
					    4 | qp_hex(toupper(c)));
				len++;
				e->save = (guint32)hi;
			} else if (c != '\n' || e->save != '\r') {
				if (out != NULL) {
					out[len] = '=';
					out[len + 1] = (unsigned char)e->save;
					out[len + 2] = c;
				}
				len += 3;
			}
			e->state = 0;
			break;
		}
	}
	return len;
}

size_t
mime_decode_step(GMimeEncoding *e, const char *in, size_t n, char *out)
{
	const unsigned char *p = (const unsigned char *)in;

	switch (e->encoding) {
	case GMIME_CONTENT_ENCODING_BASE64:
		return step_base64(e, p, n, (unsigned char *)out);
	case GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE:
		return step_quoted(e, p, n, (unsigned char *)out);
	default:
		memcpy(out, in, n);
		return n;
	}
}

size_t
mime_decode_count(GMimeEncoding *e, const char *in, size_t n)
{
	const unsigned char *p = (const unsigned char *)in;

	switch (e->encoding) {
	case GMIME_CONTENT_ENCODING_BASE64:
		return count_base64(e, p, n);
	case GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE:
		return step_quoted(e, p, n, NULL);
	default:
		return n;
	}
}

/* Inputs whose decoding tells GMime's decoders apart: 3.2.14's base64
 * step, for one, reads past an '=' (see count_base64()). */
static const char *const own_probes[] = { "QUJD=QUJD", "QUI=", "QQ==",
	"QU=JD", "Q=", "QUJDQ", "Q U\r\nJ\nD*Q", "YWJj/+9=", "+/09az",
	"a=3D=\r\nb=\nc=ZZ=4x=", "=\r", "x=A", "=e9=C3=a9=\n", "=4g=g4" };

/* One step of a probe's, GMime's and this file's: the same bytes, the
 * same state after it; the count the same length. */
static int
own_same(GMimeEncoding *d, GMimeEncoding *o, GMimeEncoding *c,
    const char *s, size_t n)
{
	char want[64], got[64];
	size_t wn, gn;

	wn = n > 0 ? g_mime_encoding_step(d, s, n, want) :
	    g_mime_encoding_flush(d, "", 0, want);
	gn = mime_decode_step(o, s, n, got);
	return wn == gn && memcmp(want, got, wn) == 0 &&
	    d->state == o->state && d->save == o->save &&
	    mime_decode_count(c, s, n) == wn;
}

/* The counters and decoders agree with the library's decoders on the
 * probes, in one step and split in two, and its flush: else GMime's
 * decoders are used and sizes decoded, not counted. */
static void
own_check(void)
{
	static const GMimeContentEncoding encs[] = {
	    GMIME_CONTENT_ENCODING_BASE64,
	    GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE };

	own_exact = 1;
	for (size_t i = 0; i < sizeof(encs) / sizeof(encs[0]); i++)
		for (size_t j = 0; j < sizeof(own_probes) /
		    sizeof(own_probes[0]); j++) {
			const char *s = own_probes[j];
			size_t n = strlen(s), cut = n / 2;
			GMimeEncoding d, o, c;

			g_mime_encoding_init_decode(&d, encs[i]);
			g_mime_encoding_init_decode(&o, encs[i]);
			g_mime_encoding_init_decode(&c, encs[i]);
			if (!own_same(&d, &o, &c, s, cut) ||
			    !own_same(&d, &o, &c, s + cut, n - cut) ||
			    !own_same(&d, &o, &c, "", 0))
				own_exact = 0;
		}
}

int
mime_decode_own(void)
{
	pthread_once(&own_once, own_check);
	return own_exact;
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
 * g_mime_encoding_flush at the end), or this file's steps that decode
 * as it does (mime_decode_own()), or as it is when it has no transfer
 * encoding to undo.  Not uuencode: GMime's filter looks for the "begin"
 * line itself. */
static void
read_stepped(GMimeStream *raw, GMimeContentEncoding enc, struct reading *r)
{
	GMimeEncoding e;
	char in[FILTER_READ], out[READ_CHUNK];
	int coded = enc == GMIME_CONTENT_ENCODING_BASE64 ||
	    enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
	int own = coded && mime_decode_own();
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
		if (own && r->capped && buf_len(r->b) >= r->max) {
			if (n <= 0)
				return;
			*r->total += mime_decode_count(&e, in, (size_t)n);
			continue;
		}
		/* Decoded output never outgrows its input by more than
		 * a few bytes (g_mime_encoding_outlen() bounds it). */
		if (own)
			m = mime_decode_step(&e, in, n > 0 ? (size_t)n : 0,
			    out);
		else
			m = n > 0 ? g_mime_encoding_step(&e, in, (size_t)n,
			    out) : g_mime_encoding_flush(&e, "", 0, out);
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
