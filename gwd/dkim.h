/*
 * dkim.h - DKIM signing (RFC 6376, RFC 8463 Ed25519, RFC 8301); the
 * canonical forms it signs are dkim_canon.h's.
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
#include "dkim_canon.h"

enum dkim_alg { DKIM_RSA_SHA256, DKIM_ED25519_SHA256 };

struct dkim_key {
	char		 domain[256];	/* d=, lower case */
	char		 selector[64];	/* s= */
	enum dkim_alg	 alg;
	enum dkim_canon	 hcanon;	/* header canonicalization */
	enum dkim_canon	 bcanon;	/* body canonicalization */
	EVP_PKEY	*pkey;		/* private key (RSA or Ed25519) */
};

/* "rsa-sha256" / "ed25519-sha256" */
const char *dkim_alg_name(enum dkim_alg);

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
