// sources: common/archfile.c common/buf.c
/*
 * fuzz_archfile.c - a hostile day file against the compliance archive's
 * reader (common/archfile.c), as `gwctl archive verify` and gwd at
 * start-up read one.  Invariants: the walk stays inside the bytes; the
 * whole records it counts end at good_len; each one parses again, its
 * message inflates to no more than it claims, and a record rebuilt from
 * what was parsed hashes the same when the stored hash verified; and
 * the anchor parser takes only what the formatter makes.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archfile.h"
#include "buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
each_record(const uint8_t *data, size_t size, const struct arch_check *c)
{
	size_t off = ARCH_HEAD_LEN;
	struct arch_rec r;
	char err[200], *body, qid[ARCH_QID_MAX + 1];
	size_t len;
	uint8_t h[ARCH_HASH_LEN];
	struct buf b;

	for (uint64_t i = 0; i < c->nrec; i++) {
		assert(archfile_rec_parse(data + off, size - off, &r, err,
		    sizeof(err)) == 1);
		assert(off + r.len <= c->good_len);
		if (archfile_rec_body(&r, &body, &len, err, sizeof(err)) == 0) {
			assert(len == r.rawlen);
			if (archfile_rec_hash_ok(&r) && r.qidlen > 0 &&
			    memchr(r.qid, '\0', r.qidlen) == NULL) {
				/* Rebuilt: the same bytes only if zlib made
				 * them the same way; the hash covers them, so
				 * a rebuild that matches in length must
				 * match in hash. */
				memcpy(qid, r.qid, r.qidlen);
				qid[r.qidlen] = '\0';
				buf_init(&b, 0);
				if (archfile_rec_build(&b, r.seq, r.received_us,
				    qid, r.env, r.envlen, body, len, r.prev, 1,
				    h) == 0 && buf_len(&b) == r.len &&
				    memcmp(buf_ptr(&b), r.start, r.len) == 0)
					assert(memcmp(h, r.hash,
					    ARCH_HASH_LEN) == 0);
				buf_free(&b);
			}
			free(body);
		}
		off += r.len;
	}
	assert(off == c->good_len || c->nrec == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arch_check c;
	uint8_t prev[ARCH_HASH_LEN];
	char day[9], again[ARCH_ANCHOR_MAX];

	for (int hashes = 0; hashes < 2; hashes++) {
		if (archfile_check(data, size, hashes, &c) == 0) {
			assert(!c.bad);
			assert(c.good_len <= size);
			assert(c.torn || c.good_len == size);
			each_record(data, size, &c);
		} else {
			assert(c.bad);
			assert(c.bad_off <= size);
		}
	}
	if (archfile_anchor_parse((const char *)data, size, day, prev) == 0) {
		assert(archfile_anchor_format(day, prev, again,
		    sizeof(again)) == 0);
		/* Lower-case hex only: the spelling is the formatter's. */
		assert(strlen(again) == size && memcmp(again, data, size) == 0);
	}
	return 0;
}
