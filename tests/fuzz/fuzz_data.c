// sources: gwd/smtp_proto.c common/addr.c common/buf.c
/*
 * fuzz_data.c - the DATA stream: dot-unstuffing and end-of-data, fed in
 * random segments.  Invariants: an accepted result does not depend on
 * how the input is split; only CR LF "." CR LF ends the data, also when
 * bare LFs are normalized (limits.bare_lf); the output never holds a
 * bare CR or LF when no flag was raised; memory stays bounded.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static size_t
run(const char *in, size_t n, const uint8_t *splits, size_t nsplits,
    int normalize, struct data_parser *p, struct buf *out)
{
	size_t used = 0, k = 0;

	data_init(p, 4096);
	p->lf_normalize = normalize;
	buf_init(out, 0);
	while (used < n && !p->done) {
		size_t step = nsplits ? 1 + splits[k++ % nsplits] % 64 : n;

		if (step > n - used)
			step = n - used;
		used += data_feed(p, in + used, step, out);
	}
	return used;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct data_parser a, b;
	struct buf oa, ob;
	size_t ua, ub, nsplit;
	int normalize;

	if (size < 1)
		return 0;
	nsplit = data[0] % 8;
	normalize = (data[0] & 8) != 0;	/* limits.bare_lf */
	if (size < 1 + nsplit)
		return 0;
	ua = run((const char *)data + 1 + nsplit, size - 1 - nsplit, NULL, 0,
	    normalize, &a, &oa);
	ub = run((const char *)data + 1 + nsplit, size - 1 - nsplit, data + 1,
	    nsplit, normalize, &b, &ob);
	assert(ua == ub && a.done == b.done && a.flags == b.flags);
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
