/*
 * hmackey.c - HMAC key purposes and the truncated HMAC (hmackey.h).
 * Standards: RFC 2104 (HMAC), FIPS 180-4 (SHA-256); RFC 2104 5 allows
 * keeping the leftmost bits of the output.
 * Exposure: none; the data is the caller's, the key gw.db's.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "hmackey.h"

/*
 * The grace of each replaced key.  Unsubscribe links: mail is read and
 * unsubscribed from months after it was sent.  VERP: late bounces come
 * within a receiver's queue lifetime (days), complaints weeks later, and
 * the same key signs List-Unsubscribe's mailto: address (verp.h), which
 * must last as long as the https link beside it.
 */
static const struct hmackey_info purposes[HMACKEY_NPURPOSES] = {
	[HMACKEY_UNSUB] = { "unsubscribe", "unsubscribe.previous", 90,
	    "links" },
	[HMACKEY_VERP] = { "verp", "verp.previous", 90,
	    "return paths and mailto: unsubscribe addresses" },
};

const struct hmackey_info *
hmackey_info(enum hmackey_purpose p)
{
	return &purposes[p];
}

int
hmackey_by_name(const char *name, enum hmackey_purpose *p)
{
	for (int i = 0; i < HMACKEY_NPURPOSES; i++)
		if (strcmp(name, purposes[i].name) == 0) {
			*p = (enum hmackey_purpose)i;
			return 0;
		}
	return -1;
}

int
hmackey_mac(const unsigned char *key, size_t keylen, const void *d,
    size_t n, unsigned char *out, size_t outlen)
{
	unsigned char full[EVP_MAX_MD_SIZE];
	unsigned int fl = 0;

	if (outlen == 0 || keylen == 0 || HMAC(EVP_sha256(), key,
	    (int)keylen, d, n, full, &fl) == NULL || fl < outlen) {
		memset(out, 0, outlen);
		return -1;
	}
	memcpy(out, full, outlen);
	return 0;
}
