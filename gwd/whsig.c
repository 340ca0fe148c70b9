/*
 * whsig.c - signing webhook requests (see whsig.h).
 * Standards: RFC 2104 (HMAC), FIPS 180-4 (SHA-256).
 * Exposure: none; the body is gwd's own JSON.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "whsig.h"

/* HMAC-SHA256(secret, ts || body) into mac; its length, or 0. */
static size_t
whsig_mac(const char *secret, const char *ts, size_t tslen,
    const void *body, size_t len, unsigned char *mac, size_t macsz)
{
	OSSL_PARAM p[2];
	EVP_MAC_CTX *ctx = NULL;
	EVP_MAC *m;
	size_t out = 0;
	int ok;

	if ((m = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return 0;
	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	p[1] = OSSL_PARAM_construct_end();
	ok = (ctx = EVP_MAC_CTX_new(m)) != NULL &&
	    EVP_MAC_init(ctx, (const unsigned char *)secret, strlen(secret),
	    p) && EVP_MAC_update(ctx, (const unsigned char *)ts, tslen) &&
	    EVP_MAC_update(ctx, body, len) &&
	    EVP_MAC_final(ctx, mac, &out, macsz);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(m);
	return ok ? out : 0;
}

int
whsig_value(const char *secret, int64_t t, const void *body, size_t len,
    char *out, size_t outsz)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t maclen;
	char ts[24];
	int n;

	n = snprintf(ts, sizeof(ts), "%lld.", (long long)t);
	if (n < 0 || (size_t)n >= sizeof(ts) || (maclen = whsig_mac(secret,
	    ts, (size_t)n, body, len, mac, sizeof(mac))) == 0)
		return -1;
	if ((n = snprintf(out, outsz, "t=%lld,v1=", (long long)t)) < 0 ||
	    (size_t)n + 2 * maclen >= outsz)
		return -1;
	for (size_t i = 0; i < maclen; i++)
		snprintf(out + n + 2 * i, 3, "%02x", mac[i]);
	return 0;
}
