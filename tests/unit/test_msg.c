// sources: gwd/msg.c
/*
 * test_msg.c - header scanning (what the audit log and policy read) and
 * the stored form (our Received: on top, Bcc: gone, fields appended).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "msg.h"

static void
test_scan_fields(void **state)
{
	static const char m[] =
	    "Received: from a by b; Tue, 24 Nov 2026 10:00:00 +0000\r\n"
	    "Received: from c\r\n by d; Tue, 24 Nov 2026 10:00:00 +0000\r\n"
	    "From: \"Doe, Jane\" <Jane@Example.COM>\r\n"
	    "Subject: a folded\r\n\t subject\r\n"
	    "Message-ID:\r\n <abc@example.com>\r\n"
	    "Bcc: hidden@x.test\r\n"
	    "\r\n"
	    "body\r\n";
	struct msg_info mi;

	msg_scan(m, sizeof(m) - 1, &mi);
	assert_int_equal(mi.nreceived, 2);
	assert_int_equal(mi.nfrom, 1);
	assert_int_equal(mi.nbcc, 1);
	assert_false(mi.has_date);
	assert_true(mi.has_message_id);
	assert_true(mi.has_blank);
	assert_string_equal(mi.subject, "a folded subject");
	assert_string_equal(mi.message_id, "<abc@example.com>");
	assert_int_equal(mi.nfrom_addr, 1);
	/* The domain is lower-cased, the local part kept. */
	assert_string_equal(mi.from_addr[0], "Jane@example.com");
	assert_false(mi.from_bad);
	assert_memory_equal(m + mi.body_off, "body\r\n", 6);
}

static void
test_from_forms(void **state)
{
	static const struct {
		const char	*from;
		int		 n;
		const char	*first, *second;
		int		 bad;
	} cases[] = {
		{ "a@example.com", 1, "a@example.com", NULL, 0 },
		{ "Name <a@example.com>", 1, "a@example.com", NULL, 0 },
		{ "a@example.com (comment <x@y.z>)", 1, "a@example.com", NULL,
		    0 },
		{ "\"quoted <b@evil.test>\" <a@example.com>", 1, "a@example.com",
		    NULL, 0 },
		{ "a@example.com, Bob <b@other.test>", 2, "a@example.com",
		    "b@other.test", 0 },
		{ "Team: a@example.com, b@example.org;", 2, "a@example.com",
		    "b@example.org", 0 },
		{ "<a@example.com", 0, NULL, NULL, 1 },
		{ "undisclosed", 0, NULL, NULL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char m[512];
		struct msg_info mi;

		snprintf(m, sizeof(m), "From: %s\r\n\r\nx\r\n", cases[i].from);
		msg_scan(m, strlen(m), &mi);
		if (mi.nfrom_addr != cases[i].n || mi.from_bad != cases[i].bad)
			fail_msg("%s: n=%d bad=%d", cases[i].from,
			    mi.nfrom_addr, mi.from_bad);
		if (cases[i].first)
			assert_string_equal(mi.from_addr[0], cases[i].first);
		if (cases[i].second)
			assert_string_equal(mi.from_addr[1], cases[i].second);
	}
}

static void
test_build(void **state)
{
	static const char m[] = "From: a@example.com\r\nBcc: x@y.z,\r\n"
	    " w@v.u\r\nResent-Bcc: r@y.z\r\nSubject: s\r\n"
	    "resent-bcc:\r\n\tq@y.z\r\n\r\n.body\r\n";
	static const char want[] = "Received: r\r\nFrom: a@example.com\r\n"
	    "Subject: s\r\nMessage-ID: <1@h>\r\n\r\n.body\r\n";
	struct msg_info mi;
	struct buf out;

	msg_scan(m, sizeof(m) - 1, &mi);
	assert_int_equal(mi.nbcc, 3);
	buf_init(&out, 0);
	assert_int_equal(msg_build(m, sizeof(m) - 1, &mi, "Received: r\r\n",
	    "Message-ID: <1@h>\r\n", &out), 0);
	assert_int_equal(buf_len(&out), sizeof(want) - 1);
	assert_memory_equal(buf_ptr(&out), want, sizeof(want) - 1);
	buf_free(&out);
}

/* No blank line, or a body line that is not a field: the header ends
 * there and a blank line is put in. */
static void
test_build_without_blank_line(void **state)
{
	static const char m1[] = "Subject: s\r\nthis is body\r\n";
	static const char m2[] = "Subject: only headers\r\n";
	struct msg_info mi;
	struct buf out;

	msg_scan(m1, sizeof(m1) - 1, &mi);
	assert_false(mi.has_blank);
	buf_init(&out, 0);
	assert_int_equal(msg_build(m1, sizeof(m1) - 1, &mi, "", "D: 1\r\n",
	    &out), 0);
	assert_string_equal(buf_cstr(&out),
	    "Subject: s\r\nD: 1\r\n\r\nthis is body\r\n");
	buf_free(&out);

	msg_scan(m2, sizeof(m2) - 1, &mi);
	buf_init(&out, 0);
	assert_int_equal(msg_build(m2, sizeof(m2) - 1, &mi, "", "", &out), 0);
	assert_string_equal(buf_cstr(&out), "Subject: only headers\r\n\r\n");
	buf_free(&out);
}

static void
test_sanitize(void **state)
{
	char out[16];

	msg_sanitize("a (b)\r\nc\x01", 9, out, sizeof(out));
	assert_string_equal(out, "a__b___c_");
	msg_sanitize("0123456789abcdefXYZ", 19, out, sizeof(out));
	assert_int_equal(strlen(out), 15);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan_fields),
		cmocka_unit_test(test_from_forms),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_build_without_blank_line),
		cmocka_unit_test(test_sanitize),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
