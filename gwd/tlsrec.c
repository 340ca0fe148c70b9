/*
 * tlsrec.c - the TLS 1.3 record layer of an established session: keys
 * derived from the traffic secrets, records framed, sealed and opened
 * with OpenSSL's AEAD ciphers, a peer's KeyUpdate followed.
 * Standards: RFC 8446 5 (record protocol), 5.3 (per-record nonce), 7.1
 * (HKDF-Expand-Label), 7.2 and 4.6.3 (KeyUpdate); RFC 5116 (AEAD).
 * Exposure: tlsrec_frame(), tlsrec_open() and tlsrec_handshake() take
 * the peer's bytes as they come off the network; nothing of a record is
 * believed before its tag verified, and a record that fails any check
 * is an alert and the end of the session, never a guess.
 * Diagnostics: returns -1 with the TLS alert to send; never logs,
 * never dies.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "tlsrec.h"

const unsigned char tlsrec_key_update[5] = { 24, 0, 0, 1, 0 };

/* One cipher context per AEAD, made at first use and re-keyed for each
 * record (OpenSSL keeps a context's key schedule for its life: one per
 * session would be the 1 KB each that this file exists to save).  The
 * thread that drives the conns is the only user. */
static _Thread_local EVP_CIPHER_CTX *aead_ctx[3];

static EVP_CIPHER_CTX *
aead(const struct tlsrec *r)
{
	static const char *const name[3] = {
		"AES-128-GCM", "AES-256-GCM", "ChaCha20-Poly1305"
	};
	int i = r->suite - 0x1301;
	EVP_CIPHER *cipher;

	if (i < 0 || i > 2)
		return NULL;
	if (aead_ctx[i] != NULL)
		return aead_ctx[i];
	if ((cipher = EVP_CIPHER_fetch(NULL, name[i], NULL)) == NULL)
		return NULL;
	if ((aead_ctx[i] = EVP_CIPHER_CTX_new()) != NULL &&
	    EVP_CipherInit_ex(aead_ctx[i], cipher, NULL, NULL, NULL, 1) != 1) {
		EVP_CIPHER_CTX_free(aead_ctx[i]);
		aead_ctx[i] = NULL;
	}
	EVP_CIPHER_free(cipher);	/* the context holds its own reference */
	return aead_ctx[i];
}

/* HMAC with SHA-256 (hashlen 32) or SHA-384 (48), fetched once: a
 * fetch by name at each of a session's four derivations cost more than
 * the derivations (~20 000 instructions each, against ~5 000). */
static _Thread_local EVP_MAC_CTX *hmac_ctx[2];

static EVP_MAC_CTX *
hmac(int hashlen)
{
	int i = hashlen == 32 ? 0 : hashlen == 48 ? 1 : -1;
	EVP_MAC *mac;
	OSSL_PARAM p[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
		    (char *)(i == 0 ? "SHA256" : "SHA384"), 0),
		OSSL_PARAM_construct_end(),
	};

	if (i < 0)
		return NULL;
	if (hmac_ctx[i] != NULL)
		return hmac_ctx[i];
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return NULL;
	if ((hmac_ctx[i] = EVP_MAC_CTX_new(mac)) != NULL &&
	    EVP_MAC_CTX_set_params(hmac_ctx[i], p) != 1) {
		EVP_MAC_CTX_free(hmac_ctx[i]);
		hmac_ctx[i] = NULL;
	}
	EVP_MAC_free(mac);
	return hmac_ctx[i];
}

int
tlsrec_expand_label(int hashlen, const unsigned char *secret,
    const char *label, unsigned char *out, size_t outlen)
{
	unsigned char info[2 + 1 + 255 + 1 + 1], md[EVP_MAX_MD_SIZE];
	size_t ll = strlen(label), n = 0, mdlen = 0;
	EVP_MAC_CTX *h = hmac(hashlen);

	if (h == NULL || outlen > (size_t)hashlen || 6 + ll > 255)
		return -1;
	/* HkdfLabel: uint16 length, "tls13 " + label, an empty context;
	 * then HKDF-Expand's first (and only needed) block: T(1) =
	 * HMAC(secret, info || 0x01). */
	info[n++] = (unsigned char)(outlen >> 8);
	info[n++] = (unsigned char)outlen;
	info[n++] = (unsigned char)(6 + ll);
	memcpy(info + n, "tls13 ", 6);
	memcpy(info + n + 6, label, ll);
	n += 6 + ll;
	info[n++] = 0;
	info[n++] = 1;
	if (EVP_MAC_init(h, secret, (size_t)hashlen, NULL) != 1 ||
	    EVP_MAC_update(h, info, n) != 1 ||
	    EVP_MAC_final(h, md, &mdlen, sizeof(md)) != 1 ||
	    mdlen != (size_t)hashlen)
		return -1;
	memcpy(out, md, outlen);
	OPENSSL_cleanse(md, sizeof(md));
	return 0;
}

static int
derive(const struct tlsrec *r, struct tlsrec_dir *d)
{
	if (tlsrec_expand_label(r->hashlen, d->secret, "key", d->key,
	    r->keylen) == -1 ||
	    tlsrec_expand_label(r->hashlen, d->secret, "iv", d->iv,
	    sizeof(d->iv)) == -1)
		return -1;
	return 0;
}

int
tlsrec_init(struct tlsrec *r, uint16_t suite, int server,
    const unsigned char *client_secret, const unsigned char *server_secret,
    size_t secretlen, uint64_t rseq, uint64_t wseq)
{
	memset(r, 0, sizeof(*r));
	r->suite = suite;
	r->server = server != 0;
	switch (suite) {
	case 0x1301:
	case 0x1303:
		r->hashlen = 32;
		r->keylen = suite == 0x1301 ? 16 : 32;
		break;
	case 0x1302:
		r->hashlen = 48;
		r->keylen = 32;
		break;
	default:
		return -1;
	}
	if (secretlen != r->hashlen)
		return -1;
	memcpy(r->rd.secret, server ? client_secret : server_secret,
	    secretlen);
	memcpy(r->wr.secret, server ? server_secret : client_secret,
	    secretlen);
	r->rd.seq = rseq;
	r->wr.seq = wseq;
	if (derive(r, &r->rd) == -1 || derive(r, &r->wr) == -1) {
		OPENSSL_cleanse(r, sizeof(*r));
		return -1;
	}
	return 0;
}

int
tlsrec_update(const struct tlsrec *r, struct tlsrec_dir *d)
{
	unsigned char next[TLSREC_MAX_SECRET];

	if (tlsrec_expand_label(r->hashlen, d->secret, "traffic upd", next,
	    r->hashlen) == -1)
		return -1;
	memcpy(d->secret, next, r->hashlen);
	OPENSSL_cleanse(next, sizeof(next));
	d->seq = 0;
	return derive(r, d);
}

/* RFC 8446 5.3: the IV with the sequence number, big-endian and padded
 * to its length, XORed in. */
static void
nonce(const struct tlsrec_dir *d, unsigned char *n)
{
	int i;

	memcpy(n, d->iv, sizeof(d->iv));
	for (i = 0; i < 8; i++)
		n[11 - i] ^= (unsigned char)(d->seq >> (8 * i));
}

long
tlsrec_frame(const unsigned char *p, size_t n, int *alert)
{
	size_t len;

	if (n < 1)
		return 0;
	/* After the handshake every record is encrypted, so its outer
	 * type is application_data; a change_cipher_spec is allowed only
	 * before the peer's Finished (RFC 8446 5). */
	if (p[0] != TLSREC_APPDATA) {
		*alert = TLSREC_UNEXPECTED;
		return -1;
	}
	if (n < TLSREC_HDR)
		return 0;
	/* legacy_record_version is ignored (RFC 8446 5.1). */
	len = (size_t)p[3] << 8 | p[4];
	if (len > TLSREC_MAX_BODY) {
		*alert = TLSREC_OVERFLOW;
		return -1;
	}
	if (len < TLSREC_TAG + 1) {
		*alert = TLSREC_DECODE_ERROR;
		return -1;
	}
	return n < TLSREC_HDR + len ? 0 : (long)(TLSREC_HDR + len);
}

long
tlsrec_open(struct tlsrec *r, const unsigned char *rec, size_t len,
    unsigned char *out, int *type, int *alert)
{
	EVP_CIPHER_CTX *ctx = aead(r);
	unsigned char iv[12], tag[TLSREC_TAG];
	size_t clen = len - TLSREC_HDR - TLSREC_TAG, n;
	int l1 = 0, l2 = 0;

	*alert = TLSREC_INTERNAL;
	if (ctx == NULL || len < TLSREC_HDR + TLSREC_TAG + 1 ||
	    len > TLSREC_MAX)
		return -1;
	nonce(&r->rd, iv);
	/* The tag is copied first: out may be the record's own body. */
	memcpy(tag, rec + len - TLSREC_TAG, TLSREC_TAG);
	if (EVP_CipherInit_ex(ctx, NULL, NULL, r->rd.key, iv, 0) != 1 ||
	    EVP_CipherUpdate(ctx, NULL, &l1, rec, TLSREC_HDR) != 1 ||
	    EVP_CipherUpdate(ctx, out, &l1, rec + TLSREC_HDR,
	    (int)clen) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TLSREC_TAG,
	    tag) != 1)
		return -1;
	if (EVP_CipherFinal_ex(ctx, out + l1, &l2) != 1) {
		OPENSSL_cleanse(out, clen);	/* never believed, never kept */
		*alert = TLSREC_BAD_MAC;
		return -1;
	}
	/* TLSInnerPlaintext: content, the type, zeros of padding; 2^14 + 1
	 * bytes at most, padding included (RFC 8446 5.2, 5.4). */
	if (clen > TLSREC_MAX_PLAIN + 1) {
		*alert = TLSREC_OVERFLOW;
		return -1;
	}
	for (n = clen; n > 0 && out[n - 1] == 0; n--)
		;
	if (n == 0) {
		*alert = TLSREC_UNEXPECTED;
		return -1;
	}
	n--;
	*type = out[n];
	r->rd.seq++;
	return (long)n;
}

long
tlsrec_seal(struct tlsrec *r, int type, const unsigned char *p, size_t n,
    unsigned char *out)
{
	EVP_CIPHER_CTX *ctx = aead(r);
	unsigned char iv[12], t = (unsigned char)type;
	size_t blen = n + 1 + TLSREC_TAG;
	int l = 0;

	if (ctx == NULL || n > TLSREC_MAX_PLAIN)
		return -1;
	out[0] = TLSREC_APPDATA;
	out[1] = 3;
	out[2] = 3;
	out[3] = (unsigned char)(blen >> 8);
	out[4] = (unsigned char)blen;
	nonce(&r->wr, iv);
	if (EVP_CipherInit_ex(ctx, NULL, NULL, r->wr.key, iv, 1) != 1 ||
	    EVP_CipherUpdate(ctx, NULL, &l, out, TLSREC_HDR) != 1 ||
	    (n > 0 && EVP_CipherUpdate(ctx, out + TLSREC_HDR, &l, p,
	    (int)n) != 1) ||
	    EVP_CipherUpdate(ctx, out + TLSREC_HDR + n, &l, &t, 1) != 1 ||
	    EVP_CipherFinal_ex(ctx, out + TLSREC_HDR + n + 1, &l) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TLSREC_TAG,
	    out + TLSREC_HDR + n + 1) != 1)
		return -1;
	r->wr.seq++;
	return (long)(TLSREC_HDR + blen);
}

int
tlsrec_handshake(struct tlsrec *r, const unsigned char *p, size_t n,
    int *alert)
{
	size_t len;

	/* A server's NewSessionTickets, whole, are dropped; one split
	 * over records (OpenSSL sends each whole, in a record of its own)
	 * is refused rather than reassembled in a buffer we do not have. */
	while (!r->server && n >= 4 && p[0] == 4) {
		len = (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
		if (len > n - 4) {
			*alert = TLSREC_UNEXPECTED;
			return -1;
		}
		p += 4 + len;
		n -= 4 + len;
		if (n == 0)
			return 2;
	}
	/* Anything else but a KeyUpdate: a message the peer may not send
	 * after the handshake, or a fragment. */
	if (n < 4 || p[0] != 24) {
		*alert = TLSREC_UNEXPECTED;
		return -1;
	}
	if (p[1] != 0 || p[2] != 0 || p[3] != 1) {
		*alert = TLSREC_DECODE_ERROR;
		return -1;
	}
	/* A key change ends its record: not cut short, nothing after it
	 * (RFC 8446 5.1). */
	if (n != 5) {
		*alert = TLSREC_UNEXPECTED;
		return -1;
	}
	if (p[4] > 1) {
		*alert = TLSREC_ILLEGAL_PARAM;	/* RFC 8446 4.6.3 */
		return -1;
	}
	if (tlsrec_update(r, &r->rd) == -1) {
		*alert = TLSREC_INTERNAL;
		return -1;
	}
	return p[4];
}
