// sources: common/bounce.c
/*
 * fuzz_bounce.c - classification of whatever a remote server replies.
 * Input: two bytes of reply code, then the status and the text split at
 * the first NUL.  Invariants: a class in range, never BC_NONE for a
 * failure, never BC_EXPIRED, and every class has a name that parses back.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bounce.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *status, *text, *nul;
	enum bounce_class c;
	int code;

	if (size < 2)
		return 0;
	code = (data[0] << 8 | data[1]) % 700;
	buf = malloc(size - 2 + 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data + 2, size - 2);
	buf[size - 2] = '\0';
	status = buf;
	nul = memchr(data + 2, '\0', size - 2) ? buf + strlen(buf) : NULL;
	text = nul ? nul + 1 : "";
	if (nul && (size_t)(text - buf) > size - 2)
		text = "";
	c = bounce_classify(code, status, text);
	assert(c >= BC_NONE && c < BC_COUNT && c != BC_EXPIRED);
	if (code >= 200 && code < 300)
		assert(c == BC_NONE);
	else {
		assert(c != BC_NONE);
		assert(bounce_class_parse(bounce_class_name(c)) == (int)c);
	}
	free(buf);
	return 0;
}
