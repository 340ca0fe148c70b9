// sources: common/urlx.c common/mime_walk.c common/mime_html.c common/mime_plain.c common/mime_head.c common/mime_decode.c common/attrule.c common/buf.c common/util.c common/log.c
/*
 * fuzz_urlx.c - hostile text through the URL-host extractor, both as
 * decoded text and as HTML whose link targets mime_html_links() keeps.
 * Invariants: every host kept is 1..URLX_HOST_MAX bytes of lower-case
 * ASCII name characters with a dot, none twice, at most URLX_MAX of
 * them; a registered domain is a dot-boundary suffix of its host; the
 * links never outgrow the HTML.
 */
#include <assert.h>
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime_walk.h"
#include "urlx.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(const struct urlx *u)
{
	char rd[URLX_HOST_MAX + 1];

	assert(u->n >= 0 && u->n <= URLX_MAX);
	for (int i = 0; i < u->n; i++) {
		const char *h = u->host[i];
		size_t n = strlen(h);

		assert(n > 0 && n <= URLX_HOST_MAX && strchr(h, '.'));
		for (size_t k = 0; k < n; k++)
			assert(islower((unsigned char)h[k]) ||
			    isdigit((unsigned char)h[k]) || h[k] == '-' ||
			    h[k] == '_' || h[k] == '.');
		for (int k = 0; k < i; k++)
			assert(strcmp(u->host[k], h) != 0);
		if (urlx_registered(h, rd, sizeof(rd)) == 0)
			assert(urlx_in_domain(h, rd));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct urlx u = { 0 };
	char *links;
	size_t n;

	urlx_text(&u, (const char *)data, size);
	check(&u);
	urlx_free(&u);
	if ((links = malloc(size + 1)) == NULL)
		return 0;
	n = mime_html_links((const char *)data, size, links);
	assert(n <= size && links[n] == '\0');
	urlx_text(&u, links, n);
	check(&u);
	urlx_free(&u);
	free(links);
	return 0;
}
