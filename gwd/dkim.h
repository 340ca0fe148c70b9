/*
 * dkim.h - DKIM signing (RFC 6376, RFC 8463 Ed25519, RFC 8301).
 *
 * Pure apart from OpenSSL's hashing and signing: a message in, signature
 * header fields out.  gwd calls dkim_sign() on a worker thread, never on
 * the event loop, because a 25 MB body takes a while to hash.
 */
#ifndef GW_DKIM_H
#define GW_DKIM_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "buf.h"

enum dkim_canon { DKIM_SIMPLE, DKIM_RELAXED };
enum dkim_alg { DKIM_RSA_SHA256, DKIM_ED25519_SHA256 };

struct dkim_key {
	char		 domain[256];	/* d=, lower case */
	char		 selector[64];	/* s= */
	enum dkim_alg	 alg;
	enum dkim_canon	 hcanon;	/* header canonicalization */
	enum dkim_canon	 bcanon;	/* body canonicalization */
	EVP_PKEY	*pkey;		/* private key (RSA or Ed25519) */
};

/* "relaxed/simple" -> hcanon, bcanon; 0, or -1 when not one of the four
 * forms.  A single word means that for the header and simple for the
 * body (RFC 6376 3.5, c=). */
int	dkim_parse_canon(const char *, enum dkim_canon *h, enum dkim_canon *b);
/* "rsa-sha256" / "ed25519-sha256" */
const char *dkim_alg_name(enum dkim_alg);

/*
 * Canonicalize a body (RFC 6376 3.4.3 simple, 3.4.4 relaxed) and append
 * it to out.  The body is CRLF-terminated lines; a body without a final
 * CRLF is treated as if it had one (simple) or as a final line (relaxed).
 * Returns 0, or -1 when out's maximum would be passed.
 */
int	dkim_canon_body(enum dkim_canon, const char *body, size_t len,
	    struct buf *out);

/*
 * Canonicalize one header field (RFC 6376 3.4.1 simple, 3.4.2 relaxed):
 * field[0..len) is the whole field with its continuation lines and its
 * final CRLF (or without it).  Appends the canonical form with a final
 * CRLF.  Returns 0 or -1 as above.
 */
int	dkim_canon_header(enum dkim_canon, const char *field, size_t len,
	    struct buf *out);

/*
 * Sign msg[0..len) (header section, empty line, body; CRLF line ends)
 * with each of keys[0..nkeys) and append one complete, folded
 * "DKIM-Signature: ...\r\n" field per key to out, in order.  The body
 * hash is computed once per body canonicalization in use.  Signed
 * fields: From (over-signed: listed once more than it occurs, so no From
 * can be added), To, Cc, Subject, Date, Message-ID, Reply-To, In-Reply-To,
 * References, MIME-Version, Content-Type, Content-Transfer-Encoding,
 * List-Unsubscribe, List-Unsubscribe-Post, each as often as it occurs.
 * t= is `now` (unix seconds).  Returns 0, or -1 with a reason in err.
 */
int	dkim_sign(const struct dkim_key *const *keys, int nkeys,
	    const char *msg, size_t len, int64_t now, struct buf *out,
	    char *err, size_t errsz);

#endif
