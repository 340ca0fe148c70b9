// sources: common/mtasts.c
/*
 * fuzz_mtasts.c - hostile bytes as an MTA-STS policy body and as a TXT
 * record.  Invariants: a policy that parses has a known mode, 0 <=
 * max_age <= a year, at most MTASTS_MAX_MX patterns each NUL-terminated
 * within bounds, and at least one unless mode is none; each pattern
 * matches a host made from it; an id is 1..32 letters and digits.
 */
#include <assert.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_policy(const struct mtasts_policy *p)
{
	char host[MTASTS_PATTERN_MAX + 8];

	assert(p->mode == MTASTS_NONE || p->mode == MTASTS_TESTING ||
	    p->mode == MTASTS_ENFORCE);
	assert(p->max_age >= 0 && p->max_age <= MTASTS_MAX_AGE_MAX);
	assert(p->nmx >= 0 && p->nmx <= MTASTS_MAX_MX);
	assert(p->mode == MTASTS_NONE || p->nmx > 0);
	for (int i = 0; i < p->nmx; i++) {
		size_t n = strnlen(p->mx[i], MTASTS_PATTERN_MAX + 1);

		assert(n > 0 && n <= MTASTS_PATTERN_MAX);
		if (p->mx[i][0] == '*')
			snprintf(host, sizeof(host), "x%s", p->mx[i] + 1);
		else
			snprintf(host, sizeof(host), "%s", p->mx[i]);
		assert(mtasts_mx_match(p, host));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mtasts_policy p;
	const char *err = NULL;
	char *txt, id[MTASTS_ID_MAX + 1];

	if (mtasts_parse((const char *)data, size, &p, &err) == 0)
		check_policy(&p);
	else
		assert(err != NULL);
	if ((txt = malloc(size + 1)) == NULL)
		return 0;
	memcpy(txt, data, size);
	txt[size] = '\0';
	err = NULL;
	if (mtasts_txt_id(txt, id, &err) == 0) {
		size_t n = strlen(id);

		assert(n >= 1 && n <= MTASTS_ID_MAX);
		for (size_t i = 0; i < n; i++)
			assert(isalnum((unsigned char)id[i]));
	}
	free(txt);
	return 0;
}
