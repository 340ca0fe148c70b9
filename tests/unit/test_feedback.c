// sources:
/*
 * test_feedback.c - bounces and abuse reports read into a struct
 * fb_report (common/feedback.c), and VERP tokens (common/verp.c).
 * The messages are in tests/data/feedback: RFC 5965's example ARF
 * report, one in the shape a large mailbox provider sends, a Postfix
 * DSN, and the plain-text bounces of qmail and Exim.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "feedback.h"
#include "verp.h"

static char *
slurp(const char *name, size_t *len)
{
	const char *dir = getenv("GW_TESTDATA");
	char path[512];
	FILE *f;
	char *p;
	long n;

	snprintf(path, sizeof(path), "%s/feedback/%s", dir ? dir : "tests/data",
	    name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

static void
parse_file(const char *name, struct fb_report *r)
{
	size_t len;
	char *p = slurp(name, &len);

	assert_int_equal(feedback_parse(p, len, r), 0);
	free(p);
}

static void
test_arf_rfc5965(void **state)
{
	struct fb_report r;

	parse_file("arf_rfc5965.eml", &r);
	assert_int_equal(r.type, FB_ARF);
	assert_string_equal(r.feedback_type, "abuse");
	assert_string_equal(r.orig_mail_from, "somespammer@example.net");
	assert_string_equal(r.orig_rcpt_to, "user@example.com");
	assert_string_equal(r.source_ip, "192.0.2.1");
	assert_string_equal(r.user_agent, "SomeGenerator/1.0");
	assert_string_equal(r.ret_message_id,
	    "8787KJKJ3K4J3K4J3K4J3.mail@example.net");
	assert_string_equal(r.ret_subject, "Earn money");
	/* Not written by gw: no queue id. */
	assert_string_equal(r.ret_qid, "");
	assert_int_equal(r.nrcpt, 0);
	feedback_free(&r);
}

static void
test_arf_provider(void **state)
{
	struct fb_report r;

	parse_file("arf_provider.eml", &r);
	assert_int_equal(r.type, FB_ARF);
	assert_string_equal(r.feedback_type, "abuse");
	assert_string_equal(r.orig_mail_from,
	    "b-0005E0A1B2C3D400-0-0123456789abcdef@bounces.example.com");
	assert_string_equal(r.orig_rcpt_to, "reader@example-provider.com");
	assert_string_equal(r.ret_return_path,
	    "b-0005E0A1B2C3D400-0-0123456789abcdef@bounces.example.com");
	assert_string_equal(r.ret_qid, "0005E0A1B2C3D400");
	assert_string_equal(r.ret_message_id,
	    "<0005E0A1B2C3D400.1a2b3c4d@out.example.com>");
	assert_string_equal(r.ret_to, "reader@example-provider.com");
	feedback_free(&r);
}

static void
test_dsn_postfix(void **state)
{
	struct fb_report r;

	parse_file("dsn_postfix.eml", &r);
	assert_int_equal(r.type, FB_DSN);
	assert_string_equal(r.reporting_mta, "mx.example.org");
	assert_int_equal(r.nrcpt, 2);
	assert_string_equal(r.rcpt[0].final, "nobody@example.org");
	assert_string_equal(r.rcpt[0].original, "Nobody@example.org");
	assert_int_equal(r.rcpt[0].action, FA_FAILED);
	assert_string_equal(r.rcpt[0].status, "5.1.1");
	assert_int_equal(r.rcpt[0].code, 550);
	/* Unfolded, the address type dropped. */
	assert_string_equal(r.rcpt[0].diag, "550 5.1.1 <nobody@example.org>: "
	    "Recipient address rejected: User unknown in local recipient "
	    "table");
	assert_string_equal(r.rcpt[1].final, "slow@example.org");
	assert_int_equal(r.rcpt[1].action, FA_DELAYED);
	assert_string_equal(r.rcpt[1].status, "4.4.1");
	assert_int_equal(r.rcpt[1].code, 0);
	/* The returned header: gw's own Received:, not Postfix's. */
	assert_string_equal(r.ret_qid, "0005E0A1B2C3D400");
	assert_string_equal(r.ret_message_id,
	    "<0005E0A1B2C3D400.99aa88bb@out.example.com>");
	assert_string_equal(r.ret_return_path,
	    "b-0005E0A1B2C3D400-1-fedcba9876543210@bounces.example.com");
	feedback_free(&r);
}

static void
test_bounce_qmail(void **state)
{
	struct fb_report r;

	parse_file("bounce_qmail.eml", &r);
	assert_int_equal(r.type, FB_BOUNCE);
	/* The "550 bytes ... someone@" in the copy is not a recipient. */
	assert_int_equal(r.nrcpt, 1);
	assert_string_equal(r.rcpt[0].final, "gone@example.net");
	assert_int_equal(r.rcpt[0].action, FA_FAILED);
	assert_int_equal(r.rcpt[0].code, 550);
	assert_string_equal(r.rcpt[0].status, "5.1.1");
	assert_string_equal(r.rcpt[0].diag, "550 5.1.1 Mailbox does not exist");
	assert_string_equal(r.ret_qid, "0005E0A1B2C3D4FF");
	assert_string_equal(r.ret_message_id, "<abc.123@example.com>");
	feedback_free(&r);
}

static void
test_bounce_exim(void **state)
{
	struct fb_report r;

	parse_file("bounce_exim.eml", &r);
	assert_int_equal(r.type, FB_BOUNCE);
	assert_int_equal(r.nrcpt, 2);
	assert_string_equal(r.rcpt[0].final, "first@example.net");
	assert_string_equal(r.rcpt[0].status, "5.1.1");
	assert_string_equal(r.rcpt[1].final, "second@example.net");
	assert_string_equal(r.rcpt[1].status, "5.2.1");
	assert_int_equal(r.rcpt[1].code, 550);
	assert_string_equal(r.ret_message_id, "<exim.copy@example.com>");
	feedback_free(&r);
}

/* Neither a report nor a bounce: nothing read, nothing invented. */
static void
test_not_a_report(void **state)
{
	static const char *const msgs[] = {
	    "Subject: hi\r\n\r\nSee you at 5:50 pm, room 550.\r\n",
	    "",
	    "\r\n\r\n",
	    "Content-Type: multipart/report; report-type=feedback-report; "
	    "boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
	    "--x--\r\n",
	    /* A report inside the returned message is the sender's content. */
	    "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"
	    "Content-Type: message/rfc822\r\n\r\nContent-Type: "
	    "message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n--x--\r\n",
	};

	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		struct fb_report r;

		feedback_parse(msgs[i], strlen(msgs[i]), &r);
		assert_int_equal(r.type, FB_UNKNOWN);
		assert_int_equal(r.nrcpt, 0);
		assert_string_equal(r.feedback_type, "");
		feedback_free(&r);
	}
}

/* Control characters never reach a value; a long one is cut. */
static void
test_hostile_values(void **state)
{
	char big[4096];
	char *msg;
	struct fb_report r;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	msg = malloc(8192);
	assert_non_null(msg);
	snprintf(msg, 8192, "Content-Type: multipart/report; "
	    "report-type=delivery-status; boundary=x\r\n\r\n--x\r\n"
	    "Content-Type: message/delivery-status\r\n\r\n"
	    "Reporting-MTA: dns; a\033[2Jb\r\n\r\n"
	    "Final-Recipient: rfc822; x@example.org\r\nAction: failed\r\n"
	    "Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 %s\r\n--x--\r\n",
	    big);
	feedback_parse(msg, strlen(msg), &r);
	assert_int_equal(r.type, FB_DSN);
	assert_string_equal(r.reporting_mta, "a [2Jb");
	assert_int_equal(strlen(r.rcpt[0].diag), FB_MAX_FIELD);
	feedback_free(&r);
	free(msg);
}

static void
test_find_reply(void **state)
{
	static const struct {
		const char	*line;
		int		 at, code;
		const char	*status;
	} cases[] = {
	    { "Remote host said: 550 5.1.1 No such user", 18, 550, "5.1.1" },
	    { "550-5.2.1 The account is disabled", 0, 550, "5.2.1" },
	    { "host x said: 554 delivery error: dd This user doesn't", 13,
	      554, "" },
	    { "552 5.2.2 over quota", 0, 552, "5.2.2" },
	    /* A number is no reply: no words, or a class-4 status. */
	    { "Message of 550 bytes", -1, 0, "" },
	    { "550 4.2.2 odd", -1, 0, "" },
	    { "at 10:550 pm", -1, 0, "" },
	    { "[198.51.100.550]", -1, 0, "" },
	    { "5505 things", -1, 0, "" },
	    { "451 4.3.0 try later", -1, 0, "" },
	    { "55", -1, 0, "" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char st[16] = "";
		int code = 0;
		int at = feedback_find_reply(cases[i].line,
		    strlen(cases[i].line), &code, st);

		assert_int_equal(at, cases[i].at);
		if (at >= 0) {
			assert_int_equal(code, cases[i].code);
			assert_string_equal(st, cases[i].status);
		}
	}
}

static const unsigned char key[VERP_KEY_LEN] = "0123456789abcdef0123456789abcde";

static void
test_verp_roundtrip(void **state)
{
	char a[320], qid[VERP_QID_LEN + 1];
	unsigned idx = 99;
	enum verp_kind kind = VERP_UNSUB;

	assert_int_equal(verp_encode(key, sizeof(key), VERP_BOUNCE,
	    "0005E0A1B2C3D400", 7,
	    "bounces.example.com", a, sizeof(a)), 0);
	assert_int_equal(strncmp(a, "b-0005E0A1B2C3D400-7-", 21), 0);
	assert_true(strlen(a) - strlen("@bounces.example.com") <= 64);
	assert_int_equal(verp_decode(key, sizeof(key), a, &kind, qid, &idx),
	    VERP_OK);
	assert_string_equal(qid, "0005E0A1B2C3D400");
	assert_int_equal(idx, 7);
	assert_int_equal(kind, VERP_BOUNCE);
	/* The MAC of return paths already out is what it always was:
	 * HMAC-SHA256("QID:IDX:domain"), written again in Python. */
	assert_string_equal(strchr(a, '@') - VERP_MAC_LEN, "8472ddcffc725c30"
	    "@bounces.example.com");
	/* Case changed on the way (the whole address): still ours. */
	for (char *p = a; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	assert_int_equal(verp_decode(key, sizeof(key), a, &kind, qid, &idx),
	    VERP_OK);
	/* Too small a buffer, a malformed queue id or domain. */
	assert_int_equal(verp_encode(key, sizeof(key), VERP_BOUNCE,
	    "0005E0A1B2C3D400", 7,
	    "bounces.example.com", a, 30), -1);
	assert_int_equal(verp_encode(key, sizeof(key), VERP_BOUNCE,
	    "0005E0A1B2C3D40", 7,
	    "bounces.example.com", a, sizeof(a)), -1);
	assert_int_equal(verp_encode(key, sizeof(key), VERP_BOUNCE,
	    "0005E0A1B2C3D40Z", 7,
	    "bounces.example.com", a, sizeof(a)), -1);
	assert_int_equal(verp_encode(key, sizeof(key), VERP_BOUNCE,
	    "0005E0A1B2C3D400", 7, "x@y", a, sizeof(a)), -1);
}

static void
test_verp_forged(void **state)
{
	static const unsigned char other[VERP_KEY_LEN] = "another key........";
	char a[320], b[320], qid[VERP_QID_LEN + 1];
	unsigned idx;
	enum verp_kind kind;
	char *at;

	assert_int_equal(verp_encode(key, sizeof(key), VERP_BOUNCE,
	    "0005E0A1B2C3D400", 1,
	    "bounces.example.com", a, sizeof(a)), 0);
	/* Another key. */
	assert_int_equal(verp_decode(other, sizeof(other), a, &kind, qid,
	    &idx),
	    VERP_FORGED);
	/* Another recipient index with the same MAC. */
	strcpy(b, a);
	b[19] = '2';
	assert_int_equal(verp_decode(key, sizeof(key), b, &kind, qid, &idx),
	    VERP_FORGED);
	/* Another queue id. */
	strcpy(b, a);
	b[2] = '1';
	assert_int_equal(verp_decode(key, sizeof(key), b, &kind, qid, &idx),
	    VERP_FORGED);
	/* Replayed at another (subaccount's) bounce domain. */
	strcpy(b, a);
	at = strchr(b, '@');
	strcpy(at, "@bounces.other.example");
	assert_int_equal(verp_decode(key, sizeof(key), b, &kind, qid, &idx),
	    VERP_FORGED);
	/* A MAC digit changed. */
	strcpy(b, a);
	at = strchr(b, '@');
	at[-1] = at[-1] == '0' ? '1' : '0';
	assert_int_equal(verp_decode(key, sizeof(key), b, &kind, qid, &idx),
	    VERP_FORGED);
}

/* The mailto: unsubscribe address: its own kind, which the MAC covers,
 * so the return path of the same recipient cannot be turned into it. */
static void
test_verp_unsub_kind(void **state)
{
	char a[320], b[320], qid[VERP_QID_LEN + 1];
	unsigned idx = 0;
	enum verp_kind kind = VERP_BOUNCE;

	assert_int_equal(verp_encode(key, sizeof(key), VERP_UNSUB,
	    "0005E0A1B2C3D400", 7, "bounces.example.com", a, sizeof(a)), 0);
	assert_int_equal(strncmp(a, "u-0005E0A1B2C3D400-7-", 21), 0);
	assert_true(strchr(a, '@') - a <= 64);
	/* HMAC-SHA256("u:QID:IDX:domain"), written again in Python. */
	assert_string_equal(strchr(a, '@') - VERP_MAC_LEN, "5cd002db06825a64"
	    "@bounces.example.com");
	assert_int_equal(verp_decode(key, sizeof(key), a, &kind, qid, &idx),
	    VERP_OK);
	assert_int_equal(kind, VERP_UNSUB);
	assert_string_equal(qid, "0005E0A1B2C3D400");
	assert_int_equal(idx, 7);
	a[0] = 'U';
	assert_int_equal(verp_decode(key, sizeof(key), a, &kind, qid, &idx),
	    VERP_OK);
	assert_int_equal(kind, VERP_UNSUB);
	/* The bounce address of the same copy, its prefix rewritten: forged
	 * both ways. */
	assert_int_equal(verp_encode(key, sizeof(key), VERP_BOUNCE,
	    "0005E0A1B2C3D400", 7, "bounces.example.com", b, sizeof(b)), 0);
	b[0] = 'u';
	assert_int_equal(verp_decode(key, sizeof(key), b, &kind, qid, &idx),
	    VERP_FORGED);
	a[0] = 'b';
	assert_int_equal(verp_decode(key, sizeof(key), a, &kind, qid, &idx),
	    VERP_FORGED);
	/* No other kind is made. */
	assert_int_equal(verp_encode(key, sizeof(key), (enum verp_kind)'x',
	    "0005E0A1B2C3D400", 7, "bounces.example.com", a, sizeof(a)), -1);
}

static void
test_verp_not_ours(void **state)
{
	static const char *const addrs[] = {
	    "user@example.com", "b-@x", "b-0005E0A1B2C3D400@x",
	    "b-0005E0A1B2C3D400-1@x", "b-0005E0A1B2C3D400--0123456789abcdef@x",
	    "b-0005E0A1B2C3D400-123456789-0123456789abcdef@x",
	    "b-0005E0A1B2C3D400-1-0123456789abcde@x",
	    "b-0005E0A1B2C3D400-1-0123456789abcdefa@x",
	    "b-0005E0A1B2C3D400-1-0123456789abcdeg@x",
	    "b-0005E0A1B2C3D40G-1-0123456789abcdef@x",
	    "b-0005E0A1B2C3D400-1-0123456789abcdef", "",
	    "x-0005E0A1B2C3D400-1-0123456789abcdef@x",
	    "ub-0005E0A1B2C3D400-1-0123456789abcdef@x", "u", "u-@x",
	};
	char qid[VERP_QID_LEN + 1];
	unsigned idx;
	enum verp_kind kind;

	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++)
		assert_int_equal(verp_decode(key, sizeof(key), addrs[i],
		    &kind, qid, &idx), VERP_NONE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arf_rfc5965),
		cmocka_unit_test(test_arf_provider),
		cmocka_unit_test(test_dsn_postfix),
		cmocka_unit_test(test_bounce_qmail),
		cmocka_unit_test(test_bounce_exim),
		cmocka_unit_test(test_not_a_report),
		cmocka_unit_test(test_hostile_values),
		cmocka_unit_test(test_find_reply),
		cmocka_unit_test(test_verp_roundtrip),
		cmocka_unit_test(test_verp_forged),
		cmocka_unit_test(test_verp_unsub_kind),
		cmocka_unit_test(test_verp_not_ours),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
