// sources: common/attrule.c common/util.c common/log.c common/buf.c
/*
 * fuzz_attrule.c - hostile bytes as a zip archive (the encryption bit
 * walk over local file headers) and as an attachment's name and types
 * under every attachment rule.
 * Invariants: no read outside the bytes given; a match is 0 or 1.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attrule.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const RULES[] = { "attachment:exec",
	"attachment:double-ext", "attachment:macro", "attachment:encrypted",
	"attachment:ext=iso,img", "attachment:type=image/*,application/pdf",
	"attachment:size>1K" };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes: ASan sees any overread. */
	unsigned char *z = xmalloc(size ? size : 1);
	char *name = xmalloc(size + 1);
	struct mime_attach a;
	struct attrule r;
	char err[200];

	memcpy(z, data, size);
	assert(attrule_zip_encrypted(z, size) <= 1);
	memcpy(name, data, size);
	name[size] = '\0';
	a = (struct mime_attach){ "1", name, name, name, size, 0,
	    size > 0 && data[0] & 1 };
	for (size_t i = 0; i < nitems(RULES); i++) {
		assert(attrule_parse(RULES[i], &r, err, sizeof(err)) == 0);
		assert(attrule_match(&r, &a) <= 1);
		attrule_free(&r);
	}
	/* The bytes as a rule, too. */
	if (size < 200 && memchr(data, '\0', size) == NULL) {
		char *spec = xmalloc(size + 12);

		memcpy(spec, "attachment:", 11);
		memcpy(spec + 11, data, size);
		spec[11 + size] = '\0';
		if (attrule_parse(spec, &r, err, sizeof(err)) == 0) {
			(void)attrule_match(&r, &a);
			attrule_free(&r);
		}
		free(spec);
	}
	free(name);
	free(z);
	return 0;
}
