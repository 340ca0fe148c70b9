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
	assert_null(mi.from_err);
	assert_int_equal(mi.nsender, 0);
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
		{ "undisclosed", 0, NULL, NULL, 1 },
		{ "(x\\() <ceo@other.org> ) <a@example.com>", 0, NULL, NULL, 1 },
		{ "a@example.com,\r\n\t(folded) Bob\r\n <b@example.org>", 2,
		    "a@example.com", "b@example.org", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char m[512];
		struct msg_info mi;

		snprintf(m, sizeof(m), "From: %s\r\n\r\nx\r\n", cases[i].from);
		msg_scan(m, strlen(m), &mi);
		if (mi.nfrom_addr != cases[i].n ||
		    (mi.from_err != NULL) != cases[i].bad)
			fail_msg("%s: n=%d err=%s", cases[i].from,
			    mi.nfrom_addr, mi.from_err ? mi.from_err : "-");
		if (cases[i].first)
			assert_string_equal(mi.from_addr[0], cases[i].first);
		if (cases[i].second)
			assert_string_equal(mi.from_addr[1], cases[i].second);
	}
}

/* The subaccount of these tests owns example.com and its subdomains. */
static int
owns(const void *arg, const char *domain)
{
	size_t n = strlen(domain);

	return strcmp(domain, "example.com") == 0 || (n > 12 &&
	    strcmp(domain + n - 12, ".example.com") == 0);
}

/* msg_check_authors on a message with these header lines. */
static const char *
authors_tx(const char *hdr, int smtputf8, char *buf, size_t bufsz)
{
	char m[4096];
	static struct msg_info mi;

	snprintf(m, sizeof(m), "%s\r\nSubject: s\r\n\r\nbody\r\n", hdr);
	msg_scan(m, strlen(m), &mi);
	return msg_check_authors(&mi, smtputf8, owns, NULL, "alice", buf,
	    bufsz);
}

static const char *
authors(const char *hdr, char *buf, size_t bufsz)
{
	return authors_tx(hdr, 0, buf, bufsz);
}

/* RFC 6532: UTF-8 authors go in SMTPUTF8 transactions, their domains
 * checked in A-labels. */
static void
test_check_authors_utf8(void **state)
{
	char buf[600];

	assert_null(authors_tx("From: J\xc3\xb6rg <j\xc3\xb6rg@example.com>", 1,
	    buf, sizeof(buf)));
	assert_string_equal(authors_tx("From: j\xc3\xb6rg@example.com", 0, buf,
	    sizeof(buf)), "550 5.6.7 Error: From: address "
	    "<j\xc3\xb6rg@example.com> is internationalized: send with "
	    "SMTPUTF8");
	/* b\xc3\xbc.example.com is xn--b-xga.example.com: owned. */
	assert_null(authors_tx("From: a@b\xc3\xbc.example.com\r\nSender: "
	    "s@B\xc3\x9c.example.com", 1, buf, sizeof(buf)));
	assert_string_equal(authors_tx("From: a@example.com\r\nSender: "
	    "s@\xc3\xbc.test", 1, buf, sizeof(buf)), "550 5.7.1 Error: "
	    "Sender: address <s@\xc3\xbc.test> not owned by subaccount alice");
	assert_string_equal(authors_tx("From: j\xc3rg@example.com", 1, buf,
	    sizeof(buf)), "550 5.7.1 Error: From: header not accepted: an "
	    "8-bit address that is not valid UTF-8 with a valid "
	    "internationalized domain");
}

static void
test_check_authors(void **state)
{
	static const struct {
		const char	*hdr;
		const char	*want;	/* NULL: may go; else reply start */
	} cases[] = {
		{ "From: a@example.com", NULL },
		{ "From: A <a@mail.example.com>, b@EXAMPLE.com", NULL },
		{ "From: a@example.com\r\nSender: S <s@example.com>", NULL },
		{ "Sender: s@example.com", NULL },	/* From: is added */
		/* Issue 19 (a): the ninth address is checked too. */
		{ "From: a1@example.com, a2@example.com, a3@example.com, "
		  "a4@example.com, a5@example.com, a6@example.com,\r\n "
		  "a7@example.com, a8@example.com, ceo@other.org",
		  "550 5.7.1 Error: From: address <ceo@other.org> not owned "
		  "by subaccount alice" },
		/* Issue 19 (b): refused, not read as a@example.com. */
		{ "From: (x\\() <ceo@other.org> ) <a@example.com>",
		  "550 5.7.1 Error: From: header not accepted: a ')' without "
		  "its '('" },
		{ "From: Team:;", "550 5.7.1 Error: From: header has no "
		  "address" },
		{ "From: a@example.com\r\nFrom: b@example.com",
		  "554 5.6.0 Error: message has more than one From header" },
		{ "From: a@example.com\r\nSender: ceo@other.org",
		  "550 5.7.1 Error: Sender: address <ceo@other.org> not owned" },
		{ "From: a@example.com\r\nSender: s@example.com, "
		  "t@example.com", "550 5.7.1 Error: Sender: header not "
		  "accepted: more than one address" },
		{ "From: a@example.com\r\nSender: G:;",
		  "550 5.7.1 Error: Sender: header not accepted: no address" },
		{ "From: a@example.com\r\nSender: (x\\() <ceo@other.org> ) "
		  "<s@example.com>", "550 5.7.1 Error: Sender: header not "
		  "accepted" },
		{ "From: a@example.com\r\nSender: s@example.com\r\n"
		  "Sender: t@example.com", "554 5.6.0 Error: message has more "
		  "than one Sender header" },
		{ "From: a@[192.0.2.1]", "550 5.7.1 Error: From: address "
		  "<a@[192.0.2.1]> not owned" },
		{ "From: a@evilexample.com", "550 5.7.1" },
	};
	char buf[600];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *r = authors(cases[i].hdr, buf, sizeof(buf));

		if (cases[i].want == NULL && r != NULL)
			fail_msg("%s: %s", cases[i].hdr, r);
		if (cases[i].want != NULL && (r == NULL ||
		    strncmp(r, cases[i].want, strlen(cases[i].want)) != 0))
			fail_msg("%s: %s, want %s", cases[i].hdr, r ? r : "NULL",
			    cases[i].want);
	}
}

/* 32 From: addresses are checked; a 33rd refuses the field whole. */
static void
test_from_bound(void **state)
{
	char hdr[4096], buf[600];
	size_t n = 0;

	n += (size_t)snprintf(hdr, sizeof(hdr), "From: ");
	for (int i = 0; i < MSG_FROM_MAX; i++)
		n += (size_t)snprintf(hdr + n, sizeof(hdr) - n,
		    "%sa%d@example.com", i ? ",\r\n " : "", i);
	assert_null(authors(hdr, buf, sizeof(buf)));
	snprintf(hdr + n, sizeof(hdr) - n, ", a@example.com");
	assert_string_equal(authors(hdr, buf, sizeof(buf)), "550 5.7.1 Error: "
	    "From: header not accepted: more than 32 addresses");
}

static void
test_build(void **state)
{
	static const char m[] = "From: a@example.com\r\nBcc: x@y.z,\r\n"
	    " w@v.u\r\nResent-Bcc: r@y.z\r\nX-GW-Policy: none\r\n"
	    "Subject: s\r\nx-gw-policy:\r\n\tforged\r\n"
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
	assert_string_equal(buf_cstr(&out),
	    "Subject: only headers\r\n\r\n\r\n");
	buf_free(&out);
}

/* An empty body goes out as one CRLF (the same DKIM body hash). */
static void
test_build_empty_body(void **state)
{
	static const char m[] = "Subject: s\r\n\r\n";
	static const char m2[] = "Subject: s\r\n\r\n\r\n";
	struct msg_info mi;
	struct buf out;

	msg_scan(m, sizeof(m) - 1, &mi);
	buf_init(&out, 0);
	assert_int_equal(msg_build(m, sizeof(m) - 1, &mi, "", "", &out), 0);
	assert_string_equal(buf_cstr(&out), "Subject: s\r\n\r\n\r\n");
	buf_free(&out);
	/* A body of one empty line stays as it is. */
	msg_scan(m2, sizeof(m2) - 1, &mi);
	buf_init(&out, 0);
	assert_int_equal(msg_build(m2, sizeof(m2) - 1, &mi, "", "", &out), 0);
	assert_string_equal(buf_cstr(&out), "Subject: s\r\n\r\n\r\n");
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
		cmocka_unit_test(test_check_authors),
		cmocka_unit_test(test_check_authors_utf8),
		cmocka_unit_test(test_from_bound),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_build_without_blank_line),
		cmocka_unit_test(test_build_empty_body),
		cmocka_unit_test(test_sanitize),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
