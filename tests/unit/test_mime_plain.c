// sources:
/*
 * test_mime_plain.c - the content walk's shortcuts against GMime's full
 * walk of the same bytes (mime_limits.gmime_only): the fast path (a
 * message of one plain text part read without GMime's objects,
 * mime_plain.h), the top header fields kept apart (mime_head.h) and
 * GMime's decoder steps without its filter streams (mime_decode.h).
 * The same texts, paths, types, attachments, flags and counts, and so
 * the same detector results.  Each case says whether the shortcut must
 * take it, so a check that sends everything to GMime fails here too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "dlp.h"
#include "mime_head.h"
#include "mime_plain.h"
#include "mime_walk.h"

static void
same_text(const struct mime_text *a, const struct mime_text *b)
{
	assert_string_equal(a->path, b->path);
	assert_string_equal(a->type, b->type);
	assert_int_equal(a->len, b->len);
	assert_memory_equal(a->text, b->text, a->len + 1);
	assert_int_equal(a->links != NULL, b->links != NULL);
	assert_int_equal(a->linkslen, b->linkslen);
	if (a->links)
		assert_memory_equal(a->links, b->links, a->linkslen);
}

/* Both walks of msg[0..len) under lim; fast: whether the fast path must
 * take it. */
static void
same_walk_lim(const char *msg, size_t len, int fast,
    struct mime_limits lim)
{
	struct mime_walk f, g;
	struct mime_plain p;

	assert_int_equal(mime_plain_head(msg, len, &p) == 0, fast);
	lim.gmime_only = 0;
	mime_walk(msg, len, &lim, &f);
	lim.gmime_only = 1;
	mime_walk(msg, len, &lim, &g);
	assert_int_equal(f.ntexts, g.ntexts);
	for (int i = 0; i < f.ntexts; i++)
		same_text(&f.texts[i], &g.texts[i]);
	assert_int_equal(f.natt, g.natt);
	for (int i = 0; i < f.natt; i++) {
		assert_string_equal(f.att[i].path, g.att[i].path);
		assert_string_equal(f.att[i].name, g.att[i].name);
		assert_string_equal(f.att[i].type, g.att[i].type);
		assert_string_equal(f.att[i].sniffed, g.att[i].sniffed);
		assert_int_equal(f.att[i].size, g.att[i].size);
		assert_int_equal(f.att[i].archive, g.att[i].archive);
		assert_int_equal(f.att[i].encrypted, g.att[i].encrypted);
	}
	assert_int_equal(f.nparts, g.nparts);
	assert_int_equal(f.flags, g.flags);
	assert_int_equal(f.textlen, g.textlen);
	mime_walk_free(&f);
	mime_walk_free(&g);
}

static void
same_walk(const char *msg, int fast)
{
	same_walk_lim(msg, strlen(msg), fast, mime_limits_default);
}

#define HDR	"From: a@example.com\r\nTo: b@example.net\r\n"
#define QPH	"Content-Transfer-Encoding: quoted-printable\r\n"

/* Taken by the fast path: every decoding trap of quoted-printable. */
static const char *const FAST[] = {
	HDR "Subject: plain\r\n\r\ncard 4111 1111 1111 1111\r\n",
	HDR "\r\nno subject, no type\r\n",
	HDR "Subject: x\r\n\r\n",				/* no body */
	HDR "Subject: x\r\n\r\nno final line end",
	HDR "Subject:\r\n\r\nempty subject\r\n",
	HDR "Subject: \t \r\n\r\nblank subject\r\n",
	HDR "Subject: a\r\n  folded\r\n\tagain\r\n\r\nbody\r\n",
	HDR "Subject: =?UTF-8?Q?caf=C3=A9?= and =?ISO-8859-1?B?Y2Fm6Q==?=\r\n"
	    "\r\nbody\r\n",
	HDR "Subject: =?bogus?Q?x?= =?UTF-8?Q?broken\r\n\r\nbody\r\n",
	HDR "Content-Type: text/plain; charset=utf-8\r\n" QPH "\r\n"
	    "soft=\r\nbreak 4111=\r\n 1111=\r\n 1111 1111\r\n",
	HDR "Content-Type: text/plain\r\n" QPH "\r\n"
	    "unix=\nsoft break and =3d =3D =41=42 lower =e9=c3=a9\r\n",
	HDR QPH "\r\ninvalid =ZZ =4 =\r =G1 ==41 trailing =",
	HDR QPH "\r\nends in =4",
	HDR QPH "\r\nends in =\r",
	HDR QPH "\r\nends in =\r\n",
	HDR QPH "\r\nencoded line ends=0D=0Aand=0D=0A\r\nbytes =00=FF=80\r\n",
	HDR QPH "\r\ntrailing spaces   \r\nkept  =20\r\n",
	HDR "Content-Type: TEXT/Plain; charset=\"UTF-8\"; format=flowed\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\n"
	    "caf\xc3\xa9 invalid \xff\xfe utf-8 \xe9t\xe9\r\n",
	HDR "Content-Type: text/plain; charset=us-ascii\r\n"
	    "Content-Transfer-Encoding: 7BIT\r\n\r\nnul \0 inside\r\n",
	HDR "Content-Type: text/plain;charset=utf8\r\n"
	    "Content-Transfer-Encoding: binary\r\n\r\nbare\rcr and\nlf\r\n",
	HDR "Content-Type: text/html; charset=utf-8\r\n" QPH "\r\n"
	    "<p>Card <b>4111&nbsp;1111 1111 1111</b></p><a href=3D\"http://"
	    "x.example/a?b=3D1&amp;c\">x</a><script>hidden</script>\r\n"
	    "<style>p{}</style>&#x34;111 &lt;tag&gt;\r\n",
	HDR "Content-Type: text/html\r\n\r\n<a href='http://y.example/'>y</a>"
	    "<img src=\"http://z.example/i.png\">\r\n",
	HDR "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n"
	    "Subject: ssn 078-05-1120\r\n\r\n"
	    "--boundary\r\nContent-Type: text/html\r\n\r\nnot a part\r\n",
};

/* Sent to GMime: what the fast path leaves alone. */
static const char *const SLOW[] = {
	HDR "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n"
	    "--b--\r\n",
	HDR "Content-Type: text/plain\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\nNDExMSAxMTEx\r\n",
	HDR "Content-Type: text/plain; charset=iso-8859-1\r\n\r\ncaf\xe9\r\n",
	HDR "Content-Type: text/plain; name=a.txt\r\n\r\nx\r\n",
	HDR "Content-Type: text/plain; charset*=utf-8''x\r\n\r\nx\r\n",
	HDR "Content-Type: text/plain (comment)\r\n\r\nx\r\n",
	HDR "Content-Type: text/plain; charset=\"utf\\-8\"\r\n\r\nx\r\n",
	HDR "Content-Type: text/plain; charset=utf-8; charset=latin1\r\n"
	    "\r\nx\r\n",
	HDR "Content-Type: text/plain;\r\n charset=utf-8\r\n\r\nx\r\n",
	HDR "Content-Type: text/plain\r\nContent-Type: text/html\r\n\r\nx\r\n",
	HDR "Content-Type: application/octet-stream\r\n\r\nx\r\n",
	HDR "Content-Type: text/enriched\r\n\r\nx\r\n",
	HDR "Content-Disposition: attachment\r\n\r\nx\r\n",
	HDR "Content-Transfer-Encoding: x-uuencode\r\n\r\nx\r\n",
	HDR "Subject: one\r\nSubject: two\r\n\r\nx\r\n",
	HDR "Subject: caf\xc3\xa9 raw\r\n\r\nx\r\n",
	HDR "Subject: bare\nlf\r\n\r\nx\r\n",
	HDR "Subject : spaced\r\n\r\nx\r\n",
	"From someone Mon Dec  7 07:00:00 2026\r\n" HDR "\r\nx\r\n",
	" leading continuation\r\n" HDR "\r\nx\r\n",
	HDR "Subject: no empty line\r\n",
	HDR "Subject: no end",
	"",
};

#define MP	"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; " \
		"boundary=\"=-q-=\"\r\n"
#define RCVD	"Received: from h.example ([127.0.0.1])\r\n\tby gw.example " \
		"(gw) with ESMTPA id 0123;\r\n" \
		"\tMon, 7 Dec 2026 13:00:00 +0000\r\n"
/* bench/submitload --mime's parts, shortened, and a few harder ones. */
#define PARTS	"--=-q-=\r\nContent-Type: text/plain; charset=utf-8\r\n" \
		QPH "\r\ncard 4111 1111=\r\n 1111 1111 caf=C3=A9\r\n" \
		"--=-q-=\r\nContent-Type: text/html; charset=utf-8\r\n" \
		"Content-Transfer-Encoding: base64\r\n\r\n" \
		"PHA+MDc4LTA1LTExMjA8L3A+PGEgaHJlZj0iaHR0cDovL3guZXhh" \
		"bXBsZS8iPg==" \
		"\r\n--=-q-=\r\nContent-Type: application/pdf; name=\"r.pdf\"" \
		"\r\nContent-Disposition: attachment; filename=\"r.pdf\"\r\n" \
		"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n" \
		"--=-q-=\r\nContent-Type: text/plain; charset=iso-8859-1\r\n" \
		QPH "\r\ncaf=E9\r\n--=-q-=\r\n" \
		"Content-Type: application/octet-stream\r\n" \
		"Content-Transfer-Encoding: x-uuencode\r\n\r\n" \
		"begin 644 a.txt\r\n#86)C\r\n`\r\nend\r\n--=-q-=\r\n" \
		"Content-Type: text/plain\r\n" \
		"Content-Transfer-Encoding: base64\r\n\r\n" \
		"NDEx MSAx=MTEx\r\nIDEx*MTEg!MTEx\r\nMQ\r\n--=-q-=\r\n" \
		"Content-Type: message/rfc822\r\n\r\nFrom: n@example.com\r\n" \
		"Subject: inner\r\n\r\ninner 123-45-6789\r\n--=-q-=--\r\n"

/* Parsed by GMime with only the top fields the walk reads
 * (mime_head.h): head says whether the check must take it. */
static const struct { const char *msg; int head; } HEAD[] = {
	{ RCVD HDR "Subject: load 1\r\nMessage-ID: <1@x>\r\n" MP
	    "Date: Mon, 7 Dec 2026 13:00:00 +0000\r\n\r\n" PARTS, 1 },
	{ HDR "Subject: =?utf-8?q?caf=C3=A9?=\r\n  folded\r\n"
	    "Content-Type: multipart/mixed;\r\n\tboundary=\"=-q-=\"\r\n"
	    "\r\npreface\r\n" PARTS "epilogue\r\n", 1 },
	{ "Content-Type: text/html\r\n" HDR "Content-Type: multipart/mixed;"
	    " boundary=\"=-q-=\"\r\n\r\n" PARTS, 1 },
	{ HDR "Content-Type: application/octet-stream; name=a.exe\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAE\r\n", 1 },
	{ HDR "Content-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\n"
	    "x\r\n", 1 },
	{ HDR "Subject: s\r\n" MP "\r\n", 1 },
	/* Doubts: GMime reads the whole message. */
	{ "Content-Type: text/plain\r\n" HDR "not a header: 078-05-1120\r\n"
	    MP "\r\n" PARTS, 0 },
	{ HDR "Subject: caf\xc3\xa9 raw\r\n" MP "\r\n" PARTS, 0 },
	{ "From: a@example.com\nSubject: lf\n" MP "\n" PARTS, 0 },
	{ "From a@example.com Mon Dec  7 07:00:00 2026\r\n" HDR MP "\r\n"
	    PARTS, 0 },
	{ " obs-fold: first\r\n" HDR MP "\r\n" PARTS, 0 },
	{ HDR MP, 0 },
};

/* Each case of a table, named when it fails. */
static void
each(const char *const *cases, size_t n, int fast)
{
	for (size_t i = 0; i < n; i++) {
		print_message("%s %zu\n", fast ? "fast" : "slow", i);
		same_walk(cases[i], fast);
	}
}

static void
test_fast_same_as_gmime(void **state)
{
	each(FAST, sizeof(FAST) / sizeof(FAST[0]), 1);
}

/* A NUL in the body: strlen() would stop there. */
static void
test_nul_in_body(void **state)
{
	static const char m[] = HDR "Subject: n\r\n" QPH "\r\na\0b=00c=\r\nd\r\n";

	same_walk_lim(m, sizeof(m) - 1, 1, mime_limits_default);
}

static void
test_head_same_as_gmime(void **state)
{
	for (size_t i = 0; i < sizeof(HEAD) / sizeof(HEAD[0]); i++) {
		const char *m = HEAD[i].msg;
		struct buf b;
		size_t body;

		print_message("head %zu\n", i);
		buf_init(&b, 0);
		assert_int_equal(mime_head_keep(m, strlen(m), &b, &body) == 0,
		    HEAD[i].head);
		buf_free(&b);
		same_walk(m, 0);
	}
}

/* A body past what walk_kept() copies: GMime's cat of the kept fields
 * and the body in place, to the same result. */
static void
test_head_large_body(void **state)
{
	static const char head[] = RCVD HDR "Subject: large\r\n" MP "\r\n"
	    "--=-q-=\r\nContent-Type: text/plain\r\n\r\n";
	size_t n = strlen(head), big = 300 << 10, len;
	char *m = malloc(n + big + sizeof(PARTS) + 2);
	struct buf b;
	size_t body;

	assert_non_null(m);
	memcpy(m, head, n);
	for (size_t i = 0; i < big; i++)
		m[n + i] = i % 64 == 63 ? '\n' : i % 64 == 62 ? '\r' :
		    (char)('a' + i % 26);
	memcpy(m + n + big, "\r\n" PARTS, sizeof(PARTS) + 2);
	len = strlen(m);
	buf_init(&b, 0);
	assert_int_equal(mime_head_keep(m, len, &b, &body), 0);
	assert_true(len - body > (256 << 10));
	buf_free(&b);
	same_walk_lim(m, len, 0, mime_limits_default);
	free(m);
}

/*
 * Where the chunks end may change what GMime's base64 step gives: that
 * of 3.2.9 and 3.2.14 drops an output byte for each '=' that ends the
 * chunk it is given (up to two) and decodes a '=' inside a chunk as
 * zero bits; that of 3.2.10 to 3.2.13, Debian 12's, ends the stream at
 * the first '=' wherever the chunk ends (common/mime_decode.c follows
 * it).  Padded quartets at every offset near 4 KiB and 8 KiB boundaries
 * (one line of base64 per padded quartet, as some mailers write): the
 * bytes of the part must still be the filter stream's, whichever
 * version is installed.
 */
static void
test_base64_chunks(void **state)
{
	static const char head[] = HDR "Content-Type: text/plain\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n";
	size_t n = strlen(head), cap = n + 20000;
	char *m = malloc(cap + 1);

	assert_non_null(m);
	for (size_t shift = 0; shift < 8; shift++) {
		size_t k = n;

		memcpy(m, head, n);
		for (size_t i = 0; i < shift; i++)
			m[k++] = ' ';
		while (k + 4 < cap) {
			size_t at = k - n;

			memcpy(m + k, at % 4096 >= 4080 || at % 4096 < 8 ?
			    "QQ==" : "QUJD", 4);
			k += 4;
		}
		m[k] = '\0';
		print_message("shift %zu\n", shift);
		same_walk_lim(m, k, 0, mime_limits_default);
	}
	free(m);
}

static void
test_slow_left_to_gmime(void **state)
{
	each(SLOW, sizeof(SLOW) / sizeof(SLOW[0]), 0);
}

/* The bounds: text cut at lim->text (subject counted first), parts
 * past lim->parts. */
static void
test_limits_same(void **state)
{
	struct mime_limits lim = mime_limits_default;

	for (size_t cap = 0; cap < 40; cap += 3) {
		lim.text = cap;
		same_walk_lim(FAST[9], strlen(FAST[9]), 1, lim);
		same_walk_lim(FAST[0], strlen(FAST[0]), 1, lim);
		same_walk_lim(FAST[20], strlen(FAST[20]), 1, lim);
	}
	lim = mime_limits_default;
	lim.parts = 0;
	same_walk_lim(FAST[0], strlen(FAST[0]), 1, lim);
}

/* The detectors see the same: counts per detector equal, and the
 * values are found at all (the fast path read the body). */
static void
test_same_detector_results(void **state)
{
	static const char *const specs[] = { "card", "ssn", "iban", "email",
	    "phone", "keywords:confidential" };
	static const char msg[] = HDR "Subject: =?UTF-8?Q?confidential?=\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n" QPH "\r\n"
	    "4111 1111 =\r\n1111 1111, 123-45=2D6789, GB82 WEST 1234 5698 7654 "
	    "32,=\r\n bob=40example.com, +1 212 555 0100\r\n";
	struct mime_limits lim = mime_limits_default;
	struct dlp_result rf, rg;
	struct mime_walk f, g;
	struct dlp_db *db;
	char err[200];
	int n = (int)(sizeof(specs) / sizeof(specs[0]));

	db = dlp_compile(specs, n, err, sizeof(err));
	assert_non_null(db);
	mime_walk(msg, sizeof(msg) - 1, &lim, &f);
	lim.gmime_only = 1;
	mime_walk(msg, sizeof(msg) - 1, &lim, &g);
	assert_int_equal(dlp_scan(db, &f, &rf, err, sizeof(err)), 0);
	assert_int_equal(dlp_scan(db, &g, &rg, err, sizeof(err)), 0);
	for (int k = 0; k < n; k++) {
		assert_int_equal(rf.c[k].count, rg.c[k].count);
		assert_true(rf.c[k].count >= 1);
	}
	dlp_result_free(&rf);
	dlp_result_free(&rg);
	mime_walk_free(&f);
	mime_walk_free(&g);
	dlp_db_free(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fast_same_as_gmime),
		cmocka_unit_test(test_nul_in_body),
		cmocka_unit_test(test_slow_left_to_gmime),
		cmocka_unit_test(test_head_same_as_gmime),
		cmocka_unit_test(test_head_large_body),
		cmocka_unit_test(test_base64_chunks),
		cmocka_unit_test(test_limits_same),
		cmocka_unit_test(test_same_detector_results),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
