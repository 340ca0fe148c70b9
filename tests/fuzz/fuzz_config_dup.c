// sources: common/config.c common/util.c common/log.c common/cidr.c common/addr.c common/shlist.c common/rules.c
/*
 * fuzz_config_dup.c - the scanner that names a repeated setting
 * (config_find_duplicate) on any bytes: it stays inside the text, ends,
 * frees what it took, and a name it reports is NUL-terminated and was
 * seen twice.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[64];
	int line = 0, first = 0;

	if (config_find_duplicate((const char *)data, size, name,
	    sizeof(name), &line, &first)) {
		assert(strlen(name) < sizeof(name));
		assert(first >= 1 && first <= line);
	}
	return 0;
}
