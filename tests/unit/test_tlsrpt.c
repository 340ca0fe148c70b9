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
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <zlib.h>

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

/* A day's rows as queue.db holds them become one policy per type, the
 * successes summed, each failure kept with its fields ("" = absent). */
static void
test_policies(void **state)
{
	static char sts[] = "sts", tlsa[] = "tlsa", none[] = "",
	    bad[] = "certificate-host-mismatch", ip[] = "192.0.2.1",
	    mx[] = "mx1.y.test";
	const struct tlsrpt_row rows[] = {
		{ sts, none, none, none, none, 7 },
		{ tlsa, bad, ip, mx, none, 2 },
		{ sts, bad, none, mx, ip, 3 },
		{ sts, none, none, none, none, 5 },
	};
	const char *text = "version: STSv1\nmode: enforce\nmx: mx1.y.test\n"
	    "mx: *.y.test\nmax_age: 86400\n";
	struct tlsrpt_policy pol[2];
	struct tlsrpt_failure fail[4];
	struct mtasts_policy p;
	const char *mxs[MTASTS_MAX_MX];

	(void)state;
	assert_int_equal(tlsrpt_policies("y.test", rows, 4, text, pol, fail,
	    &p, mxs), 2);
	assert_string_equal(pol[0].type, "sts");
	assert_int_equal(pol[0].ok, 12);
	assert_int_equal(pol[0].failed, 3);
	assert_int_equal(pol[0].nfail, 1);
	assert_null(pol[0].fail[0].sending_ip);
	assert_string_equal(pol[0].fail[0].mx_host, "mx1.y.test");
	assert_string_equal(pol[0].fail[0].receiving_ip, "192.0.2.1");
	assert_ptr_equal(pol[0].policy_text, text);
	assert_int_equal(pol[0].nmx, 2);
	assert_string_equal(pol[0].mx[1], "*.y.test");
	assert_string_equal(pol[1].type, "tlsa");
	assert_int_equal(pol[1].ok, 0);
	assert_int_equal(pol[1].failed, 2);
	assert_string_equal(pol[1].fail[0].sending_ip, "192.0.2.1");
	assert_null(pol[1].fail[0].receiving_ip);
	assert_null(pol[1].policy_text);

	/* Only TLSA rows: one policy; a body that does not parse is left
	 * out rather than reported wrong. */
	assert_int_equal(tlsrpt_policies("y.test", &rows[1], 1, "junk", pol,
	    fail, &p, mxs), 1);
	assert_string_equal(pol[0].type, "tlsa");
	assert_int_equal(tlsrpt_policies("y.test", rows, 1, "junk", pol,
	    fail, &p, mxs), 1);
	assert_null(pol[0].policy_text);
	assert_int_equal(pol[0].nmx, 0);
}

/* The report's gzip (RFC 1952) inflates back to the JSON. */
static void
test_gzip(void **state)
{
	char in[5000], back[6000];
	unsigned char *gz;
	size_t gzlen;
	z_stream z;

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (char)("{\"policies\": []}"[i % 16]);
	assert_int_equal(tlsrpt_gzip(in, sizeof(in), &gz, &gzlen), 0);
	assert_true(gzlen > 10 && gzlen < sizeof(in));
	assert_int_equal(gz[0], 0x1f);
	assert_int_equal(gz[1], 0x8b);
	memset(&z, 0, sizeof(z));
	assert_int_equal(inflateInit2(&z, 16 + 15), Z_OK);
	z.next_in = gz;
	z.avail_in = (uInt)gzlen;
	z.next_out = (Bytef *)back;
	z.avail_out = sizeof(back);
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	assert_int_equal(z.total_out, sizeof(in));
	assert_memory_equal(back, in, sizeof(in));
	inflateEnd(&z);
	free(gz);
}

int
main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(test_txt),
		cmocka_unit_test(test_result_type),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_policies),
		cmocka_unit_test(test_gzip),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
