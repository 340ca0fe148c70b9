/*
 * dkim.h - DKIM signing (RFC 6376, RFC 8463 Ed25519, RFC 8301); the
 * canonical forms it signs are dkim_canon.h's.
 *
 * Pure apart from OpenSSL's hashing and signing: a message in, signature
 * header fields out.  gwd prepares on a worker thread, never on the
 * event loop, because a 25 MB body takes a while to hash; the private
 * key signs in the key process (keyproc.h).
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
	EVP_PKEY	*pkey;		/* private key; NULL in the network
					 * process (keyproc.c holds it) */
};

#define DKIM_DIGEST_LEN	32		/* SHA-256 */
#define DKIM_MAX_SIGS	4		/* signatures on one message */

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

/*
 * The same in three steps, so the private key can live in another
 * process.  dkim_prepare() writes each key's field up to "b=" into
 * parts[i] (which it initialises; free each with dkim_part_free(), also
 * after a failure) with the digest its b= signs; a key's pkey may be
 * NULL.  dkim_sign_digest() signs a digest with a private key and, for
 * RSA, the context dkim_rsa_signer() made for it once (NULL: one is made
 * for this signature; OpenSSL 3 fetches the algorithm and the digest in
 * each EVP_PKEY_sign_init, 0.5% of a signature, so a process that signs
 * many times keeps one per key).
 * dkim_finish() appends the whole folded field with the signature sig
 * to out.  Each returns 0, or -1 (with the reason in err for prepare).
 */
struct dkim_part {
	struct buf	 field;
	size_t		 col;		/* length of its last line */
	unsigned char	 digest[DKIM_DIGEST_LEN];
};
int	dkim_prepare(const struct dkim_key *const *keys, int nkeys,
	    const char *msg, size_t len, int64_t now, struct dkim_part *parts,
	    char *err, size_t errsz);
EVP_PKEY_CTX *dkim_rsa_signer(EVP_PKEY *);
int	dkim_sign_digest(EVP_PKEY *, EVP_PKEY_CTX *rsa, enum dkim_alg,
	    const unsigned char digest[DKIM_DIGEST_LEN], struct buf *sig);
int	dkim_finish(const struct dkim_part *, const void *sig, size_t siglen,
	    struct buf *out);
void	dkim_part_free(struct dkim_part *);

#endif
