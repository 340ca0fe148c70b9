// sources: common/mime_decode.c common/buf.c common/util.c common/log.c
/*
 * fuzz_mime_decode.c - mime_decode.h's base64 and quoted-printable steps
 * against GMime's own (g_mime_encoding_step), which they stand in for.
 * The input's first byte picks the encoding and how the rest is cut
 * into steps (the walk steps 4 KiB reads; any cut must do).  Invariant,
 * when mime_decode_own() says the installed GMime is the one they
 * follow: after every step the same bytes out, the same state and save,
 * and mime_decode_count() counts what GMime decodes; the flush too.
 * Nothing is read or written past its buffer (ASan).
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "mime_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int started;
	GMimeEncoding lib, own, cnt;
	GMimeContentEncoding enc;
	size_t cut, off, n, wn, gn;
	char *want, *got;

	if (!started) {
		g_mime_init();
		started = 1;
	}
	if (size < 1 || !mime_decode_own())
		return 0;
	enc = data[0] & 1 ? GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE :
	    GMIME_CONTENT_ENCODING_BASE64;
	cut = (size_t)(data[0] >> 1) + 1;	/* 1 to 128 bytes a step */
	data++;
	size--;
	g_mime_encoding_init_decode(&lib, enc);
	g_mime_encoding_init_decode(&own, enc);
	g_mime_encoding_init_decode(&cnt, enc);
	want = malloc(cut + 8);
	got = malloc(cut + 8);
	assert(want != NULL && got != NULL);
	for (off = 0; off < size; off += n) {
		n = size - off < cut ? size - off : cut;
		wn = g_mime_encoding_step(&lib, (const char *)data + off, n,
		    want);
		gn = mime_decode_step(&own, (const char *)data + off, n, got);
		assert(wn == gn && memcmp(want, got, wn) == 0);
		assert(lib.state == own.state && lib.save == own.save);
		assert(mime_decode_count(&cnt, (const char *)data + off, n) ==
		    wn);
	}
	wn = g_mime_encoding_flush(&lib, "", 0, want);
	gn = mime_decode_step(&own, "", 0, got);
	assert(wn == gn && memcmp(want, got, wn) == 0);
	free(want);
	free(got);
	return 0;
}
