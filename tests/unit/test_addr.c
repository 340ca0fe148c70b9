// sources:
/*
 * test_addr.c - RFC 5321 paths: what is accepted, how it is stored, and
 * the precise verdict for each kind of bad input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"

static void
test_paths(void **state)
{
	static const struct {
		const char	*in;
		int		 flags;
		enum addr_status st;
		const char	*addr;
		const char	*domain;
		size_t		 consumed;
	} cases[] = {
		{ "<a@example.com>", 0, ADDR_OK, "a@example.com",
		    "example.com", 15 },
		{ "<Jane.Doe@Example.COM> SIZE=1", 0, ADDR_OK,
		    "Jane.Doe@example.com", "example.com", 22 },
		{ "<>", ADDR_ALLOW_NULL, ADDR_OK, "", "", 2 },
		{ "<>", 0, ADDR_NULL_FORBIDDEN, NULL, NULL, 0 },
		{ "<\"a b@c\"@x.test>", 0, ADDR_OK, "\"a b@c\"@x.test",
		    "x.test", 16 },
		{ "<\"a\\\"b\"@x.test>", 0, ADDR_OK, "\"a\\\"b\"@x.test",
		    "x.test", 15 },
		{ "<u%v!w@x.test>", 0, ADDR_OK, "u%v!w@x.test", "x.test", 14 },
		{ "<u@[127.0.0.1]>", 0, ADDR_OK, "u@[127.0.0.1]",
		    "[127.0.0.1]", 15 },
		{ "<u@[IPv6:::1]>", 0, ADDR_OK, "u@[ipv6:::1]", "[ipv6:::1]",
		    14 },
		{ "<u@[999.0.0.1]>", 0, ADDR_SYNTAX, NULL, NULL, 0 },
		{ "<postmaster>", 0, ADDR_NO_DOMAIN, NULL, NULL, 0 },
		{ "<@a,@b:u@c.test>", 0, ADDR_SOURCE_ROUTE, NULL, NULL, 0 },
		{ "<a@b", 0, ADDR_SYNTAX, NULL, NULL, 0 },
		{ "a@b>", 0, ADDR_SYNTAX, NULL, NULL, 0 },
		{ "<a@>", 0, ADDR_SYNTAX, NULL, NULL, 0 },
		{ "<@b.test>", 0, ADDR_SOURCE_ROUTE, NULL, NULL, 0 },
		{ "<a..b@x.test>", 0, ADDR_SYNTAX, NULL, NULL, 0 },
		{ "<.a@x.test>", 0, ADDR_SYNTAX, NULL, NULL, 0 },
		{ "<a.@x.test>", 0, ADDR_SYNTAX, NULL, NULL, 0 },
		{ "<a@x..test>", 0, ADDR_SYNTAX, NULL, NULL, 0 },
		{ "<a@-x.test>", 0, ADDR_SYNTAX, NULL, NULL, 0 },
		{ "<a@x-.test>", 0, ADDR_SYNTAX, NULL, NULL, 0 },
		{ "<a@x.test.>", 0, ADDR_SYNTAX, NULL, NULL, 0 },
		{ "<a@x_y.test>", 0, ADDR_SYNTAX, NULL, NULL, 0 },
		{ "<a b@x.test>", 0, ADDR_SYNTAX, NULL, NULL, 0 },
		{ "<a@b@x.test>", 0, ADDR_SYNTAX, NULL, NULL, 0 },
		{ "<\"unterminated@x.test>", 0, ADDR_SYNTAX, NULL, NULL, 0 },
		{ "<a\r\nRCPT TO:<b@x.test>", 0, ADDR_CTL, NULL, NULL, 0 },
		{ "<a\x01@x.test>", 0, ADDR_CTL, NULL, NULL, 0 },
		{ "<j\xc3\xb6rg@x.test>", 0, ADDR_NON_ASCII, NULL, NULL, 0 },
		{ "", 0, ADDR_SYNTAX, NULL, NULL, 0 },
		{ "<", 0, ADDR_SYNTAX, NULL, NULL, 0 },
	};
	struct mailpath mp;
	size_t used;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum addr_status st = addr_parse_path(cases[i].in,
		    strlen(cases[i].in), cases[i].flags, &mp, &used);

		if (st != cases[i].st)
			fail_msg("%s: status %d, want %d", cases[i].in, st,
			    cases[i].st);
		if (st != ADDR_OK)
			continue;
		assert_string_equal(mp.addr, cases[i].addr);
		assert_int_equal(mp.len, strlen(cases[i].addr));
		assert_string_equal(mailpath_domain(&mp), cases[i].domain);
		assert_int_equal(used, cases[i].consumed);
	}
}

static void
test_lengths(void **state)
{
	char in[600];
	struct mailpath mp;
	size_t used;

	/* 64-octet local part: the limit. */
	snprintf(in, sizeof(in), "<%064d@x.test>", 0);
	assert_int_equal(addr_parse_path(in, strlen(in), 0, &mp, &used),
	    ADDR_OK);
	snprintf(in, sizeof(in), "<%065d@x.test>", 0);
	assert_int_equal(addr_parse_path(in, strlen(in), 0, &mp, &used),
	    ADDR_TOO_LONG);
	/* A path over 256 octets. */
	strcpy(in, "<a@");
	for (int i = 0; i < 5; i++)
		strcat(in, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.");
	strcat(in, "test>");
	assert_int_equal(addr_parse_path(in, strlen(in), 0, &mp, &used),
	    ADDR_TOO_LONG);
	/* A 64-octet label. */
	snprintf(in, sizeof(in), "<a@%s.test>",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	assert_int_equal(addr_parse_path(in, strlen(in), 0, &mp, &used),
	    ADDR_SYNTAX);
}

static void
test_replies(void **state)
{
	assert_memory_equal(addr_status_reply(ADDR_SYNTAX), "501 5.1.3", 9);
	assert_memory_equal(addr_status_reply(ADDR_NON_ASCII), "553 5.6.7",
	    9);
	assert_memory_equal(addr_status_reply(ADDR_CTL), "501 5.1.3", 9);
	assert_memory_equal(addr_status_reply(ADDR_NO_DOMAIN), "501 5.1.3",
	    9);
}

static void
test_domains(void **state)
{
	assert_true(addr_valid_domain("example.com"));
	assert_true(addr_valid_domain("localhost"));
	assert_true(addr_valid_domain("a-b.c0.test"));
	assert_false(addr_valid_domain(""));
	assert_false(addr_valid_domain("."));
	assert_false(addr_valid_domain("a..b"));
	assert_false(addr_valid_domain("-a.b"));
	assert_false(addr_valid_domain("a b"));
	assert_false(addr_valid_domain("a.b."));

	assert_true(addr_domain_within("example.com", "example.com"));
	assert_true(addr_domain_within("mail.example.com", "example.com"));
	assert_true(addr_domain_within("a.b.example.com", "example.com"));
	assert_false(addr_domain_within("evilexample.com", "example.com"));
	assert_false(addr_domain_within("example.com.evil", "example.com"));
	assert_false(addr_domain_within("com", "example.com"));
	assert_false(addr_domain_within("example.com", ""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_domains),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
