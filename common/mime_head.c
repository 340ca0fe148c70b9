/*
 * mime_head.c - the check of mime_head.h: the top header fields the
 * content walk reads, for GMime to parse without the others.
 * Standards: RFC 5322 2.2 (header fields, folding), RFC 2045 (the
 * Content-* fields).
 * Exposure: reads an untrusted message's header section; one pass,
 * bounded by its length.  Every doubt answers no, so the worst a hostile
 * header does is send the whole message to GMime; tests/fuzz/
 * fuzz_mime_plain.c holds the walk of what is kept to GMime's walk of
 * the whole.
 * Diagnostics: none.
 */
#include <strings.h>

#include "buf.h"
#include "mime_head.h"
#include "mime_plain.h"

/* A field the walk reads: Content-* (the part's) or Subject. */
static int
kept(const char *name, size_t n)
{
	return (n > 8 && strncasecmp(name, "content-", 8) == 0) ||
	    (n == 7 && strncasecmp(name, "subject", 7) == 0);
}

int
mime_head_keep(const char *msg, size_t len, struct buf *out, size_t *body)
{
	size_t i = 0, at, nl, vl;
	const char *v;
	int folded;

	while (i + 1 >= len || msg[i] != '\r' || msg[i + 1] != '\n') {
		at = i;
		if (mime_plain_field(msg, len, &i, &nl, &v, &vl, &folded) == -1)
			return -1;
		if (kept(msg + at, nl) && buf_append(out, msg + at, i - at) ==
		    -1)
			return -1;
	}
	if (buf_append(out, "\r\n", 2) == -1)
		return -1;
	*body = i + 2;
	return 0;
}
