/*
 * dkim_canon.h - DKIM canonicalization (RFC 6376 3.4): what a signer
 * and a verifier hash.  Pure: bytes in, canonical bytes (or their
 * SHA-256) out; unit tests and the fuzzer reach it directly.
 */
#ifndef GW_DKIM_CANON_H
#define GW_DKIM_CANON_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "buf.h"

enum dkim_canon { DKIM_SIMPLE, DKIM_RELAXED };

/* "relaxed/simple" -> hcanon, bcanon; 0, or -1 when not one of the four
 * forms.  A single word means that for the header and simple for the
 * body (RFC 6376 3.5, c=). */
int	dkim_parse_canon(const char *, enum dkim_canon *h, enum dkim_canon *b);
const char *dkim_canon_name(enum dkim_canon);

/*
 * Canonicalize a body (RFC 6376 3.4.3 simple, 3.4.4 relaxed) and append
 * it to out.  The body is CRLF-terminated lines; a body without a final
 * CRLF is treated as if it had one (simple) or as a final line (relaxed).
 * Returns 0, or -1 when out's maximum would be passed.
 */
int	dkim_canon_body(enum dkim_canon, const char *body, size_t len,
	    struct buf *out);
/* The same, hashed with SHA-256 as it is made (a 25 MB body is never
 * copied): the bh= of RFC 6376 3.7.  0 or -1. */
/* SHA-256, fetched once for the process (EVP_sha256() in a digest
 * call makes OpenSSL 3 fetch it by name each time). */
const EVP_MD *dkim_sha256(void);
int	dkim_body_hash(enum dkim_canon, const char *body, size_t len,
	    unsigned char md[SHA256_DIGEST_LENGTH]);

/*
 * Canonicalize one header field (RFC 6376 3.4.1 simple, 3.4.2 relaxed):
 * field[0..len) is the whole field with its continuation lines and its
 * final CRLF (or without it).  Appends the canonical form with a final
 * CRLF.  Returns 0 or -1 as above.
 */
int	dkim_canon_header(enum dkim_canon, const char *field, size_t len,
	    struct buf *out);

/* A header field of a message, as dkim_split_fields() finds it. */
struct dkim_field {
	const char	*p;		/* whole field, continuation lines
					   and CRLF */
	size_t		 len;
	size_t		 namelen;	/* name without WSP before ':';
					   0 = none */
};

/*
 * Split msg[0..len) into its header fields (*fp, *nfp; the caller frees
 * *fp) and its body (*bodyp, *bodylenp).  The header section ends at
 * the first empty line; without one the whole message is header and
 * the body is empty.  0, or -1 when memory runs out.
 */
int	dkim_split_fields(const char *msg, size_t len,
	    struct dkim_field **fp, size_t *nfp, const char **bodyp,
	    size_t *bodylenp);
/* Whether the field's name is `name` (lower case), in any case. */
int	dkim_field_is(const struct dkim_field *, const char *name);

#endif
