// sources: gwd/smtp_proto.c gwd/smtp_dsn.c
/*
 * test_smtp_proto.c - command framing, verbs, MAIL/RCPT parameters, and
 * the DATA stream (dot-unstuffing, end detection, smuggling).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "smtp_proto.h"

/* Line framing. */

static void
test_line_next(void **state)
{
	static const struct {
		const char	*name;
		const char	*in;
		size_t		 max;
		enum line_status want;
		const char	*line;
		size_t		 used;
	} cases[] = {
		{ "plain", "NOOP\r\nQUIT\r\n", 512, LINE_OK, "NOOP", 6 },
		{ "partial", "NOO", 512, LINE_MORE, NULL, 0 },
		{ "cr only", "NOOP\r", 512, LINE_MORE, NULL, 0 },
		{ "bare lf", "NOOP\n", 512, LINE_BARE, NULL, 5 },
		{ "bare cr inside", "NO\rOP\r\n", 512, LINE_BARE, NULL, 7 },
		{ "empty", "\r\n", 512, LINE_OK, "", 2 },
		{ "exactly max", "123456\r\n", 8, LINE_OK, "123456", 8 },
		{ "one over", "1234567\r\n", 8, LINE_LONG, NULL, 9 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct line_reader lr = { 0 };
		const char *line = NULL;
		size_t len = 0, used = 99;
		enum line_status st;

		st = line_next(&lr, cases[i].in, strlen(cases[i].in),
		    cases[i].max, &line, &len, &used);
		if (st != cases[i].want)
			fail_msg("%s: status %d, want %d", cases[i].name, st,
			    cases[i].want);
		assert_int_equal(used, cases[i].used);
		if (cases[i].line) {
			assert_int_equal(len, strlen(cases[i].line));
			assert_memory_equal(line, cases[i].line, len);
		}
	}
}

/* A long line arriving in pieces is skipped whole, then framing resumes. */
static void
test_line_long_in_pieces(void **state)
{
	struct line_reader lr = { 0 };
	char big[1000];
	const char *line;
	size_t len, used;

	memset(big, 'x', sizeof(big));
	assert_int_equal(line_next(&lr, big, sizeof(big), 512, &line, &len,
	    &used), LINE_MORE);
	assert_int_equal(used, sizeof(big));		/* discarded */
	assert_int_equal(line_next(&lr, big, 100, 512, &line, &len, &used),
	    LINE_MORE);
	assert_int_equal(line_next(&lr, "yy\r\nNOOP\r\n", 10, 512, &line, &len,
	    &used), LINE_LONG);
	assert_int_equal(used, 4);
	assert_int_equal(line_next(&lr, "NOOP\r\n", 6, 512, &line, &len,
	    &used), LINE_OK);
	assert_int_equal(len, 4);
}

static void
test_verbs(void **state)
{
	static const struct {
		const char	*in;
		const char	*name;
		const char	*arg;
	} cases[] = {
		{ "EHLO client.test", "EHLO", "client.test" },
		{ "ehlo x", "ehlo", "x" },
		{ "MAIL FROM:<a@b>", "MAIL", "FROM:<a@b>" },
		{ "DATA", "DATA", "" },
		{ "GET / HTTP/1.1", "GET", "/ HTTP/1.1" },
		{ "DATAX", "DATAX", "" },
		{ "", "", "" },
		{ "BDAT 10 LAST", "BDAT", "10 LAST" },
		{ "NOOP ", "NOOP", "" },
		{ " x", "", "x" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtp_cmd c;

		smtp_cmd_parse(cases[i].in, strlen(cases[i].in), &c);
		assert_int_equal(c.namelen, strlen(cases[i].name));
		assert_memory_equal(c.name, cases[i].name, c.namelen);
		assert_int_equal(c.arglen, strlen(cases[i].arg));
		assert_memory_equal(c.arg, cases[i].arg, c.arglen);
	}
}

static void
test_mail_params(void **state)
{
	static const struct {
		const char	*name;
		const char	*arg;
		int		 ok;
		const char	*reply_prefix;
		const char	*addr;
		uint64_t	 size;
		int		 eight;
	} cases[] = {
		{ "simple", "FROM:<a@example.com>", 1, NULL, "a@example.com", 0,
		    0 },
		{ "null", "FROM:<>", 1, NULL, "", 0, 0 },
		{ "space after colon", "FROM: <a@example.com>", 1, NULL,
		    "a@example.com", 0, 0 },
		{ "size", "FROM:<a@b.c> SIZE=1000", 1, NULL, "a@b.c", 1000, 0 },
		{ "8bit", "FROM:<a@b.c> BODY=8BITMIME", 1, NULL, "a@b.c", 0, 1 },
		{ "auth ignored", "FROM:<a@b.c> AUTH=<>", 1, NULL, "a@b.c", 0,
		    0 },
		{ "size abc", "FROM:<a@b.c> SIZE=abc", 0, "501 5.5.4", NULL, 0,
		    0 },
		{ "size negative", "FROM:<a@b.c> SIZE=-1", 0, "501 5.5.4", NULL,
		    0, 0 },
		{ "size 2^64", "FROM:<a@b.c> SIZE=18446744073709551616", 0,
		    "501 5.5.4", NULL, 0, 0 },
		{ "size empty", "FROM:<a@b.c> SIZE=", 0, "501 5.5.4", NULL, 0,
		    0 },
		{ "body bad", "FROM:<a@b.c> BODY=BINARYMIME", 0, "501 5.5.4",
		    NULL, 0, 0 },
		{ "unknown param", "FROM:<a@b.c> MT-PRIORITY=3", 0,
		    "555 5.5.4", NULL, 0, 0 },
		{ "no brackets", "FROM:a@b.c", 0, "501 5.5.4", NULL, 0, 0 },
		/* RFC 6531: UTF-8 only with SMTPUTF8, which takes no value. */
		{ "utf8", "FROM:<j\xc3\xb6rg@b.c> SMTPUTF8", 1, NULL,
		    "j\xc3\xb6rg@b.c", 0, 0 },
		{ "utf8 ascii", "FROM:<a@b.c> SMTPUTF8", 1, NULL, "a@b.c", 0,
		    0 },
		{ "utf8 without", "FROM:<j\xc3\xb6rg@b.c>", 0, "553 5.6.7",
		    NULL, 0, 0 },
		{ "utf8 value", "FROM:<a@b.c> SMTPUTF8=yes", 0, "555 5.5.4",
		    NULL, 0, 0 },
		{ "not utf8", "FROM:<j\xf6rg@b.c> SMTPUTF8", 0, "501 5.1.3",
		    NULL, 0, 0 },
		{ "no FROM:", "TO:<a@b.c>", 0, "501 5.5.4", NULL, 0, 0 },
		{ "junk after path", "FROM:<a@b.c>x", 0, "501 5.5.4", NULL, 0,
		    0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mail_args ma;
		const char *reply = NULL;
		int r = smtp_parse_mail(cases[i].arg, strlen(cases[i].arg), &ma,
		    &reply);

		if ((r == 0) != cases[i].ok)
			fail_msg("%s: r=%d reply=%s", cases[i].name, r,
			    reply ? reply : "");
		if (!cases[i].ok) {
			if (strncmp(reply, cases[i].reply_prefix, 9) != 0)
				fail_msg("%s: reply %s", cases[i].name, reply);
			continue;
		}
		assert_string_equal(ma.path.addr, cases[i].addr);
		assert_int_equal(ma.size, cases[i].size);
		assert_int_equal(ma.has_size, cases[i].size != 0);
		assert_int_equal(ma.body_8bit, cases[i].eight);
	}
}

static void
test_rcpt_params(void **state)
{
	static const struct {
		const char	*arg;
		int		 ok;
		const char	*reply_prefix;
	} cases[] = {
		{ "TO:<u@dest.test>", 1, NULL },
		{ "TO:<>", 0, "501 5.1.3" },
		{ "TO:<postmaster>", 0, "501 5.1.3" },
		{ "TO:<u@dest.test> NOTIFY=NEVER", 1, NULL },
		{ "TO:<u@dest.test> XFOO=1", 0, "555 5.5.4" },
		/* Exim CVE-2020-28026: encoded CR LF must never get through. */
		{ "TO:<u@dest.test> ORCPT=rfc822;x+0D+0AX:+1", 0, "501 5.5.4" },
		{ "TO:<@a,@b:u@dest.test>", 0, "501 5.1.3" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rcpt_args ra;
		const char *reply = NULL;
		int r = smtp_parse_rcpt(cases[i].arg, strlen(cases[i].arg), &ra,
		    &reply);

		if ((r == 0) != cases[i].ok)
			fail_msg("%s: r=%d reply=%s", cases[i].arg, r,
			    reply ? reply : "");
		if (!cases[i].ok && strncmp(reply, cases[i].reply_prefix, 9))
			fail_msg("%s: reply %s", cases[i].arg, reply);
	}
}

/* RFC 3461: RET, ENVID on MAIL; NOTIFY, ORCPT on RCPT. */
static void
test_dsn_params(void **state)
{
	static const struct {
		const char	*arg;
		const char	*reply;		/* NULL: accepted */
		int		 ret, notify;
		const char	*envid, *orcpt;	/* as kept */
	} cases[] = {
		{ "FROM:<a@b.c> RET=FULL", NULL, DSN_RET_FULL, 0, "", "" },
		{ "FROM:<a@b.c> ret=hdrs", NULL, DSN_RET_HDRS, 0, "", "" },
		{ "FROM:<a@b.c> RET=ALL", "501 5.5.4 Bad RET", 0, 0, "", "" },
		{ "FROM:<a@b.c> RET", "501 5.5.4 Bad RET", 0, 0, "", "" },
		{ "FROM:<a@b.c> RET=FULL RET=HDRS", "501 5.5.4 Duplicate RET",
		    0, 0, "", "" },
		{ "FROM:<a@b.c> ENVID=QQ+2B123", NULL, 0, 0, "QQ+2B123", "" },
		{ "FROM:<a@b.c> ENVID=a+0D+0AX", "501 5.5.4 Bad ENVID", 0, 0,
		    "", "" },
		{ "FROM:<a@b.c> ENVID=a+2b", "501 5.5.4 Bad ENVID", 0, 0, "",
		    "" },
		{ "FROM:<a@b.c> ENVID=a+2", "501 5.5.4 Bad ENVID", 0, 0, "",
		    "" },
		{ "FROM:<a@b.c> ENVID=a=b", "501 5.5.4 Bad ENVID", 0, 0, "",
		    "" },
		{ "FROM:<a@b.c> ENVID=", "501 5.5.4 Bad ENVID", 0, 0, "", "" },
		{ "FROM:<a@b.c> ENVID=x ENVID=y", "501 5.5.4 Duplicate ENVID",
		    0, 0, "", "" },
		{ "TO:<u@d.test> NOTIFY=SUCCESS,FAILURE,DELAY", NULL, 0,
		    DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY,
		    "", "" },
		{ "TO:<u@d.test> NOTIFY=never", NULL, 0, DSN_NOTIFY_NEVER, "",
		    "" },
		{ "TO:<u@d.test> NOTIFY=NEVER,FAILURE", "501 5.5.4 Bad NOTIFY",
		    0, 0, "", "" },
		{ "TO:<u@d.test> NOTIFY=FAILURE,NEVER", "501 5.5.4 Bad NOTIFY",
		    0, 0, "", "" },
		{ "TO:<u@d.test> NOTIFY=SUCCESS,", "501 5.5.4 Bad NOTIFY", 0, 0,
		    "", "" },
		{ "TO:<u@d.test> NOTIFY=", "501 5.5.4 Bad NOTIFY", 0, 0, "",
		    "" },
		{ "TO:<u@d.test> NOTIFY=NEVER NOTIFY=NEVER",
		    "501 5.5.4 Duplicate NOTIFY", 0, 0, "", "" },
		{ "TO:<u@d.test> ORCPT=rfc822;u+40x@d.test", NULL, 0, 0, "",
		    "rfc822;u+40x@d.test" },
		{ "TO:<u@d.test> ORCPT=x400;u", "555 5.5.4 Unsupported ORCPT",
		    0, 0, "", "" },
		{ "TO:<u@d.test> ORCPT=rfc822", "501 5.5.4 Bad ORCPT", 0, 0,
		    "", "" },
		{ "TO:<u@d.test> ORCPT=rfc822;", "501 5.5.4 Bad ORCPT", 0, 0,
		    "", "" },
		{ "TO:<u@d.test> ORCPT=;u@d", "501 5.5.4 Bad ORCPT", 0, 0, "",
		    "" },
		{ "TO:<u@d.test> ORCPT=rfc822;u+00@d", "501 5.5.4 Bad ORCPT",
		    0, 0, "", "" },
		{ "TO:<u@d.test> ORCPT=rfc822;u+C3+A9@d", "501 5.5.4 Bad ORCPT",
		    0, 0, "", "" },
		{ "TO:<u@d.test> ORCPT=rfc822;a ORCPT=rfc822;b",
		    "501 5.5.4 Duplicate ORCPT", 0, 0, "", "" },
		{ "TO:<u@d.test> RET=FULL", "555 5.5.4", 0, 0, "", "" },
		{ "FROM:<a@b.c> NOTIFY=NEVER", "555 5.5.4", 0, 0, "", "" },
	};
	char big[700];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mail_args ma;
		struct rcpt_args ra;
		const char *a = cases[i].arg, *reply = NULL;
		int r, mail = a[0] == 'F';

		r = mail ? smtp_parse_mail(a, strlen(a), &ma, &reply) :
		    smtp_parse_rcpt(a, strlen(a), &ra, &reply);
		if ((r == 0) != (cases[i].reply == NULL))
			fail_msg("%s: r=%d reply=%s", a, r, reply ? reply : "");
		if (cases[i].reply) {
			if (strncmp(reply, cases[i].reply,
			    strlen(cases[i].reply)) != 0)
				fail_msg("%s: reply %s", a, reply);
			continue;
		}
		if (mail) {
			assert_int_equal(ma.dsn.ret, cases[i].ret);
			assert_string_equal(ma.dsn.envid, cases[i].envid);
		} else {
			assert_int_equal(ra.dsn.notify, cases[i].notify);
			assert_string_equal(ra.dsn.orcpt, cases[i].orcpt);
		}
	}
	/* The limits: ENVID 100 octets, ORCPT 500. */
	{
		struct mail_args ma;
		struct rcpt_args ra;
		const char *reply;
		int n;

		n = snprintf(big, sizeof(big), "FROM:<a@b.c> ENVID=%0100d", 0);
		assert_int_equal(smtp_parse_mail(big, (size_t)n, &ma, &reply),
		    0);
		n = snprintf(big, sizeof(big), "FROM:<a@b.c> ENVID=%0101d", 0);
		assert_int_equal(smtp_parse_mail(big, (size_t)n, &ma, &reply),
		    -1);
		n = snprintf(big, sizeof(big), "TO:<u@d.test> ORCPT=rfc822;"
		    "%0493d", 0);
		assert_int_equal(smtp_parse_rcpt(big, (size_t)n, &ra, &reply),
		    0);
		n = snprintf(big, sizeof(big), "TO:<u@d.test> ORCPT=rfc822;"
		    "%0494d", 0);
		assert_int_equal(smtp_parse_rcpt(big, (size_t)n, &ra, &reply),
		    -1);
	}
}

/* BDAT chunks (RFC 3030): dots are content, nothing ends the data; the
 * same flags as DATA, at chunk boundaries too. */
static void
test_data_chunks(void **state)
{
	static const struct {
		const char	*chunks[3];
		int		 flags;
		const char	*out;
	} cases[] = {
		{ { ".a\r\n.\r\n", "..b\r\n", NULL }, 0,
		    ".a\r\n.\r\n..b\r\n" },
		{ { "a\r", "\nb", NULL }, 0, "a\r\nb\r\n" },
		{ { "a\r", "b\r\n", NULL }, DATA_BARE_CR, NULL },
		{ { "a\n", NULL, NULL }, DATA_BARE_LF, NULL },
		{ { "a\r\nb\r", NULL, NULL }, DATA_BARE_CR, NULL },
		{ { "", "", NULL }, 0, "" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct data_parser p;
		struct buf out;

		data_init_chunks(&p, 1000);
		buf_init(&out, 0);
		for (int k = 0; k < 3 && cases[i].chunks[k]; k++) {
			size_t n = strlen(cases[i].chunks[k]);

			assert_int_equal(data_feed(&p, cases[i].chunks[k], n,
			    &out), n);
			assert_false(p.done);
		}
		data_chunks_end(&p, &out);
		assert_int_equal(p.flags, cases[i].flags);
		if (cases[i].out) {
			assert_int_equal(buf_len(&out), strlen(cases[i].out));
			assert_memory_equal(buf_ptr(&out), cases[i].out,
			    buf_len(&out));
		}
		buf_free(&out);
	}
}

static void
test_xtext_decode(void **state)
{
	char out[16];

	assert_int_equal(xtext_decode("a+2Bb+3D", 8, out, sizeof(out)), 0);
	assert_string_equal(out, "a+b=");
	assert_int_equal(xtext_decode("a+20b", 5, out, sizeof(out)), 0);
	assert_string_equal(out, "a b");
	assert_int_equal(xtext_decode("+0A", 3, out, sizeof(out)), -1);
	assert_int_equal(xtext_decode("+7F", 3, out, sizeof(out)), -1);
	assert_int_equal(xtext_decode("a b", 3, out, sizeof(out)), -1);
	assert_int_equal(xtext_decode("abcd", 4, out, 4), -1);
	assert_int_equal(xtext_decode("abc", 3, out, 4), 0);
}

/* DATA: feed s, return flags; *out gets the content; *used the bytes. */
static int
feed_all(const char *s, size_t n, struct buf *out, size_t *used, int *done,
    uint64_t max)
{
	struct data_parser p;

	data_init(&p, max);
	buf_init(out, 0);
	*used = data_feed(&p, s, n, out);
	*done = p.done;
	return p.flags;
}

static void
test_data_unstuffing(void **state)
{
	static const char in[] = "Subject: x\r\n\r\n..leading\r\n.\r\n";
	struct buf out;
	size_t used;
	int done, flags;

	flags = feed_all(in, sizeof(in) - 1, &out, &used, &done, 1000);
	assert_int_equal(flags, 0);
	assert_true(done);
	assert_int_equal(used, sizeof(in) - 1);
	assert_int_equal(buf_len(&out), strlen("Subject: x\r\n\r\n.leading\r\n"));
	assert_memory_equal(buf_ptr(&out), "Subject: x\r\n\r\n.leading\r\n",
	    buf_len(&out));
	buf_free(&out);

	/* An empty message. */
	flags = feed_all(".\r\n", 3, &out, &used, &done, 1000);
	assert_true(done);
	assert_int_equal(buf_len(&out), 0);
	buf_free(&out);

	/* What follows the end is not consumed. */
	flags = feed_all("a\r\n.\r\nQUIT\r\n", 12, &out, &used, &done, 1000);
	assert_true(done);
	assert_int_equal(used, 6);
	buf_free(&out);
}

/*
 * The smuggling ends from TESTING.md: none of them ends the data, each
 * is flagged, and only the real CRLF.CRLF later does.
 */
static void
test_data_smuggling(void **state)
{
	static const char *const ends[] = {
		"\n.\n", "\n.\r", "\r.\n", "\r.\r", "\n.\r\n", "\r.\r\n",
		"\r\n.\n", "\r\n.\r", "\r\n.\r\r\n", "\r\r\n.\r\r\n",
		"\r\n\0.\r\n", "\r\n.\0\r\n",
	};
	static const char second[] = "MAIL FROM:<x@evil.test>\r\n"
	    "RCPT TO:<v@victim.test>\r\nDATA\r\nSmuggled\r\n.\r\n";

	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		char in[512];
		size_t n = 0, elen = (i >= 10) ? 6 : strlen(ends[i]), used;
		struct buf out;
		int done, flags;

		memcpy(in + n, "Subject: a\r\n\r\nbody", 18);
		n += 18;
		memcpy(in + n, ends[i], elen);
		n += elen;
		memcpy(in + n, second, sizeof(second) - 1);
		n += sizeof(second) - 1;

		flags = feed_all(in, n, &out, &used, &done, 100000);
		if (!done || used != n)
			fail_msg("end %zu: done=%d used=%zu of %zu", i, done,
			    used, n);
		if (flags == 0 || data_flags_reply(flags) == NULL ||
		    data_flags_reply(flags)[0] != '5')
			fail_msg("end %zu: not refused (flags %#x)", i, flags);
		buf_free(&out);
	}
}

/*
 * limits.bare_lf = normalize: a bare LF is stored as CRLF, and still no
 * smuggling end ends the data: the second transaction is message
 * content, and the data ends only at the real CRLF.CRLF.  Ends with a
 * bare CR or a NUL are refused as before.
 */
static void
test_data_bare_lf_normalize(void **state)
{
	static const struct {
		const char	*end;
		size_t		 len;
		int		 refused;
	} ends[] = {
		{ "\n.\n", 3, 0 }, { "\n.\r\n", 4, 0 }, { "\r\n.\n", 4, 0 },
		{ ".\n", 2, 0 }, { "\n\n.\n\n", 5, 0 },
		{ "\n.\r", 3, 1 }, { "\r.\n", 3, 1 }, { "\r.\r", 3, 1 },
		{ "\r.\r\n", 4, 1 }, { "\r\n.\r", 4, 1 },
		{ "\r\n.\r\r\n", 6, 1 }, { "\r\n.\0\r\n", 6, 1 },
	};
	static const char second[] = "MAIL FROM:<x@evil.test>\r\n"
	    "RCPT TO:<v@victim.test>\r\nDATA\r\nSmuggled\r\n.\r\n";

	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		struct data_parser p;
		struct buf out;
		char in[512];
		size_t n = 0, used;

		memcpy(in + n, "Subject: a\r\n\r\nbody", 18);
		n += 18;
		memcpy(in + n, ends[i].end, ends[i].len);
		n += ends[i].len;
		memcpy(in + n, second, sizeof(second) - 1);
		n += sizeof(second) - 1;

		data_init(&p, 100000);
		p.lf_normalize = 1;
		buf_init(&out, 0);
		used = data_feed(&p, in, n, &out);
		if (!p.done || used != n)
			fail_msg("end %zu: done=%d used=%zu of %zu", i, p.done,
			    used, n);
		if (ends[i].refused != (p.flags != 0))
			fail_msg("end %zu: flags %#x", i, p.flags);
		if (!ends[i].refused && (memmem(buf_ptr(&out), buf_len(&out),
		    "\r\nMAIL FROM:", 12) == NULL || memchr(buf_ptr(&out),
		    '\n', buf_len(&out)) == buf_ptr(&out)))
			fail_msg("end %zu: the second transaction is not "
			    "content", i);
		buf_free(&out);
	}
}

/* A message written with LF line ends (curl's upload) comes out CRLF. */
static void
test_data_bare_lf_stored_crlf(void **state)
{
	static const char in[] = "Subject: lf\n\nline 1\n.line 2\n"
	    "\r\n.\r\n";
	static const char want[] = "Subject: lf\r\n\r\nline 1\r\n"
	    ".line 2\r\n\r\n";
	struct data_parser p;
	struct buf out;

	data_init(&p, 1000);
	p.lf_normalize = 1;
	buf_init(&out, 0);
	assert_int_equal(data_feed(&p, in, sizeof(in) - 1, &out),
	    sizeof(in) - 1);
	assert_true(p.done);
	assert_int_equal(p.flags, 0);
	assert_int_equal(buf_len(&out), sizeof(want) - 1);
	assert_memory_equal(buf_ptr(&out), want, sizeof(want) - 1);
	buf_free(&out);

	/* Refused by default. */
	data_init(&p, 1000);
	buf_init(&out, 0);
	data_feed(&p, in, sizeof(in) - 1, &out);
	assert_true(p.done);
	assert_int_equal(p.flags, DATA_BARE_LF);
	buf_free(&out);
}

static void
test_data_limits(void **state)
{
	struct buf out;
	char line[1100];
	size_t used;
	int done, flags;

	/* 998 characters fit, 999 do not. */
	memset(line, 'a', sizeof(line));
	memcpy(line + 998, "\r\n.\r\n", 5);
	flags = feed_all(line, 1003, &out, &used, &done, 10000);
	assert_int_equal(flags, 0);
	buf_free(&out);
	memset(line, 'a', sizeof(line));
	memcpy(line + 999, "\r\n.\r\n", 5);
	flags = feed_all(line, 1004, &out, &used, &done, 10000);
	assert_int_equal(flags, DATA_LONG_LINE);
	assert_true(done);
	buf_free(&out);

	/* Too big: flagged, read to the end, nothing kept past the limit. */
	flags = feed_all("0123456789\r\n.\r\n", 15, &out, &used, &done, 5);
	assert_int_equal(flags & DATA_TOO_BIG, DATA_TOO_BIG);
	assert_true(done);
	assert_true(buf_len(&out) <= 5);
	assert_string_equal(data_flags_reply(flags), "552 5.3.4 Message too big");
	buf_free(&out);
}

/* Any split of the input gives the same result as one piece. */
static void
test_data_segmentation(void **state)
{
	static const char in[] = "A: b\r\n\r\n.x\r\n..\r\nline\r\n\r\n.\r\nMAIL";
	size_t n = sizeof(in) - 1;
	struct buf whole;
	size_t used;
	int done;

	feed_all(in, n, &whole, &used, &done, 1000);
	for (size_t a = 1; a < n; a++) {
		for (size_t b = a; b < n; b++) {
			struct data_parser p;
			struct buf out;
			size_t u = 0;

			data_init(&p, 1000);
			buf_init(&out, 0);
			u += data_feed(&p, in, a, &out);
			if (!p.done)
				u += data_feed(&p, in + u, b - u, &out);
			if (!p.done)
				u += data_feed(&p, in + u, n - u, &out);
			assert_true(p.done);
			assert_int_equal(u, used);
			assert_int_equal(p.flags, 0);
			assert_int_equal(buf_len(&out), buf_len(&whole));
			assert_memory_equal(buf_ptr(&out), buf_ptr(&whole),
			    buf_len(&out));
			buf_free(&out);
		}
	}
	buf_free(&whole);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_next),
		cmocka_unit_test(test_line_long_in_pieces),
		cmocka_unit_test(test_verbs),
		cmocka_unit_test(test_mail_params),
		cmocka_unit_test(test_rcpt_params),
		cmocka_unit_test(test_dsn_params),
		cmocka_unit_test(test_xtext_decode),
		cmocka_unit_test(test_data_chunks),
		cmocka_unit_test(test_data_unstuffing),
		cmocka_unit_test(test_data_smuggling),
		cmocka_unit_test(test_data_bare_lf_normalize),
		cmocka_unit_test(test_data_bare_lf_stored_crlf),
		cmocka_unit_test(test_data_limits),
		cmocka_unit_test(test_data_segmentation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
