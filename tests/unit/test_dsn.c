// sources: gwd/dsn.c
/*
 * test_dsn.c - delivery status notifications: the fields a receiving
 * MTA parses, line discipline (CRLF, 998 octets), and that untrusted
 * text can neither add a MIME part nor leak the original's body.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dsn.h"

#define BOUNDARY	"BOUNDARY"

static const char original[] =
    "Received: from a by b; Tue, 24 Nov 2026 10:00:00 +0000\r\n"
    "From: <sender@example.com>\r\n"
    "Subject: hello\r\n"
    "\r\n"
    "SECRET BODY LINE\r\n"
    "--" BOUNDARY "--\r\n";

static void
dsn_setup(struct dsn *d, const struct dsn_rcpt *r, int n)
{
	memset(d, 0, sizeof(*d));
	d->reporting_mta = "mx.example.net";
	d->postmaster = "MAILER-DAEMON@mx.example.net";
	d->to = "sender@example.com";
	d->message_id = "<dsn.1@mx.example.net>";
	d->boundary = BOUNDARY;
	d->qid = "0123456789abcdef";
	d->arrival = 1795000000;
	d->now = 1795003600;
	d->original = original;
	d->original_len = sizeof(original) - 1;
	d->rcpts = r;
	d->nrcpts = n;
}

static char *
dsn_run(const struct dsn *d, struct buf *out)
{
	buf_init(out, 0);
	assert_int_equal(dsn_build(d, out), 0);
	return buf_cstr(out);
}

/*
 * Every line ends CRLF, none passes 998 octets, no bare CR or NUL.
 * Returns the number of lines that start with "--BOUNDARY".
 */
static int
check_lines(const char *s, size_t n, size_t *longest)
{
	size_t i, start = 0;
	int delims = 0;

	*longest = 0;
	assert_true(n >= 2);
	assert_memory_equal(s + n - 2, "\r\n", 2);
	for (i = 0; i < n; i++) {
		assert_true(s[i] != '\0');
		if (s[i] == '\r')
			assert_true(i + 1 < n && s[i + 1] == '\n');
		if (s[i] != '\n')
			continue;
		assert_true(i > 0 && s[i - 1] == '\r');
		assert_true(i - 1 - start <= 998);
		if (i - 1 - start > *longest)
			*longest = i - 1 - start;
		if (i - start >= 10 && memcmp(s + start, "--" BOUNDARY, 10) == 0)
			delims++;
		start = i + 1;
	}
	return delims;
}

static const char *
find_line(const char *s, const char *line)
{
	const char *p = s;
	size_t n = strlen(line);

	while ((p = strstr(p, line)) != NULL) {
		if ((p == s || p[-1] == '\n') && p[n] == '\r')
			return p;
		p++;
	}
	return NULL;
}

static void
test_fields(void **state)
{
	static const struct dsn_rcpt r[] = {
		{ "user@x", "failed", "5.1.1", "mx.x",
		    "550 5.1.1 no such user", 1795003000, NULL, NULL },
	};
	struct dsn d;
	struct buf out;
	const char *s, *p3;
	size_t longest;

	dsn_setup(&d, r, 1);
	s = dsn_run(&d, &out);
	assert_int_equal(check_lines(s, buf_len(&out), &longest), 4);
	assert_true(longest <= 78);
	assert_non_null(find_line(s, "From: Mail Delivery System "
	    "<MAILER-DAEMON@mx.example.net>"));
	assert_non_null(find_line(s, "To: <sender@example.com>"));
	assert_non_null(find_line(s,
	    "Subject: Undelivered Mail Returned to Sender"));
	assert_non_null(find_line(s, "Message-ID: <dsn.1@mx.example.net>"));
	assert_non_null(find_line(s, "Auto-Submitted: auto-replied"));
	assert_non_null(find_line(s, "MIME-Version: 1.0"));
	assert_non_null(find_line(s, "\tboundary=\"" BOUNDARY "\""));
	assert_non_null(find_line(s, "X-Gw-Queue-ID: 0123456789abcdef"));
	assert_non_null(strstr(s, "\r\nDate: "));
	assert_non_null(find_line(s, "Reporting-MTA: dns; mx.example.net"));
	assert_non_null(strstr(s, "\r\nArrival-Date: "));
	assert_non_null(find_line(s, "Final-Recipient: rfc822; user@x"));
	assert_non_null(find_line(s, "Action: failed"));
	assert_non_null(find_line(s, "Status: 5.1.1"));
	assert_non_null(find_line(s, "Remote-MTA: dns; mx.x"));
	assert_non_null(find_line(s,
	    "Diagnostic-Code: smtp; 550 5.1.1 no such user"));
	assert_non_null(strstr(s, "\r\nLast-Attempt-Date: "));
	assert_non_null(find_line(s, "<user@x>: 550 5.1.1 no such user"));
	assert_non_null(strstr(s, "This is the mail system at host "
	    "mx.example.net."));

	/* Third part: the header section, not the body. */
	p3 = strstr(s, "Content-Type: text/rfc822-headers\r\n");
	assert_non_null(p3);
	assert_non_null(find_line(p3, "Subject: hello"));
	assert_null(strstr(s, "SECRET BODY"));
	assert_non_null(strstr(p3, "Subject: hello\r\n\r\n--" BOUNDARY
	    "--\r\n"));
	buf_free(&out);
}

static void
test_injection(void **state)
{
	static const struct dsn_rcpt r[] = {
		{ "user@x\r\n--" BOUNDARY, "failed", "5.1.1\r\nX: y",
		    "mx\r\n--" BOUNDARY,
		    "x\r\n--" BOUNDARY "\r\nContent-Type: text/html", 0, NULL, NULL },
		{ "--" BOUNDARY "@x", "failed", "5.0.0", NULL,
		    "\n--" BOUNDARY "--\n\x01\x7f\xff", 0, NULL, NULL },
	};
	static const char orig[] =
	    "Subject: a\rb\nc\r\n"
	    "--" BOUNDARY "\r\n"
	    "X-Nul: a\0b\r\n"
	    "\r\n"
	    "body";
	struct dsn d;
	struct buf out;
	const char *s;
	size_t longest;

	dsn_setup(&d, r, 2);
	d.original = orig;
	d.original_len = sizeof(orig) - 1;
	s = dsn_run(&d, &out);
	assert_int_equal(check_lines(s, buf_len(&out), &longest), 4);
	assert_null(strstr(s, "\nContent-Type: text/html"));
	assert_null(strstr(s, "\nX: y"));
	assert_non_null(find_line(s, "Diagnostic-Code: smtp; x --" BOUNDARY
	    " Content-Type: text/html"));
	/* Bare CR and LF became line ends; the fake delimiter is indented. */
	assert_non_null(strstr(s, "\r\nSubject: a\r\nb\r\nc\r\n --" BOUNDARY
	    "\r\nX-Nul: a?b\r\n\r\n--" BOUNDARY "--\r\n"));
	assert_null(strstr(s, "body"));
	for (size_t i = 0; i < buf_len(&out); i++)
		assert_true((unsigned char)s[i] < 0x80);
	buf_free(&out);
}

static void
test_long_diagnostic(void **state)
{
	struct dsn_rcpt r[2];
	struct dsn d;
	struct buf out;
	char *word, *words;
	const char *s;
	size_t longest;
	int i;

	/* One 5000-byte word: split hard. */
	word = malloc(5001);
	assert_non_null(word);
	memset(word, 'a', 5000);
	word[5000] = '\0';
	/* Many short words: folded near 78. */
	words = malloc(5001);
	assert_non_null(words);
	for (i = 0; i < 5000; i++)
		words[i] = i % 10 == 9 ? ' ' : 'b';
	words[5000] = '\0';
	memset(r, 0, sizeof(r));
	r[0].address = "user@x";
	r[0].action = "failed";
	r[0].status = "5.1.1";
	r[0].diagnostic = word;
	r[1].address = "other@x";
	r[1].action = "failed";
	r[1].status = "5.2.2";
	r[1].diagnostic = words;
	dsn_setup(&d, r, 2);
	s = dsn_run(&d, &out);
	assert_int_equal(check_lines(s, buf_len(&out), &longest), 4);
	assert_true(longest > 78 && longest <= 998);
	/* The folded words: every line of the second part stays short. */
	assert_non_null(strstr(s, "\r\nDiagnostic-Code: smtp; bbbbbbbbb "));
	assert_non_null(strstr(s, "bbbbbbbbb\r\n bbbbbbbbb"));
	buf_free(&out);
	free(word);
	free(words);
}

static void
test_long_header_line(void **state)
{
	static const struct dsn_rcpt r[] = {
		{ "user@x", "failed", "5.1.1", NULL, NULL, 0, NULL, NULL },
	};
	struct dsn d;
	struct buf out;
	char *orig;
	const char *s;
	size_t longest;

	/* 3000 bytes with no white space, no line end, no blank line. */
	orig = malloc(3000);
	assert_non_null(orig);
	memcpy(orig, "X-Long: ", 8);
	memset(orig + 8, 'z', 3000 - 8);
	dsn_setup(&d, r, 1);
	d.original = orig;
	d.original_len = 3000;
	s = dsn_run(&d, &out);
	assert_int_equal(check_lines(s, buf_len(&out), &longest), 4);
	assert_int_equal(longest, 998);
	/* No diagnostic: the notice names action and status. */
	assert_non_null(find_line(s, "<user@x>: failed, status 5.1.1"));
	assert_null(strstr(s, "Diagnostic-Code:"));
	assert_null(strstr(s, "Remote-MTA:"));
	assert_null(strstr(s, "Last-Attempt-Date:"));
	buf_free(&out);
	free(orig);
}

static void
test_two_rcpts(void **state)
{
	static const struct dsn_rcpt r[] = {
		{ "a@x", "failed", "5.1.1", NULL, "550 no", 0, NULL, NULL },
		{ "b@y", "delayed", "4.4.1", NULL, "421 later", 0, NULL, NULL },
	};
	struct dsn d;
	struct buf out;
	const char *s, *a, *b;
	size_t longest;

	dsn_setup(&d, r, 2);
	s = dsn_run(&d, &out);
	assert_int_equal(check_lines(s, buf_len(&out), &longest), 4);
	/* A failure among them: still a bounce. */
	assert_non_null(find_line(s,
	    "Subject: Undelivered Mail Returned to Sender"));
	a = strstr(s, "Final-Recipient: rfc822; a@x\r\nAction: failed\r\n"
	    "Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 no\r\n\r\n");
	b = strstr(s, "Final-Recipient: rfc822; b@y\r\nAction: delayed\r\n"
	    "Status: 4.4.1\r\nDiagnostic-Code: smtp; 421 later\r\n");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a < b);
	buf_free(&out);
}

/*
 * Diagnostic-Code: smtp; is the remote reply as it was said (RFC 3464
 * 2.3.6); our words go to the notice and X-Gw-Diagnostic, and without
 * a remote reply there is no Diagnostic-Code at all.
 */
static void
test_reason_apart_from_diagnostic(void **state)
{
	static const struct dsn_rcpt r[] = {
		{ "a@x", "failed", "5.1.1", "mx.x", "550 5.1.1 no such user",
		    0, "550 5.1.1 mx.x said: no such user", NULL },
		{ "b@y", "failed", "5.4.4", NULL, NULL, 0,
		    "Host or domain name not found", NULL },
	};
	struct dsn d;
	struct buf out;
	const char *s, *status;

	dsn_setup(&d, r, 2);
	s = dsn_run(&d, &out);
	status = strstr(s, "Content-Type: message/delivery-status");
	assert_non_null(status);
	assert_non_null(find_line(s, "<a@x>: 550 5.1.1 mx.x said: no such "
	    "user"));
	assert_non_null(find_line(s, "<b@y>: Host or domain name not found"));
	assert_non_null(strstr(status, "Final-Recipient: rfc822; a@x\r\n"
	    "Action: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mx.x\r\n"
	    "Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n"
	    "X-Gw-Diagnostic: 550 5.1.1 mx.x said: no such user\r\n"));
	assert_non_null(strstr(status, "Final-Recipient: rfc822; b@y\r\n"
	    "Action: failed\r\nStatus: 5.4.4\r\n"
	    "X-Gw-Diagnostic: Host or domain name not found\r\n"));
	/* One Diagnostic-Code: b@y's failure had no remote reply. */
	status = strstr(status, "Diagnostic-Code:");
	assert_null(strstr(status + 1, "Diagnostic-Code:"));
	buf_free(&out);
}

static void
test_delayed_only(void **state)
{
	static const struct dsn_rcpt r[] = {
		{ "b@y", "delayed", "4.4.1", NULL, "421 later", 0, NULL, NULL },
		{ "c@y", "delayed", "4.4.7", NULL, NULL, 0, NULL, NULL },
	};
	struct dsn d;
	struct buf out;
	const char *s;
	size_t longest;

	dsn_setup(&d, r, 2);
	s = dsn_run(&d, &out);
	assert_int_equal(check_lines(s, buf_len(&out), &longest), 4);
	assert_non_null(find_line(s,
	    "Subject: Delayed Mail (still being retried)"));
	buf_free(&out);
}

/* RFC 3461: success reports, ENVID and ORCPT, and RET=FULL. */
static void
test_relayed(void **state)
{
	static const struct dsn_rcpt r[] = {
		{ "u@x", "relayed", "2.0.0", "mx.x", "250 ok", 0, NULL,
		    "rfc822;orig@x" },
	};
	struct dsn d;
	struct buf out;
	const char *s;
	size_t longest;

	dsn_setup(&d, r, 1);
	d.envid = "QQ314159";
	s = dsn_run(&d, &out);
	assert_int_equal(check_lines(s, buf_len(&out), &longest), 4);
	assert_non_null(find_line(s, "Subject: Successful Mail Delivery "
	    "Report"));
	assert_string_equal(dsn_subject(&d), "Successful Mail Delivery Report");
	assert_non_null(strstr(s, "Original-Envelope-Id: QQ314159\r\n"
	    "Reporting-MTA: dns; mx.example.net\r\n"));
	assert_non_null(strstr(s, "\r\n\r\nOriginal-Recipient: rfc822;orig@x"
	    "\r\nFinal-Recipient: rfc822; u@x\r\nAction: relayed\r\n"
	    "Status: 2.0.0\r\n"));
	assert_null(strstr(s, "SECRET BODY LINE"));
	buf_free(&out);
}

static void
test_full(void **state)
{
	static const struct dsn_rcpt r[] = {
		{ "u@x", "failed", "5.1.1", NULL, "550 no", 0, NULL, NULL },
	};
	struct dsn d;
	struct buf out;
	const char *s;
	size_t longest;

	dsn_setup(&d, r, 1);
	d.full = 1;
	s = dsn_run(&d, &out);
	/* The original's own "--BOUNDARY--" line is moved off column 1. */
	assert_int_equal(check_lines(s, buf_len(&out), &longest), 4);
	assert_non_null(find_line(s, "Content-Type: message/rfc822"));
	assert_non_null(strstr(s, "\r\nSECRET BODY LINE\r\n --" BOUNDARY
	    "--\r\n\r\n--" BOUNDARY "--\r\n"));
	assert_null(find_line(s, "Content-Transfer-Encoding: 8bit"));
	buf_free(&out);
	d.full_8bit = 1;
	s = dsn_run(&d, &out);
	assert_non_null(find_line(s, "Content-Transfer-Encoding: 8bit"));
	buf_free(&out);
}

static void
test_max(void **state)
{
	static const struct dsn_rcpt r[] = {
		{ "user@x", "failed", "5.1.1", NULL, "550 no", 0, NULL, NULL },
	};
	struct dsn d;
	struct buf out;
	size_t full;

	dsn_setup(&d, r, 1);
	buf_init(&out, 0);
	assert_int_equal(dsn_build(&d, &out), 0);
	full = buf_len(&out);
	buf_free(&out);

	/* One byte short fails, and leaves what was there. */
	buf_init(&out, full + 2);
	assert_int_equal(buf_puts(&out, "pre"), 0);
	assert_int_equal(dsn_build(&d, &out), -1);
	assert_int_equal(buf_len(&out), 3);
	buf_free(&out);

	buf_init(&out, full + 3);
	assert_int_equal(buf_puts(&out, "pre"), 0);
	assert_int_equal(dsn_build(&d, &out), 0);
	assert_int_equal(buf_len(&out), full + 3);
	buf_free(&out);
}

/* RFC 6533: the DSN of an SMTPUTF8 message keeps its UTF-8. */
static void
test_global(void **state)
{
	static const char orig8[] =
	    "From: J\xc3\xb6rg <j\xc3\xb6rg@example.com>\r\n"
	    "Subject: Gr\xc3\xbc\xc3\x9f" "e \xff\r\n"
	    "\r\nbody\r\n";
	static const struct dsn_rcpt r[] = {
		{ "j\xc3\xbcrgen@dest.test", "failed", "5.1.1", NULL,
		  "550 5.1.1 unbekannt: j\xc3\xbcrgen \xc3", 0, NULL, NULL },
		{ "plain@dest.test", "failed", "5.1.1", NULL, "550 no", 0,
		  NULL, NULL },
	};
	struct dsn d;
	struct buf out;
	const char *s;
	size_t longest;

	dsn_setup(&d, r, 2);
	d.original = orig8;
	d.original_len = sizeof(orig8) - 1;
	d.utf8 = 1;
	s = dsn_run(&d, &out);
	assert_int_equal(check_lines(s, buf_len(&out), &longest), 4);
	assert_non_null(strstr(s, "report-type=global-delivery-status;"));
	assert_non_null(find_line(s, "Content-Type: text/plain; "
	    "charset=utf-8"));
	assert_non_null(find_line(s, "Content-Type: "
	    "message/global-delivery-status"));
	assert_non_null(find_line(s, "Final-Recipient: utf-8; "
	    "j\xc3\xbcrgen@dest.test"));
	assert_non_null(find_line(s, "Final-Recipient: rfc822; "
	    "plain@dest.test"));
	/* Well-formed UTF-8 stays; a broken sequence becomes '?'. */
	assert_non_null(find_line(s, "Diagnostic-Code: smtp; 550 5.1.1 "
	    "unbekannt: j\xc3\xbcrgen ?"));
	assert_non_null(find_line(s, "Content-Type: message/global-headers"));
	assert_non_null(find_line(s, "From: J\xc3\xb6rg "
	    "<j\xc3\xb6rg@example.com>"));
	assert_non_null(find_line(s, "Subject: Gr\xc3\xbc\xc3\x9f" "e ?"));
	buf_free(&out);

	d.full = 1;
	s = dsn_run(&d, &out);
	assert_non_null(find_line(s, "Content-Type: message/global"));
	buf_free(&out);

	/* The same report for an ASCII message stays us-ascii. */
	d.full = 0;
	d.utf8 = 0;
	s = dsn_run(&d, &out);
	assert_non_null(strstr(s, "report-type=delivery-status;"));
	assert_non_null(find_line(s, "Final-Recipient: rfc822; "
	    "j??rgen@dest.test"));
	assert_non_null(find_line(s, "Content-Type: text/rfc822-headers"));
	for (size_t i = 0; i < buf_len(&out); i++)
		assert_true((unsigned char)s[i] < 0x80);
	buf_free(&out);
}

static void
test_bad_boundary(void **state)
{
	struct dsn d;
	struct buf out;

	dsn_setup(&d, NULL, 0);
	buf_init(&out, 0);
	d.boundary = "a\r\nb";
	assert_int_equal(dsn_build(&d, &out), -1);
	d.boundary = "";
	assert_int_equal(dsn_build(&d, &out), -1);
	assert_int_equal(buf_len(&out), 0);
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_global),
		cmocka_unit_test(test_injection),
		cmocka_unit_test(test_long_diagnostic),
		cmocka_unit_test(test_long_header_line),
		cmocka_unit_test(test_two_rcpts),
		cmocka_unit_test(test_reason_apart_from_diagnostic),
		cmocka_unit_test(test_delayed_only),
		cmocka_unit_test(test_max),
		cmocka_unit_test(test_relayed),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_bad_boundary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
