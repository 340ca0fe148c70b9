// sources: common/mime_walk.c common/mime_html.c common/mime_plain.c common/mime_head.c common/mime_decode.c common/attrule.c common/buf.c common/util.c common/log.c
/*
 * fuzz_mime_plain.c - the content walk's shortcuts against GMime's full
 * walk of the same bytes (mime_limits.gmime_only): the plain fast path
 * (mime_plain.h), the top header fields kept apart (mime_head.h) and
 * GMime's decoder steps without its filter streams (mime_decode.h).
 * Invariant: on every message both walks keep the same texts (path,
 * type, bytes, links), attachments, counts and flags; the checks never
 * read past the input (ASan) and a body offset they give lies within
 * it.  The input's first byte picks the text limit, so the cut is
 * fuzzed too.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "mime_head.h"
#include "mime_plain.h"
#include "mime_walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
same(const struct mime_walk *f, const struct mime_walk *g)
{
	assert(f->ntexts == g->ntexts);
	for (int i = 0; i < f->ntexts; i++) {
		const struct mime_text *a = &f->texts[i], *b = &g->texts[i];

		assert(strcmp(a->path, b->path) == 0);
		assert(strcmp(a->type, b->type) == 0);
		assert(a->len == b->len);
		assert(memcmp(a->text, b->text, a->len + 1) == 0);
		assert((a->links == NULL) == (b->links == NULL));
		assert(a->linkslen == b->linkslen);
		assert(a->links == NULL || memcmp(a->links, b->links,
		    a->linkslen) == 0);
	}
	assert(f->natt == g->natt && f->nparts == g->nparts);
	for (int i = 0; i < f->natt; i++) {
		const struct mime_attach *a = &f->att[i], *b = &g->att[i];

		assert(strcmp(a->path, b->path) == 0);
		assert(strcmp(a->name, b->name) == 0);
		assert(strcmp(a->type, b->type) == 0);
		assert(strcmp(a->sniffed, b->sniffed) == 0);
		assert(a->size == b->size && a->archive == b->archive &&
		    a->encrypted == b->encrypted);
	}
	assert(f->flags == g->flags && f->textlen == g->textlen);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_limits lim = { 3, 50, 64 << 10, 1, 0 };
	struct mime_plain p;
	struct mime_walk f, g;
	struct buf kept;
	size_t body;
	const char *msg = (const char *)data;

	if (size == 0)
		return 0;
	if (data[0] < 32)
		lim.text = data[0];
	msg++;
	size--;
	if (mime_plain_head(msg, size, &p) == 0) {
		assert(p.body <= size);
		assert(p.subject == NULL || (p.subject >= msg &&
		    p.subject + p.subjectlen <= msg + size));
	}
	buf_init(&kept, 0);
	if (mime_head_keep(msg, size, &kept, &body) == 0) {
		assert(body >= 2 && body <= size);
		assert(buf_len(&kept) <= body);
	}
	buf_free(&kept);
	mime_walk(msg, size, &lim, &f);
	lim.gmime_only = 1;
	mime_walk(msg, size, &lim, &g);
	same(&f, &g);
	mime_walk_free(&f);
	mime_walk_free(&g);
	return 0;
}
