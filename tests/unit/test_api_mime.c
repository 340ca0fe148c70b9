// sources: gwd/api_mime.c gwd/mime7.c
/*
 * test_api_mime.c - the writer of JSON send API messages: the transfer
 * encoding each text gets, CRLF lines within 998 octets, folding that
 * unfolds to the value, RFC 2047 encoded-words for 8-bit header text,
 * and boundaries that no content holds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "api_priv.h"
#include "base64.h"

static struct buf out;

static const char *
cstr(void)
{
	return buf_cstr(&out);
}

static void
reset(void)
{
	buf_free(&out);
	buf_init(&out, 1 << 24);
}

/* Every line ends in CRLF (no bare CR or LF) and holds at most max
 * octets before it; the number of lines. */
static int
lines_ok(const char *m, size_t max)
{
	size_t col = 0;
	int n = 0;

	for (const char *p = m; *p; p++) {
		if (*p == '\r') {
			assert_int_equal(p[1], '\n');
			p++;
			col = 0;
			n++;
			continue;
		}
		assert_int_not_equal(*p, '\n');
		col++;
		assert_true(col <= max);
	}
	assert_int_equal(col, 0);	/* the last line ended */
	return n;
}

static char *
repeat(const char *s, size_t times)
{
	size_t n = strlen(s);
	char *r = malloc(n * times + 1);

	for (size_t i = 0; i < times; i++)
		memcpy(r + i * n, s, n);
	r[n * times] = '\0';
	return r;
}

static void
test_choose(void **state)
{
	char line[1000];
	int ascii;

	assert_int_equal(api_mime_choose("a\nb\r\nc\r", 7, &ascii),
	    API_CTE_7BIT);
	assert_true(ascii);
	memset(line, 'x', sizeof(line));
	assert_int_equal(api_mime_choose(line, 998, &ascii), API_CTE_7BIT);
	assert_int_equal(api_mime_choose(line, 999, &ascii), API_CTE_QP);
	assert_true(ascii);
	assert_int_equal(api_mime_choose("caf\xc3\xa9 au lait\n", 14,
	    &ascii), API_CTE_QP);
	assert_false(ascii);
	/* Cyrillic: every letter two 8-bit bytes. */
	assert_int_equal(api_mime_choose("\xd0\xbf\xd1\x80\xd0\xb8 \xd0\xb2",
	    9, &ascii), API_CTE_BASE64);
	assert_false(ascii);
}

static void
test_text_crlf_and_qp_lines(void **state)
{
	char *t;

	reset();
	assert_int_equal(api_mime_text(&out, "a\nb\rc\r\nd", 8, API_CTE_7BIT),
	    0);
	assert_string_equal(cstr(), "a\r\nb\r\nc\r\nd");
	reset();
	assert_int_equal(api_mime_text(&out, "x= \n\xc3\xa9\n", 7,
	    API_CTE_QP), 0);
	assert_string_equal(cstr(), "x=3D=20\r\n=C3=A9\r\n");
	/* A long line is cut by soft breaks within 76. */
	reset();
	t = repeat("caf\xc3\xa9 ", 400);
	assert_int_equal(api_mime_text(&out, t, strlen(t), API_CTE_QP), 0);
	assert_int_equal(buf_putc(&out, '\r'), 0);
	assert_int_equal(buf_putc(&out, '\n'), 0);
	assert_true(lines_ok(cstr(), 76) > 40);
	free(t);
}

static void
test_base64_canonical_text(void **state)
{
	unsigned char dec[64];
	size_t n;

	reset();
	assert_int_equal(api_mime_text(&out, "\xd0\xbf\n\xd0\xb8\n", 6,
	    API_CTE_BASE64), 0);
	assert_int_equal(base64_decode(buf_ptr(&out), buf_len(&out), dec,
	    sizeof(dec), &n), 0);
	assert_int_equal(n, 8);
	assert_memory_equal(dec, "\xd0\xbf\r\n\xd0\xb8\r\n", 8);
	/* 76 characters a line. */
	reset();
	memset(dec, 0xff, sizeof(dec));
	assert_int_equal(api_mime_base64(&out, dec, 60), 0);
	assert_int_equal(strcspn(cstr(), "\r"), 76);
	assert_int_equal(strlen(cstr()), 76 + 2 + 4);
}

/* The value of field `name` in m, unfolded. */
static char *
unfolded(const char *m, const char *name)
{
	size_t nl = strlen(name);
	char *v = malloc(strlen(m) + 1), *o = v;
	const char *p;

	assert_int_equal(strncmp(m, name, nl), 0);
	assert_int_equal(m[nl], ':');
	for (p = m + nl + 1; *p; p++) {
		if (p[0] == '\r' && p[1] == '\n') {
			if (p[2] != ' ' && p[2] != '\t')
				break;
			p++;
			continue;
		}
		*o++ = *p;
	}
	*o = '\0';
	return v;
}

static void
test_field_folds_and_unfolds(void **state)
{
	char *s = repeat("word ", 60), *v;

	s[strlen(s) - 1] = '\0';
	reset();
	assert_int_equal(api_mime_field(&out, "Subject", s), 0);
	assert_true(lines_ok(cstr(), 78) > 3);
	v = unfolded(cstr(), "Subject");
	assert_string_equal(v + 1, s);
	free(v);
	free(s);
}

/* Decode the B encoded-words of v (one space between them). */
static void
assert_decodes(const char *v, const char *want)
{
	char got[4096], *p;
	size_t n = 0, k;

	while ((p = strstr(v, "=?utf-8?b?")) != NULL) {
		const char *e = strstr(p + 10, "?=");

		assert_non_null(e);
		assert_true(e - p + 2 <= 75);
		assert_int_equal(base64_decode(p + 10, (size_t)(e - p - 10),
		    got + n, sizeof(got) - n, &k), 0);
		/* Each word whole UTF-8 characters. */
		assert_int_not_equal((unsigned char)got[n] & 0xc0, 0x80);
		n += k;
		v = e + 2;
	}
	got[n] = '\0';
	assert_string_equal(got, want);
}

static void
test_field_8bit_and_long_words_encoded(void **state)
{
	char *s = repeat("h\xc3\xa9llo w\xc3\xb6rld ", 20), *v;
	char *word = repeat("x", 2000);

	reset();
	assert_int_equal(api_mime_field(&out, "Subject", s), 0);
	lines_ok(cstr(), 78);
	v = unfolded(cstr(), "Subject");
	assert_decodes(v, s);
	free(v);
	/* An ASCII word too long for a line: encoded-words too. */
	reset();
	assert_int_equal(api_mime_field(&out, "X-Long", word), 0);
	lines_ok(cstr(), 998);
	v = unfolded(cstr(), "X-Long");
	assert_decodes(v, word);
	free(v);
	free(word);
	free(s);
}

static void
test_addr_field(void **state)
{
	reset();
	assert_int_equal(api_mime_addr_field(&out, "To",
	    "Ann <ann@dest.test>, (c) b@dest.test"), 0);
	assert_string_equal(cstr(), "To: Ann <ann@dest.test>, (c) "
	    "b@dest.test\r\n");
	/* 8-bit: each mailbox rewritten, names quoted or encoded, the
	 * UTF-8 address as it is (RFC 6532). */
	reset();
	assert_int_equal(api_mime_addr_field(&out, "To",
	    "\"Doe, J\" <a@x.test>, Zo\xc3\xab  (her) Q <z@x.test>, "
	    "j\xc3\xb6@x.test"), 0);
	assert_string_equal(cstr(), "To: \"Doe, J\" <a@x.test>, "
	    "=?utf-8?b?Wm/DqyBR?= <z@x.test>, j\xc3\xb6@x.test\r\n");
}

static void
test_message_boundaries_and_lines(void **state)
{
	char big[3000];
	const char *to[] = { "Ann <ann@dest.test>" };
	struct api_hdr h[] = { { "X-Campaign", "c42" } };
	unsigned char bin[5000];
	struct api_att att[] = { { "r\xc3\xa9sum\xc3\xa9 \"1\".pdf",
	    "application/pdf", bin, sizeof(bin) } };
	struct api_draft d = { .from = "App <app@example.com>", .subject =
	    "hi", .to = to, .nto = 1, .hdr = h, .nhdr = 1, .att = att,
	    .natt = 1 };
	char err[200], b[64], *m, *p;
	int nb = 0;

	/* A text that holds the boundaries the writer would make next. */
	memset(big, 'y', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	for (int i = 0; i < 4; i++) {
		char l[32];

		snprintf(l, sizeof(l), "\n--=_gw_%016x\n", i);
		memcpy(big + i * 100, l, strlen(l));
	}
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (unsigned char)(i * 7);
	d.text = big;
	d.html = "<p>caf\xc3\xa9</p>";
	reset();
	assert_int_equal(api_mime_write(&d, &out, err, sizeof(err)), 0);
	m = (char *)cstr();
	lines_ok(m, 998);
	assert_non_null(strstr(m, "\r\nMIME-Version: 1.0\r\n"));
	assert_non_null(strstr(m, "filename*=utf-8''r%C3%A9sum%C3%A9%20"
	    "%221%22.pdf\r\n"));
	assert_non_null(strstr(m, "charset=us-ascii\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n"));
	/* Every boundary parameter: its delimiters are the only lines that
	 * start with it. */
	for (p = m; (p = strstr(p, "boundary=\"")) != NULL; nb++) {
		size_t bl = strcspn(p + 10, "\"");
		const char *q;
		int n = 0;

		snprintf(b, sizeof(b), "\r\n--%.*s", (int)bl, p + 10);
		for (q = m; (q = strstr(q, b)) != NULL; q += strlen(b))
			n++;
		assert_int_equal(n, 3);
		assert_null(strstr(big, b + 4));
		p += 10;
	}
	assert_int_equal(nb, 2);
}

static void
test_long_display_name_encoded(void **state)
{
	const char *to[] = { "a@dest.test" };
	char *name = repeat("n", 1200), from[1300], err[200];
	struct api_draft d = { .from = from, .to = to, .nto = 1,
	    .text = "x" };

	snprintf(from, sizeof(from), "\"%s\" <a@example.com>", name);
	reset();
	/* A long display name is encoded (words of 39 bytes). */
	assert_int_equal(api_mime_write(&d, &out, err, sizeof(err)), 0);
	lines_ok(cstr(), 998);
	free(name);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_choose),
		cmocka_unit_test(test_text_crlf_and_qp_lines),
		cmocka_unit_test(test_base64_canonical_text),
		cmocka_unit_test(test_field_folds_and_unfolds),
		cmocka_unit_test(test_field_8bit_and_long_words_encoded),
		cmocka_unit_test(test_addr_field),
		cmocka_unit_test(test_message_boundaries_and_lines),
		cmocka_unit_test(test_long_display_name_encoded),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);

	buf_free(&out);
	return r;
}
