// sources:
/*
 * test_dlp.c - the content scanner: each validator on the values it
 * must confirm and the look-alikes it must not, the masks, and the
 * Hyperscan pass over a walked message (distinct counting, parts named,
 * custom regexes and keywords, detectors that do not compile).
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

static void
test_luhn_iin(void **state)
{
	assert_true(dlp_luhn("4111111111111111", 16));
	assert_false(dlp_luhn("4111111111111112", 16));
	assert_true(dlp_luhn("4111 1111-1111 1111", 19));
	assert_true(dlp_card_iin("4111111111111111", 16));
	assert_true(dlp_card_iin("378282246310005", 15));	/* Amex */
	assert_false(dlp_card_iin("3782822463100050", 16));	/* Amex is 15 */
	assert_true(dlp_card_iin("5555555555554444", 16));
	assert_true(dlp_card_iin("2223003122003222", 16));	/* MC 2-series */
	assert_false(dlp_card_iin("2721000000000000", 16));
	assert_true(dlp_card_iin("6011111111111117", 16));
	assert_true(dlp_card_iin("3530111333300000", 16));	/* JCB */
	assert_false(dlp_card_iin("9111111111111111", 16));
	assert_false(dlp_card_iin("41111111111", 11));
}

static void
test_card_at(void **state)
{
	static const struct { const char *t; int ok; const char *val; } c[] = {
		{ "4111111111111111", 1, "4111111111111111" },
		{ "card 4111 1111 1111 1111.", 1, "4111 1111 1111 1111" },
		{ "x 4111-1111-1111-1111", 1, "4111-1111-1111-1111" },
		{ "3782 822463 10005", 1, "3782 822463 10005" },
		{ "ref 12 4111 1111 1111 1111", 1, "4111 1111 1111 1111" },
		{ "4111111111111112", 0, NULL },		/* Luhn */
		{ "1234567812345670", 0, NULL },		/* no issuer */
		{ "A4111111111111111", 0, NULL },		/* letter before */
		{ "4111  1111 1111 1111", 0, NULL },	/* two spaces */
		{ "41111111111111111111111111111111", 0, NULL },
		{ "411111111111", 0, NULL },		/* too short */
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		size_t len = strlen(c[i].t), s = 0;
		int r = dlp_card_at(c[i].t, len, len - (c[i].t[len - 1] == '.'),
		    &s);

		assert_int_equal(r, c[i].ok);
		if (r)
			assert_memory_equal(c[i].t + s, c[i].val,
			    strlen(c[i].val));
	}
	/* Not at the end of its run of digits. */
	assert_false(dlp_card_at("41111111111111119", 17, 16, &(size_t){0}));
}

static void
test_ssn(void **state)
{
	static const struct { const char *t; size_t at; int ok; } c[] = {
		{ "123-45-6789", 0, 1 }, { "123 45 6789", 0, 1 },
		{ "000-45-6789", 0, 0 }, { "666-45-6789", 0, 0 },
		{ "900-45-6789", 0, 0 }, { "999-45-6789", 0, 0 },
		{ "123-00-6789", 0, 0 }, { "123-45-0000", 0, 0 },
		{ "123-45 6789", 0, 0 }, { "078-05-1120", 0, 0 },
		{ "1123-45-6789", 1, 0 }, { "123-45-67890", 0, 0 },
		{ "ssn:123-45-6789.", 4, 1 },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		assert_int_equal(dlp_ssn_at(c[i].t, strlen(c[i].t), c[i].at),
		    c[i].ok);
	assert_false(dlp_ssn_at("123-45-6789-1", 13, 0));
	assert_false(dlp_ssn_at("123-45-67", 9, 0));
}

static void
test_iban(void **state)
{
	size_t e;

	assert_true(dlp_iban_at("DE89370400440532013000", 22, 0, &e));
	assert_int_equal(e, 22);
	assert_true(dlp_iban_at("to GB82 WEST 1234 5698 7654 32 now", 34, 3,
	    &e));
	assert_int_equal(e, 30);
	assert_true(dlp_iban_at("NO9386011117947", 15, 0, &e));
	assert_false(dlp_iban_at("DE89370400440532013001", 22, 0, &e));
	assert_false(dlp_iban_at("DE8937040044053201300", 21, 0, &e));
	assert_false(dlp_iban_at("DE893704004405320130001", 23, 0, &e));
	assert_false(dlp_iban_at("ZZ89370400440532013000", 22, 0, &e));
	assert_false(dlp_iban_at("XDE89370400440532013000", 23, 1, &e));
}

static void
test_email_phone(void **state)
{
	const char *t = "mail bob.s+x@mail.example.com, or a@b.co.uk. x@y@z.com";
	size_t s, e;

	assert_true(dlp_email_at(t, strlen(t), 12, &s, &e));
	assert_int_equal(s, 5);
	assert_int_equal(e, 29);
	assert_true(dlp_email_at(t, strlen(t), 35, &s, &e));
	assert_memory_equal(t + s, "a@b.co.uk", e - s);
	assert_false(dlp_email_at(t, strlen(t), 4, &s, &e));	/* no '@' */
	assert_true(dlp_email_at(t, strlen(t), strlen(t) - 6, &s, &e));
	assert_int_equal(s, strlen(t) - 7);		/* "y@z.com" */
	assert_false(dlp_email_at("@x.com", 6, 0, &s, &e));
	assert_false(dlp_email_at("a@localhost", 11, 1, &s, &e));
	assert_false(dlp_email_at("a@x.c0m", 7, 1, &s, &e));

	t = "call +1 (212) 555-0100 now";
	assert_true(dlp_phone_at(t, strlen(t), 22, &s));
	assert_int_equal(s, 5);
	assert_false(dlp_phone_at("555-0100", 8, 8, &s));	/* 7 digits */
	assert_false(dlp_phone_at("4111111111111111", 16, 16, &s));
	assert_false(dlp_phone_at("4111 1111 1111 1111", 19, 14, &s));
}

static void
test_phi(void **state)
{
	static const struct { const char *t; size_t at; int ok; size_t end; }
	    icd[] = {
		{ "E11.9", 0, 1, 5 }, { "A00", 0, 1, 3 }, { "Z99", 0, 1, 3 },
		{ "S72.001A", 0, 1, 8 }, { "dx: J45.909,", 4, 1, 11 },
		{ "E11.", 0, 1, 3 },		/* the sentence's dot */
		{ "e11.9", 0, 0, 0 },		/* lower case */
		{ "E1.9", 0, 0, 0 }, { "EE11", 1, 0, 0 },
		{ "E119", 0, 0, 0 }, { "E11.90210", 0, 0, 0 },
		{ "1E11", 1, 0, 0 }, { "E1", 0, 0, 0 },
	};
	static const struct { const char *t; int ok; const char *val; }
	    mrn[] = {
		{ "MRN: 1234567", 1, "1234567" },
		{ "mrn#00123456.", 1, "00123456" },
		{ "Medical record number 1234-5678", 1, "1234-5678" },
		{ "medical  record no. 987654", 1, "987654" },
		{ "MRN 12345", 0, NULL },		/* too short */
		{ "MRN 1234567890123", 0, NULL },	/* too long */
		{ "MRN 1234567a", 0, NULL },
		{ "xMRN 1234567", 0, NULL },		/* inside a word */
		{ "mRNA 1234567", 0, NULL },
		{ "medical record notes 123456", 0, NULL },
	};
	size_t e, s;

	for (size_t i = 0; i < sizeof(icd) / sizeof(icd[0]); i++) {
		int r = dlp_icd10_at(icd[i].t, strlen(icd[i].t), icd[i].at, &e);

		assert_int_equal(r, icd[i].ok);
		if (r)
			assert_int_equal(e, icd[i].end);
	}
	for (size_t i = 0; i < sizeof(mrn) / sizeof(mrn[0]); i++) {
		const char *t = mrn[i].t;
		size_t ks = strcspn(t, "Mm"), ke = ks + (t[ks + 1] == 'R' ||
		    t[ks + 1] == 'r' ? 3 : strstr(t, "record") + 6 - t - ks);
		int r;

		if (ks > 0 && t[ks - 1] == 'x')
			ks = 1, ke = 4;
		r = dlp_mrn_at(t, strlen(t), ks, ke, &s, &e);
		assert_int_equal(r, mrn[i].ok);
		if (r)
			assert_memory_equal(t + s, mrn[i].val, e - s);
	}
	/* Near a medical word, within the window, either side. */
	const char *t = "Diagnosis: E11.9 (type 2)";
	assert_true(dlp_phi_near(t, strlen(t), 11, 16));
	t = "E11.9 was the patient's code";
	assert_true(dlp_phi_near(t, strlen(t), 0, 5));
	t = "Part number E11.9 in stock";
	assert_false(dlp_phi_near(t, strlen(t), 12, 17));
	t = "the dxf file E11.9";			/* "dx" whole only */
	assert_false(dlp_phi_near(t, strlen(t), 13, 18));
	assert_true(dlp_phi_near("ICD E11", 7, 4, 7));
}

static void
test_phi_scan(void **state)
{
	const char *spec = "phi";
	struct dlp_db *db = dlp_compile(&spec, 1, NULL, 0);
	const char *t = "Patient seen, diagnosis E11.9 and I10; MRN: 7654321.\n"
	    "----------------------------------------------------------------"
	    "Unrelated: part B52 and A380 shipped; mRNA 1234567.";
	struct dlp_result r;
	char err[200];

	assert_non_null(db);
	assert_int_equal(dlp_scan_text(db, t, strlen(t), &r, err,
	    sizeof(err)), 0);
	/* E11.9, I10, the MRN; not B52 (no medical word near it). */
	assert_int_equal(r.c[0].count, 3);
	dlp_result_free(&r);
	dlp_db_free(db);
}

static void
test_masks(void **state)
{
	char out[DLP_MASK_MAX];
	char longv[200];

	dlp_mask_card("4111 1111 1111 1111", 19, out);
	assert_string_equal(out, "4111 **** **** 1111");
	dlp_mask_card("4111111111111111", 16, out);
	assert_string_equal(out, "4111********1111");
	dlp_mask_ssn("123-45-6789", 11, out);
	assert_string_equal(out, "***-**-6789");
	dlp_mask_iban("GB82 WEST 1234 5698 7654 32", 27, out);
	assert_string_equal(out, "GB82 **** **** **** **54 32");
	dlp_mask_email("bob@example.com", 15, out);
	assert_string_equal(out, "***@example.com");
	dlp_mask_phone("+1 212 555 0100", 15, out);
	assert_string_equal(out, "+* *** *** **00");
	dlp_mask_other("ACME-123456", 11, out);
	assert_string_equal(out, "A*********6");
	dlp_mask_other("short", 5, out);
	assert_string_equal(out, "*****");
	dlp_mask_other("\xc3\xa9tait-l\xc3\xa0", 11, out);
	assert_string_equal(out, "**********");
	memset(longv, 'x', sizeof(longv));
	dlp_mask_other(longv, sizeof(longv), out);
	assert_true(strlen(out) < DLP_MASK_MAX);
	dlp_mask_card(longv, sizeof(longv), out);
	assert_true(strlen(out) < DLP_MASK_MAX);
}

static const char *const SPECS[] = { "card", "ssn", "iban", "email", "phone",
	"regex:ACME-[0-9]{6}", "keywords:confidential, top secret" };

static void
test_scan_message(void **state)
{
	const char *msg =
	    "Subject: Confidential\r\n"
	    "Content-Type: multipart/alternative; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/plain\r\n\r\n"
	    "cards 4111 1111 1111 1111 and 5555555555554444, ssn 123-45-6789\r\n"
	    "iban DE89 3704 0044 0532 0130 00, mail a@example.com b@x.org\r\n"
	    "ref ACME-123456 ACME-1234567 TOP SECRET confidentiality\r\n"
	    "phone +1 212 555 0100\r\n"
	    "--b\r\nContent-Type: text/html\r\n\r\n"
	    "<p>4111&#32;1111&#32;1111&#32;1111</p>\r\n"
	    "--b--\r\n";
	struct mime_walk w;
	struct dlp_result r;
	struct dlp_db *db;
	char err[200];

	db = dlp_compile(SPECS, 7, err, sizeof(err));
	assert_non_null(db);
	assert_int_equal(dlp_db_count(db), 7);
	assert_int_equal(mime_walk(msg, strlen(msg), NULL, &w), 0);
	assert_int_equal(dlp_scan(db, &w, &r, err, sizeof(err)), 0);
	assert_int_equal(r.n, 7);
	/* The card in the HTML part is the one in the text: counted once. */
	assert_int_equal(r.c[0].count, 2);
	assert_string_equal(r.c[0].hits[0].path, "1");
	assert_string_equal(r.c[0].hits[0].masked, "4111 **** **** 1111");
	assert_string_equal(r.c[0].hits[1].masked, "5555********4444");
	assert_int_equal(r.c[1].count, 1);
	assert_string_equal(r.c[1].hits[0].masked, "***-**-6789");
	assert_int_equal(r.c[2].count, 1);
	assert_int_equal(r.c[3].count, 2);
	assert_int_equal(r.c[4].count, 1);
	/* ACME-1234567 matches the regex too (no boundary was asked). */
	assert_int_equal(r.c[5].count, 1);
	assert_string_equal(r.c[5].hits[0].masked, "A*********6");
	/* The subject's word and "top secret"; not "confidentiality". */
	assert_int_equal(r.c[6].count, 2);
	assert_string_equal(r.c[6].hits[0].path, "subject");
	assert_string_equal(r.c[6].hits[0].masked, "confidential");
	dlp_result_free(&r);
	mime_walk_free(&w);
	dlp_db_free(db);
}

static void
test_many_hits_bounded(void **state)
{
	const char *spec = "card";
	struct dlp_db *db = dlp_compile(&spec, 1, NULL, 0);
	size_t n = 20000 * 17;
	char *t = malloc(n), err[100];
	struct dlp_result r;

	assert_non_null(db);
	for (size_t i = 0; i < 20000; i++)
		memcpy(t + i * 17, "4111111111111111 ", 17);
	assert_int_equal(dlp_scan_text(db, t, n, &r, err, sizeof(err)), 0);
	assert_int_equal(r.c[0].count, 1);
	assert_int_equal(r.c[0].nhits, 1);
	dlp_result_free(&r);
	dlp_db_free(db);
	free(t);
}

static void
test_bad_detectors(void **state)
{
	char err[200];

	assert_int_equal(dlp_detector_check("card", err, sizeof(err)), 0);
	assert_int_equal(dlp_detector_check("cards", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown detector"));
	assert_int_equal(dlp_detector_check("regex:(", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "regex:("));
	assert_int_equal(dlp_detector_check("regex:", err, sizeof(err)), -1);
	assert_int_equal(dlp_detector_check("regex:a*", err, sizeof(err)), -1);
	assert_int_equal(dlp_detector_check("keywords: , ", err, sizeof(err)),
	    -1);
	assert_int_equal(dlp_detector_check("keywords:a.b,c|d", err,
	    sizeof(err)), 0);
	assert_int_equal(dlp_detector_kind("keywords:x"), DLP_KEYWORDS);
	assert_int_equal(dlp_detector_kind("iban"), DLP_IBAN);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_luhn_iin),
		cmocka_unit_test(test_card_at),
		cmocka_unit_test(test_ssn),
		cmocka_unit_test(test_iban),
		cmocka_unit_test(test_email_phone),
		cmocka_unit_test(test_phi),
		cmocka_unit_test(test_phi_scan),
		cmocka_unit_test(test_masks),
		cmocka_unit_test(test_scan_message),
		cmocka_unit_test(test_many_hits_bounded),
		cmocka_unit_test(test_bad_detectors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
