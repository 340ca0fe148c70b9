// sources:
/*
 * test_rspamd_reply.c - rspamd's /checkv2 answers as rspamd 3.4 writes
 * them (GTUBE, clean, a scored message), and broken ones: not JSON, no
 * action, an unknown action, a duplicate key, a huge or hostile symbol
 * name, non-numeric scores.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rspamd_reply.h"

static int
parse(const char *s, struct rspamd_reply *r, char *err, size_t errsz)
{
	return rspamd_reply_parse(s, strlen(s), r, err, errsz);
}

static void
test_real(void **state)
{
	struct rspamd_reply r;
	char err[200];

	/* What rspamd 3.4 answered the e2e test's GTUBE message. */
	assert_int_equal(parse("{\"is_skipped\":true,\"score\":15.0,"
	    "\"required_score\":15.0,\"action\":\"reject\",\"symbols\":{"
	    "\"GTUBE\":{\"name\":\"GTUBE\",\"score\":0.0,\"metric_score\":0.0}"
	    "},\"messages\":{\"smtp_message\":\"Gtube pattern\"},"
	    "\"message-id\":\"undef\",\"time_real\":0.113562}", &r, err,
	    sizeof(err)), 0);
	assert_int_equal(r.action, RSA_REJECT);
	assert_true(r.skipped);
	assert_true(r.score == 15.0 && r.required == 15.0);
	assert_string_equal(r.symbols, "GTUBE");

	assert_int_equal(parse("{\"is_skipped\":false,\"score\":0.0,"
	    "\"required_score\":15.0,\"action\":\"no action\",\"symbols\":{},"
	    "\"messages\":{}}", &r, err, sizeof(err)), 0);
	assert_int_equal(r.action, -1);
	assert_string_equal(r.symbols, "");

	assert_int_equal(parse("{\"action\":\"soft reject\",\"score\":7.5,"
	    "\"symbols\":{\"A\":{\"score\":1},\"B\":{\"score\":5.5},"
	    "\"C\":{\"score\":-1},\"D\":{}}}", &r, err, sizeof(err)), 0);
	assert_int_equal(r.action, RSA_SOFT_REJECT);
	assert_string_equal(r.action_name, "soft_reject");
	assert_string_equal(r.symbols, "B,A,D,C");
}

static void
test_actions(void **state)
{
	static const struct { const char *name; int a; } cases[] = {
	    { "reject", RSA_REJECT }, { "soft reject", RSA_SOFT_REJECT },
	    { "rewrite subject", RSA_REWRITE_SUBJECT },
	    { "add header", RSA_ADD_HEADER }, { "greylist", RSA_GREYLIST },
	    { "no action", -1 }, { "discard", -2 }, { "", -2 },
	    { "Reject", -2 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(rspamd_action_parse(cases[i].name),
		    cases[i].a);
}

static void
test_broken(void **state)
{
	static const struct { const char *in, *why; } cases[] = {
	    { "", "not JSON" },
	    { "<html>502 Bad Gateway</html>", "not JSON" },
	    { "[\"reject\"]", "not a JSON object" },
	    { "{\"score\":1}", "no \"action\"" },
	    { "{\"action\":5}", "no \"action\"" },
	    { "{\"action\":\"discard\"}", "unknown action" },
	    { "{\"action\":\"reject\",\"action\":\"no action\"}", "not JSON" },
	    { "{\"action\":\"reject\"", "not JSON" },
	};
	struct rspamd_reply r;
	char err[200];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(cases[i].in, &r, err, sizeof(err)), -1);
		if (strstr(err, cases[i].why) == NULL)
			fail_msg("%s: %s", cases[i].in, err);
	}
}

static void
test_hostile(void **state)
{
	struct rspamd_reply r;
	char err[200], *big;
	size_t n = RSPAMD_REPLY_MAX + 10;

	/* Control bytes, quotes and a long name: cut to a safe alphabet. */
	assert_int_equal(parse("{\"action\":\"add header\",\"score\":\"x\","
	    "\"required_score\":null,\"symbols\":{\"A\\nB\\\"C=D "
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "\":{\"score\":1}}}", &r, err, sizeof(err)), 0);
	assert_int_equal(r.action, RSA_ADD_HEADER);
	assert_true(r.score == 0);
	assert_null(strpbrk(r.symbols, "\n\" ="));
	assert_true(strncmp(r.symbols, "A_B_C_D_xxx", 11) == 0);
	assert_true(strlen(r.symbols) < 40);

	/* A number past double's range is no number: refused. */
	assert_int_equal(parse("{\"action\":\"reject\",\"score\":1e999}",
	    &r, err, sizeof(err)), -1);

	big = malloc(n + 1);
	memset(big, ' ', n);
	big[n] = '\0';
	assert_int_equal(rspamd_reply_parse(big, n, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "longer than"));
	free(big);
}

/* More symbols than are kept: the highest scores. */
static void
test_many_symbols(void **state)
{
	char json[4096];
	size_t o;
	struct rspamd_reply r;
	char err[200];

	o = (size_t)snprintf(json, sizeof(json), "{\"action\":\"reject\","
	    "\"symbols\":{");
	for (int i = 0; i < 20; i++)
		o += (size_t)snprintf(json + o, sizeof(json) - o,
		    "%s\"S%02d\":{\"score\":%d}", i ? "," : "", i, i);
	snprintf(json + o, sizeof(json) - o, "}}");
	assert_int_equal(parse(json, &r, err, sizeof(err)), 0);
	assert_string_equal(r.symbols, "S19,S18,S17,S16,S15,S14,S13,S12");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real),
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_broken),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_many_symbols),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
