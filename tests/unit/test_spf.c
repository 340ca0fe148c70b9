// sources:
/*
 * test_spf.c - SPF terms (qualifiers, targets, prefixes, refusals) and
 * DMARC's organisational domain, alignment and tags, as `gwctl domain
 * check` reads them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "spf.h"

static void
test_terms(void **state)
{
	static const struct {
		const char *in;
		enum spf_qual qual;
		enum spf_mech mech;
		const char *domain;
		int b4, b6;
	} cases[] = {
		{ "all", SPF_Q_PASS, SPF_M_ALL, "", 0, 0 },
		{ "-all", SPF_Q_FAIL, SPF_M_ALL, "", 0, 0 },
		{ "~ALL", SPF_Q_SOFTFAIL, SPF_M_ALL, "", 0, 0 },
		{ "?all", SPF_Q_NEUTRAL, SPF_M_ALL, "", 0, 0 },
		{ "a", SPF_Q_PASS, SPF_M_A, "example.com", 32, 128 },
		{ "a/24", SPF_Q_PASS, SPF_M_A, "example.com", 24, 128 },
		{ "a:h.test/24//64", SPF_Q_PASS, SPF_M_A, "h.test", 24, 64 },
		{ "a//48", SPF_Q_PASS, SPF_M_A, "example.com", 32, 48 },
		{ "+mx:m.test", SPF_Q_PASS, SPF_M_MX, "m.test", 32, 128 },
		{ "mx/0", SPF_Q_PASS, SPF_M_MX, "example.com", 0, 128 },
		{ "include:_spf.test", SPF_Q_PASS, SPF_M_INCLUDE,
		    "_spf.test", 32, 128 },
		{ "redirect=_spf.test", SPF_Q_PASS, SPF_M_REDIRECT,
		    "_spf.test", 32, 128 },
		{ "exp=explain.test", SPF_Q_PASS, SPF_M_MODIFIER, "", 0,
		    0 },
		{ "ptr", SPF_Q_PASS, SPF_M_OTHER, "", 0, 0 },
		{ "exists:x.test", SPF_Q_PASS, SPF_M_OTHER, "", 0, 0 },
		{ "amx", SPF_Q_PASS, SPF_M_OTHER, "", 0, 0 },
		{ "include", SPF_Q_PASS, SPF_M_OTHER, "", 0, 0 },
	};
	static const char *const refused[] = {
		"a/-8", "a/33", "a/abc", "a/24x", "a/", "a//129", "a/24/64",
		"a:", "a:%{i}.test", "include:", "include:x.test/24",
		"redirect=", "mx/0000",
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct spf_term t;
		int r = spf_term_parse(cases[i].in, "example.com", &t);

		if (r != 0)
			fail_msg("%s refused", cases[i].in);
		assert_int_equal(t.qual, cases[i].qual);
		assert_int_equal(t.mech, cases[i].mech);
		assert_string_equal(t.domain, cases[i].domain);
		if (t.mech == SPF_M_A || t.mech == SPF_M_MX) {
			assert_int_equal(t.bits4, cases[i].b4);
			assert_int_equal(t.bits6, cases[i].b6);
		}
	}
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		struct spf_term t;

		if (spf_term_parse(refused[i], "example.com", &t) != -1)
			fail_msg("%s accepted", refused[i]);
	}
	/* a long target is refused, not cut */
	{
		char big[400] = "a:";
		struct spf_term t;

		memset(big + 2, 'x', 300);
		big[302] = '\0';
		assert_int_equal(spf_term_parse(big, "example.com", &t), -1);
	}
}

static int
in(const char *term, const char *addr)
{
	struct spf_term t;
	unsigned char ip[16];
	int fam = strchr(addr, ':') ? AF_INET6 : AF_INET;

	assert_int_equal(spf_term_parse(term, "example.com", &t), 0);
	assert_int_equal(inet_pton(fam, addr, ip), 1);
	return spf_addr_in(fam, ip, t.family, t.addr, t.bits4, t.bits6);
}

static void
test_ip(void **state)
{
	struct spf_term t;

	assert_true(in("ip4:192.0.2.0/24", "192.0.2.77"));
	assert_false(in("ip4:192.0.2.0/24", "192.0.3.1"));
	assert_true(in("ip4:192.0.2.1", "192.0.2.1"));
	assert_false(in("ip4:192.0.2.1", "192.0.2.2"));
	assert_true(in("ip4:10.0.0.0/7", "11.255.0.1"));
	assert_true(in("ip4:0.0.0.0/0", "203.0.113.9"));
	assert_false(in("ip4:192.0.2.0/24", "2001:db8::1"));
	assert_true(in("ip6:2001:db8::/32", "2001:db8:1::25"));
	assert_false(in("ip6:2001:db8::/33", "2001:db8:8000::1"));
	assert_int_equal(spf_term_parse("ip4:192.0.2.0/33", "d", &t), -1);
	assert_int_equal(spf_term_parse("ip4:2001:db8::", "d", &t), -1);
	assert_int_equal(spf_term_parse("ip6:192.0.2.1", "d", &t), -1);
	assert_int_equal(spf_term_parse("ip6:::/129", "d", &t), -1);
	assert_int_equal(spf_term_parse("ip4:", "d", &t), -1);
	assert_int_equal(spf_term_parse("ip4:1.2.3.4/", "d", &t), -1);
}

static void
test_dmarc(void **state)
{
	char v[16];

	assert_string_equal(dmarc_org_domain("a.b.example.com"),
	    "example.com");
	assert_string_equal(dmarc_org_domain("example.com"), "example.com");
	assert_string_equal(dmarc_org_domain("com"), "com");
	assert_true(dmarc_aligned("bounces.Example.com", "example.com", 0));
	assert_false(dmarc_aligned("bounces.example.com", "example.com", 1));
	assert_true(dmarc_aligned("EXAMPLE.com", "example.com", 1));
	assert_false(dmarc_aligned("bounces.other.test", "example.com", 0));
	dmarc_tag("v=DMARC1; p = reject ;adkim=s", "p", v, sizeof(v));
	assert_string_equal(v, "reject");
	dmarc_tag("v=DMARC1; p=none; adkim=s", "adkim", v, sizeof(v));
	assert_string_equal(v, "s");
	dmarc_tag("v=DMARC1; pct=50", "p", v, sizeof(v));
	assert_string_equal(v, "");
	dmarc_tag("v=DMARC1; p=quarantine-and-a-long-tail", "p", v, 8);
	assert_string_equal(v, "quarant");
	dmarc_tag("", "p", v, sizeof(v));
	assert_string_equal(v, "");
	dmarc_tag("p", "p", v, sizeof(v));
	assert_string_equal(v, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_terms),
		cmocka_unit_test(test_ip),
		cmocka_unit_test(test_dmarc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
