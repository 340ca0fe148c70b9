// sources: gwd/reply.c
/*
 * fuzz_reply.c - replies from a hostile remote server, fed in pieces of
 * varying size.  Invariants: the parser eats what it says, codes stay in
 * 200..559, text is bounded and clean, and EHLO parsing never misbehaves.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct reply_parser p;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0, used, step;
	enum reply_result rr;
	struct ehlo_caps caps;

	if (size == 0)
		return 0;
	/* The first byte chooses the read size, as a network would. */
	step = (size_t)data[0] % 64 + 1;
	data++;
	size--;
	reply_parser_init(&p);
	while (off < size) {
		size_t n = size - off < step ? size - off : step;

		rr = reply_feed(&p, (const char *)data + off, n, &used);
		assert(used <= n);
		off += used;
		if (rr == REPLY_ERROR) {
			assert(p.error != NULL);
			break;
		}
		if (rr == REPLY_DONE) {
			assert(p.r.code >= 200 && p.r.code <= 559);
			assert(p.r.nlines >= 1 && p.r.nlines <= REPLY_LINES_MAX);
			assert(strlen(p.r.text) < REPLY_TEXT_MAX);
			for (const char *t = p.r.text; *t; t++)
				assert(*t == '\n' || (*t >= 0x20 && *t < 0x7f));
			ehlo_parse(&p.r, &caps);
			reply_parser_init(&p);
		} else
			assert(used == n);
	}
	return 0;
}
