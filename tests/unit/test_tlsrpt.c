// sources:
/*
 * test_tlsrpt.c - TLS-RPT (RFC 8460): the _smtp._tls TXT record's rua,
 * result types from gwd's TLS notes, and the aggregate report's JSON as
 * an independent parser (jansson) reads it: RFC 8460 4's field names,
 * UTC date range, policy-string lines, escaping of hostile strings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "tlsrpt.h"

static void
test_txt(void **state)
{
	static const struct { const char *in; int n; const char *r0, *r1; }
	    c[] = {
		{ "v=TLSRPTv1; rua=mailto:rpt@example.com", 1,
		    "mailto:rpt@example.com", NULL },
		{ "v=TLSRPTv1;rua=mailto:a@x.test,https://r.x.test/v1", 2,
		    "mailto:a@x.test", "https://r.x.test/v1" },
		{ "v=TLSRPTv1; rua=mailto:a@x.test , mailto:b@x.test;", 2,
		    "mailto:a@x.test", "mailto:b@x.test" },
		{ "v=TLSRPTv1; ext=1; rua=http://x.test/", 0, NULL, NULL },
		{ "v=TLSRPTv1; rua=ftp://x, mailto:c@x.test", 1,
		    "mailto:c@x.test", NULL },
		{ "v=TLSRPTv1", -1, NULL, NULL },
		{ "v=TLSRPTv1; rua=", -1, NULL, NULL },
		{ "v=TLSRPTv1; rua=mailto:a@x; rua=mailto:b@x", -1, NULL,
		    NULL },
		{ "v=spf1 -all", -1, NULL, NULL },
		{ "v=TLSRPTv10; rua=mailto:a@x", -1, NULL, NULL },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char rua[TLSRPT_MAX_RUA][TLSRPT_RUA_MAX];
		const char *err = NULL;
		int n = tlsrpt_txt_rua(c[i].in, rua, &err);

		if (n != c[i].n)
			fail_msg("%s: %d, not %d (%s)", c[i].in, n, c[i].n,
			    err ? err : "");
		if (n > 0)
			assert_string_equal(rua[0], c[i].r0);
		if (n > 1)
			assert_string_equal(rua[1], c[i].r1);
	}
}

static void
test_result_type(void **state)
{
	(void)state;
	assert_string_equal(tlsrpt_result_type("mta-sts testing: hostname "
	    "mismatch"), "certificate-host-mismatch");
	assert_string_equal(tlsrpt_result_type("mta-sts enforce: STARTTLS "
	    "not offered"), "starttls-not-supported");
	assert_string_equal(tlsrpt_result_type("mta-sts testing: self-signed "
	    "certificate"), "certificate-not-trusted");
	assert_string_equal(tlsrpt_result_type("mta-sts testing: certificate "
	    "has expired"), "certificate-expired");
	assert_string_equal(tlsrpt_result_type("mta-sts enforce: MX host not "
	    "in the policy"), "validation-failure");
	assert_string_equal(tlsrpt_result_type(NULL), "validation-failure");
}

static void
test_json(void **state)
{
	static const char *const mx[] = { "*.mail.y.test", "mx\"1\n.y.test" };
	struct tlsrpt_failure f[] = {
		{ "certificate-host-mismatch", "192.0.2.1", "mx1.mail.y.test",
		    NULL, 3, NULL },
		{ "starttls-not-supported", NULL, NULL, NULL, 1, "x\x01y" },
	};
	struct tlsrpt_policy p = { "sts", "y.test",
	    "version: STSv1\r\nmode: testing\r\nmx: *.mail.y.test\r\n"
	    "max_age: 86400\r\n", mx, 2, 5326, 4, f, 2 };
	struct tlsrpt_report r = { "gw.test", "mailto:postmaster@gw.test",
	    "2026-12-06_y.test", 1796515200, 1796601599, &p, 1 };
	struct buf b;
	json_error_t je;
	json_t *j, *pol, *fd;

	(void)state;
	buf_init(&b, 1 << 20);
	assert_int_equal(tlsrpt_json(&b, &r), 0);
	j = json_loadb(b.data + b.off, b.len - b.off, 0, &je);
	if (j == NULL)
		fail_msg("not JSON: %s", je.text);
	assert_string_equal(json_string_value(json_object_get(j,
	    "organization-name")), "gw.test");
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(j, "date-range"), "start-datetime")),
	    "2026-12-06T00:00:00Z");
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(j, "date-range"), "end-datetime")),
	    "2026-12-06T23:59:59Z");
	assert_string_equal(json_string_value(json_object_get(j,
	    "report-id")), "2026-12-06_y.test");
	pol = json_array_get(json_object_get(j, "policies"), 0);
	assert_non_null(pol);
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(pol, "policy"), "policy-type")), "sts");
	assert_int_equal(json_array_size(json_object_get(json_object_get(pol,
	    "policy"), "policy-string")), 4);
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    json_object_get(pol, "policy"), "policy-string"), 1)),
	    "mode: testing");
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    json_object_get(pol, "policy"), "mx-host"), 1)),
	    "mx\"1\n.y.test");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    pol, "summary"), "total-successful-session-count")), 5326);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    pol, "summary"), "total-failure-session-count")), 4);
	fd = json_object_get(pol, "failure-details");
	assert_int_equal(json_array_size(fd), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    fd, 0), "receiving-mx-hostname")), "mx1.mail.y.test");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(
	    fd, 0), "failed-session-count")), 3);
	assert_null(json_object_get(json_array_get(fd, 1),
	    "receiving-mx-hostname"));
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    fd, 1), "failure-reason-code")), "x\x01y");
	json_decref(j);

	/* A buffer too small is an error, never a cut report. */
	buf_free(&b);
	buf_init(&b, 100);
	assert_int_equal(tlsrpt_json(&b, &r), -1);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(test_txt),
		cmocka_unit_test(test_result_type),
		cmocka_unit_test(test_json),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
