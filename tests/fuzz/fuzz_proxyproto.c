// sources: common/proxyproto.c common/cidr.c common/util.c common/log.c
/*
 * fuzz_proxyproto.c - PROXY protocol headers as a hostile (or broken)
 * proxy might send them.  Invariants: the verdict is -1, 0 or a length
 * within the input; -1 comes with a reason; a complete header's length
 * never depends on what follows it (the same bytes with anything after
 * give the same length) and every shorter prefix of it is "not complete
 * yet", never an error, so a reader that consumes the bytes of an
 * incomplete header never takes the client's; a client address is IPv4
 * or IPv6 with the length of its family.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "cidr.h"
#include "proxyproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_addr(const struct sockaddr_storage *ss, socklen_t len)
{
	char text[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET)
		assert(len == sizeof(struct sockaddr_in));
	else {
		assert(ss->ss_family == AF_INET6);
		assert(len == sizeof(struct sockaddr_in6));
	}
	sockaddr_ntop((const struct sockaddr *)ss, text, sizeof(text));
	assert(strlen(text) < sizeof(text));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_hdr h, h2;
	const char *err;
	int r;
	uint8_t *more;

	r = proxy_parse(data, size, &h, &err);
	assert(r >= -1 && (r < 0 || (size_t)r <= size));
	if (r == -1) {
		assert(err != NULL && *err != '\0');
		return 0;
	}
	if (r == 0) {
		assert(size < PROXY_MAX);
		return 0;
	}
	assert(h.version == 1 || h.version == 2);
	if (h.version == 1)
		assert(r <= PROXY_V1_MAX);
	if (!h.local) {
		check_addr(&h.src, h.srclen);
		check_addr(&h.dst, h.dstlen);
	}
	/* Cut short anywhere: wait.  (Every prefix of a long one would
	 * be slow; a spread of them will do.) */
	for (size_t i = 0; i < (size_t)r; i += 1 + (size_t)r / 64)
		assert(proxy_parse(data, i, &h2, &err) == 0);
	/* What follows does not change it. */
	more = malloc((size_t)r + 4);
	assert(more != NULL);
	memcpy(more, data, (size_t)r);
	memcpy(more + r, "\r\n\0\xff", 4);
	assert(proxy_parse(more, (size_t)r + 4, &h2, &err) == r);
	assert(h2.local == h.local && h2.version == h.version);
	if (!h.local)
		assert(memcmp(&h.src, &h2.src, sizeof(h.src)) == 0);
	free(more);
	return 0;
}
