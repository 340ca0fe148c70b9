// sources: gwctl/suppress_parse.c common/addr.c common/util.c common/log.c
/*
 * fuzz_suppress_parse.c - lines of a suppression import file, as an
 * admin's file or a hostile one may have them.  Invariants: the split
 * stays inside the line, an accepted address is lower case and parses
 * again to itself, and a reason check never misbehaves.
 */
#include <assert.h>
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "suppress_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line, *addr, *reason, out[ADDR_PATH_MAX + 1];
	char again[ADDR_PATH_MAX + 1];
	const char *err = NULL;

	if ((line = malloc(size + 1)) == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (supp_parse_line(line, &addr, &reason, &err) == -1)
		assert(err != NULL);
	else {
		assert(addr >= line && addr <= line + size);
		assert(reason == NULL || (reason >= line &&
		    reason <= line + size));
		if (reason)
			(void)supp_check_reason(reason);
		if (supp_parse_address(addr, out) == 0) {
			for (const char *p = out; *p; p++)
				assert(!isupper((unsigned char)*p));
			assert(supp_parse_address(out, again) == 0);
			assert(strcmp(out, again) == 0);
		}
	}
	free(line);
	return 0;
}
