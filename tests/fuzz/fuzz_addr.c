// sources: common/addr.c common/util.c common/log.c
/*
 * fuzz_addr.c - RFC 5321 paths, with and without SMTPUTF8.  Invariants:
 * an accepted path holds only printable ASCII (UTF-8 too with
 * ADDR_ALLOW_UTF8, its domain then has A-labels), fits its limits, has its '@' where `at` says, a lower
 * case domain, and `consumed` ends at its '>'; every verdict has a reply.
 * The stored address is canonical: spelling it again changes nothing, and
 * its key is it in lower case.
 */
#include <assert.h>
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct mailpath mp;
	size_t used = 0, i;
	enum addr_status st;
	const char *r;

	for (int flags = 0; flags <= (ADDR_ALLOW_NULL | ADDR_ALLOW_UTF8);
	    flags++) {
		st = addr_parse_path(s, size, flags, &mp, &used);
		r = addr_status_reply(st);
		assert(r != NULL && strlen(r) > 10);
		if (st != ADDR_OK)
			continue;
		assert(used >= 2 && used <= size && s[used - 1] == '>');
		assert(strlen(mp.addr) == mp.len && mp.len <= ADDR_PATH_MAX);
		for (i = 0; i < mp.len; i++)
			assert((unsigned char)mp.addr[i] >= 0x20 &&
			    mp.addr[i] != 0x7f && ((flags & ADDR_ALLOW_UTF8) ||
			    (unsigned char)mp.addr[i] < 0x80));
		if (mp.len == 0) {
			assert(flags & ADDR_ALLOW_NULL);
			continue;
		}
		assert(mp.at > 0 && mp.at <= ADDR_LOCAL_MAX);
		assert(mp.addr[mp.at] == '@');
		for (i = mp.at + 1; i < mp.len; i++)
			assert(!isupper((unsigned char)mp.addr[i]));
		{
			char c[ADDR_PATH_MAX + 1], k[ADDR_PATH_MAX + 1];

			assert(addr_canon(mp.addr, 0, c, sizeof(c)) ==
			    (int)mp.len && strcmp(c, mp.addr) == 0);
			assert(addr_key(mp.addr, k, sizeof(k)) == 0 &&
			    strcasecmp(k, mp.addr) == 0);
			for (i = 0; i < mp.len; i++)
				assert(!isupper((unsigned char)k[i]));
		}
		if (!mp.literal && !addr_is_ascii(mailpath_domain(&mp))) {
			char a[ADDR_DOMAIN_MAX + 1];

			assert(addr_domain_ascii(mailpath_domain(&mp), a,
			    sizeof(a)) == 0 && addr_valid_domain(a));
		} else if (!mp.literal) {
			assert(addr_valid_domain(mailpath_domain(&mp)));
			assert(addr_domain_within(mailpath_domain(&mp),
			    mailpath_domain(&mp)));
		}
	}
	return 0;
}
