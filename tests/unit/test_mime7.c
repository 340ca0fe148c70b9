// sources: gwd/mime7.c
/*
 * test_mime7.c - the 8BITMIME downgrade: what becomes quoted-printable,
 * what is walked, what is left alone, and what cannot be converted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mime7.h"

static const char *
down(const char *in, int flags, const char **err)
{
	static struct buf out;

	buf_free(&out);
	buf_init(&out, 1 << 20);
	*err = NULL;
	if (mime7_downgrade(in, strlen(in), flags, &out, err) == -1)
		return NULL;
	return buf_cstr(&out);
}

static void
test_plain_text_becomes_qp(void **state)
{
	const char *err, *o;

	o = down("From: a@example.com\r\nSubject: x\r\n\r\n"
	    "caf\xc3\xa9 = ok \r\n.dot\r\n", 0, &err);
	assert_non_null(o);
	assert_string_equal(o, "From: a@example.com\r\nSubject: x\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=unknown-8bit\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "caf=C3=A9 =3D ok=20\r\n.dot\r\n");
	assert_false(mime7_is_8bit(o, strlen(o)));
}

static void
test_declared_8bit_part(void **state)
{
	const char *err, *o;

	o = down("MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n"
	    "DKIM-Signature: v=1; d=example.com;\r\n b=abc\r\n\r\n"
	    "\xc3\xa9t\xc3\xa9\r\n", MIME7_STRIP_DKIM, &err);
	assert_non_null(o);
	assert_string_equal(o, "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "=C3=A9t=C3=A9\r\n");
}

static void
test_multipart_walked(void **state)
{
	const char *err, *o;

	o = down("MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\n"
	    "preamble\r\n--b1\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n\r\n"
	    "\xc3\xa9\r\n--b1\r\n"
	    "Content-Type: text/plain\r\n\r\n"
	    "ascii\r\n--b1--\r\nepilogue\r\n", 0, &err);
	assert_non_null(o);
	assert_string_equal(o, "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
	    "preamble\r\n--b1\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "=C3=A9\r\n--b1\r\n"
	    "Content-Type: text/plain\r\n\r\n"
	    "ascii\r\n--b1--\r\nepilogue\r\n");
}

/* Long lines are cut by soft breaks at 76; a continuation never starts
 * with '-' (it could read as a boundary). */
static void
test_soft_breaks(void **state)
{
	char in[400], want[600];
	const char *err, *o, *p;

	snprintf(in, sizeof(in), "Subject: l\r\n\r\n\xc3\xa9%s--x%s\r\n",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	o = down(in, 0, &err);
	assert_non_null(o);
	p = strstr(o, "\r\n\r\n") + 4;
	for (const char *l = p; *l; ) {
		const char *e = strstr(l, "\r\n");

		assert_non_null(e);
		assert_true(e - l <= 76);
		assert_true(l == p || *l != '-');
		l = e + 2;
	}
	snprintf(want, sizeof(want), "=C3=A9%.69s=\r\n", in + 16);
	assert_memory_equal(p, want, strlen(want));
	assert_non_null(strstr(o, "=\r\n=2D-x"));
}

static void
test_seven_bit_untouched(void **state)
{
	static const char in[] = "DKIM-Signature: v=1; b=x\r\nSubject: a\r\n"
	    "\r\nplain\r\n";
	const char *err, *o;

	o = down(in, 0, &err);
	assert_string_equal(o, in);
	o = down(in, MIME7_STRIP_DKIM, &err);
	assert_string_equal(o, "Subject: a\r\n\r\nplain\r\n");
	assert_true(mime7_has_dkim(in, strlen(in)));
	assert_false(mime7_has_dkim("Subject: a\r\n\r\nDKIM-Signature: x\r\n",
	    34));
}

static void
test_cannot_convert(void **state)
{
	static const struct {
		const char	*in;
		const char	*why;
	} cases[] = {
		{ "Subject: caf\xc3\xa9\r\n\r\nx\r\n", "8-bit header" },
		{ "Content-Transfer-Encoding: base64\r\n\r\n\xc3\xa9\r\n",
		    "base64" },
		{ "MIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n\r\n"
		    "\xc3\xa9\r\n", "without a boundary" },
		{ "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		    "\xc3\xa9\r\n--b\r\n\r\nx\r\n--b--\r\n", "outside" },
		{ "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		    "--b\r\nContent-Type: text/plain; name=\"\xc3\xa9\"\r\n\r\n"
		    "\xc3\xa9\r\n--b--\r\n", "8-bit header" },
	};
	const char *err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (down(cases[i].in, 0, &err) != NULL)
			fail_msg("case %zu converted", i);
		if (strstr(err, cases[i].why) == NULL)
			fail_msg("case %zu: %s", i, err);
	}
}

/* message/rfc822 is walked into; too deep a nesting is refused. */
static void
test_nesting(void **state)
{
	char in[8192];
	size_t n = 0;
	const char *err, *o;

	o = down("Content-Type: message/rfc822\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\n"
	    "Subject: inner\r\n\r\n\xc3\xa9\r\n", 0, &err);
	assert_non_null(o);
	assert_string_equal(o, "Content-Type: message/rfc822\r\n"
	    "MIME-Version: 1.0\r\n\r\nSubject: inner\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=unknown-8bit\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A9\r\n");
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(in + n, sizeof(in) - n,
		    "Content-Type: message/rfc822\r\n\r\n");
	snprintf(in + n, sizeof(in) - n, "\r\n\xc3\xa9\r\n");
	assert_null(down(in, 0, &err));
	assert_non_null(strstr(err, "too deep"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_text_becomes_qp),
		cmocka_unit_test(test_declared_8bit_part),
		cmocka_unit_test(test_multipart_walked),
		cmocka_unit_test(test_soft_breaks),
		cmocka_unit_test(test_seven_bit_untouched),
		cmocka_unit_test(test_cannot_convert),
		cmocka_unit_test(test_nesting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
