// sources: gwd/tlsrec.c
/*
 * fuzz_tlsrec.c - the TLS 1.3 record layer fed what a hostile peer can
 * send.  The first byte picks one of three games:
 *  - raw: the rest is a stream of records off the network, framed,
 *    opened (in place or not) by the server or the client and, for
 *    handshake records, handed to tlsrec_handshake(), until an alert.  Few get past the tag: this is
 *    the framing and the bounds before it.
 *  - inner: the rest is a list of inner plaintexts (2 bytes of length,
 *    then content, type and padding as the input has them), sealed here
 *    with OpenSSL's AES-128-GCM under the peer's current key, so the
 *    fuzzer reaches what comes after the tag; the verdicts of frame and
 *    open are checked against ones worked out here, and an accepted
 *    KeyUpdate moves the peer's key too.
 *  - seal: the rest is a list of plaintexts (a type byte, 2 bytes of
 *    length, content), each sealed by tlsrec_seal() in one of the three
 *    suites and opened by the other side: the same bytes and type back.
 * Everywhere: tlsrec_frame() never says more than it was given, and a
 * whole record's every prefix is "not yet"; an opened plaintext is at
 * most 2^14 bytes; buffers are allocated to the exact size the header
 * promises, so ASan sees any byte read or written beyond.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tlsrec.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const uint16_t suites[3] = { 0x1301, 0x1302, 0x1303 };

/* RFC 8448 3's application traffic secrets: the RFC's client records
 * make seeds that open. */
static const unsigned char rfc_c[32] = {
	0x9e, 0x40, 0x64, 0x6c, 0xe7, 0x9a, 0x7f, 0x9d, 0xc0, 0x5a, 0xf8,
	0x88, 0x9b, 0xce, 0x65, 0x52, 0x87, 0x5a, 0xfa, 0x0b, 0x06, 0xdf,
	0x00, 0x87, 0xf7, 0x92, 0xeb, 0xb7, 0xc1, 0x75, 0x04, 0xa5
}, rfc_s[32] = {
	0xa1, 0x1a, 0xf9, 0xf0, 0x55, 0x31, 0xf8, 0x56, 0xad, 0x47, 0x11,
	0x6b, 0x45, 0xa9, 0x50, 0x32, 0x82, 0x04, 0xb4, 0xf4, 0x4b, 0xfb,
	0x6b, 0x3a, 0x4b, 0x4f, 0x1f, 0x3f, 0xcb, 0x63, 0x16, 0x43
};

/* A client and a server of `suite`: the RFC's secrets for 0x1301,
 * fixed made-up ones for the others. */
static void
session(uint16_t suite, struct tlsrec *cl, struct tlsrec *sv)
{
	unsigned char c[TLSREC_MAX_SECRET], s[TLSREC_MAX_SECRET];
	size_t i, len = suite == 0x1302 ? 48 : 32;

	for (i = 0; i < len; i++) {
		c[i] = suite == 0x1301 ? rfc_c[i] : (unsigned char)(0xc0 + i);
		s[i] = suite == 0x1301 ? rfc_s[i] : (unsigned char)(0x50 + i);
	}
	assert(tlsrec_init(cl, suite, 0, c, s, len, 0, 0) == 0);
	assert(tlsrec_init(sv, suite, 1, c, s, len, 0, 0) == 0);
}

/* One whole record (as framed) opened by `to`, from a buffer of exactly
 * its size into one of exactly the size the contract asks for (or in
 * place).  Returns the handshake's verdict for handshake records, 2 for
 * others, -1 when the session ends. */
static int
take(struct tlsrec *to, const uint8_t *p, size_t len, int inplace,
    long *plen, int *ptype)
{
	uint64_t seq = to->rd.seq;
	unsigned char *r, *o;
	long n;
	int type = -1, alert = -1, hs = 2;

	assert(len >= TLSREC_HDR + TLSREC_TAG + 1 && len <= TLSREC_MAX);
	r = malloc(len);
	assert(r != NULL);
	memcpy(r, p, len);
	o = inplace ? r + TLSREC_HDR : malloc(len - TLSREC_HDR - TLSREC_TAG);
	assert(o != NULL);
	n = tlsrec_open(to, r, len, o, &type, &alert);
	if (n == -1) {
		assert(alert == TLSREC_BAD_MAC || alert == TLSREC_UNEXPECTED ||
		    alert == TLSREC_OVERFLOW);
		assert(to->rd.seq == seq);
		hs = -1;
	} else {
		assert(n >= 0 && n <= TLSREC_MAX_PLAIN);
		assert((size_t)n < len - TLSREC_HDR - TLSREC_TAG);
		assert(type > 0 && type <= 255);
		assert(to->rd.seq == seq + 1);
		if (type == TLSREC_HANDSHAKE) {
			/* 2: a client's NewSessionTickets, dropped. */
			hs = tlsrec_handshake(to, o, (size_t)n, &alert);
			assert(hs >= -1 && hs <= 2);
			if (hs == -1)
				assert(alert == TLSREC_UNEXPECTED ||
				    alert == TLSREC_DECODE_ERROR ||
				    alert == 47);	/* illegal_parameter */
			else if (hs != 2)
				assert(n == 5 && o[0] == 24 && o[4] == hs &&
				    to->rd.seq == 0);
		}
	}
	*plen = n;
	*ptype = type;
	if (!inplace)
		free(o);
	free(r);
	return hs;
}

/* frame's verdict on p[0..n): never more than n, and a whole record's
 * prefixes all "not yet". */
static long
frame(const uint8_t *p, size_t n, int *alert)
{
	long l = tlsrec_frame(p, n, alert);
	int a;

	assert(l >= -1 && (l == -1 || (size_t)l <= n));
	if (l > 0) {
		assert(l >= TLSREC_HDR + TLSREC_TAG + 1 && l <= TLSREC_MAX);
		assert(tlsrec_frame(p, (size_t)l - 1, &a) == 0);
		assert(tlsrec_frame(p, TLSREC_HDR, &a) == 0);
	}
	return l;
}

static void
raw(const uint8_t *p, size_t size, int inplace, int client)
{
	struct tlsrec cl, sv;
	size_t off = 0;
	long l, n;
	int alert = -1, type;

	session(0x1301, &cl, &sv);
	while (off < size) {
		if ((l = frame(p + off, size - off, &alert)) <= 0) {
			if (l == -1)
				assert(alert == TLSREC_UNEXPECTED ||
				    alert == TLSREC_OVERFLOW ||
				    alert == TLSREC_DECODE_ERROR);
			return;
		}
		if (take(client ? &cl : &sv, p + off, (size_t)l, inplace, &n,
		    &type) == -1)
			return;
		off += (size_t)l;
	}
}

/* The inner plaintext q (n bytes) sealed with AES-128-GCM under the
 * peer's write key into o: what a peer that pads or types as it likes
 * would send. */
static size_t
seal_inner(const struct tlsrec *peer, const uint8_t *q, size_t n,
    unsigned char *o)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	unsigned char nonce[12];
	size_t blen = n + TLSREC_TAG;
	int i, l;

	assert(ctx != NULL);
	memcpy(nonce, peer->wr.iv, 12);
	for (i = 0; i < 8; i++)
		nonce[11 - i] ^= (unsigned char)(peer->wr.seq >> (8 * i));
	o[0] = TLSREC_APPDATA;
	o[1] = 3;
	o[2] = 3;
	o[3] = (unsigned char)(blen >> 8);
	o[4] = (unsigned char)blen;
	assert(EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), NULL,
	    peer->wr.key, nonce) == 1);
	assert(EVP_EncryptUpdate(ctx, NULL, &l, o, TLSREC_HDR) == 1);
	assert(n == 0 || EVP_EncryptUpdate(ctx, o + TLSREC_HDR, &l, q,
	    (int)n) == 1);
	assert(EVP_EncryptFinal_ex(ctx, o + TLSREC_HDR + n, &l) == 1);
	assert(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TLSREC_TAG,
	    o + TLSREC_HDR + n) == 1);
	EVP_CIPHER_CTX_free(ctx);
	return TLSREC_HDR + blen;
}

static void
inner(const uint8_t *p, size_t size, int inplace)
{
	static unsigned char r[TLSREC_HDR + 0x10000 + TLSREC_TAG];
	struct tlsrec cl, sv;
	size_t off = 0, n, len, m;
	long l, got;
	int alert, type, hs;

	session(0x1301, &cl, &sv);
	while (size - off >= 2) {
		n = (size_t)p[off] << 8 | p[off + 1];
		off += 2;
		if (n > size - off)
			n = size - off;
		len = seal_inner(&cl, p + off, n, r);
		cl.wr.seq++;
		alert = -1;
		l = frame(r, len, &alert);
		if (n + TLSREC_TAG > TLSREC_MAX_BODY) {
			assert(l == -1 && alert == TLSREC_OVERFLOW);
			return;
		}
		if (n == 0) {
			assert(l == -1 && alert == TLSREC_DECODE_ERROR);
			return;
		}
		assert(l == (long)len);
		/* What open must find: the last byte not zero is the type,
		 * all before it content. */
		for (m = n; m > 0 && p[off + m - 1] == 0; m--)
			;
		hs = take(&sv, r, len, inplace, &got, &type);
		/* No type, or an inner plaintext over 2^14 + 1 bytes with
		 * its padding (RFC 8446 5.4): refused. */
		if (m == 0 || n > TLSREC_MAX_PLAIN + 1) {
			assert(got == -1);
			return;
		}
		assert(got == (long)(m - 1) && type == p[off + m - 1]);
		if (hs == -1)
			return;
		if (hs == 0 || hs == 1)
			assert(tlsrec_update(&cl, &cl.wr) == 0);
		off += n;
	}
}

static void
seal(const uint8_t *p, size_t size, uint16_t suite, int inplace)
{
	struct tlsrec cl, sv;
	unsigned char *r;
	size_t off = 0, n;
	long l, got;
	int type, t, alert;

	session(suite, &cl, &sv);
	while (size - off >= 3) {
		t = p[off] != 0 ? p[off] : TLSREC_APPDATA;
		n = ((size_t)p[off + 1] << 8 | p[off + 2]) & 0x7fff;
		off += 3;
		if (n > size - off)
			n = size - off;
		r = malloc(TLSREC_HDR + n + 1 + TLSREC_TAG);
		assert(r != NULL);
		if (n > TLSREC_MAX_PLAIN) {
			assert(tlsrec_seal(&cl, t, p + off, n, r) == -1);
			assert(cl.wr.seq == sv.rd.seq);
			free(r);
			return;
		}
		l = tlsrec_seal(&cl, t, p + off, n, r);
		assert(l == (long)(TLSREC_HDR + n + 1 + TLSREC_TAG));
		assert(frame(r, (size_t)l, &alert) == l);
		if (t == TLSREC_HANDSHAKE) {
			/* A KeyUpdate would move sv's key: cl's too. */
			if (take(&sv, r, (size_t)l, inplace, &got, &type) >= 0)
				assert(tlsrec_update(&cl, &cl.wr) == 0);
			assert(got == (long)n && type == t);
		} else {
			unsigned char *o = inplace ? r + TLSREC_HDR :
			    malloc(n + 1);

			assert(o != NULL);
			got = tlsrec_open(&sv, r, (size_t)l, o, &type, &alert);
			assert(got == (long)n && type == t);
			assert(memcmp(o, p + off, n) == 0);
			if (!inplace)
				free(o);
		}
		free(r);
		off += n;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int inplace;

	if (size < 1)
		return 0;
	inplace = data[0] >> 7;
	switch (data[0] & 3) {
	case 0:
		raw(data + 1, size - 1, inplace, data[0] >> 6 & 1);
		break;
	case 1:
		inner(data + 1, size - 1, inplace);
		break;
	default:
		seal(data + 1, size - 1, suites[(data[0] >> 2) % 3], inplace);
		break;
	}
	return 0;
}
