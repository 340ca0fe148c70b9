/*
 * unsubtok.h - the token of a one-click unsubscribe link (RFC 8058):
 * https://HOST/u/TOKEN names a subaccount and a recipient, and carries a
 * truncated HMAC-SHA256 under the installation's "unsubscribe" key
 * (gw.db's hmac_key, hmackey.h), so nobody but gwd can make one.
 *
 * TOKEN is base64url without padding (RFC 4648 5) of
 *   version (1 byte, 1) | subaccount id (unsigned LEB128, minimal) |
 *   recipient (1..UNSUBTOK_RCPT_MAX bytes) | MAC (UNSUBTOK_MAC_LEN)
 * and the MAC is HMAC-SHA256(key, everything before it), cut to its
 * first UNSUBTOK_MAC_LEN bytes.
 *
 * Pure: no I/O.  The decoder takes bytes from anyone on the internet; it
 * only parses, and unsubtok_verify() compares in constant time.
 */
#ifndef GW_UNSUBTOK_H
#define GW_UNSUBTOK_H

#include <stddef.h>
#include <stdint.h>

#define UNSUBTOK_VERSION	1
#define UNSUBTOK_KEY_LEN	32	/* the key gw.db's migration makes */
#define UNSUBTOK_MAC_LEN	12	/* 96 bits of HMAC-SHA256 */
#define UNSUBTOK_RCPT_MAX	256	/* RFC 5321 4.5.3.1.3, a path */
#define UNSUBTOK_RAW_MAX	(1 + 10 + UNSUBTOK_RCPT_MAX + UNSUBTOK_MAC_LEN)
/* The longest TOKEN, with its NUL. */
#define UNSUBTOK_MAX		((UNSUBTOK_RAW_MAX * 4 + 2) / 3 + 1)

struct unsubtok {
	int64_t		 subaccount;	/* > 0 */
	char		 rcpt[UNSUBTOK_RCPT_MAX + 1];
	unsigned char	 mac[UNSUBTOK_MAC_LEN];
	unsigned char	 data[UNSUBTOK_RAW_MAX];	/* what the MAC covers */
	size_t		 datalen;
};

/* TOKEN for (subaccount, rcpt) under key into out: its length, or -1
 * (subaccount < 1, rcpt empty, too long or holding a control byte, or
 * out too small). */
int	 unsubtok_encode(const unsigned char *key, size_t keylen,
	    int64_t subaccount, const char *rcpt, char *out, size_t outsz);
/* Parse s[0..n) into t: 0, or -1 when it is not a well-formed TOKEN
 * (nothing is said of its MAC yet). */
int	 unsubtok_decode(const char *s, size_t n, struct unsubtok *t);
/* 1 when t's MAC is right under key, else 0. */
int	 unsubtok_verify(const struct unsubtok *t, const unsigned char *key,
	    size_t keylen);

#endif
