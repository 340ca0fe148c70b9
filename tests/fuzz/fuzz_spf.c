// sources: common/spf.c common/util.c common/log.c
/*
 * fuzz_spf.c - SPF terms and DMARC records as a hostile DNS zone might
 * serve them.  Invariants: a term parses to 0 or -1; when 0, a target is
 * a NUL-terminated name of at most SPF_DOMAIN_MAX bytes without '%', the
 * prefixes are within their families' lengths; dmarc_tag() never writes
 * past its buffer (ASan) and leaves a string that fits.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spf.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), out[8];
	struct spf_term t;

	memcpy(s, data, size);
	s[size] = '\0';
	if (spf_term_parse(s, "example.com", &t) == 0) {
		assert(strlen(t.domain) <= SPF_DOMAIN_MAX);
		assert(strchr(t.domain, '%') == NULL);
		assert(t.bits4 >= 0 && t.bits4 <= 32);
		assert(t.bits6 >= 0 && t.bits6 <= 128);
	}
	dmarc_tag(s, "p", out, sizeof(out));
	assert(strlen(out) < sizeof(out));
	(void)dmarc_org_domain(s);
	(void)dmarc_aligned(s, "example.com", size & 1);
	free(s);
	return 0;
}
