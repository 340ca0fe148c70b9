// sources:
/*
 * test_redact.c - the redact action: dlp_redact() on each kind of value,
 * and whole messages through redact_message(): a base64 part, a
 * quoted-printable Latin-1 part (made UTF-8), HTML with the digits in
 * character references, an attachment left alone, and a message with
 * nothing to replace left untouched.  Each result is walked again: the
 * detector finds nothing, the masked values are there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dlp.h"
#include "mime_walk.h"
#include "redact.h"

static void
test_dlp_redact(void **state)
{
	static const struct {
		enum dlp_redact how;
		const char *in, *out;
	} c[] = {
		{ DLP_R_LAST4, "4111-1111-1111-1111", "XXXX-XXXX-XXXX-1111" },
		{ DLP_R_LAST4, "4111 1111 1111 1111", "XXXX XXXX XXXX 1111" },
		{ DLP_R_LAST4, "123-45-6789", "XXX-XX-6789" },
		{ DLP_R_LAST4, "DE89 3704 0044 0532 0130 00",
		    "XXXX XXXX XXXX XXXX XX30 00" },
		{ DLP_R_PHONE, "+1 (212) 555-0142", "+X (XXX) XXX-XX42" },
		{ DLP_R_EMAIL, "bob.smith@example.com",
		    "XXX.XXXXX@example.com" },
		{ DLP_R_ALL, "MRN: 1234567", "XXX: XXXXXXX" },
		{ DLP_R_LAST4, "12", "12" },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char b[64];

		snprintf(b, sizeof(b), "%s", c[i].in);
		dlp_redact(c[i].how, b, strlen(b));
		assert_string_equal(b, c[i].out);
	}
}

/* The whole text the walk finds in msg, parts joined. */
static char *
walk_text(const char *msg, size_t len)
{
	struct mime_walk w;
	size_t n = 0;
	char *t;

	mime_walk(msg, len, NULL, &w);
	t = calloc(1, w.textlen + (size_t)w.ntexts + 1);
	for (int i = 0; i < w.ntexts; i++) {
		memcpy(t + n, w.texts[i].text, w.texts[i].len);
		n += w.texts[i].len;
		t[n++] = '\n';
	}
	mime_walk_free(&w);
	return t;
}

static const char MSG[] =
    "Received: from x by y; Mon, 7 Dec 2026 00:00:00 +0000\r\n"
    "From: app@example.com\r\n"
    "To: user@dest.test\r\n"
    "Subject: cards\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b\"\r\n"
    "\r\n"
    "--not-the-boundary\r\nA preamble GMime keeps with bare LF.\r\n"
    "--b\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    /* "card 4111 1111 1111 1111 ok\r\n" */
    "Y2FyZCA0MTExIDExMTEgMTExMSAxMTExIG9rDQo=\r\n"
    "--b\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "caf=E9 5555-5555-5555-=\r\n"
    "4444 done\r\n"
    "--b\r\n"
    "Content-Type: text/html; charset=us-ascii\r\n"
    "\r\n"
    "<p>pay &#52;111<b>1111</b>1111&#x31;111 now</p>\r\n"
    "--b\r\n"
    "Content-Type: application/octet-stream; name=\"a.bin\"\r\n"
    "Content-Disposition: attachment; filename=\"a.bin\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "AAEC\r\n"
    "--b--\r\n";

static void
test_redact_message(void **state)
{
	const char *spec = "card";
	struct dlp_db *db = dlp_compile(&spec, 1, NULL, 0);
	int want[1] = { 1 };
	struct buf out;
	char err[200], *t;

	assert_non_null(db);
	buf_init(&out, 0);
	assert_int_equal(redact_message(db, want, MSG, sizeof(MSG) - 1, &out,
	    err, sizeof(err)), 3);
	t = walk_text(buf_ptr(&out), buf_len(&out));
	assert_non_null(strstr(t, "card XXXX XXXX XXXX 1111 ok"));
	assert_non_null(strstr(t, "caf\xc3\xa9 XXXX-XXXX-XXXX-4444 done"));
	assert_non_null(strstr(t, "pay XXXXXXXXXXXX1111 now"));
	assert_null(strstr(t, "4111 1111"));
	free(t);
	buf_cstr(&out);
	/* Headers and the attachment as they were; the charset made UTF-8,
	 * each encoding kept, every line ending in CRLF. */
	assert_non_null(strstr(buf_ptr(&out), "Received: from x by y; Mon, "
	    "7 Dec 2026 00:00:00 +0000\r\nFrom: app@example.com\r\n"));
	assert_non_null(strstr(buf_ptr(&out), "Content-Disposition: "
	    "attachment; filename=\"a.bin\"\r\nContent-Transfer-Encoding: "
	    "base64\r\n\r\nAAEC\r\n"));
	assert_non_null(strstr(buf_ptr(&out), "charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable"));
	assert_null(strstr(buf_ptr(&out), "&#52;"));
	for (size_t i = 0; i < buf_len(&out); i++)
		if (buf_ptr(&out)[i] == '\n')
			assert_true(i > 0 && buf_ptr(&out)[i - 1] == '\r');
	/* Nothing to replace: nothing written. */
	buf_reset(&out);
	assert_int_equal(redact_message(db, want, "Subject: x\r\n\r\nhi\r\n",
	    18, &out, err, sizeof(err)), 0);
	assert_int_equal(buf_len(&out), 0);
	buf_free(&out);
	dlp_db_free(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dlp_redact),
		cmocka_unit_test(test_redact_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
