// sources:
/*
 * test_mime_walk.c - the MIME-to-text walk: transfer encodings, charsets
 * to UTF-8, HTML to text, attachments with their sniffed types, nested
 * messages, and the bounds on hostile structure (deep nesting, 10 000
 * parts, broken base64, an endless header line, an unknown charset).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gmime/gmime.h>

#include "buf.h"
#include "mime_walk.h"

/* The text of the part at path, or NULL. */
static const struct mime_text *
text_at(const struct mime_walk *w, const char *path)
{
	for (int i = 0; i < w->ntexts; i++)
		if (strcmp(w->texts[i].path, path) == 0)
			return &w->texts[i];
	return NULL;
}

static void
walk(const char *msg, struct mime_walk *w)
{
	assert_int_equal(mime_walk(msg, strlen(msg), NULL, w), 0);
}

static void
test_plain_latin1_qp(void **state)
{
	struct mime_walk w;

	walk("Subject: =?ISO-8859-1?Q?caf=E9?=\r\n"
	    "Content-Type: text/plain; charset=ISO-8859-1\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "caf=E9 4111=\r\n 1111\r\n", &w);
	assert_non_null(text_at(&w, "1"));
	assert_string_equal(text_at(&w, "1")->text, "caf\xc3\xa9 4111 1111\r\n");
	assert_string_equal(text_at(&w, "subject")->text, "caf\xc3\xa9");
	assert_string_equal(text_at(&w, "1")->type, "text/plain");
	assert_int_equal(w.flags, 0);
	assert_int_equal(w.natt, 0);
	mime_walk_free(&w);
}

static void
test_alternative_base64_html(void **state)
{
	struct mime_walk w;
	const struct mime_text *t;

	walk("Content-Type: multipart/alternative; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n"
	    "NDExMSAxMTExIDExMTEgMTExMQ==\r\n"
	    "--b\r\nContent-Type: TEXT/HTML\r\n\r\n"
	    "<html><style>p{}</style><p>card&#32;4111&nbsp;<b>1111</b>&amp;"
	    "&#x31;<!-- 9999 -->x<br/>&bogus;<script>1234</script>end\r\n"
	    "--b--\r\n", &w);
	assert_string_equal(text_at(&w, "1")->text, "4111 1111 1111 1111");
	t = text_at(&w, "2");
	assert_non_null(t);
	assert_string_equal(t->type, "text/html");
	assert_string_equal(t->text, "\ncard 4111 1111&1x\n&bogus;end");
	mime_walk_free(&w);
}

static void
test_charsets(void **state)
{
	struct mime_walk w;

	/* "日本" in Shift_JIS, "hé" in UTF-16 with a byte-order mark. */
	walk("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/plain; charset=Shift_JIS\r\n\r\n"
	    "\x93\xfa\x96\x7b\r\n"
	    "--b\r\nContent-Type: text/plain; charset=utf-16\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n"
	    "//5oAOkA\r\n"
	    "--b\r\nContent-Type: text/plain; charset=x-no-such-charset\r\n\r\n"
	    "ok \xff\r\n"
	    "--b--\r\n", &w);
	assert_string_equal(text_at(&w, "1")->text, "\xe6\x97\xa5\xe6\x9c\xac");
	assert_string_equal(text_at(&w, "2")->text, "h\xc3\xa9");
	/* Unknown charset: read as UTF-8, the invalid byte replaced. */
	assert_string_equal(text_at(&w, "3")->text, "ok ?");
	assert_true(w.flags & MW_BAD_CHARSET);
	mime_walk_free(&w);
}

static const char ATTACHED[] = "Subject: top\r\n"
	    "Content-Type: multipart/mixed; boundary=\"o\"\r\n\r\n"
	    "--o\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
	    "--o\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\n"
	    "Content-Disposition: attachment; filename=\"report.pdf\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n"
	    "UEsDBBQAAAAAAFmRhl2DFtyMAQAAAAEAAAAFAAAAYS50eHR4UEsBAhQDFAAAAAAAWZGGXYMW"
	    "3IwBAAAAAQAAAAUAAAAAAAAAAAAAAIABAAAAAGEudHh0UEsFBgAAAAABAAEAMwAAACQA"
	    "AAAAAA==\r\n"
	    "--o\r\nContent-Type: application/octet-stream\r\n"
	    "Content-Disposition: attachment; filename=data.bin\r\n\r\n"
	    "name,card\r\nbob,4111111111111111\r\n"
	    "--o\r\nContent-Type: message/rfc822\r\n\r\n"
	    "Subject: inner\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n"
	    "--i\r\nContent-Type: text/plain\r\n\r\nsecret 078-05-1120\r\n"
	    "--i--\r\n"
	    "--o--\r\n";

static void
test_attachments_and_nested(void **state)
{
	struct mime_limits lim = mime_limits_default;
	struct mime_walk w;

	/* A zip named .pdf; a text file declared octet-stream; a nested
	 * message whose own part is read as text. */
	walk(ATTACHED, &w);
	assert_int_equal(w.natt, 2);
	assert_string_equal(w.att[0].path, "2");
	assert_string_equal(w.att[0].name, "report.pdf");
	assert_string_equal(w.att[0].type, "application/pdf");
	assert_string_equal(w.att[0].sniffed, "application/zip");
	assert_true(w.att[0].archive);
	assert_int_equal(w.att[0].size, 109);
	assert_string_equal(w.att[1].name, "data.bin");
	assert_false(w.att[1].archive);
	assert_string_equal(text_at(&w, "3")->text,
	    "name,card\r\nbob,4111111111111111");
	assert_string_equal(text_at(&w, "4.subject")->text, "inner");
	assert_string_equal(text_at(&w, "4.1")->text, "secret 078-05-1120");
	assert_int_equal(w.nparts, 4);
	assert_int_equal(w.flags, 0);
	mime_walk_free(&w);

	/* Without libmagic: the zip by its magic number, the text file
	 * still read as text. */
	lim.no_magic = 1;
	assert_int_equal(mime_walk(ATTACHED, strlen(ATTACHED), &lim, &w), 0);
	assert_string_equal(w.att[0].sniffed, "application/zip");
	assert_true(w.att[0].archive);
	assert_string_equal(w.att[1].sniffed, "text/plain");
	assert_string_equal(text_at(&w, "3")->text,
	    "name,card\r\nbob,4111111111111111");
	mime_walk_free(&w);
}

/* n messages each inside the previous one's message/rfc822 part. */
static char *
nested_messages(int n)
{
	struct buf b;

	buf_init(&b, 0);
	for (int i = 0; i < n; i++)
		buf_puts(&b, "Content-Type: message/rfc822\r\n\r\n");
	buf_puts(&b, "Content-Type: text/plain\r\n\r\ndeep\r\n");
	return buf_steal(&b, NULL);
}

static void
test_depth_bounded(void **state)
{
	struct mime_limits lim = mime_limits_default;
	struct mime_walk w;
	char *m = nested_messages(100);

	assert_int_equal(mime_walk(m, strlen(m), &lim, &w), 0);
	assert_true(w.flags & MW_DEEP);
	assert_int_equal(w.nparts, 0);
	mime_walk_free(&w);
	free(m);
	m = nested_messages(3);		/* 4 messages: within 5 */
	assert_int_equal(mime_walk(m, strlen(m), &lim, &w), 0);
	assert_int_equal(w.flags, 0);
	assert_string_equal(text_at(&w, "1.1.1.1")->text, "deep\r\n");
	mime_walk_free(&w);
	free(m);
}

static void
test_deep_multipart(void **state)
{
	struct mime_walk w;
	struct buf b;
	char *m;

	buf_init(&b, 0);
	for (int i = 0; i < 100; i++) {
		if (i > 0)
			buf_printf(&b, "--b%d\r\n", i - 1);
		buf_printf(&b, "Content-Type: multipart/mixed; boundary=b%d"
		    "\r\n\r\n", i);
	}
	buf_puts(&b, "--b99\r\nContent-Type: text/plain\r\n\r\nbottom\r\n");
	m = buf_steal(&b, NULL);
	walk(m, &w);
	assert_int_equal(w.nparts, 1);
	mime_walk_free(&w);
	free(m);
}

static void
test_many_parts(void **state)
{
	struct mime_walk w;
	struct buf b;
	char *m;

	buf_init(&b, 0);
	buf_puts(&b, "Content-Type: multipart/mixed; boundary=b\r\n\r\n");
	for (int i = 0; i < 10000; i++)
		buf_printf(&b, "--b\r\nContent-Type: text/plain\r\n\r\n%d\r\n",
		    i);
	buf_puts(&b, "--b--\r\n");
	m = buf_steal(&b, NULL);
	walk(m, &w);
	assert_true(w.flags & MW_MANY_PARTS);
	assert_int_equal(w.ntexts, mime_limits_default.parts);
	assert_int_equal(w.nparts, mime_limits_default.parts + 1);
	mime_walk_free(&w);
	free(m);
}

static void
test_broken_and_endless(void **state)
{
	struct mime_walk w;
	struct buf b;
	char *m;

	walk("Content-Type: text/plain\r\nContent-Transfer-Encoding: base64"
	    "\r\n\r\nNDExM=S*!!AxMT\r\n====\r\nZ\r\n", &w);
	assert_int_equal(w.ntexts, 1);
	assert_true(text_at(&w, "1")->len < 20);
	mime_walk_free(&w);

	/* A 1 MB header line with no end, then nothing. */
	buf_init(&b, 0);
	buf_puts(&b, "Subject: ");
	for (int i = 0; i < 1 << 20; i++)
		buf_putc(&b, 'a');
	m = buf_steal(&b, NULL);
	walk(m, &w);
	mime_walk_free(&w);
	free(m);

	/* Not a message at all. */
	assert_int_equal(mime_walk("", 0, NULL, &w), 0);
	mime_walk_free(&w);
}

static void
test_text_cap(void **state)
{
	struct mime_limits lim = { 5, 1000, 10, 0, 0 };
	struct mime_walk w;
	const char *m = "Content-Type: text/plain\r\n\r\n0123456789abcdef\r\n";

	assert_int_equal(mime_walk(m, strlen(m), &lim, &w), 0);
	assert_true(w.flags & MW_TEXT_CUT);
	assert_int_equal(w.textlen, 10);
	assert_string_equal(w.texts[0].text, "0123456789");
	mime_walk_free(&w);
}

/*
 * A text attachment is sniffed on its first bytes and kept in the same
 * read (mime_walk.c, attach_sniffed): all of it past the sniffed bytes
 * and the read chunk, cut at the text limit; one in another charset is
 * still converted; invalid UTF-8 between long ASCII runs is replaced
 * byte for byte.
 */
static void
test_text_attachment_one_read(void **state)
{
	static const char head[] = "Content-Type: multipart/mixed; "
	    "boundary=b\r\n\r\n--b\r\nContent-Type: application/pdf\r\n"
	    "Content-Disposition: attachment; filename=r.pdf\r\n\r\n";
	struct mime_limits lim = mime_limits_default;
	size_t body = 40000, n = strlen(head);
	char *msg = malloc(n + body + 400);
	const struct mime_text *t;
	struct mime_walk w;

	memcpy(msg, head, n);
	for (size_t i = 0; i < body; i++)
		msg[n + i] = (i % 70 == 69) ? '\n' : (char)('a' + i % 26);
	memcpy(msg + n + 30000, "4111 1111 1111 1111 \xff\xfe", 22);
	n += body;
	n += (size_t)sprintf(msg + n, "\r\n--b\r\nContent-Type: "
	    "application/octet-stream; charset=iso-8859-1\r\n"
	    "Content-Disposition: attachment; filename=x.dat\r\n\r\n"
	    "caf\xe9\r\n--b--\r\n");
	lim.no_magic = 1;
	assert_int_equal(mime_walk(msg, n, &lim, &w), 0);
	assert_int_equal(w.natt, 2);
	assert_string_equal(w.att[0].sniffed, "text/plain");
	assert_non_null(t = text_at(&w, "1"));
	assert_int_equal(t->len, body);
	assert_int_equal(strlen(t->text), t->len);
	assert_memory_equal(t->text + 30000, "4111 1111 1111 1111 ??", 22);
	assert_non_null(t = text_at(&w, "2"));
	assert_string_equal(t->text, "caf\xc3\xa9");
	assert_int_equal(w.flags, 0);
	mime_walk_free(&w);

	lim.text = 20000;
	assert_int_equal(mime_walk(msg, n, &lim, &w), 0);
	assert_non_null(t = text_at(&w, "1"));
	assert_int_equal(t->len, 20000);
	assert_int_equal(strlen(t->text), 20000);
	assert_true(w.flags & MW_TEXT_CUT);
	mime_walk_free(&w);
	free(msg);
}

static void
test_html_text(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "a<b>c</b>d", "acd" },
		{ "a<p>b", "a\nb" },
		{ "&lt;&GT;&#65;&#x41;&#X4a;", "<>AAJ" },
		{ "&#0;&#xD800;&#1114112;", "???" },
		{ "&#99999999;", "&#99999999;" },
		{ "&", "&" },
		{ "&#", "&#" },
		{ "<", "" },
		{ "<!-- never closed", "" },
		{ "<script>x", "" },
		{ "<script/>y", "y" },
		{ "<style>a</STYLE>b", "b" },
		{ "x&nbsp;y&shy;z", "x yz" },
		{ "&#8364;", "\xe2\x82\xac" },
	};
	char out[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = mime_html_text(cases[i].in, strlen(cases[i].in),
		    out);

		assert_true(n <= strlen(cases[i].in));
		assert_string_equal(out, cases[i].out);
	}
}

/* GMime's message's Subject, or NULL (mime_with_message's callback). */
static void
message_subject(void *arg, void *msg)
{
	const char *s = msg ? g_mime_message_get_subject(msg) : NULL;

	*(char **)arg = s ? strdup(s) : NULL;
}

/*
 * The walk reads the top message as GMime's part, not its message (no
 * address lists built): the subject must still be what GMime's message
 * says, for each way a header section can be odd, and the body parts
 * numbered as before.  An mbox "From " line is read only by the
 * message's parse: the walk falls back to it.
 */
static void
test_top_as_part(void **state)
{
	static const struct { const char *msg, *body_path, *body; } cases[] = {
		{ "Subject: first\r\nSubject: second\r\n\r\nb\r\n", "1",
		    "b\r\n" },
		{ "subject: lower\r\nSUBJECT: =?utf-8?q?caf=C3=A9?=\r\n"
		    "  and\r\n\tmore\r\n\r\nb\r\n", "1", "b\r\n" },
		{ "Subject:\r\nFrom: a@example.com\r\n\r\nb\r\n", "1",
		    "b\r\n" },
		{ "From: a@example.com\r\n\r\nno subject\r\n", "1",
		    "no subject\r\n" },
		{ "From a@example.com Mon Dec  7 10:00:00 2026\r\n"
		    "Subject: mbox\r\n\r\nb\r\n", "1", "b\r\n" },
		{ "Subject: =?iso-8859-1?q?h=E9?=\r\nContent-Type: multipart/"
		    "mixed; boundary=q\r\n\r\n--q\r\n\r\nb\r\n--q--\r\n",
		    "1", "b" },
	};
	struct mime_limits lim = mime_limits_default;

	lim.gmime_only = 1;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *m = cases[i].msg;
		const struct mime_text *t;
		struct mime_walk w;
		char *want;

		mime_with_message(m, strlen(m), message_subject, &want);
		assert_int_equal(mime_walk(m, strlen(m), &lim, &w), 0);
		t = text_at(&w, "subject");
		if (want == NULL)
			assert_null(t);
		else {
			assert_non_null(t);
			assert_string_equal(t->text, want);
		}
		assert_non_null(text_at(&w, cases[i].body_path));
		assert_string_equal(text_at(&w, cases[i].body_path)->text,
		    cases[i].body);
		free(want);
		mime_walk_free(&w);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_latin1_qp),
		cmocka_unit_test(test_alternative_base64_html),
		cmocka_unit_test(test_charsets),
		cmocka_unit_test(test_attachments_and_nested),
		cmocka_unit_test(test_depth_bounded),
		cmocka_unit_test(test_deep_multipart),
		cmocka_unit_test(test_many_parts),
		cmocka_unit_test(test_broken_and_endless),
		cmocka_unit_test(test_text_cap),
		cmocka_unit_test(test_html_text),
		cmocka_unit_test(test_text_attachment_one_read),
		cmocka_unit_test(test_top_as_part),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
