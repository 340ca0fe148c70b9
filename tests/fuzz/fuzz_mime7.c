// sources: gwd/mime7.c common/buf.c
/*
 * fuzz_mime7.c - the 8BITMIME downgrade on any message.  Invariants: a
 * converted message is 7-bit throughout and no longer than the bound
 * the caller gives (four times the input); a message that was 7-bit
 * comes out unchanged (without MIME7_STRIP_DKIM); a refusal says why.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "mime7.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data, *err = NULL;
	struct buf out;
	int r;

	buf_init(&out, 4 * size + 4096);
	r = mime7_downgrade(in, size, 0, &out, &err);
	if (r == 0) {
		assert(!mime7_is_8bit(buf_ptr(&out) ? buf_ptr(&out) : "",
		    buf_len(&out)));
		if (!mime7_is_8bit(in, size))
			assert(buf_len(&out) == size && (size == 0 ||
			    memcmp(buf_ptr(&out), in, size) == 0));
	} else
		assert(err != NULL && err[0] != '\0');
	buf_free(&out);
	buf_init(&out, 4 * size + 4096);
	(void)mime7_downgrade(in, size, MIME7_STRIP_DKIM, &out, &err);
	(void)mime7_has_dkim(in, size);
	buf_free(&out);
	return 0;
}
