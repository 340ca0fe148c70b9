// sources:
/*
 * test_unsubtok.c - one-click unsubscribe tokens: a round trip, and
 * every forgery or mangled spelling refused (common/unsubtok.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "unsubtok.h"

static const unsigned char key[UNSUBTOK_KEY_LEN] = "0123456789abcdef0123456789abcde";
static const unsigned char key2[UNSUBTOK_KEY_LEN] = "another key, rotated, 32 bytes!";

static void
test_round_trip(void **state)
{
	static const struct { int64_t sub; const char *rcpt; } cases[] = {
		{ 1, "a@b" },
		{ 127, "user@example.com" },
		{ 128, "\"quoted local\"@example.com" },
		{ INT64_MAX, "x@y.test" },
		{ 300, "\xc3\xa9" "l\xc3\xa8" "ve@\xc3\xa9" "cole.test" },
	};
	char tok[UNSUBTOK_MAX];
	struct unsubtok t;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = unsubtok_encode(key, sizeof(key), cases[i].sub,
		    cases[i].rcpt, tok, sizeof(tok));

		assert_true(n > 0);
		assert_int_equal(strlen(tok), (size_t)n);
		/* URL-safe as it stands: nothing to escape in a path. */
		assert_int_equal(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789-_"), (size_t)n);
		assert_int_equal(unsubtok_decode(tok, (size_t)n, &t), 0);
		assert_true(t.subaccount == cases[i].sub);
		assert_string_equal(t.rcpt, cases[i].rcpt);
		assert_int_equal(unsubtok_verify(&t, key, sizeof(key)), 1);
		assert_int_equal(unsubtok_verify(&t, key2, sizeof(key2)), 0);
	}
}

static void
test_longest(void **state)
{
	char rcpt[UNSUBTOK_RCPT_MAX + 2], tok[UNSUBTOK_MAX];
	struct unsubtok t;

	memset(rcpt, 'a', sizeof(rcpt));
	rcpt[10] = '@';
	rcpt[UNSUBTOK_RCPT_MAX] = '\0';
	assert_true(unsubtok_encode(key, sizeof(key), INT64_MAX, rcpt, tok,
	    sizeof(tok)) > 0);
	assert_int_equal(unsubtok_decode(tok, strlen(tok), &t), 0);
	assert_int_equal(unsubtok_verify(&t, key, sizeof(key)), 1);
	/* One byte over, or no room for it: refused, nothing written. */
	rcpt[UNSUBTOK_RCPT_MAX] = 'a';
	rcpt[UNSUBTOK_RCPT_MAX + 1] = '\0';
	assert_int_equal(unsubtok_encode(key, sizeof(key), 1, rcpt, tok,
	    sizeof(tok)), -1);
	assert_int_equal(unsubtok_encode(key, sizeof(key), 1, "a@b", tok, 8),
	    -1);
}

static void
test_encode_refuses(void **state)
{
	char tok[UNSUBTOK_MAX];

	assert_int_equal(unsubtok_encode(key, sizeof(key), 0, "a@b", tok,
	    sizeof(tok)), -1);
	assert_int_equal(unsubtok_encode(key, sizeof(key), -5, "a@b", tok,
	    sizeof(tok)), -1);
	assert_int_equal(unsubtok_encode(key, sizeof(key), 1, "", tok,
	    sizeof(tok)), -1);
	assert_int_equal(unsubtok_encode(key, sizeof(key), 1, "no-at", tok,
	    sizeof(tok)), -1);
	assert_int_equal(unsubtok_encode(key, sizeof(key), 1, "a\r\n@b", tok,
	    sizeof(tok)), -1);
}

/* Raw bytes as a TOKEN (with a MAC under key), to build odd ones. */
static void
raw_token(const unsigned char *raw, size_t n, char *out, size_t outsz)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	    "qrstuvwxyz0123456789-_";
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | raw[i];
		for (bits += 8; bits >= 6; bits -= 6)
			out[o++] = a[(acc >> (bits - 6)) & 63];
	}
	if (bits)
		out[o++] = a[(acc << (6 - bits)) & 63];
	assert_true(o < outsz);
	out[o] = '\0';
}

static void
test_decode_refuses(void **state)
{
	char tok[UNSUBTOK_MAX], bad[UNSUBTOK_MAX + 8];
	struct unsubtok t;
	size_t n;
	static const char *const junk[] = {
		"", "A", "AAAA", "AAAA=", "AA==", "a b", "%41%41",
		"AQFhQGIAAAAAAAAAAAAAAAAAAA==",	/* padding */
	};
	/* version 1, id 1 as 0x81 0x00 (not minimal), "a@b", a MAC */
	static const unsigned char nonmin[] = { 1, 0x81, 0x00, 'a', '@', 'b',
	    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	static const unsigned char zero[] = { 1, 0x00, 'a', '@', 'b',
	    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	static const unsigned char v2[] = { 2, 0x01, 'a', '@', 'b',
	    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	static const unsigned char ctl[] = { 1, 0x01, 'a', '\n', '@', 'b',
	    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	static const unsigned char longid[] = { 1, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 'a', '@', 'b',
	    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	static const struct { const unsigned char *p; size_t n; } raws[] = {
		{ nonmin, sizeof(nonmin) }, { zero, sizeof(zero) },
		{ v2, sizeof(v2) }, { ctl, sizeof(ctl) },
		{ longid, sizeof(longid) },
	};

	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		assert_int_equal(unsubtok_decode(junk[i], strlen(junk[i]), &t),
		    -1);
	for (size_t i = 0; i < sizeof(raws) / sizeof(raws[0]); i++) {
		raw_token(raws[i].p, raws[i].n, bad, sizeof(bad));
		assert_int_equal(unsubtok_decode(bad, strlen(bad), &t), -1);
	}
	/* A good one, then each way of spoiling it. */
	n = (size_t)unsubtok_encode(key, sizeof(key), 7, "u@example.co", tok,
	    sizeof(tok));
	/* Non-zero bits left over in the last character: another
	 * spelling of the same bytes, refused. */
	memcpy(bad, tok, n + 1);
	assert_true(n % 4 != 0);
	bad[n - 1] = bad[n - 1] == 'A' ? 'B' : bad[n - 1] + 1;
	assert_true(unsubtok_decode(bad, n, &t) == -1 ||
	    unsubtok_verify(&t, key, sizeof(key)) == 0);
	/* Any one character changed: never verifies. */
	for (size_t i = 0; i < n; i++) {
		memcpy(bad, tok, n + 1);
		bad[i] = bad[i] == 'x' ? 'y' : 'x';
		if (unsubtok_decode(bad, n, &t) == 0)
			assert_int_equal(unsubtok_verify(&t, key,
			    sizeof(key)), 0);
	}
	/* Cut short, or with more after it. */
	assert_true(unsubtok_decode(tok, n - 4, &t) == -1 ||
	    unsubtok_verify(&t, key, sizeof(key)) == 0);
	memcpy(bad, tok, n);
	memcpy(bad + n, "AAAA", 5);
	assert_true(unsubtok_decode(bad, n + 4, &t) == -1 ||
	    unsubtok_verify(&t, key, sizeof(key)) == 0);
}

/* The same recipient under another subaccount is another token: one
 * subaccount's link never unsubscribes from another's mail. */
static void
test_bound_to_subaccount(void **state)
{
	char a[UNSUBTOK_MAX], b[UNSUBTOK_MAX];
	struct unsubtok t;

	unsubtok_encode(key, sizeof(key), 1, "u@example.com", a, sizeof(a));
	unsubtok_encode(key, sizeof(key), 2, "u@example.com", b, sizeof(b));
	assert_string_not_equal(a, b);
	assert_int_equal(unsubtok_decode(b, strlen(b), &t), 0);
	assert_true(t.subaccount == 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_longest),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_decode_refuses),
		cmocka_unit_test(test_bound_to_subaccount),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
