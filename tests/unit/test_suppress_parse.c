// sources: gwctl/suppress_parse.c
/*
 * test_suppress_parse.c - what gwctl suppression add/import accept:
 * addresses, reasons and import lines (plain and CSV).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "suppress_parse.h"

static void
test_addresses(void **state)
{
	static const struct {
		const char *in, *out;	/* out NULL: refused */
	} cases[] = {
		{ "user@example.com", "user@example.com" },
		{ "User@Example.COM", "user@example.com" },
		{ "<a.b+tag@sub.example.org>", "a.b+tag@sub.example.org" },
		{ "\"q u\"@example.com", "\"q u\"@example.com" },
		{ "", NULL },
		{ "<>", NULL },
		{ "user", NULL },
		{ "user@", NULL },
		{ "@example.com", NULL },
		{ "not an address", NULL },
		{ "a@b@c", NULL },
		{ "<a@example.com", NULL },
		{ "a@example.com>", NULL },
		{ "<@relay:a@example.com>", NULL },
		{ "a\r\n@example.com", NULL },
		/* UTF-8 (SMTPUTF8) as gwd spells it: ASCII folded, the
		 * U-label in its one form. */
		{ "Caf\xc3\xa9@B\xc3\xbc" "cher.TEST",
		    "caf\xc3\xa9@b\xc3\xbc" "cher.test" },
		{ "caf\xe9@example.com", NULL },
	};
	char out[ADDR_PATH_MAX + 1];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = supp_parse_address(cases[i].in, out);

		if (cases[i].out == NULL) {
			if (r != -1)
				fail_msg("\"%s\" accepted as %s", cases[i].in,
				    out);
		} else {
			if (r != 0)
				fail_msg("\"%s\" refused", cases[i].in);
			assert_string_equal(out, cases[i].out);
		}
	}
	/* 64-octet local part is the limit (RFC 5321 4.5.3.1.1). */
	char long_local[200];

	memset(long_local, 'a', 65);
	strcpy(long_local + 65, "@example.com");
	assert_int_equal(supp_parse_address(long_local, out), -1);
	assert_int_equal(supp_parse_address(long_local + 1, out), 0);
}

static void
test_reasons(void **state)
{
	char r[300];

	assert_null(supp_check_reason(""));
	assert_null(supp_check_reason("complained on 2026-11-20, ticket #4"));
	assert_non_null(supp_check_reason("two\nlines"));
	assert_non_null(supp_check_reason("tab\there"));
	assert_non_null(supp_check_reason("caf\xc3\xa9"));
	memset(r, 'x', 200);
	r[200] = '\0';
	assert_null(supp_check_reason(r));
	r[200] = 'x';
	r[201] = '\0';
	assert_non_null(supp_check_reason(r));
}

static void
test_lines(void **state)
{
	static const struct {
		const char *in, *addr, *reason;	/* addr NULL: an error */
	} cases[] = {
		{ "a@example.com\n", "a@example.com", NULL },
		{ "  a@example.com \r\n", "a@example.com", NULL },
		{ "a@example.com,bounced\n", "a@example.com", "bounced" },
		{ "a@example.com , bounced twice \n", "a@example.com",
		    "bounced twice" },
		{ "a@example.com,\"complained, twice\"\n", "a@example.com",
		    "complained, twice" },
		{ "a@example.com,\"said \"\"stop\"\"\"\n", "a@example.com",
		    "said \"stop\"" },
		{ "a@example.com,\"\"\n", "a@example.com", "" },
		{ "a@example.com,\n", "a@example.com", "" },
		{ "\n", "", NULL },
		{ "", "", NULL },
		{ "a@example.com,\"open\n", NULL, NULL },
		{ "a@example.com,\"x\" y\n", NULL, NULL },
	};
	char buf[256], *addr, *reason;
	const char *err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r;

		snprintf(buf, sizeof(buf), "%s", cases[i].in);
		err = NULL;
		r = supp_parse_line(buf, &addr, &reason, &err);
		if (cases[i].addr == NULL) {
			if (r != -1 || err == NULL)
				fail_msg("line %zu accepted", i);
			continue;
		}
		if (r != 0)
			fail_msg("line %zu: %s", i, err);
		assert_string_equal(addr, cases[i].addr);
		if (cases[i].reason == NULL)
			assert_null(reason);
		else
			assert_string_equal(reason, cases[i].reason);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_reasons),
		cmocka_unit_test(test_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
