// sources:
/*
 * test_mtasts.c - MTA-STS TXT records, policy files and MX matching
 * (RFC 8461 3.1, 3.2, 4.1): the RFC's examples, line endings, what is
 * missing or malformed, the bounds, and wildcard patterns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mtasts.h"

static void
test_txt(void **state)
{
	static const struct { const char *in; int rc; const char *id; } c[] = {
		{ "v=STSv1; id=20160831085700Z;", 0, "20160831085700Z" },
		{ "v=STSv1;id=abc", 0, "abc" },
		{ "v=STSv1; id=abc ; ext=1", 0, "abc" },
		{ "v=STSv1; ext=1; id=Z9", 0, "Z9" },
		{ "v=STSv1; id=a; id=b", 0, "a" },
		{ "v=spf1 -all", 1, NULL },
		{ "V=STSv1; id=a", 1, NULL },
		{ "v=STSv10; id=a", 1, NULL },
		{ "v=STSv1;", -1, NULL },
		{ "v=STSv1", -1, NULL },
		{ "v=STSv1; id=", -1, NULL },
		{ "v=STSv1; id=a-b", -1, NULL },
		{ "v=STSv1; id=123456789012345678901234567890123", -1, NULL },
		{ "v=STSv1; id=12345678901234567890123456789012", 0,
		    "12345678901234567890123456789012" },
		{ "v=STSv1 id=a", -1, NULL },
		{ "v=STSv1; junk; id=a", -1, NULL },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char id[MTASTS_ID_MAX + 1] = "";
		const char *err = NULL;
		int rc = mtasts_txt_id(c[i].in, id, &err);

		if (rc != c[i].rc)
			fail_msg("%s: %d, not %d (%s)", c[i].in, rc, c[i].rc,
			    err ? err : "");
		if (rc == 0)
			assert_string_equal(id, c[i].id);
		if (rc == -1)
			assert_non_null(err);
	}
}

static void
test_policy(void **state)
{
	static const struct {
		const char *name, *in;
		int rc, mode, nmx;
		int64_t age;
	} c[] = {
		{ "rfc example", "version: STSv1\r\nmode: enforce\r\n"
		    "mx: mail.example.com\r\nmx: *.example.net\r\n"
		    "mx: backupmx.example.com\r\nmax_age: 604800\r\n",
		    0, MTASTS_ENFORCE, 3, 604800 },
		{ "bare LF, no final newline", "version: STSv1\nmode: testing\n"
		    "mx: a.test\nmax_age: 86400", 0, MTASTS_TESTING, 1, 86400 },
		{ "mode none needs no mx", "version: STSv1\nmode: none\n"
		    "max_age: 1\n", 0, MTASTS_NONE, 0, 1 },
		{ "unknown keys ignored", "version: STSv1\nfoo: bar\n"
		    "mode: enforce\nmx: a.test\nmax_age: 5\n", 0,
		    MTASTS_ENFORCE, 1, 5 },
		{ "spaces around", "version:STSv1\nmode:   enforce  \n"
		    "mx:\ta.test\nmax_age: 5\n\n", 0, MTASTS_ENFORCE, 1, 5 },
		{ "max_age capped", "version: STSv1\nmode: enforce\nmx: a.test\n"
		    "max_age: 9999999999\n", 0, MTASTS_ENFORCE, 1,
		    MTASTS_MAX_AGE_MAX },
		{ "first mode counts", "version: STSv1\nmode: testing\n"
		    "mode: enforce\nmx: a.test\nmax_age: 5\n", 0,
		    MTASTS_TESTING, 1, 5 },
		{ "no version", "mode: enforce\nmx: a.test\nmax_age: 5\n", -1,
		    0, 0, 0 },
		{ "wrong version", "version: STSv2\nmode: enforce\nmx: a.test\n"
		    "max_age: 5\n", -1, 0, 0, 0 },
		{ "no mode", "version: STSv1\nmx: a.test\nmax_age: 5\n", -1, 0,
		    0, 0 },
		{ "bad mode", "version: STSv1\nmode: Enforce\nmx: a.test\n"
		    "max_age: 5\n", -1, 0, 0, 0 },
		{ "no max_age", "version: STSv1\nmode: enforce\nmx: a.test\n",
		    -1, 0, 0, 0 },
		{ "max_age not a number", "version: STSv1\nmode: enforce\n"
		    "mx: a.test\nmax_age: -5\n", -1, 0, 0, 0 },
		{ "max_age too many digits", "version: STSv1\nmode: enforce\n"
		    "mx: a.test\nmax_age: 12345678901\n", -1, 0, 0, 0 },
		{ "enforce without mx", "version: STSv1\nmode: enforce\n"
		    "max_age: 5\n", -1, 0, 0, 0 },
		{ "bad mx", "version: STSv1\nmode: enforce\nmx: a test\n"
		    "max_age: 5\n", -1, 0, 0, 0 },
		{ "double star", "version: STSv1\nmode: enforce\nmx: *.*.a\n"
		    "max_age: 5\n", -1, 0, 0, 0 },
		{ "no colon", "version: STSv1\nmode enforce\nmx: a.test\n"
		    "max_age: 5\n", -1, 0, 0, 0 },
		{ "NUL in value", "version: STSv1\nmode: enforce\nmx: a\001\n"
		    "max_age: 5\n", -1, 0, 0, 0 },
		{ "HTML", "<html><body>hi</body></html>", -1, 0, 0, 0 },
		{ "empty", "", -1, 0, 0, 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct mtasts_policy p;
		const char *err = NULL;
		int rc = mtasts_parse(c[i].in, strlen(c[i].in), &p, &err);

		if (rc != c[i].rc)
			fail_msg("%s: %d (%s)", c[i].name, rc, err ? err : "");
		if (rc == -1) {
			assert_non_null(err);
			continue;
		}
		assert_int_equal(p.mode, c[i].mode);
		assert_int_equal(p.nmx, c[i].nmx);
		assert_int_equal(p.max_age, c[i].age);
	}
}

static void
test_too_many_mx(void **state)
{
	char body[4096];
	size_t o;
	struct mtasts_policy p;
	const char *err = NULL;

	(void)state;
	o = (size_t)snprintf(body, sizeof(body), "version: STSv1\nmode: "
	    "enforce\nmax_age: 5\n");
	for (int i = 0; i < MTASTS_MAX_MX; i++)
		o += (size_t)snprintf(body + o, sizeof(body) - o,
		    "mx: m%d.test\n", i);
	assert_int_equal(mtasts_parse(body, o, &p, &err), 0);
	assert_int_equal(p.nmx, MTASTS_MAX_MX);
	o += (size_t)snprintf(body + o, sizeof(body) - o, "mx: one.more\n");
	assert_int_equal(mtasts_parse(body, o, &p, &err), -1);
	assert_string_equal(err, "too many mx patterns");
	/* A length past the policy bound is refused before it is read. */
	assert_int_equal(mtasts_parse(body, MTASTS_BODY_MAX + 1, &p, &err),
	    -1);
}

static void
test_mx_match(void **state)
{
	static const struct { const char *pat, *host; int m; } c[] = {
		{ "mail.example.com", "mail.example.com", 1 },
		{ "mail.example.com", "MAIL.Example.COM.", 1 },
		{ "mail.example.com.", "mail.example.com", 1 },
		{ "mail.example.com", "xmail.example.com", 0 },
		{ "mail.example.com", "mail.example.co", 0 },
		{ "*.example.net", "mx1.example.net", 1 },
		{ "*.example.net", "mx1.EXAMPLE.net.", 1 },
		{ "*.example.net", "a.b.example.net", 0 },
		{ "*.example.net", "example.net", 0 },
		{ "*.example.net", ".example.net", 0 },
		{ "*.example.net", "mx1.example.network", 0 },
		{ "*.example.net", "mx1xexample.net", 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct mtasts_policy p = { .mode = MTASTS_ENFORCE, .nmx = 1 };

		strcpy(p.mx[0], c[i].pat);
		if (mtasts_mx_match(&p, c[i].host) != c[i].m)
			fail_msg("%s vs %s: not %d", c[i].pat, c[i].host,
			    c[i].m);
	}
}

int
main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(test_txt),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_too_many_mx),
		cmocka_unit_test(test_mx_match),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
