// sources: common/unsubtok.c common/hmackey.c
/*
 * fuzz_unsubtok.c - a hostile URL path against the unsubscribe token
 * decoder (common/unsubtok.c).  Invariants: a token that decodes says
 * a positive subaccount and a recipient without control bytes, and
 * encoding what it says gives back the same spelling when its MAC
 * verifies (one token per recipient: canonical).
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "unsubtok.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const unsigned char key[UNSUBTOK_KEY_LEN] = "fuzzing key, thirty-two bytes!!";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct unsubtok t;
	char again[UNSUBTOK_MAX];
	int n;

	if (unsubtok_decode((const char *)data, size, &t) == -1)
		return 0;
	assert(t.subaccount > 0);
	assert(strlen(t.rcpt) > 0 && strlen(t.rcpt) <= UNSUBTOK_RCPT_MAX);
	for (const char *p = t.rcpt; *p; p++)
		assert((unsigned char)*p >= 0x20 && *p != 0x7f);
	n = unsubtok_encode(key, sizeof(key), t.subaccount, t.rcpt, again,
	    sizeof(again));
	assert(n > 0);
	if (unsubtok_verify(&t, key, sizeof(key)))
		assert((size_t)n == size && memcmp(again, data, size) == 0);
	return 0;
}
