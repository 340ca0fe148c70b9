// sources: gwd/api_msg.c gwd/msg.c common/addrlist.c common/addr.c common/base64.c common/mime_walk.c common/attrule.c common/buf.c common/util.c common/log.c
/*
 * fuzz_api_msg.c - a hostile send API request: the JSON body through
 * Jansson and GMime into a message, and the input as a raw message's
 * header for its envelope.
 * Invariants: a refusal says why; an accepted body gives a sender and
 * at least one recipient, each once, and a message whose lines all end
 * in CRLF (no bare CR or LF, no NUL) within 998 octets, with no Bcc:
 * field in its header.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "api_priv.h"
#include "buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_message(const char *m, size_t len)
{
	size_t line = 0, hdr_end = len;
	const char *e;

	if ((e = memmem(m, len, "\r\n\r\n", 4)) != NULL)
		hdr_end = (size_t)(e - m);
	for (size_t i = 0; i < len; i++) {
		assert(m[i] != '\0');
		if (m[i] == '\r') {
			assert(i + 1 < len && m[i + 1] == '\n');
			i++;
			line = 0;
			continue;
		}
		assert(m[i] != '\n');
		assert(++line <= 998);
		if (i < hdr_end && (i == 0 || m[i - 1] == '\n'))
			assert(strncasecmp(m + i, "bcc:", 4) != 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_env env;
	struct buf out;
	char err[400];

	memset(&env, 0, sizeof(env));
	buf_init(&out, 1 << 22);
	err[0] = '\0';
	if (api_json_message((const char *)data, size, &out, &env, err,
	    sizeof(err)) == 0) {
		assert(env.has_from && env.nrcpt >= 1);
		for (int i = 0; i < env.nrcpt; i++)
			for (int k = 0; k < i; k++)
				assert(strcmp(env.rcpt[i], env.rcpt[k]) != 0);
		check_message(buf_ptr(&out), buf_len(&out));
	} else
		assert(err[0] != '\0');
	api_env_free(&env);
	buf_free(&out);
	err[0] = '\0';
	if (api_raw_envelope((const char *)data, size, &env, err,
	    sizeof(err)) == 0)
		assert(env.has_from && env.nrcpt >= 1);
	else
		assert(err[0] != '\0');
	api_env_free(&env);
	return 0;
}
