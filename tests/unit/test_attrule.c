// sources:
/*
 * test_attrule.c - attachment rules: each kind on the attachments it
 * must catch and the look-alikes it must not; the rules that do not
 * parse; the zip encryption bit; and the rules as detectors of a
 * content-policy scan over a walked message (dlp.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attrule.h"
#include "dlp.h"
#include "mime_walk.h"

struct tcase {
	const char	*rule;
	const char	*name, *type, *sniffed;
	size_t		 size;
	int		 encrypted;
	int		 want;
};

#define OCTET	"application/octet-stream"
#define PE	"application/x-dosexec"

static const struct tcase cases[] = {
	{ "attachment:exec", "setup.exe", OCTET, OCTET, 10, 0, 1 },
	{ "attachment:exec", "SETUP.EXE", OCTET, OCTET, 10, 0, 1 },
	{ "attachment:exec", "run.js", "text/plain", "text/plain", 10, 0, 1 },
	{ "attachment:exec", "report.pdf", "application/pdf", PE, 10, 0, 1 },
	{ "attachment:exec", "trailing.exe. ", OCTET, OCTET, 10, 0, 1 },
	{ "attachment:exec", "report.pdf", "application/pdf",
	    "application/pdf", 10, 0, 0 },
	{ "attachment:exec", "exe", OCTET, OCTET, 10, 0, 0 },
	{ "attachment:exec", "notes.exec", OCTET, OCTET, 10, 0, 0 },
	{ "attachment:double-ext", "invoice.pdf.exe", OCTET, PE, 10, 0, 1 },
	{ "attachment:double-ext", "photo.JPG   .scr", OCTET, OCTET, 10, 0,
	    1 },
	{ "attachment:double-ext", "invoice.exe", OCTET, PE, 10, 0, 0 },
	{ "attachment:double-ext", "setup.v2.exe", OCTET, PE, 10, 0, 0 },
	{ "attachment:double-ext", "invoice.pdf", OCTET, OCTET, 10, 0, 0 },
	{ "attachment:double-ext", ".pdf.exe", OCTET, OCTET, 10, 0, 1 },
	{ "attachment:macro", "budget.xlsm", OCTET, OCTET, 10, 0, 1 },
	{ "attachment:macro", "letter.docm", OCTET, OCTET, 10, 0, 1 },
	{ "attachment:macro", "deck.pptm", OCTET, OCTET, 10, 0, 1 },
	{ "attachment:macro", "x.bin", "application/"
	    "vnd.ms-excel.sheet.macroEnabled.12", OCTET, 10, 0, 1 },
	{ "attachment:macro", "budget.xlsx", OCTET, OCTET, 10, 0, 0 },
	{ "attachment:encrypted", "a.zip", "application/zip",
	    "application/zip", 10, 1, 1 },
	{ "attachment:encrypted", "a.zip", "application/zip",
	    "application/zip", 10, 0, 0 },
	{ "attachment:ext=iso, .IMG", "disk.img", OCTET, OCTET, 10, 0, 1 },
	{ "attachment:ext=iso,img", "disk.iso.txt", OCTET, OCTET, 10, 0, 0 },
	{ "attachment:ext=iso,img", "", OCTET, OCTET, 10, 0, 0 },
	{ "attachment:type=image/*", "a", OCTET, "image/png", 10, 0, 1 },
	{ "attachment:type=application/pdf", "a", "application/pdf", OCTET,
	    10, 0, 1 },
	{ "attachment:type=image/*", "a", OCTET, "imagex/png", 10, 0, 0 },
	{ "attachment:size>1K", "a", OCTET, OCTET, 1025, 0, 1 },
	{ "attachment:size>1K", "a", OCTET, OCTET, 1024, 0, 0 },
	{ "attachment:size>10M", "a", OCTET, OCTET, 10485761, 0, 1 },
};

static void
test_match(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *t = &cases[i];
		struct mime_attach a = { "2", (char *)t->name, (char *)t->type,
		    (char *)t->sniffed, t->size, 0, t->encrypted };
		struct attrule r;
		char err[200];

		assert_int_equal(attrule_parse(t->rule, &r, err, sizeof(err)),
		    0);
		if (attrule_match(&r, &a) != t->want)
			fail_msg("%s on \"%s\": want %d", t->rule, t->name,
			    t->want);
		attrule_free(&r);
	}
}

static void
test_parse_errors(void **state)
{
	static const struct { const char *rule, *why; } bad[] = {
		{ "attachment:", "unknown attachment rule" },
		{ "attachment:execs", "unknown attachment rule \"execs\"" },
		{ "attachment:ext=", "ext= needs a list" },
		{ "attachment:ext= , ,", "ext= needs a list" },
		{ "attachment:type=", "type= needs a list" },
		{ "attachment:size>", "size> needs a byte count" },
		{ "attachment:size>10Q", "size> needs a byte count" },
		{ "attachment:size>-1", "size> needs a byte count" },
	};
	struct attrule r;
	char err[200];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(attrule_parse(bad[i].rule, &r, err,
		    sizeof(err)), -1);
		if (strstr(err, bad[i].why) == NULL)
			fail_msg("%s: \"%s\"", bad[i].rule, err);
	}
	assert_true(attrule_is("attachment:exec"));
	assert_false(attrule_is("attach:exec"));
}

/* A local file header: signature, version, flags, method, time, date,
 * crc, sizes, name length, extra length; then the name and data. */
static size_t
zip_entry(unsigned char *p, unsigned flags, const char *name,
    const char *data)
{
	size_t nl = strlen(name), dl = strlen(data);

	memset(p, 0, 30);
	memcpy(p, "PK\3\4", 4);
	p[4] = 20;
	p[6] = (unsigned char)flags;
	p[18] = (unsigned char)dl;		/* compressed size */
	p[22] = (unsigned char)dl;
	p[26] = (unsigned char)nl;
	memcpy(p + 30, name, nl);
	memcpy(p + 30 + nl, data, dl);
	return 30 + nl + dl;
}

static void
test_zip_encrypted(void **state)
{
	unsigned char z[512];
	size_t n;

	n = zip_entry(z, 0, "a.txt", "hello");
	assert_false(attrule_zip_encrypted(z, n));
	/* The second entry is encrypted. */
	n += zip_entry(z + n, 1, "b.txt", "xxxxxxxxxxxx");
	assert_true(attrule_zip_encrypted(z, n));
	/* Cut short inside the second header: not known, not said. */
	assert_false(attrule_zip_encrypted(z, 40));
	/* The first entry, encrypted. */
	n = zip_entry(z, 1, "a.txt", "hello");
	assert_true(attrule_zip_encrypted(z, n));
	assert_false(attrule_zip_encrypted(z, 29));
	/* Not a zip at all. */
	assert_false(attrule_zip_encrypted((const unsigned char *)"%PDF-1.4",
	    8));
	/* A data descriptor (bit 3): sizes unknown, the walk stops. */
	n = zip_entry(z, 8, "a.txt", "hello");
	n += zip_entry(z + n, 1, "b.txt", "x");
	assert_false(attrule_zip_encrypted(z, n));
}

/* As detectors: each attachment counts once, its name is the match,
 * and a set of attachment rules alone needs no Hyperscan database. */
static void
test_as_detectors(void **state)
{
	static const char msg[] =
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
	    "--b\r\nContent-Type: application/octet-stream\r\n"
	    "Content-Disposition: attachment; filename=\"invoice.pdf.exe\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n"
	    "TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n"
	    "--b\r\nContent-Type: application/octet-stream\r\n"
	    "Content-Disposition: attachment; filename=\"tool.exe\"\r\n\r\n"
	    "MZ\r\n"
	    "--b--\r\n";
	const char *specs[] = { "attachment:exec", "attachment:double-ext",
	    "attachment:macro" };
	struct dlp_result res;
	struct mime_walk w;
	struct dlp_db *db;
	char err[200];

	db = dlp_compile(specs, 3, err, sizeof(err));
	assert_non_null(db);
	mime_walk(msg, sizeof(msg) - 1, NULL, &w);
	assert_int_equal(w.natt, 2);
	assert_int_equal(dlp_scan(db, &w, &res, err, sizeof(err)), 0);
	assert_int_equal(res.c[0].count, 2);
	assert_int_equal(res.c[1].count, 1);
	assert_int_equal(res.c[2].count, 0);
	assert_string_equal(res.c[1].hits[0].masked, "invoice.pdf.exe");
	assert_string_equal(res.c[1].hits[0].path, "2");
	assert_int_equal(dlp_detector_kind("attachment:exec"),
	    DLP_ATTACHMENT);
	assert_int_equal(dlp_detector_check("attachment:nope", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown attachment rule"));
	dlp_result_free(&res);
	mime_walk_free(&w);
	dlp_db_free(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_zip_encrypted),
		cmocka_unit_test(test_as_detectors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
