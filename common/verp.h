/*
 * verp.h - the return path gw gives a recipient's copy of a message
 * when it has a bounce domain: b-TOKEN@DOMAIN, TOKEN = the queue id, the
 * recipient's index and a truncated HMAC-SHA256 over both and the
 * domain, so that a bounce to it can be traced to one recipient of one
 * message and a forged or replayed one is recognised.  The same shape
 * with the prefix u- is the mailto: unsubscribe address of that
 * recipient's copy (List-Unsubscribe); the HMAC covers the kind, so a
 * b- token rewritten as u- (or back) is forged.
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

/* The prefix of the local part: what a mail to the address means. */
enum verp_kind {
	VERP_BOUNCE = 'b',	/* the return path: bounces, reports */
	VERP_UNSUB = 'u'	/* mailto: unsubscribe */
};

enum verp_result {
	VERP_OK,
	VERP_NONE,	/* not a VERP address of this shape */
	VERP_FORGED	/* the shape, but the HMAC does not match */
};

/*
 * "K-QID-IDX-MAC@domain" into out (size n), K the kind's letter.  qid:
 * 16 hex digits; idx: the recipient's index in the message; domain: the
 * bounce domain (its case does not matter).  Returns 0, or -1 when it
 * does not fit or qid or domain is malformed.
 */
int	 verp_encode(const unsigned char *key, size_t keylen,
	    enum verp_kind kind, const char *qid, unsigned idx,
	    const char *domain, char *out, size_t n);
/*
 * Read addr ("b-...@domain" or "u-...@domain"): the kind into *kind,
 * the queue id (upper case) into qid, the index into *idx.  The HMAC is
 * checked against the address's own domain and kind: a token replayed
 * at another bounce domain, or under the other prefix, is VERP_FORGED.
 */
enum verp_result verp_decode(const unsigned char *key, size_t keylen,
	    const char *addr, enum verp_kind *kind, char qid[VERP_QID_LEN + 1],
	    unsigned *idx);

#endif
