/*
 * dkim.c - DKIM signing: the DKIM-Signature field, folded, for each key.
 * The canonical forms are dkim_canon.c's.
 * Standards: RFC 6376 (DKIM), 8463 (Ed25519-SHA256), 8301 (rsa-sha256
 * only, keys of 1024 bits or more).
 * Exposure: canonicalizes message bytes from clients (untrusted, but
 * already accepted) on a worker thread of the network process, which
 * holds no private key: dkim_prepare() there, dkim_sign_digest() in the
 * key process (keyproc.c), dkim_finish() back in the network process.
 * Keeps no state between calls.
 * Diagnostics: never dies; signing returns -1 with the reason in the
 * caller's err (a key that does not fit, a signature too large,
 * OpenSSL's refusal).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include "base64.h"
#include "buf.h"
#include "dkim.h"

#define DKIM_FOLD_COL	76	/* fold before a line would pass this */

/* Fields we sign, in h= order.  From is over-signed (sign_fields). */
static const char *const dkim_fields[] = {
	"from", "to", "cc", "subject", "date", "message-id", "reply-to",
	"in-reply-to", "references", "mime-version", "content-type",
	"content-transfer-encoding", "list-unsubscribe",
	"list-unsubscribe-post",
};
#define DKIM_NFIELDS	(sizeof(dkim_fields) / sizeof(dkim_fields[0]))

static void
seterr(char *err, size_t errsz, const char *msg)
{
	if (err != NULL && errsz > 0)
		snprintf(err, errsz, "%s", msg);
}

const char *
dkim_alg_name(enum dkim_alg a)
{
	switch (a) {
	case DKIM_RSA_SHA256:
		return "rsa-sha256";
	case DKIM_ED25519_SHA256:
		return "ed25519-sha256";
	}
	return "unknown";
}

/* Folding writer for the DKIM-Signature field. */
struct folder {
	struct buf	*out;
	size_t		 col;
};

static int
fold_put(struct folder *fo, const char *s, size_t n)
{
	fo->col += n;
	return buf_append(fo->out, s, n);
}

/* Break the line when n more bytes would not fit. */
static int
fold_room(struct folder *fo, size_t n)
{
	if (fo->col + n <= DKIM_FOLD_COL || fo->col <= 1)
		return 0;
	fo->col = 1;
	return buf_append(fo->out, "\r\n\t", 3);
}

/* "; " before a tag of n bytes, or ";" and a fold when it would not fit. */
static int
fold_sep(struct folder *fo, size_t n)
{
	if (fold_put(fo, ";", 1) == -1 || fold_room(fo, 1 + n) == -1)
		return -1;
	return fo->col > 1 ? fold_put(fo, " ", 1) : 0;
}

static int
fold_tag(struct folder *fo, const char *tag, const char *val)
{
	if (fold_sep(fo, strlen(tag) + 1 + strlen(val)) == -1)
		return -1;
	return fold_put(fo, tag, strlen(tag)) == -1 ||
	    fold_put(fo, "=", 1) == -1 ||
	    fold_put(fo, val, strlen(val)) == -1 ? -1 : 0;
}

/* base64 may be broken with FWS anywhere (6376 3.5, b= and bh=). */
static int
fold_b64(struct folder *fo, const char *s, size_t n)
{
	size_t k;

	while (n > 0) {
		if (fold_room(fo, 1) == -1)
			return -1;
		k = DKIM_FOLD_COL - fo->col;
		if (k == 0)
			k = 1;
		if (k > n)
			k = n;
		if (fold_put(fo, s, k) == -1)
			return -1;
		s += k;
		n -= k;
	}
	return 0;
}

static int
valid_token(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' ||
		    *s == '_'))
			return 0;
	return 1;
}

static int
check_key(const struct dkim_key *k, char *err, size_t errsz)
{
	if (k == NULL) {
		seterr(err, errsz, "dkim: key not loaded");
		return -1;
	}
	if (!valid_token(k->domain) || !valid_token(k->selector)) {
		seterr(err, errsz, "dkim: bad domain or selector");
		return -1;
	}
	if (k->pkey == NULL)		/* held by the key process */
		return k->alg == DKIM_RSA_SHA256 ||
		    k->alg == DKIM_ED25519_SHA256 ? 0 : -1;
	switch (k->alg) {
	case DKIM_RSA_SHA256:
		if (!EVP_PKEY_is_a(k->pkey, "RSA")) {
			seterr(err, errsz, "dkim: rsa-sha256 needs an RSA key");
			return -1;
		}
		/* RFC 8301 3.2: verifiers refuse anything shorter. */
		if (EVP_PKEY_get_bits(k->pkey) < 1024) {
			seterr(err, errsz, "dkim: RSA key under 1024 bits");
			return -1;
		}
		return 0;
	case DKIM_ED25519_SHA256:
		if (!EVP_PKEY_is_a(k->pkey, "ED25519")) {
			seterr(err, errsz,
			    "dkim: ed25519-sha256 needs an Ed25519 key");
			return -1;
		}
		return 0;
	}
	seterr(err, errsz, "dkim: unknown algorithm");
	return -1;
}

/*
 * The signature over the SHA-256 of the signed data: RSA, PKCS#1 v1.5
 * with that digest (what EVP_DigestSign with SHA-256 gives); Ed25519
 * (RFC 8463 3), PureEdDSA over the 32-byte digest itself.
 */
EVP_PKEY_CTX *
dkim_rsa_signer(EVP_PKEY *pkey)
{
	EVP_PKEY_CTX *pc;

	if ((pc = EVP_PKEY_CTX_new(pkey, NULL)) == NULL)
		return NULL;
	if (EVP_PKEY_sign_init(pc) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(pc, dkim_sha256()) != 1) {
		EVP_PKEY_CTX_free(pc);
		return NULL;
	}
	return pc;
}

int
dkim_sign_digest(EVP_PKEY *pkey, EVP_PKEY_CTX *rsa, enum dkim_alg alg,
    const unsigned char digest[DKIM_DIGEST_LEN], struct buf *sig)
{
	EVP_PKEY_CTX *pc = NULL;
	EVP_MD_CTX *ctx = NULL;
	size_t siglen;
	int rc = -1;

	if (alg == DKIM_ED25519_SHA256) {
		if ((ctx = EVP_MD_CTX_new()) == NULL ||
		    EVP_DigestSignInit(ctx, NULL, NULL, NULL, pkey) != 1 ||
		    EVP_DigestSign(ctx, NULL, &siglen, digest,
		    DKIM_DIGEST_LEN) != 1 ||
		    buf_reserve(sig, siglen) == -1 ||
		    EVP_DigestSign(ctx, (unsigned char *)buf_tail(sig), &siglen,
		    digest, DKIM_DIGEST_LEN) != 1)
			goto done;
	} else {
		if (rsa == NULL && (rsa = pc = dkim_rsa_signer(pkey)) == NULL)
			goto done;
		if (EVP_PKEY_sign(rsa, NULL, &siglen, digest,
		    DKIM_DIGEST_LEN) != 1 ||
		    buf_reserve(sig, siglen) == -1 ||
		    EVP_PKEY_sign(rsa, (unsigned char *)buf_tail(sig), &siglen,
		    digest, DKIM_DIGEST_LEN) != 1)
			goto done;
	}
	buf_added(sig, siglen);
	rc = 0;
done:
	EVP_PKEY_CTX_free(pc);
	EVP_MD_CTX_free(ctx);
	return rc;
}

/*
 * Canonicalize the signed fields into hdata, and write h= to fo.  A name
 * listed n times takes its last n instances, bottom-up (5.4.2); listing
 * each name as often as it occurs means taking all of them, in one walk
 * up the header (a message of many To fields costs linear time).  From
 * is listed once more than it occurs so that a From added in transit
 * breaks the signature.
 */
static int
sign_fields(const struct dkim_key *k, const struct dkim_field *f, size_t nf,
    struct folder *fo, struct buf *hdata)
{
	size_t i, j, count, n;
	const char *name;
	int first = 1;

	if (fold_sep(fo, 7) == -1 || fold_put(fo, "h=", 2) == -1)
		return -1;
	for (i = 0; i < DKIM_NFIELDS; i++) {
		name = dkim_fields[i];
		n = strlen(name);
		count = 0;
		for (j = nf; j > 0; j--) {
			if (!dkim_field_is(&f[j - 1], name))
				continue;
			count++;
			if (dkim_canon_header(k->hcanon, f[j - 1].p,
			    f[j - 1].len, hdata) == -1)
				return -1;
		}
		if (i == 0)
			count++;
		for (; count > 0; count--) {
			if (!first && fold_put(fo, ":", 1) == -1)
				return -1;
			if ((!first && fold_room(fo, n + 1) == -1) ||
			    fold_put(fo, name, n) == -1)
				return -1;
			first = 0;
		}
	}
	return 0;
}

/*
 * One signature, up to "b=".  The field is written to p->field in its
 * final folded form up to "b=", that text (canonicalized, without CRLF,
 * 3.7) ends the hash input, and the digest of that input is what the
 * key signs.  b= is last so the bytes hashed under simple
 * canonicalization are the bytes sent.
 */
static int
prepare_one(const struct dkim_key *k, const struct dkim_field *f, size_t nf,
    const unsigned char *bh, int64_t now, struct dkim_part *p)
{
	struct buf hdata, fld;
	struct folder fo;
	char b64[BASE64_ENCODED_SIZE(SHA256_DIGEST_LENGTH)], tmp[64];
	size_t n;
	int rc = -1;

	buf_init(&hdata, 0);
	buf_init(&fld, 0);
	fo.out = &p->field;
	fo.col = 0;

	if (fold_put(&fo, "DKIM-Signature: v=1", 19) == -1 ||
	    fold_tag(&fo, "a", dkim_alg_name(k->alg)) == -1)
		goto done;
	snprintf(tmp, sizeof(tmp), "%s/%s", dkim_canon_name(k->hcanon),
	    dkim_canon_name(k->bcanon));
	if (fold_tag(&fo, "c", tmp) == -1 ||
	    fold_tag(&fo, "d", k->domain) == -1 ||
	    fold_tag(&fo, "s", k->selector) == -1)
		goto done;
	snprintf(tmp, sizeof(tmp), "%lld", (long long)now);
	if (fold_tag(&fo, "t", tmp) == -1)
		goto done;
	if (sign_fields(k, f, nf, &fo, &hdata) == -1)
		goto done;
	n = (size_t)base64_encode(bh, SHA256_DIGEST_LENGTH, b64, sizeof(b64));
	/* bh= fits on a line of its own, so it is never split. */
	if (fold_sep(&fo, 4 + n) == -1 || fold_put(&fo, "bh=", 3) == -1 ||
	    fold_b64(&fo, b64, n) == -1 ||
	    fold_sep(&fo, 3) == -1 || fold_put(&fo, "b=", 2) == -1)
		goto done;

	/* The field so far is the field with b= empty. */
	if (k->hcanon == DKIM_RELAXED) {
		if (dkim_canon_header(DKIM_RELAXED, buf_ptr(&p->field),
		    buf_len(&p->field), &fld) == -1)
			goto done;
		/* 3.7: the field ends the input without its CRLF. */
		if (buf_append(&hdata, buf_ptr(&fld), buf_len(&fld) - 2) == -1)
			goto done;
	} else if (buf_append(&hdata, buf_ptr(&p->field),
	    buf_len(&p->field)) == -1)
		goto done;
	if (EVP_Digest(buf_ptr(&hdata), buf_len(&hdata), p->digest, NULL,
	    dkim_sha256(), NULL) != 1)
		goto done;
	p->col = fo.col;
	rc = 0;
done:
	buf_free(&hdata);
	buf_free(&fld);
	return rc;
}

void
dkim_part_free(struct dkim_part *p)
{
	buf_free(&p->field);
}

int
dkim_finish(const struct dkim_part *p, const void *sig, size_t siglen,
    struct buf *out)
{
	struct folder fo;
	char *sb64;
	size_t n, start = buf_len(out);
	int rc = -1;

	n = base64_encoded_size(siglen);
	if ((sb64 = malloc(n)) == NULL)
		return -1;
	n = (size_t)base64_encode(sig, siglen, sb64, n);
	fo.out = out;
	fo.col = p->col;
	if (buf_append(out, buf_ptr(&p->field), buf_len(&p->field)) == 0 &&
	    fold_b64(&fo, sb64, n) == 0 && buf_append(out, "\r\n", 2) == 0)
		rc = 0;
	else
		out->len = out->off + start;
	free(sb64);
	return rc;
}

int
dkim_prepare(const struct dkim_key *const *keys, int nkeys, const char *msg,
    size_t len, int64_t now, struct dkim_part *parts, char *err, size_t errsz)
{
	unsigned char bh[2][SHA256_DIGEST_LENGTH];
	int have[2] = { 0, 0 };
	struct dkim_field *f = NULL;
	size_t nf = 0, bodylen;
	const char *body;
	enum dkim_canon bc;
	int i;

	for (i = 0; i < nkeys; i++)
		buf_init(&parts[i].field, 0);
	for (i = 0; i < nkeys; i++)
		if (check_key(keys[i], err, errsz) == -1)
			return -1;
	if (nkeys <= 0)
		return 0;
	if (dkim_split_fields(msg, len, &f, &nf, &body, &bodylen) == -1) {
		seterr(err, errsz, "dkim: out of memory");
		return -1;
	}
	for (i = 0; i < nkeys; i++) {
		bc = keys[i]->bcanon == DKIM_RELAXED ? DKIM_RELAXED :
		    DKIM_SIMPLE;
		if (!have[bc]) {
			if (dkim_body_hash(bc, body, bodylen, bh[bc]) == -1) {
				seterr(err, errsz, "dkim: body hash failed");
				goto fail;
			}
			have[bc] = 1;
		}
		if (prepare_one(keys[i], f, nf, bh[bc], now, &parts[i]) == -1) {
			seterr(err, errsz,
			    "dkim: signature too large or out of memory");
			goto fail;
		}
	}
	free(f);
	return 0;
fail:
	free(f);
	return -1;
}

int
dkim_sign(const struct dkim_key *const *keys, int nkeys, const char *msg,
    size_t len, int64_t now, struct buf *out, char *err, size_t errsz)
{
	struct dkim_part parts[DKIM_MAX_SIGS];
	struct buf sig;
	size_t saved = buf_len(out);
	int i, rc = -1;

	if (nkeys > DKIM_MAX_SIGS) {
		seterr(err, errsz, "dkim: too many keys");
		return -1;
	}
	for (i = 0; i < nkeys; i++)
		if (keys[i] == NULL || keys[i]->pkey == NULL) {
			seterr(err, errsz, "dkim: key not loaded");
			return -1;
		}
	if (dkim_prepare(keys, nkeys, msg, len, now, parts, err, errsz) == -1)
		goto done;
	buf_init(&sig, 0);
	for (i = 0; i < nkeys; i++) {
		buf_reset(&sig);
		if (dkim_sign_digest(keys[i]->pkey, NULL, keys[i]->alg,
		    parts[i].digest, &sig) == -1) {
			seterr(err, errsz, "dkim: signing failed");
			break;
		}
		if (dkim_finish(&parts[i], buf_ptr(&sig), buf_len(&sig),
		    out) == -1) {
			seterr(err, errsz,
			    "dkim: signature too large or out of memory");
			break;
		}
	}
	buf_free(&sig);
	rc = i == nkeys ? 0 : -1;
	if (rc == -1)
		out->len = out->off + saved;
done:
	for (i = 0; i < nkeys; i++)
		dkim_part_free(&parts[i]);
	return rc;
}
