/*
 * unsubtok.c - one-click unsubscribe tokens (unsubtok.h).
 * Standards: RFC 4648 5 (base64url), RFC 2104 (HMAC), RFC 8058.
 * Exposure: unsubtok_decode() parses a URL path from anyone; it is
 * bounded by UNSUBTOK_MAX and refuses every non-canonical spelling, so
 * one (subaccount, recipient, MAC) has exactly one TOKEN.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "hmackey.h"
#include "unsubtok.h"

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int
b64url_val(unsigned char c)
{
	const char *p;

	if (c == '\0' || (p = strchr(b64url, c)) == NULL)
		return -1;
	return (int)(p - b64url);
}

/* Encode without padding: the length, or -1 when out is too small. */
static int
b64url_encode(const unsigned char *in, size_t n, char *out, size_t outsz)
{
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	if ((n * 4 + 2) / 3 + 1 > outsz)
		return -1;
	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = b64url[(acc >> bits) & 63];
		}
	}
	if (bits > 0)
		out[o++] = b64url[(acc << (6 - bits)) & 63];
	out[o] = '\0';
	return (int)o;
}

/* Decode strictly: no padding, no length of 4k+1, the bits left over
 * zero.  The length, or -1. */
static int
b64url_decode(const char *s, size_t n, unsigned char *out, size_t outsz)
{
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0, v;

	if (n % 4 == 1 || n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) > outsz)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if ((v = b64url_val((unsigned char)s[i])) < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return -1;
	return (int)o;
}

/* A recipient as gwd keeps it: printable or UTF-8, no controls. */
static int
rcpt_ok(const unsigned char *p, size_t n)
{
	if (n == 0 || n > UNSUBTOK_RCPT_MAX || memchr(p, '@', n) == NULL)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] == 0x7f)
			return 0;
	return 1;
}

int
unsubtok_encode(const unsigned char *key, size_t keylen, int64_t sub,
    const char *rcpt, char *out, size_t outsz)
{
	unsigned char raw[UNSUBTOK_RAW_MAX];
	size_t n = 0, rl = strlen(rcpt);
	uint64_t v = (uint64_t)sub;

	if (sub < 1 || !rcpt_ok((const unsigned char *)rcpt, rl))
		return -1;
	raw[n++] = UNSUBTOK_VERSION;
	do {
		raw[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	memcpy(raw + n, rcpt, rl);
	n += rl;
	if (hmackey_mac(key, keylen, raw, n, raw + n, UNSUBTOK_MAC_LEN) == -1)
		return -1;
	return b64url_encode(raw, n + UNSUBTOK_MAC_LEN, out, outsz);
}

int
unsubtok_decode(const char *s, size_t n, struct unsubtok *t)
{
	unsigned char raw[UNSUBTOK_RAW_MAX];
	uint64_t v = 0;
	size_t i = 1;
	int len, shift = 0;

	memset(t, 0, sizeof(*t));
	if (n >= UNSUBTOK_MAX ||
	    (len = b64url_decode(s, n, raw, sizeof(raw))) < 0 ||
	    len < 1 + 1 + 1 + UNSUBTOK_MAC_LEN || raw[0] != UNSUBTOK_VERSION)
		return -1;
	/* The id: at most 9 groups of 7 bits (positive int64), the last
	 * group not zero unless it is the only one (minimal). */
	for (;; i++) {
		if (i >= (size_t)len - UNSUBTOK_MAC_LEN || shift > 56)
			return -1;
		v |= (uint64_t)(raw[i] & 0x7f) << shift;
		shift += 7;
		if (!(raw[i] & 0x80))
			break;
	}
	if ((i > 1 && raw[i] == 0) || v == 0 || v > INT64_MAX)
		return -1;
	i++;
	if (!rcpt_ok(raw + i, (size_t)len - UNSUBTOK_MAC_LEN - i))
		return -1;
	t->subaccount = (int64_t)v;
	memcpy(t->rcpt, raw + i, (size_t)len - UNSUBTOK_MAC_LEN - i);
	t->datalen = (size_t)len - UNSUBTOK_MAC_LEN;
	memcpy(t->data, raw, t->datalen);
	memcpy(t->mac, raw + t->datalen, UNSUBTOK_MAC_LEN);
	return 0;
}

int
unsubtok_verify(const struct unsubtok *t, const unsigned char *key,
    size_t keylen)
{
	unsigned char mac[UNSUBTOK_MAC_LEN];

	if (t->datalen == 0 || hmackey_mac(key, keylen, t->data, t->datalen,
	    mac, sizeof(mac)) == -1)
		return 0;
	return CRYPTO_memcmp(mac, t->mac, sizeof(mac)) == 0;
}
