// sources:
/*
 * test_mime_head.c - the top header fields the content walk hands GMime
 * (mime_head.h): which fields are kept, byte for byte and in order,
 * where the body starts, and every doubt that must send the whole
 * message to GMime instead (a line without a colon, 8-bit or control
 * bytes, bare LF or CR, an mbox "From " line, a fold at the very start,
 * no empty line).  test_mime_plain.c holds the walks of the same
 * messages to GMime's full walk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "mime_head.h"

#define CT	"Content-Type: multipart/mixed; boundary=q\r\n"

static const struct {
	const char	*msg;
	const char	*kept;	/* NULL: a doubt, -1 */
	const char	*body;	/* what follows the empty line */
} CASES[] = {
	{ "Received: from x\r\n\tby y; Mon, 7 Dec 2026\r\nFrom: a@b\r\n"
	    "Subject: s\r\nMIME-Version: 1.0\r\n" CT "Date: d\r\n\r\nbody\r\n",
	    "Subject: s\r\n" CT "\r\n", "body\r\n" },
	/* Folds stay with their field, kept or not. */
	{ "Subject: a\r\n b\r\n\tc\r\nTo: x,\r\n y\r\nContent-Type: text/plain;"
	    "\r\n charset=utf-8\r\n\r\nb",
	    "Subject: a\r\n b\r\n\tc\r\nContent-Type: text/plain;\r\n"
	    " charset=utf-8\r\n\r\n", "b" },
	/* Every Content-* field, any case, duplicates in their order. */
	{ "content-type: text/html\r\nX: 1\r\nCONTENT-TYPE: text/plain\r\n"
	    "Content-Transfer-Encoding: base64\r\nContent-Disposition: inline"
	    "\r\nContent-ID: <i>\r\nsubject: lower\r\nSubject: upper\r\n\r\n",
	    "content-type: text/html\r\nCONTENT-TYPE: text/plain\r\n"
	    "Content-Transfer-Encoding: base64\r\nContent-Disposition: inline"
	    "\r\nContent-ID: <i>\r\nsubject: lower\r\nSubject: upper\r\n\r\n",
	    "" },
	/* Names that only look like kept ones. */
	{ "Content-: x\r\nSubjects: y\r\nX-Content-Type: z\r\nSubject-X: w\r\n"
	    "\r\nb", "\r\n", "b" },
	/* A blank continuation line is a continuation, not the end. */
	{ "Subject: a\r\n \r\nFrom: b\r\n\r\nb", "Subject: a\r\n \r\n\r\n",
	    "b" },
	/* The doubts. */
	{ "From: a\r\nnot a header 4111 1111 1111 1111\r\n" CT "\r\nb", NULL,
	    NULL },
	{ "From: a\r\nSubject: caf\xc3\xa9\r\n\r\nb", NULL, NULL },
	{ "From: a\r\nX-\xe9: 1\r\n\r\nb", NULL, NULL },
	{ "From: a\r\nSubject: nul \0 in it\r\n\r\nb", NULL, NULL },
	{ "From: a\nSubject: bare lf\n\nb", NULL, NULL },
	{ "From: a\r\nSubject: bare\rcr\r\n\r\nb", NULL, NULL },
	{ "From: a\r\n" CT "\n\r\nb", NULL, NULL },
	{ "From a@b Mon Dec  7 07:00:00 2026\r\nSubject: s\r\n\r\nb", NULL,
	    NULL },
	{ " folded: at the start\r\nSubject: s\r\n\r\nb", NULL, NULL },
	{ "Subject : spaced\r\n\r\nb", NULL, NULL },
	{ ": no name\r\n\r\nb", NULL, NULL },
	{ "Subject: s\r\n \r\n", NULL, NULL },
	{ "Subject: s\r\n" CT, NULL, NULL },
	{ "Subject: s", NULL, NULL },
	{ "", NULL, NULL },
};

static void
test_kept_fields(void **state)
{
	for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
		const char *m = CASES[i].msg;
		size_t len = strlen(m), body = 0;
		struct buf b;
		int r;

		/* The NUL case: the whole literal. */
		if (strstr(m, "nul ") != NULL)
			len += strlen(m + len + 1) + 1;
		print_message("case %zu\n", i);
		buf_init(&b, 0);
		r = mime_head_keep(m, len, &b, &body);
		if (CASES[i].kept == NULL)
			assert_int_equal(r, -1);
		else {
			assert_int_equal(r, 0);
			assert_int_equal(buf_len(&b), strlen(CASES[i].kept));
			assert_memory_equal(buf_ptr(&b), CASES[i].kept,
			    buf_len(&b));
			assert_string_equal(m + body, CASES[i].body);
		}
		buf_free(&b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kept_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
