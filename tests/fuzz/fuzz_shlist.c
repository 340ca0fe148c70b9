// sources: common/shlist.c common/rules.c common/util.c common/log.c
/*
 * fuzz_shlist.c - hostile text against the smarthost list parser
 * (relay.host, --smarthost, gw.db's route_rule.smarthost).
 * Invariants: a list parses to 1..SHLIST_MAX entries within their
 * bounds; its canonical text parses back to the same list.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct shlist l = { 0 }, again = { 0 };
	char *s, err[512], out[SHLIST_MAX * 300];

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (shlist_parse(s, 25, &l, err, sizeof(err)) == 0) {
		assert(l.n >= 1 && l.n <= SHLIST_MAX);
		for (int i = 0; i < l.n; i++) {
			assert(l.e[i].port >= 1 && l.e[i].port <= 65535);
			assert(l.e[i].prio >= 0 &&
			    l.e[i].prio <= SHLIST_PRIO_MAX);
			assert(l.e[i].weight >= 1 &&
			    l.e[i].weight <= SHLIST_WEIGHT_MAX);
			assert(strlen(l.e[i].host) >= 1);
		}
		assert(shlist_format(&l, out, sizeof(out)) == 0);
		assert(shlist_parse(out, 1, &again, err, sizeof(err)) == 0);
		assert(memcmp(&l, &again, sizeof(l)) == 0);
	} else
		assert(memchr(err, '\0', sizeof(err)) != NULL);
	free(s);
	return 0;
}
