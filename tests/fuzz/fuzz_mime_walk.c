// sources: common/mime_walk.c common/mime_html.c common/mime_plain.c common/mime_head.c common/mime_decode.c common/attrule.c common/buf.c common/util.c common/log.c
/*
 * fuzz_mime_walk.c - a hostile message through the MIME-to-text walk,
 * and hostile HTML through the HTML-to-text step.
 * Invariants: every text kept is valid UTF-8 of its stated length with
 * no NUL inside, the total within the limit, the counts consistent; the
 * HTML text never outgrows its input.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime_walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_utf8(const char *s, size_t len)
{
	size_t i = 0;

	assert(strlen(s) == len);
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		size_t n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;

		assert(c < 0x80 || (c >= 0xc2 && c <= 0xf4));
		assert(i + n <= len);
		for (size_t k = 1; k < n; k++)
			assert(((unsigned char)s[i + k] & 0xc0) == 0x80);
		i += n;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* With and without libmagic, and with and without the fast path
	 * for one plain text part (mime_plain.h), by the input's length. */
	struct mime_limits lim = { 3, 50, 64 << 10, (int)(size & 1),
	    (int)(size >> 1 & 1) };
	struct mime_walk w;
	size_t total = 0;
	char *out;

	assert(mime_walk((const char *)data, size, &lim, &w) == 0);
	assert(w.nparts <= lim.parts + 1 || (w.flags & MW_MANY_PARTS));
	for (int i = 0; i < w.ntexts; i++) {
		check_utf8(w.texts[i].text, w.texts[i].len);
		total += w.texts[i].len;
	}
	assert(total == w.textlen);
	/* Subjects are not held to lim.text; parts are. */
	for (int i = 0; i < w.natt; i++)
		assert(w.att[i].name && w.att[i].sniffed && w.att[i].type);
	mime_walk_free(&w);

	if ((out = malloc(size + 1)) == NULL)
		return 0;
	assert(mime_html_text((const char *)data, size, out) <= size);
	free(out);
	return 0;
}
