/*
 * dkimkey.h - DKIM signing keys as gw stores them, and their DNS records.
 *
 * gw.db's dkim_key table holds each private key as PKCS#8 PEM and its
 * public half as the p= value: RSA as base64 of the DER
 * SubjectPublicKeyInfo (RFC 6376 3.6.1), Ed25519 as base64 of the raw
 * 32-byte key (RFC 8463 4.2).  gwctl makes and checks them; gwd loads
 * the active ones with dkimkey_from_pem().
 * Standards: RFC 6376 3.6 (key records), RFC 8301 (RSA sizes), RFC 8463.
 * Exposure: dkimkey_parse_record() reads TXT records from the network.
 */
#ifndef GW_DKIMKEY_H
#define GW_DKIMKEY_H

#include <stddef.h>

#include <openssl/evp.h>

#include "buf.h"

#define DKIMKEY_RSA_DEFAULT_BITS	2048
#define DKIMKEY_RSA_MIN_BITS		2048
#define DKIMKEY_RSA_MAX_BITS		4096	/* RFC 8301 3.2 */
#define DKIMKEY_SELECTOR_MAX		63
#define DKIMKEY_PEM_MAX			(64 * 1024)
#define DKIMKEY_TXT_STRING		250	/* < 255 per character-string */

enum dkimkey_alg { DKIMKEY_RSA, DKIMKEY_ED25519 };

/* "rsa-sha256" / "ed25519-sha256": dkim_key.algorithm and the a= tag. */
const char *dkimkey_alg_name(enum dkimkey_alg);
/* "rsa" / "ed25519": the k= tag. */
const char *dkimkey_alg_k(enum dkimkey_alg);
/* Accepts the k= and the a= spellings; 0 or -1. */
int	dkimkey_alg_parse(const char *, enum dkimkey_alg *);

/* 1 when s is a selector gw accepts: 1..63 characters, dot-separated
 * labels of [a-z0-9-] not starting or ending with '-'. */
int	dkimkey_valid_selector(const char *s);

/* A size `keygen --bits` accepts: 2048, 3072 or 4096.  0 or -1. */
int	dkimkey_check_bits(int bits, const char **errstr);

/* A new key; bits is ignored for Ed25519.  NULL with *errstr. */
EVP_PKEY *dkimkey_generate(enum dkimkey_alg, int bits, const char **errstr);

/*
 * Parse a PEM private key: PKCS#8 ("BEGIN PRIVATE KEY") or PKCS#1
 * ("BEGIN RSA PRIVATE KEY"); encrypted keys are refused, never prompted
 * for.  NULL with *errstr.
 */
EVP_PKEY *dkimkey_from_pem(const char *pem, size_t len, const char **errstr);

/*
 * The algorithm and size of a key, or -1 with *errstr when gw does not
 * sign with it (not RSA or Ed25519, RSA outside 2048..4096 bits).
 * *bits is 0 for Ed25519.
 */
int	dkimkey_classify(EVP_PKEY *, enum dkimkey_alg *, int *bits,
	    const char **errstr);

/* PKCS#8 PEM of the private key, NUL-terminated, or NULL.  Free it with
 * dkimkey_free_secret(), which wipes it first. */
char	*dkimkey_private_pem(EVP_PKEY *);
void	 dkimkey_free_secret(char *);

/* The p= value (malloc'd), or NULL. */
char	*dkimkey_public(EVP_PKEY *);

/* "v=DKIM1; k=rsa; p=..." into b; p NULL or "" gives the revocation
 * record (RFC 6376 3.6.1: an empty p= means the key was revoked). */
int	dkimkey_txt(struct buf *, enum dkimkey_alg, const char *p);

/*
 * The record as one zone-file line, with a final newline:
 *   SEL._domainkey.DOMAIN. IN TXT ( "v=DKIM1; k=rsa; " "p=MIIB..." ... )
 * every character-string at most DKIMKEY_TXT_STRING bytes.
 */
int	dkimkey_zone_line(struct buf *, const char *selector,
	    const char *domain, enum dkimkey_alg, const char *p);

/* A key record read from DNS (RFC 6376 3.6.1 tag list). */
struct dkimkey_record {
	char		 k[16];		/* "rsa" when absent */
	const char	*p;		/* whitespace removed; "" revoked */
};

/*
 * Parse txt (the TXT RR's strings concatenated) in place.  Returns 0, or
 * -1 when it is not a DKIM key record: bad tag-list syntax, a v= other
 * than the first tag or other than "DKIM1", or no p= tag.
 */
int	dkimkey_parse_record(char *txt, struct dkimkey_record *);

#endif
