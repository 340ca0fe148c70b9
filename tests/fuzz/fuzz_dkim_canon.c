// sources: gwd/dkim.c gwd/dkim_canon.c common/buf.c common/base64.c common/log.c common/util.c
/*
 * fuzz_dkim_canon.c - DKIM canonicalization of message bytes.  The first
 * byte picks the mode (bit 0: relaxed, bit 1: header field rather than
 * body, bit 2: sign the whole input as a message instead); the rest is
 * the input.  Invariants: output ends CRLF (or is an empty relaxed
 * body); relaxed output has no TAB, no two spaces and no space before a
 * CRLF; a relaxed body has no trailing empty lines; a relaxed field has
 * no CR or LF but the final CRLF and a lower-case name; simple header
 * output is the input; canonicalizing an output again gives the same
 * bytes; a signature field starts right and no line of it passes 78.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
ends_crlf(const char *p, size_t n)
{
	return n >= 2 && p[n - 2] == '\r' && p[n - 1] == '\n';
}

static void
check_relaxed(const char *p, size_t n, int header)
{
	size_t i;

	assert(memchr(p, '\t', n) == NULL);
	assert(memmem(p, n, "  ", 2) == NULL);
	assert(memmem(p, n, " \r\n", 3) == NULL);
	if (header) {
		/* Unfolded: the only CR and LF are the final CRLF. */
		assert(ends_crlf(p, n));
		assert(memchr(p, '\r', n - 2) == NULL);
		assert(memchr(p, '\n', n - 2) == NULL);
		for (i = 0; i < n && p[i] != ':'; i++)
			assert(!(p[i] >= 'A' && p[i] <= 'Z'));
	} else {
		assert(n == 0 || ends_crlf(p, n));
		assert(n < 4 || memcmp(p + n - 4, "\r\n\r\n", 4) != 0);
		assert(n != 2);
	}
}

static void
check_simple(const char *in, size_t inlen, const char *p, size_t n,
    int header)
{
	assert(ends_crlf(p, n));
	if (header) {
		if (ends_crlf(in, inlen))
			assert(n == inlen);
		else
			assert(n == inlen + 2);
		assert(memcmp(p, in, n - 2) == 0);
	} else
		assert(n < 4 || memcmp(p + n - 4, "\r\n\r\n", 4) != 0);
}

static int
canon(int header, enum dkim_canon c, const char *p, size_t n,
    struct buf *out)
{
	return header ? dkim_canon_header(c, p, n, out) :
	    dkim_canon_body(c, p, n, out);
}

static void
fuzz_canon(int header, enum dkim_canon c, const char *in, size_t n)
{
	struct buf o1, o2;

	buf_init(&o1, 0);
	buf_init(&o2, 0);
	/* buf_cstr, not buf_ptr: an empty buffer has no data pointer. */
	assert(canon(header, c, in, n, &o1) == 0);
	if (c == DKIM_RELAXED)
		check_relaxed(buf_cstr(&o1), buf_len(&o1), header);
	else
		check_simple(in, n, buf_cstr(&o1), buf_len(&o1), header);
	assert(canon(header, c, buf_cstr(&o1), buf_len(&o1), &o2) == 0);
	assert(buf_len(&o1) == buf_len(&o2));
	assert(memcmp(buf_cstr(&o1), buf_cstr(&o2), buf_len(&o1)) == 0);
	buf_free(&o1);
	buf_free(&o2);
}

static void
fuzz_sign(const char *in, size_t n, int relaxed)
{
	static EVP_PKEY *pkey;
	struct dkim_key k;
	const struct dkim_key *kp[1] = { &k };
	struct buf out;
	char err[128];
	const char *p, *e, *end;

	if (pkey == NULL)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert(pkey != NULL);
	memset(&k, 0, sizeof(k));
	strcpy(k.domain, "example.com");
	strcpy(k.selector, "sel");
	k.alg = DKIM_ED25519_SHA256;
	k.hcanon = k.bcanon = relaxed ? DKIM_RELAXED : DKIM_SIMPLE;
	k.pkey = pkey;
	buf_init(&out, 0);
	assert(dkim_sign(kp, 1, in, n, 1795000000, &out, err,
	    sizeof(err)) == 0);
	p = buf_ptr(&out);
	end = p + buf_len(&out);
	assert(buf_len(&out) > 16 && memcmp(p, "DKIM-Signature: ", 16) == 0);
	assert(ends_crlf(p, buf_len(&out)));
	for (; p < end; p = e + 2) {
		e = memmem(p, end - p, "\r\n", 2);
		assert(e != NULL && e - p <= 78);
		assert(p == buf_ptr(&out) || *p == '\t');
	}
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum dkim_canon c;
	const char *in;
	int mode;

	if (size < 1)
		return 0;
	mode = data[0];
	in = (const char *)data + 1;
	size--;
	c = (mode & 1) ? DKIM_RELAXED : DKIM_SIMPLE;
	if (mode & 4)
		fuzz_sign(in, size, mode & 1);
	else
		fuzz_canon((mode & 2) != 0, c, in, size);
	return 0;
}
