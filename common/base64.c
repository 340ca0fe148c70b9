/*
 * base64.c - RFC 4648 section 4 base64, strict decoding.
 *
 * The decoder accepts exactly one spelling of each byte string.  Lenient
 * decoders (whitespace skipped, padding optional, stray bits ignored) are
 * how length miscalculations crept into AUTH handlers elsewhere; here the
 * output length is known from the input length before a byte is written.
 * Diagnostics: never dies; decoding input that is not canonical, or
 * either direction without room for the result, returns -1.
 */
#include <stdint.h>
#include <string.h>

#include "base64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
base64_encoded_size(size_t n)
{
	return BASE64_ENCODED_SIZE(n);
}

ssize_t
base64_encode(const void *in, size_t n, char *out, size_t outsz)
{
	const unsigned char *p = in;
	size_t i, o = 0;
	uint32_t v;

	/* n near SIZE_MAX would wrap the size: it cannot fit anyway. */
	if (n > (SIZE_MAX - 3) / 4 * 3 || outsz < base64_encoded_size(n))
		return -1;

	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = alphabet[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)p[i] << 16;
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (n - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = '=';
	}
	out[o] = '\0';
	return (ssize_t)o;
}

/* The 6-bit value of c, or -1. */
static int
value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
base64_decode(const char *in, size_t n, void *out, size_t outsz,
    size_t *outlen)
{
	unsigned char *o = out;
	size_t i, pad = 0, need;
	uint32_t v;
	int k, d[4];

	*outlen = 0;
	if (n % 4 != 0)
		return -1;
	if (n == 0)
		return 0;
	if (in[n - 1] == '=')
		pad = in[n - 2] == '=' ? 2 : 1;
	need = n / 4 * 3 - pad;
	if (need > outsz)
		return -1;
	for (i = 0; i < n; i += 4) {
		int last = i + 4 == n;

		for (k = 0; k < 4; k++) {
			if (last && k >= 4 - (int)pad) {
				d[k] = 0;
				continue;
			}
			if ((d[k] = value((unsigned char)in[i + k])) == -1)
				return -1;
		}
		v = (uint32_t)d[0] << 18 | (uint32_t)d[1] << 12 |
		    (uint32_t)d[2] << 6 | (uint32_t)d[3];
		if (last && pad == 2) {
			if (v & 0xffff)		/* non-zero leftover bits */
				return -1;
			*o++ = v >> 16 & 0xff;
		} else if (last && pad == 1) {
			if (v & 0xff)
				return -1;
			*o++ = v >> 16 & 0xff;
			*o++ = v >> 8 & 0xff;
		} else {
			*o++ = v >> 16 & 0xff;
			*o++ = v >> 8 & 0xff;
			*o++ = v & 0xff;
		}
	}
	*outlen = need;
	return 0;
}
