/*
 * verp.h - the return path gw gives a recipient's copy of a message
 * when it has a bounce domain: b-TOKEN@DOMAIN, TOKEN = the queue id, the
 * recipient's index and a truncated HMAC-SHA256 over both and the
 * domain, so that a bounce to it can be traced to one recipient of one
 * message and a forged or replayed one is recognised.
 *
 * Pure: the key is the caller's (gwd keeps it in gw.db's hmac_key,
 * purpose "verp").  The token is hex, compared without regard to case:
 * some MTAs change the case of a local part.
 */
#ifndef GW_VERP_H
#define GW_VERP_H

#include <stddef.h>

#define VERP_QID_LEN	16	/* gw's queue ids: 16 hex digits */
#define VERP_MAC_LEN	16	/* hex digits of the HMAC kept: 64 bits */
#define VERP_KEY_LEN	32

enum verp_result {
	VERP_OK,
	VERP_NONE,	/* not a VERP address of this shape */
	VERP_FORGED	/* the shape, but the HMAC does not match */
};

/*
 * "b-QID-IDX-MAC@domain" into out (size n).  qid: 16 hex digits; idx:
 * the recipient's index in the message; domain: the bounce domain (its
 * case does not matter).  Returns 0, or -1 when it does not fit or qid
 * or domain is malformed.
 */
int	 verp_encode(const unsigned char *key, size_t keylen, const char *qid,
	    unsigned idx, const char *domain, char *out, size_t n);
/*
 * Read addr ("b-...@domain"): the queue id (upper case) into qid, the
 * index into *idx.  The HMAC is checked against the address's own
 * domain: a token replayed at another bounce domain is VERP_FORGED.
 */
enum verp_result verp_decode(const unsigned char *key, size_t keylen,
	    const char *addr, char qid[VERP_QID_LEN + 1], unsigned *idx);

#endif
