// sources: gwd/smtp_proto.c gwd/smtp_dsn.c common/addr.c common/buf.c common/util.c common/log.c
/*
 * fuzz_data.c - the DATA stream: dot-unstuffing and end-of-data, fed in
 * random segments.  Invariants: an accepted result does not depend on
 * how the input is split; only CR LF "." CR LF ends the data, also when
 * bare LFs are normalized (bit 4 of the first byte: limits.bare_lf, DATA
 * only); the output never holds a bare CR or LF when no flag was raised;
 * memory stays bounded.  With bit 3 of the first byte, the same as BDAT chunks: nothing
 * ends them, and what is accepted is the input itself (a CRLF added when
 * its last line had none).
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static size_t
run(const char *in, size_t n, const uint8_t *splits, size_t nsplits,
    int normalize, struct data_parser *p, struct buf *out, int chunks)
{
	size_t used = 0, k = 0;

	if (chunks)
		data_init_chunks(p, 4096);
	else
		data_init(p, 4096);
	p->lf_normalize = normalize;
	buf_init(out, 0);
	while (used < n && !p->done) {
		size_t step = nsplits ? 1 + splits[k++ % nsplits] % 64 : n;

		if (step > n - used)
			step = n - used;
		used += data_feed(p, in + used, step, out);
	}
	if (chunks)
		data_chunks_end(p, out);
	return used;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct data_parser a, b;
	struct buf oa, ob;
	size_t ua, ub, nsplit;
	int chunks, normalize;

	if (size < 1)
		return 0;
	nsplit = data[0] % 8;
	chunks = (data[0] & 8) != 0;
	/* limits.bare_lf: DATA only, as in gwd (BDAT chunks hold CRLF
	 * lines only, gwd(8)) */
	normalize = !chunks && (data[0] & 16) != 0;
	if (size < 1 + nsplit)
		return 0;
	ua = run((const char *)data + 1 + nsplit, size - 1 - nsplit, NULL, 0,
	    normalize, &a, &oa, chunks);
	ub = run((const char *)data + 1 + nsplit, size - 1 - nsplit, data + 1,
	    nsplit, normalize, &b, &ob, chunks);
	assert(ua == ub && a.done == b.done && a.flags == b.flags);
	if (chunks) {
		const char *in = (const char *)data + 1 + nsplit;
		size_t n = size - 1 - nsplit;

		assert(!a.done && ua == n);
		if (a.flags == 0) {
			size_t extra = n > 0 && in[n - 1] != '\n' ? 2 : 0;

			assert(buf_len(&oa) == n + extra);
			assert(n == 0 || memcmp(buf_ptr(&oa), in, n) == 0);
		}
	}
	/* A refused message (any flag) is thrown away whole, so only what
	 * is kept must not depend on the segmentation; refused or not,
	 * memory stays bounded. */
	if (a.flags == 0) {
		assert(buf_len(&oa) == buf_len(&ob));
		assert(buf_len(&oa) == 0 ||
		    memcmp(buf_ptr(&oa), buf_ptr(&ob), buf_len(&oa)) == 0);
	}
	assert(buf_len(&oa) <= 4096 && buf_len(&ob) <= 4096);
	if (a.done) {
		/* The end is exactly CRLF.CRLF (or ".CRLF" first). */
		const char *in = (const char *)data + 1 + nsplit;

		assert(ua >= 3 && memcmp(in + ua - 3, ".\r\n", 3) == 0);
		assert(ua == 3 || memcmp(in + ua - 5, "\r\n", 2) == 0);
	}
	if (a.flags == 0) {
		const char *o = buf_ptr(&oa);

		for (size_t i = 0; i < buf_len(&oa); i++) {
			if (o[i] == '\n')
				assert(i > 0 && o[i - 1] == '\r');
			if (o[i] == '\r')
				assert(i + 1 < buf_len(&oa) ? o[i + 1] == '\n' :
				    !a.done);
			assert(o[i] != '\0');
		}
	}
	buf_free(&oa);
	buf_free(&ob);
	return 0;
}
