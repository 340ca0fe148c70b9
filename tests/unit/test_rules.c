// sources:
/*
 * test_rules.c - routing rules: first match wins, every condition,
 * wildcards, what cannot be decided before DATA, header extraction from
 * hostile header sections, and the argument parsers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rules.h"

static struct rule
any(void)
{
	struct rule r;

	memset(&r, 0, sizeof(r));
	r.size_over = r.size_under = -1;
	r.prio = r.tls = -1;
	return r;
}

static const char MSG[] =
    "Received: from x\r\n"
    "X-GW-Stream:  Transactional \r\n"
    "Subject: a folded\r\n"
    "\tsubject line\r\n"
    "X-Empty:\r\n"
    "\r\n"
    "X-GW-Stream: bulk\r\n";

static struct rule_msg
msg(const char *sub, const char *from, const char *to, int64_t size,
    const char *hdrs)
{
	struct rule_msg m = { sub, from, to, size, hdrs,
	    hdrs ? strlen(hdrs) : 0 };

	return m;
}

static void
test_first_match_wins(void **state)
{
	struct rule r[3] = { any(), any(), any() };
	struct rule_msg m = msg("acme", "a@acme.test", "b@gmail.com", 10, MSG);

	r[0].to_domain = "yahoo.com";
	r[1].to_domain = "*.com";
	r[1].action = RULE_HOLD;
	assert_int_equal(rules_match(r, 3, &m), 1);
	assert_int_equal(rules_match(r, 1, &m), RULES_NONE);
	assert_int_equal(rules_match(r, 0, &m), RULES_NONE);
	r[1].to_domain = "*.gmail.com";		/* not gmail.com itself */
	assert_int_equal(rules_match(r, 3, &m), 2);
}

static void
test_conditions(void **state)
{
	struct rule r = any();
	struct rule_msg m = msg("acme", "App@Acme.TEST", "b@Gmail.com", 5000,
	    MSG);

	r.subaccount = "acme";
	r.from_domain = "acme.test";
	r.to_domain = "gmail.*";
	assert_int_equal(rules_match(&r, 1, &m), 0);
	r.subaccount = "other";
	assert_int_equal(rules_match(&r, 1, &m), RULES_NONE);
	r.subaccount = NULL;
	r.size_over = 4999;
	r.size_under = 5001;
	assert_int_equal(rules_match(&r, 1, &m), 0);
	r.size_over = 5000;
	assert_int_equal(rules_match(&r, 1, &m), RULES_NONE);
	r.size_over = -1;
	r.size_under = 5000;
	assert_int_equal(rules_match(&r, 1, &m), RULES_NONE);
	r.size_under = -1;
	r.header = "x-gw-stream";
	r.header_value = "trans*";
	assert_int_equal(rules_match(&r, 1, &m), 0);
	r.header_value = "bulk";	/* only in the body */
	assert_int_equal(rules_match(&r, 1, &m), RULES_NONE);
	r.header = "X-Missing";
	r.header_value = "*";
	assert_int_equal(rules_match(&r, 1, &m), RULES_NONE);
}

static void
test_null_sender_and_no_subaccount(void **state)
{
	struct rule r = any();
	struct rule_msg m = msg(NULL, "", "x@y.test", 1, MSG);

	r.from_domain = "*";
	assert_int_equal(rules_match(&r, 1, &m), 0);
	r.from_domain = "?*";
	assert_int_equal(rules_match(&r, 1, &m), RULES_NONE);
	r.from_domain = NULL;
	r.subaccount = "acme";
	assert_int_equal(rules_match(&r, 1, &m), RULES_NONE);
}

static void
test_unknown_before_data(void **state)
{
	struct rule r[2] = { any(), any() };
	struct rule_msg m = msg("acme", "a@acme.test", "b@x.test", -1, NULL);

	r[0].header = "X-GW-Stream";
	r[0].header_value = "bulk";
	r[1].action = RULE_REJECT;
	assert_int_equal(rules_match(r, 2, &m), RULES_UNKNOWN);
	/* A rule whose envelope does not match does not hold things up. */
	r[0].to_domain = "elsewhere.test";
	assert_int_equal(rules_match(r, 2, &m), 1);
	r[0].to_domain = NULL;
	r[0].header = NULL;
	r[0].size_over = 100;
	assert_int_equal(rules_match(r, 2, &m), RULES_UNKNOWN);
	m.size = 50;
	assert_int_equal(rules_match(r, 2, &m), 1);
}

static void
test_header_get(void **state)
{
	char v[64];

	assert_int_equal(rules_header_get(MSG, strlen(MSG), "x-gw-stream", v,
	    sizeof(v)), 1);
	assert_string_equal(v, "Transactional");
	assert_int_equal(rules_header_get(MSG, strlen(MSG), "Subject", v,
	    sizeof(v)), 1);
	assert_string_equal(v, "a folded\tsubject line");
	assert_int_equal(rules_header_get(MSG, strlen(MSG), "X-Empty", v,
	    sizeof(v)), 1);
	assert_string_equal(v, "");
	assert_int_equal(rules_header_get(MSG, strlen(MSG), "X-GW", v,
	    sizeof(v)), 0);
	/* Truncated to the buffer; bare LF; no terminator at the end. */
	assert_int_equal(rules_header_get("A: 0123456789", 13, "a", v, 5), 1);
	assert_string_equal(v, "0123");
	assert_int_equal(rules_header_get("B: 1\nA : 2\n", 11, "A", v,
	    sizeof(v)), 1);
	assert_string_equal(v, "2");
	assert_int_equal(rules_header_get("A", 1, "A", v, sizeof(v)), 0);
	assert_int_equal(rules_header_get("", 0, "A", v, sizeof(v)), 0);
	/* NUL bytes are dropped, not left to cut the value short. */
	assert_int_equal(rules_header_get("A: x\0 y \n", 10, "A", v,
	    sizeof(v)), 1);
	assert_string_equal(v, "x y");
	/* A continuation line before any header is not a header. */
	assert_int_equal(rules_header_get(" A: 1\n", 6, "A", v, sizeof(v)), 0);
}

static void
test_parse_header(void **state)
{
	char n[80], v[1000], e[128];

	assert_int_equal(rules_parse_header("X-GW-Stream: bulk ", n, sizeof(n),
	    v, sizeof(v), e, sizeof(e)), 0);
	assert_string_equal(n, "X-GW-Stream");
	assert_string_equal(v, "bulk");
	assert_int_equal(rules_parse_header("NoColon", n, sizeof(n), v,
	    sizeof(v), e, sizeof(e)), -1);
	assert_int_equal(rules_parse_header("Bad Name: x", n, sizeof(n), v,
	    sizeof(v), e, sizeof(e)), -1);
	assert_int_equal(rules_parse_header("X:  ", n, sizeof(n), v,
	    sizeof(v), e, sizeof(e)), -1);
	assert_int_equal(rules_parse_header(": x", n, sizeof(n), v,
	    sizeof(v), e, sizeof(e)), -1);
	assert_int_equal(rules_parse_header("X: a\nb", n, sizeof(n), v,
	    sizeof(v), e, sizeof(e)), -1);
}

static void
test_parse_reply(void **state)
{
	char st[16], e[128];
	const char *t;
	int code;

	assert_int_equal(rules_parse_reply("550 5.7.1 not from here", &code,
	    st, sizeof(st), &t, e, sizeof(e)), 0);
	assert_int_equal(code, 550);
	assert_string_equal(st, "5.7.1");
	assert_string_equal(t, "not from here");
	assert_int_equal(rules_parse_reply("451 try later", &code, st,
	    sizeof(st), &t, e, sizeof(e)), 0);
	assert_string_equal(st, "");
	assert_string_equal(t, "try later");
	assert_int_equal(rules_parse_reply("554 100 at most", &code, st,
	    sizeof(st), &t, e, sizeof(e)), 0);
	assert_string_equal(t, "100 at most");
	assert_int_equal(rules_parse_reply("550 4.7.1 mismatch", &code, st,
	    sizeof(st), &t, e, sizeof(e)), -1);
	assert_int_equal(rules_parse_reply("250 ok", &code, st, sizeof(st),
	    &t, e, sizeof(e)), -1);
	assert_int_equal(rules_parse_reply("5500 x", &code, st, sizeof(st),
	    &t, e, sizeof(e)), -1);
	assert_int_equal(rules_parse_reply("550 5.7.1", &code, st, sizeof(st),
	    &t, e, sizeof(e)), -1);
	assert_int_equal(rules_parse_reply("550 5.7.1 a\r\nRSET", &code, st,
	    sizeof(st), &t, e, sizeof(e)), -1);
	assert_int_equal(rules_parse_reply("590 x", &code, st, sizeof(st),
	    &t, e, sizeof(e)), -1);
}

static void
test_parse_hostport(void **state)
{
	char h[256], e[128];
	int port;

	assert_int_equal(rules_parse_hostport("relay.example.net", h,
	    sizeof(h), &port, e, sizeof(e)), 0);
	assert_string_equal(h, "relay.example.net");
	assert_int_equal(port, 25);
	assert_int_equal(rules_parse_hostport("127.0.0.1:2525", h, sizeof(h),
	    &port, e, sizeof(e)), 0);
	assert_string_equal(h, "127.0.0.1");
	assert_int_equal(port, 2525);
	assert_int_equal(rules_parse_hostport("[::1]:587", h, sizeof(h),
	    &port, e, sizeof(e)), 0);
	assert_string_equal(h, "::1");
	assert_int_equal(port, 587);
	assert_int_equal(rules_parse_hostport("::1", h, sizeof(h), &port, e,
	    sizeof(e)), -1);
	assert_int_equal(rules_parse_hostport("h:0", h, sizeof(h), &port, e,
	    sizeof(e)), -1);
	assert_int_equal(rules_parse_hostport("h:", h, sizeof(h), &port, e,
	    sizeof(e)), -1);
	assert_int_equal(rules_parse_hostport("h_x", h, sizeof(h), &port, e,
	    sizeof(e)), -1);
	assert_int_equal(rules_parse_hostport("[::1", h, sizeof(h), &port, e,
	    sizeof(e)), -1);
	assert_int_equal(rules_parse_hostport("", h, sizeof(h), &port, e,
	    sizeof(e)), -1);
}

static void
test_names(void **state)
{
	char e[128];

	assert_int_equal(rules_prio_parse("bulk"), PRIO_BULK);
	assert_int_equal(rules_prio_parse("transactional"),
	    PRIO_TRANSACTIONAL);
	assert_int_equal(rules_prio_parse("urgent"), -1);
	assert_string_equal(rules_prio_name(-1), "transactional");
	assert_int_equal(rules_parse_domain_pattern("*.example.com", e,
	    sizeof(e)), 0);
	assert_int_equal(rules_parse_domain_pattern("a b", e, sizeof(e)), -1);
	assert_int_equal(rules_parse_domain_pattern("[a]", e, sizeof(e)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_match_wins),
		cmocka_unit_test(test_conditions),
		cmocka_unit_test(test_null_sender_and_no_subaccount),
		cmocka_unit_test(test_unknown_before_data),
		cmocka_unit_test(test_header_get),
		cmocka_unit_test(test_parse_header),
		cmocka_unit_test(test_parse_reply),
		cmocka_unit_test(test_parse_hostport),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
