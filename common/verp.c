/*
 * verp.c - VERP return paths with an HMAC (see verp.h).
 * Standards: RFC 2104 (HMAC), FIPS 180-4 (SHA-256); the local part fits
 * RFC 5321 4.5.3.1.1's 64 octets (2 + 16 + 1 + up to 8 + 1 + 16).
 * Exposure: verp_decode reads an address from anyone's RCPT TO or a
 * report; it reads at most the address and compares in constant time.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "hmackey.h"
#include "util.h"
#include "verp.h"

#define DOMAIN_MAX	255

static int
all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return n > 0;
}

/*
 * The HMAC's first VERP_MAC_LEN hex digits, lower case, over
 * "QID:IDX:domain" (a bounce address: the input gw has always used, so
 * return paths already out keep working) or "u:QID:IDX:domain" (an
 * unsubscribe address), with qid upper case and domain lower case.  A
 * bounce input starts with a hex digit, never "u:": no input is both.
 */
static int
verp_mac(const unsigned char *key, size_t keylen, enum verp_kind kind,
    const char *qid, unsigned idx, const char *domain, size_t dl,
    char mac[VERP_MAC_LEN + 1])
{
	char in[2 + VERP_QID_LEN + 1 + 11 + 1 + DOMAIN_MAX + 1];
	const char *pfx = kind == VERP_UNSUB ? "u:" : "";
	int pl = (int)strlen(pfx);
	unsigned char md[VERP_MAC_LEN / 2];
	char hex[VERP_MAC_LEN + 1];
	int n;

	if (dl == 0 || dl > DOMAIN_MAX)
		return -1;
	n = snprintf(in, sizeof(in), "%s%.16s:%u:%.*s", pfx, qid, idx,
	    (int)dl, domain);
	if (n < 0 || (size_t)n >= sizeof(in))
		return -1;
	for (int i = pl; i < pl + VERP_QID_LEN; i++)
		in[i] = (char)toupper((unsigned char)in[i]);
	for (int i = n - (int)dl; i < n; i++)
		in[i] = (char)tolower((unsigned char)in[i]);
	if (hmackey_mac(key, keylen, in, (size_t)n, md, sizeof(md)) == -1)
		return -1;
	hex_encode(md, sizeof(md), hex);
	memcpy(mac, hex, sizeof(hex));
	return 0;
}

int
verp_encode(const unsigned char *key, size_t keylen, enum verp_kind kind,
    const char *qid, unsigned idx, const char *domain, char *out, size_t n)
{
	char mac[VERP_MAC_LEN + 1];
	int r;

	if ((kind != VERP_BOUNCE && kind != VERP_UNSUB) ||
	    strlen(qid) != VERP_QID_LEN || !all_hex(qid, VERP_QID_LEN) ||
	    strchr(domain, '@') != NULL || verp_mac(key, keylen, kind, qid,
	    idx, domain, strlen(domain), mac) == -1)
		return -1;
	r = snprintf(out, n, "%c-%s-%x-%s@%s", (char)kind, qid, idx, mac,
	    domain);
	return r < 0 || (size_t)r >= n ? -1 : 0;
}

enum verp_result
verp_decode(const unsigned char *key, size_t keylen, const char *addr,
    enum verp_kind *kind, char qid[VERP_QID_LEN + 1], unsigned *idx)
{
	enum verp_kind k;
	const char *at = strrchr(addr, '@'), *p, *dash;
	char mac[VERP_MAC_LEN + 1], want[VERP_MAC_LEN + 1];
	unsigned long v = 0;
	size_t il;

	if (at == NULL || addr[0] == '\0' || addr[1] != '-')
		return VERP_NONE;
	if (addr[0] == 'b' || addr[0] == 'B')
		k = VERP_BOUNCE;
	else if (addr[0] == 'u' || addr[0] == 'U')
		k = VERP_UNSUB;
	else
		return VERP_NONE;
	p = addr + 2;
	if (at - p < VERP_QID_LEN + 1 || !all_hex(p, VERP_QID_LEN) ||
	    p[VERP_QID_LEN] != '-')
		return VERP_NONE;
	memcpy(qid, p, VERP_QID_LEN);
	qid[VERP_QID_LEN] = '\0';
	for (int i = 0; i < VERP_QID_LEN; i++)
		qid[i] = (char)toupper((unsigned char)qid[i]);
	p += VERP_QID_LEN + 1;
	if ((dash = memchr(p, '-', (size_t)(at - p))) == NULL)
		return VERP_NONE;
	il = (size_t)(dash - p);
	if (il == 0 || il > 8 || !all_hex(p, il))
		return VERP_NONE;
	for (size_t i = 0; i < il; i++)
		v = v * 16 + (unsigned long)(isdigit((unsigned char)p[i]) ?
		    p[i] - '0' : tolower((unsigned char)p[i]) - 'a' + 10);
	p = dash + 1;
	if (at - p != VERP_MAC_LEN || !all_hex(p, VERP_MAC_LEN))
		return VERP_NONE;
	for (int i = 0; i < VERP_MAC_LEN; i++)
		mac[i] = (char)tolower((unsigned char)p[i]);
	mac[VERP_MAC_LEN] = '\0';
	if (verp_mac(key, keylen, k, qid, (unsigned)v, at + 1,
	    strlen(at + 1), want) == -1)
		return VERP_FORGED;
	if (CRYPTO_memcmp(mac, want, VERP_MAC_LEN) != 0)
		return VERP_FORGED;
	*idx = (unsigned)v;
	*kind = k;
	return VERP_OK;
}
