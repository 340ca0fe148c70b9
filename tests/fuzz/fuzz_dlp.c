// sources: common/dlp.c common/attrule.c common/dlp_valid.c common/util.c common/log.c common/buf.c
/*
 * fuzz_dlp.c - hostile text through every validator at every offset
 * (PHI's too) and through the Hyperscan pass with every detector.
 * Invariants: a confirmed value lies inside the text and has the shape
 * its validator promises (13-19 digits passing Luhn for a card); masks
 * stay inside DLP_MASK_MAX and are NUL-terminated; counts never exceed
 * the hits found and samples never exceed DLP_SAMPLES.
 */
#include <assert.h>
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dlp.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const SPECS[] = { "card", "ssn", "iban", "email", "phone",
	"regex:[A-Z]{3}-\\d+", "keywords:secret,top secret,x", "phi" };
#define NSPECS	((int)(sizeof(SPECS) / sizeof(SPECS[0])))
static struct dlp_db *db;

static void
check_card(const char *t, size_t s, size_t e)
{
	char d[64];
	size_t n = 0;

	assert(s < e);
	for (size_t i = s; i < e; i++)
		if (isdigit((unsigned char)t[i]) && n < sizeof(d))
			d[n++] = t[i];
	assert(n >= 13 && n <= 19);
	assert(dlp_luhn(d, n) && dlp_card_iin(d, n));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *t = (const char *)data;
	struct dlp_result r;
	char err[200], m[DLP_MASK_MAX];
	size_t s, e;

	if (db == NULL && (db = dlp_compile(SPECS, NSPECS, err, sizeof(err))) ==
	    NULL)
		abort();
	for (size_t i = 0; i <= size && size < 4096; i++) {
		if (dlp_card_at(t, size, i, &s))
			check_card(t, s, i);
		if (dlp_ssn_at(t, size, i))
			assert(i + 11 <= size);
		if (dlp_iban_at(t, size, i, &e))
			assert(e > i && e <= size && e - i <= 42);
		if (dlp_email_at(t, size, i, &s, &e))
			assert(s < i && i < e && e <= size && t[i] == '@');
		if (dlp_phone_at(t, size, i, &s))
			assert(s < i);
		if (dlp_icd10_at(t, size, i, &e)) {
			assert(e >= i + 3 && e <= i + 8 && e <= size);
			(void)dlp_phi_near(t, size, i, e);
		}
		for (size_t k = i + 1; k <= size && k <= i + 16; k++)
			if (dlp_mrn_at(t, size, i, k, &s, &e))
				assert(k <= s && s < e && e <= size);
	}
	dlp_mask_card(t, size, m);
	assert(strlen(m) < DLP_MASK_MAX);
	dlp_mask_iban(t, size, m);
	assert(strlen(m) < DLP_MASK_MAX);
	dlp_mask_email(t, size, m);
	assert(strlen(m) < DLP_MASK_MAX);
	dlp_mask_other(t, size, m);
	assert(strlen(m) < DLP_MASK_MAX);

	assert(dlp_scan_text(db, t, size, &r, err, sizeof(err)) == 0);
	assert(r.n == NSPECS);
	for (int i = 0; i < r.n; i++) {
		assert(r.c[i].nhits <= DLP_SAMPLES);
		assert(r.c[i].nhits <= r.c[i].count);
		for (int k = 0; k < r.c[i].nhits; k++)
			assert(strlen(r.c[i].hits[k].masked) < DLP_MASK_MAX);
	}
	dlp_result_free(&r);
	return 0;
}
