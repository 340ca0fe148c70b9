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

#define U	ADDR_ALLOW_UTF8

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
		/* Quotes that are not needed go (RFC 5321 4.1.2). */
		{ "<\"Victim\"@Dest.TEST>", 0, ADDR_OK, "Victim@dest.test",
		    "dest.test", 20 },
		{ "<\"\\v\\i.c\"@x.test>", 0, ADDR_OK, "vi.c@x.test", "x.test",
		    17 },
		{ "<\"a..b\"@x.test>", 0, ADDR_OK, "\"a..b\"@x.test", "x.test",
		    15 },
		{ "<\".a\"@x.test>", 0, ADDR_OK, "\".a\"@x.test", "x.test", 13 },
		{ "<\"\"@x.test>", 0, ADDR_OK, "\"\"@x.test", "x.test", 11 },
		{ "<\"a\\ b\"@x.test>", 0, ADDR_OK, "\"a b\"@x.test", "x.test",
		    15 },
		{ "<\"a\\\\b\"@x.test>", 0, ADDR_OK, "\"a\\\\b\"@x.test",
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
		/* SMTPUTF8 (RFC 6531 3.3): UTF-8 local parts, U-labels in
		 * their one spelling (UTS #46: lower case, NFC). */
		{ "<J\xc3\xb6rg@x.test>", U, ADDR_OK, "J\xc3\xb6rg@x.test",
		    "x.test", 14 },
		{ "<k@B\xc3\xbc" "cher.TEST>", U, ADDR_OK, "k@b\xc3\xbc" "cher.test",
		    "b\xc3\xbc" "cher.test", 16 },
		{ "<k@bu\xcc\x88" "cher.test>", U, ADDR_OK,
		    "k@b\xc3\xbc" "cher.test", "b\xc3\xbc" "cher.test", 17 },
		{ "<k@xn--bcher-kva.test>", U, ADDR_OK, "k@xn--bcher-kva.test",
		    "xn--bcher-kva.test", 22 },
		{ "<\"\xc3\xa9 x\"@x.test>", U, ADDR_OK,
		    "\"\xc3\xa9 x\"@x.test", "x.test", 15 },
		{ "<\"\xc3\xa9\"@x.test>", U, ADDR_OK, "\xc3\xa9@x.test",
		    "x.test", 13 },
		{ "<j\xf6rg@x.test>", U, ADDR_SYNTAX, NULL, NULL, 0 },
		{ "<a\xc0\xaf" "b@x.test>", U, ADDR_SYNTAX, NULL, NULL, 0 },
		{ "<a\xed\xa0\x80@x.test>", U, ADDR_SYNTAX, NULL, NULL, 0 },
		{ "<a\xc3@x.test>", U, ADDR_SYNTAX, NULL, NULL, 0 },
		{ "<a@\xe2\x98\x83-.test>", U, ADDR_SYNTAX, NULL, NULL, 0 },
		/* UTS #46 maps a zero-width space to nothing. */
		{ "<a@x\xe2\x80\x8b" "y.test>", U, ADDR_OK, "a@xy.test",
		    "xy.test", 14 },
		{ "<a@x\xef\xbf\xbdy.test>", U, ADDR_SYNTAX, NULL, NULL, 0 },
		/* An A-label beside a U-label must map back to itself:
		 * "xn--rmk" decodes to U+320F, which UTS #46 maps to
		 * parentheses (found by fuzz_addr). */
		{ "<\"0\xc3\xa9 x\"@xn--rmk.t0\xc3\xa9st>", U, ADDR_SYNTAX,
		    NULL, NULL, 0 },
		{ "<a@xn--bcher-kva.t\xc3\xa9st>", U, ADDR_OK,
		    "a@b\xc3\xbc" "cher.t\xc3\xa9st", "b\xc3\xbc" "cher.t\xc3\xa9st",
		    23 },
		{ "<\"a\\\xc3\xa9\"@x.test>", U, ADDR_NON_ASCII, NULL, NULL,
		    0 },
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

/* One spelling per mailbox; keys fold the local part's case too. */
static void
test_canon(void **state)
{
	static const struct {
		const char	*in;
		int		 flags;
		const char	*out;		/* NULL: -1 */
	} cases[] = {
		{ "victim@dest.test", 0, "victim@dest.test" },
		{ "\"victim\"@dest.test", 0, "victim@dest.test" },
		{ "\"vic\\tim\"@DEST.test", 0, "victim@dest.test" },
		{ "\"Victim\"@dest.test", 0, "Victim@dest.test" },
		{ "\"Victim\"@dest.test", ADDR_CANON_FOLD, "victim@dest.test" },
		{ "\"Q U\"@dest.test", ADDR_CANON_FOLD, "\"q u\"@dest.test" },
		{ "\"a\\\"b\"@x.test", 0, "\"a\\\"b\"@x.test" },
		{ "\"a@b\"@x.test", 0, "\"a@b\"@x.test" },
		{ "a.b@x.test", 0, "a.b@x.test" },
		{ "<a@x.test>", 0, NULL },	/* brackets are not part of it */
		{ "a@x.test ", 0, NULL },
		{ "a@", 0, NULL },
		{ "", 0, NULL },
	};
	char out[ADDR_PATH_MAX + 1];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = addr_canon(cases[i].in, cases[i].flags, out,
		    sizeof(out));

		if (cases[i].out == NULL) {
			if (n != -1)
				fail_msg("%s: %s, want -1", cases[i].in, out);
			continue;
		}
		if (n < 0)
			fail_msg("%s: -1, want %s", cases[i].in, cases[i].out);
		assert_string_equal(out, cases[i].out);
		assert_int_equal(n, strlen(cases[i].out));
	}
	/* No room: -1, never a cut address. */
	assert_int_equal(addr_canon("abc@x.test", 0, out, 10), -1);
	assert_int_equal(addr_canon("abc@x.test", 0, out, 11), 10);

	/* addr_local_canon: from the text of a local part. */
	assert_int_equal(addr_local_canon("a.b", 3, out, sizeof(out)), 3);
	assert_string_equal(out, "a.b");
	assert_int_equal(addr_local_canon("a\"b", 3, out, sizeof(out)), 6);
	assert_string_equal(out, "\"a\\\"b\"");
	assert_int_equal(addr_local_canon("", 0, out, sizeof(out)), 2);
	assert_string_equal(out, "\"\"");
	assert_int_equal(addr_local_canon("a\tb", 3, out, sizeof(out)), -1);
	assert_int_equal(addr_local_canon("\xc3\xa9", 2, out, sizeof(out)),
	    -1);
	assert_int_equal(addr_local_canon("a b", 3, out, 5), -1);
	assert_int_equal(addr_local_canon("a b", 3, out, 6), 5);

	/* addr_key: canonical and folded; other strings just folded. */
	assert_int_equal(addr_key("\"Victim\"@Dest.Test", out, sizeof(out)),
	    0);
	assert_string_equal(out, "victim@dest.test");
	assert_int_equal(addr_key("Not An Address", out, sizeof(out)), 0);
	assert_string_equal(out, "not an address");
	assert_int_equal(addr_key("abcdef", out, 6), -1);
}

/* UTF-8 addresses: one canonical spelling, keys fold ASCII only. */
static void
test_canon_utf8(void **state)
{
	char out[ADDR_PATH_MAX + 1];

	assert_int_equal(addr_canon("J\xc3\xb6rg@B\xc3\xbc" "cher.TEST", 0,
	    out, sizeof(out)), 18);
	assert_string_equal(out, "J\xc3\xb6rg@b\xc3\xbc" "cher.test");
	assert_int_equal(addr_key("\"J\xc3\xb6rg\"@xn--bcher-kva.test", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "j\xc3\xb6rg@xn--bcher-kva.test");
	assert_int_equal(addr_domain_ascii("b\xc3\xbc" "cher.test", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "xn--bcher-kva.test");
	assert_int_equal(addr_domain_ascii("x\xef\xbf\xbd.test", out,
	    sizeof(out)), -1);
	assert_false(addr_is_ascii("\xc3\xa9"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_domains),
		cmocka_unit_test(test_canon),
		cmocka_unit_test(test_canon_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
