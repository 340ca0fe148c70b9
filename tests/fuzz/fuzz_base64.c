// sources: common/base64.c
/*
 * fuzz_base64.c - strict decoding of attacker bytes (SMTP AUTH).
 * Invariants: the decoder never writes past the buffer it is given;
 * whatever it accepts re-encodes to exactly the input (one spelling
 * per byte string); every encoding decodes back.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t outsz = size / 4 * 3, n, el;
	unsigned char *out = malloc(outsz + 1);
	char *enc = malloc(base64_encoded_size(size));
	unsigned char *back = malloc(size + 1);

	if (base64_decode((const char *)data, size, out, outsz, &n) == 0) {
		char *re = malloc(base64_encoded_size(n));

		assert(n <= outsz);
		el = (size_t)base64_encode(out, n, re, base64_encoded_size(n));
		assert(el == size && memcmp(re, data, size) == 0);
		free(re);
	}
	/* One byte short refuses, and writes nothing. */
	if (size > 0) {
		enc[0] = 'x';
		assert(base64_encode(data, size, enc,
		    base64_encoded_size(size) - 1) == -1 && enc[0] == 'x');
	}
	el = (size_t)base64_encode(data, size, enc, base64_encoded_size(size));
	assert(el + 1 == base64_encoded_size(size));
	assert(base64_decode(enc, el, back, size, &n) == 0 && n == size);
	assert(memcmp(back, data, size) == 0);
	free(out);
	free(enc);
	free(back);
	return 0;
}
