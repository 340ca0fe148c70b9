// sources: gwd/api_msg.c gwd/api_mime.c gwd/mime7.c gwd/msg.c common/addrlist.c common/addr.c common/base64.c common/mime_walk.c common/mime_html.c common/mime_plain.c common/mime_head.c common/mime_decode.c common/attrule.c common/buf.c common/util.c common/log.c
/*
 * fuzz_api_msg.c - a hostile send API request: the JSON body through
 * Jansson and GMime into a message, and the input as a raw message's
 * header for its envelope.
 * Invariants: a refusal says why; an accepted body gives a sender and
 * at least one recipient, each once, and a message whose lines all end
 * in CRLF (no bare CR or LF, no NUL) within 998 octets, with no Bcc:
 * field in its header, and whose boundaries occur only as delimiter
 * lines (RFC 2046 5.1.1: no content holds one).
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api_priv.h"
#include "buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static size_t
hdr_end(const char *m, size_t len)
{
	const char *e = memmem(m, len, "\r\n\r\n", 4);

	return e ? (size_t)(e - m) : len;
}

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

/* "--B" in m only at a line's start and followed by CRLF or "--" (a
 * delimiter), never inside a part. */
static void
check_delimiters(const char *m, size_t len, const char *b, size_t bl)
{
	const char *end = m + len, *q;
	char d[80];

	assert(bl > 0 && bl < sizeof(d) - 2);
	d[0] = d[1] = '-';
	memcpy(d + 2, b, bl);
	for (q = m; (q = memmem(q, (size_t)(end - q), d, bl + 2)) != NULL;
	    q += bl + 2) {
		assert(q >= m + 2 && q[-2] == '\r' && q[-1] == '\n');
		assert(end - q >= (ptrdiff_t)bl + 4);
		assert(memcmp(q + bl + 2, "\r\n", 2) == 0 ||
		    memcmp(q + bl + 2, "--", 2) == 0);
	}
}

/* The boundary parameter at p (after `boundary="`): its length. */
static size_t
param(const char *p, const char *end)
{
	const char *close = memchr(p, '"', (size_t)(end - p));

	assert(close != NULL);
	return (size_t)(close - p);
}

/* The message's multipart/mixed or /alternative boundary (in its
 * header) and an alternative's inside the first part of a mixed. */
static void
check_boundaries(const char *m, size_t len, size_t hdr_end)
{
	static const char bp[] = "boundary=\"", alt[] =
	    "\r\nContent-Type: multipart/alternative;\r\n boundary=\"";
	const char *p = memmem(m, hdr_end, bp, sizeof(bp) - 1), *q;
	char first[100];
	size_t bl;

	if (p == NULL)
		return;
	p += sizeof(bp) - 1;
	bl = param(p, m + len);
	check_delimiters(m, len, p, bl);
	snprintf(first, sizeof(first), "--%.*s", (int)bl, p);
	if ((q = memmem(m, len, first, strlen(first))) != NULL &&
	    (size_t)(m + len - q) > strlen(first) + sizeof(alt) &&
	    memcmp(q + strlen(first), alt, sizeof(alt) - 1) == 0) {
		q += strlen(first) + sizeof(alt) - 1;
		check_delimiters(m, len, q, param(q, m + len));
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
		check_boundaries(buf_ptr(&out), buf_len(&out),
		    hdr_end(buf_ptr(&out), buf_len(&out)));
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
