// sources:
/*
 * test_base64.c - RFC 4648 test vectors, and the strictness SMTP AUTH
 * relies on: every non-canonical spelling is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base64.h"

static const struct { const char *plain, *enc; } vectors[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static void
test_vectors(void **state)
{
	char enc[64], dec[64];
	size_t n;

	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		size_t pl = strlen(vectors[i].plain);

		assert_int_equal(base64_encoded_size(pl),
		    strlen(vectors[i].enc) + 1);
		assert_int_equal(base64_encode(vectors[i].plain, pl, enc,
		    sizeof(enc)), strlen(vectors[i].enc));
		assert_string_equal(enc, vectors[i].enc);
		assert_int_equal(base64_decode(vectors[i].enc,
		    strlen(vectors[i].enc), dec, sizeof(dec), &n), 0);
		assert_int_equal(n, pl);
		assert_memory_equal(dec, vectors[i].plain, pl);
	}
}

static void
test_binary_roundtrip(void **state)
{
	unsigned char in[256], out[256];
	char enc[400];
	size_t n;

	for (int i = 0; i < 256; i++)
		in[i] = (unsigned char)(255 - i);
	for (size_t len = 0; len <= 256; len += 7) {
		size_t el = (size_t)base64_encode(in, len, enc, sizeof(enc));

		assert_int_equal(base64_decode(enc, el, out, sizeof(out), &n),
		    0);
		assert_int_equal(n, len);
		assert_memory_equal(in, out, len);
	}
}

/* The encoder writes only into the room it is given (the AUTH to a
 * smarthost, now mta_auth.c's, once encoded a credential of any length
 * into 1400 bytes). */
static void
test_encode_bound(void **state)
{
	char in[300], out[BASE64_ENCODED_SIZE(sizeof(in)) + 1];

	memset(in, 0xa5, sizeof(in));
	assert_int_equal(BASE64_ENCODED_SIZE(sizeof(in)), 401);
	assert_int_equal(base64_encoded_size(sizeof(in)), 401);
	memset(out, '#', sizeof(out));
	assert_int_equal(base64_encode(in, sizeof(in), out, 400), -1);
	for (size_t i = 0; i < sizeof(out); i++)
		assert_int_equal(out[i], '#');
	assert_int_equal(base64_encode(in, sizeof(in), out, 401), 400);
	assert_int_equal(out[400], '\0');
	assert_int_equal(out[401], '#');
	/* One byte, no room for its four and the NUL; none at all. */
	assert_int_equal(base64_encode(in, 1, out, 4), -1);
	assert_int_equal(base64_encode(in, 0, out, 0), -1);
	assert_int_equal(base64_encode(in, 0, out, 1), 0);
	assert_string_equal(out, "");
	/* A length whose encoded size would wrap around. */
	assert_int_equal(base64_encode(in, SIZE_MAX - 1, out, sizeof(out)),
	    -1);
	assert_int_equal(base64_encode(in, SIZE_MAX / 4 * 3, out,
	    sizeof(out)), -1);
}

static void
test_refused(void **state)
{
	static const char *bad[] = {
		"Zg", "Zg=", "Zg===", "Z===", "====", "Zm9v\r\n", " Zm9v",
		"Zm 9v", "Zm9v=", "Zh==", "Zm9=", "Z=9v", "Zm9v====",
		"Zm-v", "Zm_v", "Zm9v\0AAA", "=Zm9", "Zm=v",
	};
	char out[64];
	size_t n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = strlen(bad[i]);

		if (strcmp(bad[i], "Zm9v") == 0)
			len = 8;
		if (base64_decode(bad[i], len, out, sizeof(out), &n) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	/* An embedded NUL is not part of the alphabet. */
	assert_int_equal(base64_decode("Zm9v\0AAA", 8, out, sizeof(out), &n),
	    -1);
}

static void
test_output_too_small(void **state)
{
	char out[5];
	size_t n;

	assert_int_equal(base64_decode("Zm9vYmFy", 8, out, 5, &n), -1);
	assert_int_equal(base64_decode("Zm9vYmE=", 8, out, 5, &n), 0);
	assert_int_equal(n, 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_binary_roundtrip),
		cmocka_unit_test(test_encode_bound),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_output_too_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
