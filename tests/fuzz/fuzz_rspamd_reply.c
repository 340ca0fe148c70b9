// sources: common/rspamd_reply.c common/buf.c common/util.c common/log.c
/*
 * fuzz_rspamd_reply.c - hostile bytes as rspamd's /checkv2 answer.
 * Invariants: an answer read has a known action and finite scores; the
 * symbol list and action name hold only [A-Za-z0-9_.,-]; a refusal says
 * why.
 */
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "rspamd_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
safe(const char *s, const char *extra)
{
	for (; *s; s++)
		assert((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("_.-", *s) ||
		    strchr(extra, *s));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rspamd_reply r;
	char err[200];

	if (rspamd_reply_parse((const char *)data, size, &r, err,
	    sizeof(err)) == -1) {
		assert(err[0] != '\0');
		return 0;
	}
	assert(r.action >= -1 && r.action < RSA_COUNT);
	assert(isfinite(r.score) && isfinite(r.required));
	safe(r.action_name, "");
	safe(r.symbols, ",");
	return 0;
}
