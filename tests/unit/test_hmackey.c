// sources:
/*
 * test_hmackey.c - the truncated HMAC both token kinds use, against
 * RFC 4231's HMAC-SHA256 test vectors, and the purposes' table that
 * gwctl key rotate and gwd's keyring share (common/hmackey.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hmackey.h"

/* RFC 4231 4.3 (test case 2) and 4.7 (test case 6: a key longer than
 * the block, hashed first). */
static void
test_rfc4231(void **state)
{
	static const unsigned char want2[] = {
		0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e,
		0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7 };
	static const unsigned char want6[] = {
		0x60, 0xe4, 0x31, 0x59, 0x1e, 0xe0, 0xb6, 0x7f,
		0x0d, 0x8a, 0x26, 0xaa, 0xcb, 0xf5, 0xb7, 0x7f };
	const char *d6 = "Test Using Larger Than Block-Size Key - Hash Key "
	    "First";
	unsigned char key6[131], out[16];

	assert_int_equal(hmackey_mac((const unsigned char *)"Jefe", 4,
	    "what do ya want for nothing?", 28, out, 16), 0);
	assert_memory_equal(out, want2, 16);
	/* Truncation keeps the leftmost bytes (RFC 2104 5). */
	assert_int_equal(hmackey_mac((const unsigned char *)"Jefe", 4,
	    "what do ya want for nothing?", 28, out, 8), 0);
	assert_memory_equal(out, want2, 8);
	memset(key6, 0xaa, sizeof(key6));
	assert_int_equal(hmackey_mac(key6, sizeof(key6), d6, strlen(d6), out,
	    16), 0);
	assert_memory_equal(out, want6, 16);
}

/* No key or no output: -1, and the output zeroed (it verifies no MAC
 * but a zero one, which no caller accepts without this 0). */
static void
test_refused(void **state)
{
	unsigned char out[8], big[33];

	memset(out, 0x55, sizeof(out));
	assert_int_equal(hmackey_mac((const unsigned char *)"", 0, "x", 1,
	    out, sizeof(out)), -1);
	for (size_t i = 0; i < sizeof(out); i++)
		assert_int_equal(out[i], 0);
	assert_int_equal(hmackey_mac((const unsigned char *)"k", 1, "x", 1,
	    out, 0), -1);
	/* Longer than SHA-256's 32 bytes: refused, zeroed. */
	memset(big, 0x55, sizeof(big));
	assert_int_equal(hmackey_mac((const unsigned char *)"k", 1, "x", 1,
	    big, sizeof(big)), -1);
	for (size_t i = 0; i < sizeof(big); i++)
		assert_int_equal(big[i], 0);
}

static void
test_purposes(void **state)
{
	enum hmackey_purpose p;

	assert_int_equal(hmackey_by_name("verp", &p), 0);
	assert_int_equal(p, HMACKEY_VERP);
	assert_string_equal(hmackey_info(p)->previous, "verp.previous");
	assert_int_equal(hmackey_by_name("unsubscribe", &p), 0);
	assert_int_equal(p, HMACKEY_UNSUB);
	assert_string_equal(hmackey_info(p)->previous,
	    "unsubscribe.previous");
	/* A replaced key is no purpose of its own. */
	assert_int_equal(hmackey_by_name("verp.previous", &p), -1);
	assert_int_equal(hmackey_by_name("VERP", &p), -1);
	assert_int_equal(hmackey_by_name("", &p), -1);
	for (int i = 0; i < HMACKEY_NPURPOSES; i++)
		assert_true(hmackey_info(i)->grace_days >= 30);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4231),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_purposes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
