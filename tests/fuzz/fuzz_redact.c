// sources: common/redact.c common/dlp.c common/dlp_valid.c common/attrule.c common/mime_walk.c common/mime_html.c common/mime_plain.c common/mime_head.c common/mime_decode.c common/buf.c common/util.c common/log.c
/*
 * fuzz_redact.c - a hostile message through the redact action: GMime's
 * parse, each text part decoded, scanned, rewritten and the whole
 * message written again.
 * Invariants: no crash or leak under ASan; a message with values
 * replaced comes out non-empty and ending in CRLF, and with no bare CR
 * or LF when it came in with none (gwd refuses or normalizes them before
 * this stage); a message with none leaves the output empty.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dlp.h"
#include "redact.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const SPECS[] = { "card", "ssn", "phi",
	"keywords:secret" };
static const int WANT[] = { 1, 1, 1, 1 };
static struct dlp_db *db;

/* No CR without LF after it, no LF without CR before it. */
static int
crlf_clean(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((p[i] == '\r' && (i + 1 == n || p[i + 1] != '\n')) ||
		    (p[i] == '\n' && (i == 0 || p[i - 1] != '\r')))
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out;
	char err[200];
	int n;

	if (db == NULL && (db = dlp_compile(SPECS, 4, err, sizeof(err))) ==
	    NULL)
		abort();
	buf_init(&out, 0);
	n = redact_message(db, WANT, (const char *)data, size, &out, err,
	    sizeof(err));
	assert(n >= 0);
	if (n == 0)
		assert(buf_len(&out) == 0);
	else {
		const char *p = buf_ptr(&out);

		assert(buf_len(&out) >= 2 &&
		    memcmp(p + buf_len(&out) - 2, "\r\n", 2) == 0);
		if (crlf_clean((const char *)data, size))
			assert(crlf_clean(p, buf_len(&out)));
	}
	buf_free(&out);
	return 0;
}
