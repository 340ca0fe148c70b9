// sources: gwd/reply.c
/*
 * test_reply.c - remote SMTP replies: single and multi-line, enhanced
 * codes, split reads, pipelined replies, and every malformed shape a
 * hostile server can send.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reply.h"

static struct reply_parser p;

static enum reply_result
feed_all(const char *s, size_t len, size_t *used)
{
	reply_parser_init(&p);
	return reply_feed(&p, s, len, used);
}

static void
test_single(void **state)
{
	static const char in[] = "250 2.1.0 Sender ok\r\n";
	size_t used;

	assert_int_equal(feed_all(in, sizeof(in) - 1, &used), REPLY_DONE);
	assert_int_equal(used, sizeof(in) - 1);
	assert_int_equal(p.r.code, 250);
	assert_string_equal(p.r.status, "2.1.0");
	assert_string_equal(p.r.text, "Sender ok");
	assert_int_equal(p.r.nlines, 1);
}

static void
test_forms(void **state)
{
	static const struct {
		const char *in;
		int code;
		const char *status, *text;
	} cases[] = {
		{ "220\r\n", 220, "", "" },
		{ "220 \r\n", 220, "", "" },
		{ "354 End data with <CR><LF>.<CR><LF>\n", 354, "",
		    "End data with <CR><LF>.<CR><LF>" },
		{ "550 5.1.1 <u@x>: no such user\r\n", 550, "5.1.1",
		    "<u@x>: no such user" },
		/* The class must match the reply's first digit. */
		{ "550 2.1.1 odd\r\n", 550, "", "2.1.1 odd" },
		{ "451 4.7.1000 x\r\n", 451, "", "4.7.1000 x" },
		{ "421 4.3.2 Service shutting down\r\n", 421, "4.3.2",
		    "Service shutting down" },
		{ "250 bad\x1b[31mred\x00\r\n", 250, "", "bad?[31mred?" },
	};
	size_t used;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].in);

		if (i == sizeof(cases) / sizeof(cases[0]) - 1)
			len = 18;	/* the NUL is data */
		assert_int_equal(feed_all(cases[i].in, len, &used),
		    REPLY_DONE);
		assert_int_equal(p.r.code, cases[i].code);
		assert_string_equal(p.r.status, cases[i].status);
		assert_string_equal(p.r.text, cases[i].text);
	}
}

static void
test_multiline_and_split(void **state)
{
	static const char in[] =
	    "250-mx.example.net Hello\r\n"
	    "250-PIPELINING\r\n"
	    "250-SIZE 10240000\r\n"
	    "250-STARTTLS\r\n"
	    "250-AUTH=LOGIN\r\n"
	    "250-auth plain login\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n"
	    "250 8BITMIME\r\n"
	    "354 go ahead\r\n";
	size_t used, total = 0, n = strlen(in);
	struct ehlo_caps caps;
	enum reply_result rr = REPLY_MORE;

	/* One byte at a time, as a slow server would send it. */
	reply_parser_init(&p);
	while (total < n) {
		rr = reply_feed(&p, in + total, 1, &used);
		total += used;
		if (rr != REPLY_MORE)
			break;
	}
	assert_int_equal(rr, REPLY_DONE);
	assert_int_equal(p.r.code, 250);
	assert_int_equal(p.r.nlines, 8);
	ehlo_parse(&p.r, &caps);
	assert_true(caps.pipelining);
	assert_true(caps.starttls);
	assert_true(caps.auth_plain);
	assert_true(caps.auth_login);
	assert_true(caps.enhancedstatuscodes);
	assert_true(caps.eightbitmime);
	assert_false(caps.chunking);
	assert_true(caps.size_ext);
	assert_int_equal(caps.size, 10240000);

	/* The pipelined next reply is left for the next parse. */
	assert_int_equal(feed_all(in + total, n - total, &used), REPLY_DONE);
	assert_int_equal(p.r.code, 354);
}

static void
test_ehlo_greeting_only(void **state)
{
	struct ehlo_caps caps;
	size_t used;

	assert_int_equal(feed_all("250 PIPELINING\r\n", 16, &used),
	    REPLY_DONE);
	ehlo_parse(&p.r, &caps);
	assert_false(caps.pipelining);	/* the first line is the greeting */
}

/* SIZE is advertised with a limit, without one, or not at all: only the
 * first two allow SIZE= on MAIL (RFC 1870 6). */
static void
test_ehlo_size(void **state)
{
	static const struct {
		const char	*in;
		int		 ext;
		uint64_t	 size;
	} cases[] = {
		{ "250-mx\r\n250 SIZE 1000\r\n", 1, 1000 },
		{ "250-mx\r\n250 SIZE\r\n", 1, 0 },
		{ "250-mx\r\n250 size 0\r\n", 1, 0 },
		{ "250-mx\r\n250 SIZE x1\r\n", 1, 0 },
		{ "250-mx\r\n250 PIPELINING\r\n", 0, 0 },
		{ "250-mx\r\n250 SIZEX 10\r\n", 0, 0 },
	};
	struct ehlo_caps caps;
	size_t used;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(feed_all(cases[i].in, strlen(cases[i].in),
		    &used), REPLY_DONE);
		ehlo_parse(&p.r, &caps);
		assert_int_equal(caps.size_ext, cases[i].ext);
		assert_int_equal(caps.size, cases[i].size);
	}
}

static void
test_malformed(void **state)
{
	static const struct { const char *in, *why; } cases[] = {
		{ "25\r\n", "bad code" },
		{ "\r\n", "bad code" },
		{ "abc hello\r\n", "bad code" },
		{ "150 old\r\n", "bad code" },
		{ "650 six\r\n", "bad code" },
		{ "260 x\r\n", "bad code" },
		{ "2500 x\r\n", "bad code" },
		{ "250_x\r\n", "bad code" },
		{ "250-a\r\n550 b\r\n", "code mismatch in multi-line reply" },
	};
	size_t used;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(feed_all(cases[i].in, strlen(cases[i].in),
		    &used), REPLY_ERROR);
		assert_string_equal(p.error, cases[i].why);
		/* Once broken, the parser stays broken. */
		assert_int_equal(reply_feed(&p, "250 ok\r\n", 8, &used),
		    REPLY_ERROR);
	}
}

static void
test_limits(void **state)
{
	char *big = malloc(REPLY_LINE_MAX + 100);
	size_t used, n;

	/* An endless line. */
	memcpy(big, "250 ", 4);
	memset(big + 4, 'x', REPLY_LINE_MAX + 90);
	assert_int_equal(feed_all(big, REPLY_LINE_MAX + 94, &used),
	    REPLY_ERROR);
	assert_string_equal(p.error, "line too long");

	/* A line of exactly the maximum parses; its text is capped. */
	memset(big + 4, 'y', REPLY_LINE_MAX - 4);
	big[REPLY_LINE_MAX] = '\n';
	assert_int_equal(feed_all(big, REPLY_LINE_MAX + 1, &used),
	    REPLY_DONE);
	assert_int_equal(strlen(p.r.text), REPLY_TEXT_MAX - 1);
	free(big);

	/* Endless continuation lines. */
	reply_parser_init(&p);
	for (n = 0; n <= REPLY_LINES_MAX; n++) {
		enum reply_result rr = reply_feed(&p, "250-more\r\n", 10,
		    &used);

		if (n < REPLY_LINES_MAX)
			assert_int_equal(rr, REPLY_MORE);
		else {
			assert_int_equal(rr, REPLY_ERROR);
			assert_string_equal(p.error, "too many lines");
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single),
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_multiline_and_split),
		cmocka_unit_test(test_ehlo_greeting_only),
		cmocka_unit_test(test_ehlo_size),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
