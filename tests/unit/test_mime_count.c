// sources:
/*
 * test_mime_count.c - an attachment's decoded size counted without
 * decoding it (mime_decode.h: mime_decode_count()), and the decoding
 * steps that stand in for GMime's (mime_decode_step()), against GMime's
 * own decoders: the step itself, chunk by chunk, on random base64 and
 * quoted-printable with junk bytes, '=' anywhere, odd line lengths,
 * cut quartets and escapes, CRLF and LF; then the walk's struct
 * mime_attach.size against the filter stream's (mime_limits.gmime_only)
 * for attachments sniffed as not text, whose tail is only counted, with
 * the '=' just before and after each 4 KiB read of the raw content.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gmime/gmime.h>

#include "mime_decode.h"
#include "mime_walk.h"

static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static unsigned
rnd(unsigned n)
{
	rnd_state = rnd_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned)(rnd_state >> 33) % n;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    "0123456789+/";

/* Random base64 of len bytes: lines of line sextets (CRLF or LF), junk
 * bytes now and then, an '=' with probability 1/eq_odds per byte. */
static void
rnd_base64(char *s, size_t len, unsigned line, int crlf, unsigned eq_odds)
{
	static const char junk[] = "\r\n \t*-.!\0\377\200~";

	for (size_t i = 0, col = 0; i < len; i++) {
		if (line && col == line) {
			if (crlf && i + 1 < len)
				s[i++] = '\r';
			s[i] = '\n';
			col = 0;
			continue;
		}
		col++;
		if (eq_odds && rnd(eq_odds) == 0)
			s[i] = '=';
		else if (rnd(50) == 0)
			s[i] = junk[rnd(sizeof(junk) - 1)];
		else if (rnd(100) == 0)
			s[i] = (char)rnd(256);
		else
			s[i] = B64[rnd(64)];
	}
}

/* Random quoted-printable: escapes good and bad, soft breaks, both line
 * ends, bytes of every kind (any of them after an '=' too). */
static void
rnd_quoted(char *s, size_t len)
{
	static const char *const bits[] = { "=", "=3D", "=0a", "=\r\n", "=\n",
	    "=\r", "=G1", "=1", "=\r=", "==41", "\r\n", "\n", "abc", " \t",
	    "\377\200", "=4", "=a=", "\0" };

	for (size_t i = 0; i < len; ) {
		const char *b = bits[rnd(sizeof(bits) / sizeof(bits[0]))];
		size_t n = b[0] ? strlen(b) : 1;

		if (rnd(4) == 0) {	/* any byte */
			s[i++] = (char)rnd(256);
			continue;
		}
		for (size_t k = 0; k < n && i < len; k++)
			s[i++] = b[k];
	}
}

/*
 * GMime's step, this file's decoding step and the count over s[0..len)
 * in chunks of chunk bytes, then the flush: the same bytes and state
 * after each step, the same length in all.  With decoded, the first that
 * many bytes decoded by GMime in the counter's state too, as
 * mime_decode.c does before it starts counting.
 */
static void
same_count(GMimeContentEncoding enc, const char *s, size_t len,
    size_t chunk, size_t decoded)
{
	GMimeEncoding d, o, c;
	char *out = malloc(len + 16), *mine = malloc(len + 16);
	size_t want = 0, got = 0, wn, on;

	assert_non_null(out);
	assert_non_null(mine);
	g_mime_encoding_init_decode(&d, enc);
	g_mime_encoding_init_decode(&o, enc);
	g_mime_encoding_init_decode(&c, enc);
	for (size_t at = 0; at < len; at += chunk) {
		size_t n = len - at < chunk ? len - at : chunk;

		want += wn = g_mime_encoding_step(&d, s + at, n, out);
		on = mime_decode_step(&o, s + at, n, mine);
		assert_int_equal(on, wn);
		assert_memory_equal(mine, out, wn);
		assert_int_equal(o.state, d.state);
		assert_int_equal(o.save, d.save);
		if (at + n <= decoded)
			got += g_mime_encoding_step(&c, s + at, n, out);
		else
			got += mime_decode_count(&c, s + at, n);
	}
	want += wn = g_mime_encoding_flush(&d, "", 0, out);
	assert_int_equal(mime_decode_step(&o, "", 0, mine), wn);
	got += mime_decode_count(&c, "", 0);
	if (got != want)
		print_message("enc %d len %zu chunk %zu decoded %zu: %.*s\n",
		    (int)enc, len, chunk, decoded, (int)(len < 200 ? len : 200),
		    s);
	assert_int_equal(got, want);
	free(out);
	free(mine);
}

static void
same_all_chunks(GMimeContentEncoding enc, const char *s, size_t len)
{
	static const size_t chunks[] = { 1, 2, 3, 4, 5, 7, 76, 4096, 1 << 20 };

	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		same_count(enc, s, len, chunks[i], 0);
		same_count(enc, s, len, chunks[i], len / 2);
	}
}

static void
test_library_counted(void **state)
{
	/* Else the walk uses GMime's steps and decodes sizes: a GMime
	 * whose decoders changed needs these changed too. */
	assert_int_equal(mime_decode_own(), 1);
}

/* Hand-made cases: padding, '=' in the middle, cut quartets, junk. */
static void
test_base64_cases(void **state)
{
	static const char *const cases[] = { "", "=", "==", "Q", "QQ", "QQ=",
	    "QQ==", "QUI", "QUI=", "QUJD", "QUJD=", "QUJDQ=", "QUJDQUI=",
	    "QU=JD", "QUJD=QUJD", "Q=UJD", "QUJD\r\nQUJD\r\n", "QUJD\nQQ=\n=",
	    "*Q*U*J*D*", "QUJD QUJD\tQUJD", "\377\200QUJD", "QQ==QUJD",
	    "QUJ\r\nDQUJ\r\nD==", "====" };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		same_all_chunks(GMIME_CONTENT_ENCODING_BASE64, cases[i],
		    strlen(cases[i]));
}

static void
test_quoted_cases(void **state)
{
	static const char *const cases[] = { "", "=", "=3", "=3D", "=3d",
	    "=\n", "=\r", "=\r\n", "a=\r\nb", "=G1", "=1G", "==41", "=\r=",
	    "caf=C3=A9\r\n", "x=", "x=4", "trailing =20\r\n", "=\n=\n=",
	    "\377=FF\200" };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		same_all_chunks(GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE,
		    cases[i], strlen(cases[i]));
}

static void
test_base64_random(void **state)
{
	static const unsigned lines[] = { 0, 1, 3, 76, 77, 75, 998 };
	char *s = malloc(20000);

	assert_non_null(s);
	for (int round = 0; round < 300; round++) {
		size_t len = rnd(4) == 0 ? rnd(16) : rnd(20000);

		rnd_base64(s, len, lines[rnd(sizeof(lines) / sizeof(lines[0]))],
		    rnd(2), rnd(3) == 0 ? 0 : 1 + rnd(8000));
		same_all_chunks(GMIME_CONTENT_ENCODING_BASE64, s, len);
	}
	free(s);
}

/* One '=' at every offset near the first 4 KiB boundaries, the step
 * taking 4 KiB chunks as mime_decode.c's reads do. */
static void
test_base64_boundaries(void **state)
{
	char *s = malloc(3 * 4096 + 64);

	assert_non_null(s);
	for (size_t at = 4096 - 8; at < 3 * 4096 + 8; at++) {
		if (at == 4096 + 8)
			at = 2 * 4096 - 8;
		rnd_base64(s, 3 * 4096 + 64, at % 7 == 0 ? 0 : 76, at & 1, 0);
		s[at] = '=';
		if (at % 3 == 0)
			s[at + 1] = '=';
		for (size_t decoded = 0; decoded <= 4096; decoded += 4096)
			same_count(GMIME_CONTENT_ENCODING_BASE64, s,
			    3 * 4096 + 64, 4096, decoded);
	}
	free(s);
}

static void
test_quoted_random(void **state)
{
	char *s = malloc(20000);

	assert_non_null(s);
	for (int round = 0; round < 300; round++) {
		size_t len = rnd(4) == 0 ? rnd(16) : rnd(20000);

		rnd_quoted(s, len);
		same_all_chunks(GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE, s, len);
	}
	free(s);
}

/* What a walk finds of msg[0..len): the only attachment's size and
 * sniffed type. */
static size_t
attachment_size(const char *msg, size_t len, int gmime_only, char **sniffed)
{
	struct mime_limits lim = mime_limits_default;
	struct mime_walk w;
	size_t size;

	lim.no_magic = 1;
	lim.gmime_only = gmime_only;
	mime_walk(msg, len, &lim, &w);
	assert_int_equal(w.natt, 1);
	size = w.att[0].size;
	if (sniffed)
		*sniffed = strdup(w.att[0].sniffed);
	mime_walk_free(&w);
	return size;
}

/*
 * Attachments sniffed as not text (their first 8 KiB decoded are not),
 * the rest only counted: the size is the filter stream's.  The body
 * opens with binary bytes, then random content with an '=' near a
 * 4 KiB read of the raw content, or none; empty parts too.
 */
static void
test_walk_sizes(void **state)
{
	static const char head[] = "From: a@example.com\r\n"
	    "Content-Type: multipart/mixed; boundary=\"=-b-=\"\r\n\r\n"
	    "--=-b-=\r\nContent-Type: application/octet-stream\r\n"
	    "Content-Transfer-Encoding: %s\r\n\r\n";
	static const char lead64[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"
	    "Hh8gISIjJCUmJygpKissLS4vMDEyMzQ1\r\n";
	size_t cap = 64 << 10;
	char *m = malloc(cap + 256), *sniffed;

	assert_non_null(m);
	for (int round = 0; round < 120; round++) {
		int qp = round % 4 == 3, crlf = round & 1;
		size_t n = (size_t)snprintf(m, 256, head, qp ?
		    "quoted-printable" : "base64"), body = n, want, got;
		size_t len = round < 4 ? 0 : 12000 + rnd(40000);

		while (!qp && len > 0 && n - body < 11000) {
			memcpy(m + n, lead64, sizeof(lead64) - 1);
			n += sizeof(lead64) - 1;
		}
		while (qp && len > 0 && n - body < 11000)
			n += (size_t)sprintf(m + n, "=00=01=FF%s",
			    crlf ? "=\r\n" : "=\n");
		if (qp)
			rnd_quoted(m + n, len);
		else
			rnd_base64(m + n, len, (unsigned)rnd(120), crlf, 0);
		if (!qp && len > 0 && round % 3 != 0) {
			/* '=' near a 4 KiB read of the raw content. */
			size_t at = body + 4096 * (3 + rnd(8)) - 4 + rnd(8);

			if (at < n + len)
				m[at] = '=';
		}
		n += len;
		n += (size_t)sprintf(m + n, "\r\n--=-b-=--\r\n");
		want = attachment_size(m, n, 1, NULL);
		got = attachment_size(m, n, 0, &sniffed);
		if (len > 0)
			assert_string_equal(sniffed, "application/octet-stream");
		free(sniffed);
		if (got != want)
			print_message("round %d: %zu, GMime %zu\n", round, got,
			    want);
		assert_int_equal(got, want);
	}
	free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_library_counted),
		cmocka_unit_test(test_base64_cases),
		cmocka_unit_test(test_quoted_cases),
		cmocka_unit_test(test_base64_random),
		cmocka_unit_test(test_base64_boundaries),
		cmocka_unit_test(test_quoted_random),
		cmocka_unit_test(test_walk_sizes),
	};

	mime_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
