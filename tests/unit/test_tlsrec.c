// sources: gwd/tlsrec.c
/*
 * test_tlsrec.c - the TLS 1.3 record layer against RFC 8448 section 3
 * (the simple 1-RTT handshake): the application keys and IVs derived
 * from the RFC's traffic secrets, and the RFC's protected records
 * opened and sealed byte for byte, at the RFC's sequence numbers.  Then
 * round trips in every suite, tampering, framing, the inner plaintext's
 * padding and bounds (records built here with OpenSSL's AES-GCM, not
 * with the code under test), a peer's KeyUpdate, and the "traffic upd"
 * derivation against OpenSSL's own HKDF-Expand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "tlsrec.h"

/* RFC 8448 3: the application traffic secrets, what they derive, and
 * the protected records of the application phase.  The server's first
 * application record (its sequence number 0) is the NewSessionTicket;
 * its 50 bytes of data go at 1 and its close_notify at 2.  The client's
 * data go at 0 and its close_notify at 1. */
static const char c_ap_secret[] =
    "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5";
static const char s_ap_secret[] =
    "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643";
static const char c_ap_key[] = "17422dda596ed5d9acd890e3c63f5051";
static const char c_ap_iv[] = "5b78923dee08579033e523d9";
static const char s_ap_key[] = "9f02283b6c9c07efc26bb9f2ac92e356";
static const char s_ap_iv[] = "cf782b88dd83549aadf1e984";
static const char c_data_rec[] =
    "1703030043a23f7054b62c94d0affafe8228ba55cbefacea42f914aa66bcab3f"
    "2b9819a8a5b46b395bd54a9a20441e2b62974e1f5a6292a2977014bd1e3deae6"
    "3aeebb21694915e4";
static const char s_data_rec[] =
    "17030300432e937e11ef4ac740e538ad36005fc4a46932fc3225d05f82aa1b36"
    "e30efaf97d90e6dffc602dcb501a59a8fcc49c4bf2e5f0a21c0047c2abf33254"
    "0dd032e167c2955d";
static const char c_alert_rec[] =
    "1703030013c9872760655666b74d7ff1153efd6db6d0b0e3";
static const char s_alert_rec[] =
    "1703030013b58fd67166ebf599d24720cfbe7efa7a8864a9";
static const char s_ticket_rec[] =
    "17030300de3a6b8f90414a97d6959c3487680de5134a2b240e6cffac116e95d4"
    "1d6af8f6b580dcf3d11d63c758db289a015940252f55713e061dc13e078891a3"
    "8efbcf5753ad8ef170ad3c7353d16d9da773b9ca7f2b9fa1b6c0d4a3d03f75e0"
    "9c30ba1e62972ac46f75f7b981be63439b2999ce13064615139891d5e4c5b406"
    "f16e3fc181a77ca475840025db2f0a77f81b5ab05b94c01346755f69232c8651"
    "9d86cbeeac87aac347d143f9605d64f650db4d023e70e952ca49fe5137121c74"
    "bc2697687e248746d6df353005f3bce18696129c8153556b3b6c6779b37bf159"
    "85684f";
static const char s_ticket[] =
    "040000c90000001efad6aac502000000b22c035d829359ee5ff7af4ec9000000"
    "00262a6494dc486d2c8a34cb33fa90bf1b0070ad3c498883c9367c09a2be785a"
    "bc55cd226097a3a982117283f82a03a143efd3ff5dd36d64e861be7fd61d2827"
    "db279cce145077d454a3664d4e6da4d29ee03725a6a4dafcd0fc67d2aea70529"
    "513e3da2677fa5906c5b3f7d8f92f228bda40dda721470f9fbf297b5aea61764"
    "6fac5c03272e970727c621a79141ef5f7de6505e5bfbc388e93343694093934a"
    "e4d3570008002a000400000400";

#define BIG	(TLSREC_MAX + 64)

/* Scratch big enough for a whole record, kept off the stack. */
static unsigned char rec[BIG], rec2[BIG], out[BIG], pt[BIG];

static size_t
unhex(const char *s, unsigned char *b)
{
	size_t n = 0;
	unsigned int v;

	for (; s[0] != '\0' && s[1] != '\0'; s += 2) {
		assert_int_equal(sscanf(s, "%2x", &v), 1);
		b[n++] = (unsigned char)v;
	}
	return n;
}

static void
rfc_init(struct tlsrec *r, int server, uint64_t rseq, uint64_t wseq)
{
	unsigned char c[32], s[32];

	unhex(c_ap_secret, c);
	unhex(s_ap_secret, s);
	assert_int_equal(tlsrec_init(r, 0x1301, server, c, s, 32, rseq,
	    wseq), 0);
}

static void
rfc_payload(unsigned char *p)
{
	int i;

	for (i = 0; i < 50; i++)
		p[i] = (unsigned char)i;
}

/* A client and a server tlsrec for `suite`, with made-up secrets of its
 * hash's length. */
static void
pair(uint16_t suite, struct tlsrec *cl, struct tlsrec *sv)
{
	unsigned char c[TLSREC_MAX_SECRET], s[TLSREC_MAX_SECRET];
	size_t i, len = suite == 0x1302 ? 48 : 32;

	for (i = 0; i < len; i++) {
		c[i] = (unsigned char)(i * 7 + suite);
		s[i] = (unsigned char)(i * 13 + 1);
	}
	assert_int_equal(tlsrec_init(cl, suite, 0, c, s, len, 0, 0), 0);
	assert_int_equal(tlsrec_init(sv, suite, 1, c, s, len, 0, 0), 0);
}

/* An AES-128-GCM record sealed here, independently of tlsrec_seal():
 * the inner plaintext `inner` (content, type, padding: whatever the
 * caller made) under key/iv at sequence number seq. */
static size_t
hand_seal(const unsigned char *key, const unsigned char *iv, uint64_t seq,
    const unsigned char *inner, size_t n, unsigned char *o)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	unsigned char nonce[12];
	size_t blen = n + TLSREC_TAG;
	int i, l;

	assert_non_null(ctx);
	memcpy(nonce, iv, 12);
	for (i = 0; i < 8; i++)
		nonce[11 - i] ^= (unsigned char)(seq >> (8 * i));
	o[0] = 23;
	o[1] = 3;
	o[2] = 3;
	o[3] = (unsigned char)(blen >> 8);
	o[4] = (unsigned char)blen;
	assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, key,
	    nonce), 1);
	assert_int_equal(EVP_EncryptUpdate(ctx, NULL, &l, o, 5), 1);
	assert_int_equal(EVP_EncryptUpdate(ctx, o + 5, &l, inner, (int)n), 1);
	assert_int_equal(EVP_EncryptFinal_ex(ctx, o + 5 + n, &l), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG,
	    TLSREC_TAG, o + 5 + n), 1);
	EVP_CIPHER_CTX_free(ctx);
	return 5 + blen;
}

/* HKDF-Expand-Label(secret, label, "", outlen) by OpenSSL's HKDF in
 * expand-only mode, the HkdfLabel built here (RFC 8446 7.1). */
static void
hkdf_label(const char *md, const unsigned char *secret, size_t slen,
    const char *label, unsigned char *o, size_t olen)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *k = EVP_KDF_CTX_new(kdf);
	unsigned char info[300];
	size_t n = 0, ll = strlen(label);
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
	OSSL_PARAM params[5];

	assert_non_null(k);
	info[n++] = (unsigned char)(olen >> 8);
	info[n++] = (unsigned char)olen;
	info[n++] = (unsigned char)(6 + ll);
	memcpy(info + n, "tls13 ", 6);
	memcpy(info + n + 6, label, ll);
	n += 6 + ll;
	info[n++] = 0;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)md, 0);
	params[1] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)secret, slen);
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
	    info, n);
	params[4] = OSSL_PARAM_construct_end();
	assert_int_equal(EVP_KDF_derive(k, o, olen, params), 1);
	EVP_KDF_CTX_free(k);
	EVP_KDF_free(kdf);
}

static void
test_expand_label_rfc8448(void **state)
{
	unsigned char secret[32], want[16], got[16];

	unhex(c_ap_secret, secret);
	assert_int_equal(tlsrec_expand_label(32, secret, "key", got, 16), 0);
	assert_memory_equal(got, want, unhex(c_ap_key, want));
	assert_int_equal(tlsrec_expand_label(32, secret, "iv", got, 12), 0);
	assert_memory_equal(got, want, unhex(c_ap_iv, want));
	unhex(s_ap_secret, secret);
	assert_int_equal(tlsrec_expand_label(32, secret, "key", got, 16), 0);
	assert_memory_equal(got, want, unhex(s_ap_key, want));
	assert_int_equal(tlsrec_expand_label(32, secret, "iv", got, 12), 0);
	assert_memory_equal(got, want, unhex(s_ap_iv, want));
	/* Only one HMAC block, and only SHA-256 and SHA-384. */
	assert_int_equal(tlsrec_expand_label(32, secret, "key", out, 33), -1);
	assert_int_equal(tlsrec_expand_label(20, secret, "key", got, 16), -1);
}

static void
test_init_keys(void **state)
{
	struct tlsrec r;
	unsigned char c[48] = { 0 }, s[48] = { 0 }, want[16];

	/* The server reads with the client's keys and writes with its own;
	 * the client the other way round. */
	rfc_init(&r, 1, 0, 0);
	assert_memory_equal(r.rd.key, want, unhex(c_ap_key, want));
	assert_memory_equal(r.rd.iv, want, unhex(c_ap_iv, want));
	assert_memory_equal(r.wr.key, want, unhex(s_ap_key, want));
	assert_memory_equal(r.wr.iv, want, unhex(s_ap_iv, want));
	rfc_init(&r, 0, 0, 0);
	assert_memory_equal(r.rd.key, want, unhex(s_ap_key, want));
	assert_memory_equal(r.wr.key, want, unhex(c_ap_key, want));
	/* Unknown suites (TLS_AES_128_CCM_SHA256 too), wrong lengths. */
	assert_int_equal(tlsrec_init(&r, 0x1304, 1, c, s, 32, 0, 0), -1);
	assert_int_equal(tlsrec_init(&r, 0x1300, 1, c, s, 32, 0, 0), -1);
	assert_int_equal(tlsrec_init(&r, 0x1301, 1, c, s, 48, 0, 0), -1);
	assert_int_equal(tlsrec_init(&r, 0x1302, 1, c, s, 32, 0, 0), -1);
	assert_int_equal(tlsrec_init(&r, 0x1302, 1, c, s, 48, 0, 0), 0);
	assert_int_equal(r.keylen, 32);
	assert_int_equal(tlsrec_init(&r, 0x1303, 1, c, s, 32, 0, 0), 0);
	assert_int_equal(r.keylen, 32);
}

/* The RFC's close_notify record (alert 1 0, 24 bytes) opened by `to`
 * and sealed, the same bytes, by `from`. */
static void
close_notify(struct tlsrec *to, struct tlsrec *from, const char *hex)
{
	size_t len = unhex(hex, rec);
	int type = -1, alert = -1;

	assert_int_equal(len, 24);
	assert_int_equal(tlsrec_open(to, rec, len, out, &type, &alert), 2);
	assert_int_equal(type, TLSREC_ALERT);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], TLSREC_CLOSE_NOTIFY);
	assert_int_equal(tlsrec_seal(from, TLSREC_ALERT, out, 2, rec2), 24);
	assert_memory_equal(rec2, rec, 24);
}

/* The client's 50 bytes at its sequence number 0: the server opens the
 * RFC's record, in place and into another buffer; the client seals the
 * RFC's record. */
static void
test_rfc8448_client_data(void **state)
{
	struct tlsrec sv, cl;
	unsigned char want[50];
	size_t len = unhex(c_data_rec, rec);
	int type = -1, alert = -1;

	rfc_payload(want);
	assert_int_equal(len, 72);
	assert_int_equal(tlsrec_frame(rec, len, &alert), 72);
	rfc_init(&sv, 1, 0, 0);
	assert_int_equal(tlsrec_open(&sv, rec, len, out, &type, &alert), 50);
	assert_int_equal(type, TLSREC_APPDATA);
	assert_memory_equal(out, want, 50);
	assert_int_equal(sv.rd.seq, 1);
	assert_int_equal(sv.wr.seq, 0);

	rfc_init(&sv, 1, 0, 0);
	assert_int_equal(tlsrec_open(&sv, rec, len, rec + TLSREC_HDR, &type,
	    &alert), 50);
	assert_int_equal(type, TLSREC_APPDATA);
	assert_memory_equal(rec + TLSREC_HDR, want, 50);

	rfc_init(&cl, 0, 0, 0);
	assert_int_equal(tlsrec_seal(&cl, TLSREC_APPDATA, want, 50, out), 72);
	assert_memory_equal(out, rec2, unhex(c_data_rec, rec2));
	assert_int_equal(cl.wr.seq, 1);

	/* Then its close_notify (alert 1 0) at 1, both ways. */
	close_notify(&sv, &cl, c_alert_rec);
}

/* The server's records: the NewSessionTicket at 0 (a handshake record),
 * the 50 bytes at 1, close_notify at 2. */
static void
test_rfc8448_server_data(void **state)
{
	struct tlsrec sv, cl;
	unsigned char want[205];
	size_t len = unhex(s_ticket_rec, rec);
	int type = -1, alert = -1;

	rfc_init(&cl, 0, 0, 0);
	assert_int_equal(len, 227);
	assert_int_equal(tlsrec_frame(rec, len, &alert), 227);
	assert_int_equal(tlsrec_open(&cl, rec, len, out, &type, &alert), 205);
	assert_int_equal(type, TLSREC_HANDSHAKE);
	assert_memory_equal(out, want, unhex(s_ticket, want));

	rfc_payload(want);
	len = unhex(s_data_rec, rec);
	assert_int_equal(tlsrec_open(&cl, rec, len, out, &type, &alert), 50);
	assert_int_equal(type, TLSREC_APPDATA);
	assert_memory_equal(out, want, 50);
	assert_int_equal(cl.rd.seq, 2);

	/* Sealed by a server whose sequence number 0 went to the ticket. */
	rfc_init(&sv, 1, 0, 1);
	assert_int_equal(tlsrec_seal(&sv, TLSREC_APPDATA, want, 50, out), 72);
	assert_memory_equal(out, rec, 72);

	close_notify(&cl, &sv, s_alert_rec);
}

static void
roundtrip(struct tlsrec *from, struct tlsrec *to, size_t n, int inplace)
{
	uint64_t ws = from->wr.seq, rs = to->rd.seq;
	unsigned char *o = inplace ? rec + TLSREC_HDR : out;
	long len;
	size_t i;
	int type = -1, alert = -1;

	for (i = 0; i < n; i++)
		pt[i] = (unsigned char)(i * 31 + n + 1);
	len = tlsrec_seal(from, TLSREC_APPDATA, pt, n, rec);
	assert_int_equal(len, TLSREC_HDR + n + 1 + TLSREC_TAG);
	assert_int_equal(from->wr.seq, ws + 1);
	assert_int_equal(rec[0], 23);
	assert_int_equal(rec[1] << 8 | rec[2], 0x0303);
	assert_int_equal(rec[3] << 8 | rec[4], len - TLSREC_HDR);
	assert_int_equal(tlsrec_frame(rec, (size_t)len, &alert), len);
	/* The content is not there in clear (not for 16 bytes or more,
	 * where a match by chance is out of the question). */
	if (n >= 16)
		assert_memory_not_equal(rec + TLSREC_HDR, pt, 16);
	assert_int_equal(tlsrec_open(to, rec, (size_t)len, o, &type, &alert),
	    n);
	assert_int_equal(type, TLSREC_APPDATA);
	assert_memory_equal(o, pt, n);
	assert_int_equal(to->rd.seq, rs + 1);
}

static void
test_roundtrip_suites(void **state)
{
	static const uint16_t suites[] = { 0x1301, 0x1302, 0x1303 };
	static const size_t sizes[] = { 0, 1, 50, 4096, TLSREC_MAX_PLAIN };
	struct tlsrec cl, sv;
	size_t i, j;
	int k;

	for (i = 0; i < 3; i++) {
		pair(suites[i], &cl, &sv);
		for (j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++)
			for (k = 0; k < 2; k++) {
				roundtrip(&cl, &sv, sizes[j], k);
				roundtrip(&sv, &cl, sizes[j], k);
			}
		assert_int_equal(cl.wr.seq, 10);
		assert_int_equal(sv.rd.seq, 10);
		/* One byte over 2^14: refused, and the number not used. */
		assert_int_equal(tlsrec_seal(&cl, TLSREC_APPDATA, pt,
		    TLSREC_MAX_PLAIN + 1, rec), -1);
		assert_int_equal(cl.wr.seq, 10);
		roundtrip(&cl, &sv, 3, 0);
	}
}

/* A record opened at a sequence number far from 0: the nonce takes all
 * eight bytes of it. */
static void
test_roundtrip_high_seq(void **state)
{
	struct tlsrec cl, sv;

	pair(0x1303, &cl, &sv);
	cl.wr.seq = sv.rd.seq = 0x0123456789abcdefULL;
	roundtrip(&cl, &sv, 100, 0);
	cl.wr.seq = 0x0123456789abcdefULL;
	sv.rd.seq = 0x0123456789abcdeeULL;
	assert_int_equal(tlsrec_seal(&cl, TLSREC_APPDATA, pt, 10, rec), 32);
	{
		int type, alert = -1;

		assert_int_equal(tlsrec_open(&sv, rec, 32, out, &type,
		    &alert), -1);
		assert_int_equal(alert, TLSREC_BAD_MAC);
	}
}

static void
test_tamper(void **state)
{
	/* Outer type, version, the ciphertext's first and last bytes, the
	 * tag's first and last bytes. */
	static const size_t at[] = { 0, 2, 5, 5 + 40, 5 + 41, 5 + 41 + 15 };
	struct tlsrec cl, sv;
	long len;
	size_t i;
	int type, alert;

	pair(0x1301, &cl, &sv);
	memset(pt, 'x', 40);
	len = tlsrec_seal(&cl, TLSREC_APPDATA, pt, 40, rec);
	assert_int_equal(len, 5 + 41 + 16);
	for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		memcpy(rec2, rec, (size_t)len);
		rec2[at[i]] ^= 0x01;
		alert = -1;
		assert_int_equal(tlsrec_open(&sv, rec2, (size_t)len, out,
		    &type, &alert), -1);
		assert_int_equal(alert, TLSREC_BAD_MAC);
		assert_int_equal(sv.rd.seq, 0);
	}
	/* Cut short by a byte (the length in the header says otherwise). */
	assert_int_equal(tlsrec_open(&sv, rec, (size_t)len - 1, out, &type,
	    &alert), -1);
	assert_int_equal(alert, TLSREC_BAD_MAC);
	assert_int_equal(sv.rd.seq, 0);
	/* The record itself still opens after all that. */
	assert_int_equal(tlsrec_open(&sv, rec, (size_t)len, out, &type,
	    &alert), 40);

	/* Out of order: the second record is refused at the first's
	 * number; then both open in order. */
	len = tlsrec_seal(&cl, TLSREC_APPDATA, pt, 10, rec);
	assert_int_equal(tlsrec_seal(&cl, TLSREC_APPDATA, pt, 20, rec2), 42);
	alert = -1;
	assert_int_equal(tlsrec_open(&sv, rec2, 42, out, &type, &alert), -1);
	assert_int_equal(alert, TLSREC_BAD_MAC);
	assert_int_equal(sv.rd.seq, 1);
	assert_int_equal(tlsrec_open(&sv, rec, (size_t)len, out, &type,
	    &alert), 10);
	assert_int_equal(tlsrec_open(&sv, rec2, 42, out, &type, &alert), 20);
	assert_int_equal(sv.rd.seq, 3);

	/* Shorter than a tag and a type, longer than the largest: refused
	 * before any decryption. */
	alert = -1;
	assert_int_equal(tlsrec_open(&sv, rec, TLSREC_HDR + TLSREC_TAG, out,
	    &type, &alert), -1);
	assert_int_equal(alert, TLSREC_INTERNAL);
	assert_int_equal(tlsrec_open(&sv, rec, TLSREC_MAX + 1, out, &type,
	    &alert), -1);
	assert_int_equal(sv.rd.seq, 3);
}

static void
hdr(unsigned char *p, int type, size_t len)
{
	p[0] = (unsigned char)type;
	p[1] = 3;
	p[2] = 3;
	p[3] = (unsigned char)(len >> 8);
	p[4] = (unsigned char)len;
}

static void
test_frame(void **state)
{
	static const int bad_type[] = { 20, 21, 22, 0, 24, 255 };
	unsigned char p[64] = { 0 };
	size_t i, n;
	int alert;

	/* Partial headers, of a record of 17 bytes (the least). */
	hdr(p, 23, 17);
	for (n = 0; n < TLSREC_HDR; n++)
		assert_int_equal(tlsrec_frame(p, n, &alert), 0);
	for (n = TLSREC_HDR; n < 22; n++)
		assert_int_equal(tlsrec_frame(p, n, &alert), 0);
	assert_int_equal(tlsrec_frame(p, 22, &alert), 22);
	/* More than the record: its length only. */
	assert_int_equal(tlsrec_frame(p, sizeof(p), &alert), 22);

	/* Change_cipher_spec, a plaintext alert or handshake: refused as
	 * soon as the first byte is here. */
	for (i = 0; i < sizeof(bad_type) / sizeof(bad_type[0]); i++) {
		hdr(p, bad_type[i], 17);
		for (n = 1; n <= 22; n++) {
			alert = -1;
			assert_int_equal(tlsrec_frame(p, n, &alert), -1);
			assert_int_equal(alert, TLSREC_UNEXPECTED);
		}
	}

	/* 2^14 + 256 is the most; one more is record_overflow, decided on
	 * the header alone. */
	hdr(p, 23, TLSREC_MAX_BODY);
	assert_int_equal(tlsrec_frame(p, TLSREC_HDR, &alert), 0);
	assert_int_equal(tlsrec_frame(rec, 0, &alert), 0);
	memcpy(rec, p, TLSREC_HDR);
	assert_int_equal(tlsrec_frame(rec, TLSREC_MAX - 1, &alert), 0);
	assert_int_equal(tlsrec_frame(rec, TLSREC_MAX, &alert), TLSREC_MAX);
	for (n = TLSREC_MAX_BODY + 1; n <= 0xffff; n += n < 17000 ? 1 : 997) {
		hdr(p, 23, n);
		alert = -1;
		assert_int_equal(tlsrec_frame(p, TLSREC_HDR, &alert), -1);
		assert_int_equal(alert, TLSREC_OVERFLOW);
	}
	/* Less than a tag and a type cannot be a record. */
	for (n = 0; n < 17; n++) {
		hdr(p, 23, n);
		alert = -1;
		assert_int_equal(tlsrec_frame(p, TLSREC_HDR, &alert), -1);
		assert_int_equal(alert, TLSREC_DECODE_ERROR);
	}
	/* legacy_record_version is not looked at. */
	hdr(p, 23, 17);
	p[1] = 0x99;
	p[2] = 0;
	assert_int_equal(tlsrec_frame(p, 22, &alert), 22);
}

/* Records whose inner plaintext is built here, sealed with the RFC's
 * client key at the client's sequence number 0. */
static void
test_inner_plaintext(void **state)
{
	struct tlsrec sv;
	unsigned char key[16], iv[12];
	size_t len;
	int type, alert;

	unhex(c_ap_key, key);
	unhex(c_ap_iv, iv);

	/* All padding, no content type: unexpected_message. */
	memset(pt, 0, 40);
	len = hand_seal(key, iv, 0, pt, 40, rec);
	rfc_init(&sv, 1, 0, 0);
	alert = -1;
	assert_int_equal(tlsrec_open(&sv, rec, len, out, &type, &alert), -1);
	assert_int_equal(alert, TLSREC_UNEXPECTED);
	assert_int_equal(sv.rd.seq, 0);
	len = hand_seal(key, iv, 0, pt, 1, rec);	/* a single zero */
	assert_int_equal(tlsrec_open(&sv, rec, len, out, &type, &alert), -1);
	assert_int_equal(alert, TLSREC_UNEXPECTED);

	/* "hi", the type, 100 zeros of padding: the padding goes. */
	memset(pt, 0, 200);
	memcpy(pt, "hi", 2);
	pt[2] = TLSREC_APPDATA;
	len = hand_seal(key, iv, 0, pt, 103, rec);
	assert_int_equal(tlsrec_open(&sv, rec, len, out, &type, &alert), 2);
	assert_int_equal(type, TLSREC_APPDATA);
	assert_memory_equal(out, "hi", 2);
	assert_int_equal(sv.rd.seq, 1);

	/* Zeros in the content, before the type, are content: tlsrec_seal
	 * of "a\0\0" opens as 3 bytes.  And a type only, no content: an
	 * empty record of that type. */
	rfc_init(&sv, 1, 0, 0);
	memcpy(pt, "a\0\0", 3);
	pt[3] = TLSREC_ALERT;
	len = hand_seal(key, iv, 0, pt, 4, rec);
	assert_int_equal(tlsrec_open(&sv, rec, len, out, &type, &alert), 3);
	assert_int_equal(type, TLSREC_ALERT);
	assert_memory_equal(out, "a\0\0", 3);
	pt[0] = TLSREC_HANDSHAKE;
	memset(pt + 1, 0, 30);
	len = hand_seal(key, iv, 1, pt, 31, rec);
	assert_int_equal(tlsrec_open(&sv, rec, len, out, &type, &alert), 0);
	assert_int_equal(type, TLSREC_HANDSHAKE);

	/* 2^14 bytes of content and the type: the most there may be,
	 * opened in place. */
	memset(pt, 'c', TLSREC_MAX_PLAIN);
	pt[TLSREC_MAX_PLAIN] = TLSREC_APPDATA;
	len = hand_seal(key, iv, 2, pt, TLSREC_MAX_PLAIN + 1, rec);
	assert_int_equal(tlsrec_frame(rec, len, &alert), (long)len);
	assert_int_equal(tlsrec_open(&sv, rec, len, rec + TLSREC_HDR, &type,
	    &alert), TLSREC_MAX_PLAIN);
	assert_int_equal(sv.rd.seq, 3);

	/* The same and 200 bytes of padding: the inner plaintext is over
	 * 2^14 + 1 bytes, padding counts (RFC 8446 5.4): record_overflow,
	 * though the record's length is within bounds. */
	memset(pt, 'c', TLSREC_MAX_PLAIN);
	pt[TLSREC_MAX_PLAIN] = TLSREC_APPDATA;
	memset(pt + TLSREC_MAX_PLAIN + 1, 0, 200);
	len = hand_seal(key, iv, 3, pt, TLSREC_MAX_PLAIN + 201, rec);
	assert_int_equal(tlsrec_frame(rec, len, &alert), (long)len);
	alert = -1;
	assert_int_equal(tlsrec_open(&sv, rec, len, out, &type, &alert), -1);
	assert_int_equal(alert, TLSREC_OVERFLOW);
	assert_int_equal(sv.rd.seq, 3);

	/* One byte more of content: record_overflow, though the record's
	 * length is within bounds. */
	memset(pt, 'c', TLSREC_MAX_PLAIN + 1);
	pt[TLSREC_MAX_PLAIN + 1] = TLSREC_APPDATA;
	len = hand_seal(key, iv, 3, pt, TLSREC_MAX_PLAIN + 2, rec);
	assert_int_equal(tlsrec_frame(rec, len, &alert), (long)len);
	alert = -1;
	assert_int_equal(tlsrec_open(&sv, rec, len, out, &type, &alert), -1);
	assert_int_equal(alert, TLSREC_OVERFLOW);
	assert_int_equal(sv.rd.seq, 3);
}

/* The client sends a handshake record holding p; the server opens it
 * and hands it to tlsrec_handshake(). */
static int
send_hs(struct tlsrec *cl, struct tlsrec *sv, const unsigned char *p,
    size_t n, int *alert)
{
	long len;
	int type = -1;

	len = tlsrec_seal(cl, TLSREC_HANDSHAKE, p, n, rec);
	assert_true(len > 0);
	assert_int_equal(tlsrec_open(sv, rec, (size_t)len, out, &type, alert),
	    n);
	assert_int_equal(type, TLSREC_HANDSHAKE);
	return tlsrec_handshake(sv, out, n, alert);
}

static void
test_key_update(void **state)
{
	static const unsigned char ku1[5] = { 24, 0, 0, 1, 1 };
	struct tlsrec cl, sv, old;
	struct tlsrec_dir rd;
	long len;
	int alert = -1, type;

	assert_memory_equal(tlsrec_key_update, "\x18\0\0\1\0", 5);
	rfc_init(&cl, 0, 0, 0);
	rfc_init(&sv, 1, 0, 0);
	roundtrip(&cl, &sv, 50, 0);

	/* update_not_requested: the server's read side moves to the next
	 * secret, at sequence number 0; its write side stays. */
	rd = sv.rd;
	assert_int_equal(send_hs(&cl, &sv, tlsrec_key_update, 5, &alert), 0);
	assert_memory_not_equal(sv.rd.secret, rd.secret, 32);
	assert_memory_not_equal(sv.rd.key, rd.key, 16);
	assert_memory_not_equal(sv.rd.iv, rd.iv, 12);
	assert_int_equal(sv.rd.seq, 0);
	assert_int_equal(sv.wr.seq, 0);
	old = cl;
	assert_int_equal(tlsrec_update(&cl, &cl.wr), 0);
	assert_memory_equal(&cl.wr, &sv.rd, sizeof(sv.rd));
	roundtrip(&cl, &sv, 50, 1);
	/* A record under the old key (at the new number, even) fails. */
	old.wr.seq = 1;
	len = tlsrec_seal(&old, TLSREC_APPDATA, pt, 10, rec);
	assert_int_equal(tlsrec_open(&sv, rec, (size_t)len, out, &type,
	    &alert), -1);
	assert_int_equal(alert, TLSREC_BAD_MAC);
	roundtrip(&sv, &cl, 50, 0);	/* the other way: unchanged */

	/* update_requested: 1, and the read side moved too. */
	rd = sv.rd;
	assert_int_equal(send_hs(&cl, &sv, ku1, 5, &alert), 1);
	assert_memory_not_equal(sv.rd.key, rd.key, 16);
	assert_int_equal(tlsrec_update(&cl, &cl.wr), 0);
	roundtrip(&cl, &sv, 7, 0);
}

static void
test_handshake_refused(void **state)
{
	static const struct {
		const char	*name;
		const char	*msg;
		size_t		 n;
		int		 alert;
	} t[] = {
		{ "empty", "", 0, TLSREC_UNEXPECTED },
		{ "KeyUpdate's first 3 bytes", "\x18\0\0", 3,
		    TLSREC_UNEXPECTED },
		{ "NewSessionTicket", "\x04\0\0\1\0", 5, TLSREC_UNEXPECTED },
		{ "Finished", "\x14\0\0\1\0", 5, TLSREC_UNEXPECTED },
		/* RFC 8446 4.6.3: "If an implementation receives any
		 * other value, it MUST terminate the connection with an
		 * 'illegal_parameter' alert" (47). */
		{ "KeyUpdate, request 2", "\x18\0\0\1\2", 5, 47 },
		{ "KeyUpdate, request 255", "\x18\0\0\1\xff", 5, 47 },
		/* RFC 8446 5.1: messages before a key change must end on
		 * a record boundary, "if not, then they MUST terminate the
		 * connection with an 'unexpected_message' alert". */
		{ "KeyUpdate and a byte", "\x18\0\0\1\0\0", 6,
		    TLSREC_UNEXPECTED },
		{ "KeyUpdate without its byte", "\x18\0\0\1", 4,
		    TLSREC_UNEXPECTED },
		{ "KeyUpdate, length 2", "\x18\0\0\2\0\0", 6,
		    TLSREC_DECODE_ERROR },
		{ "KeyUpdate, length 0", "\x18\0\0\0", 4,
		    TLSREC_DECODE_ERROR },
		{ "KeyUpdate twice", "\x18\0\0\1\0\x18\0\0\1\0", 10,
		    TLSREC_UNEXPECTED },
	};
	struct tlsrec cl, sv;
	struct tlsrec_dir rd;
	size_t i;
	int alert;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		rfc_init(&cl, 0, 0, 0);
		rfc_init(&sv, 1, 0, 0);
		rd = sv.rd;
		alert = -1;
		if (send_hs(&cl, &sv, (const unsigned char *)t[i].msg,
		    t[i].n, &alert) != -1 || alert != t[i].alert)
			fail_msg("%s: alert %d, want %d", t[i].name, alert,
			    t[i].alert);
		/* Nothing changed but the record's number. */
		rd.seq++;
		assert_memory_equal(&sv.rd, &rd, sizeof(rd));
	}
}

/* RFC 8446 4.6.1: "At any time after the server has received the
 * client Finished message, it MAY send a NewSessionTicket message."
 * OpenSSL's servers send two, after the handshake the client saw end:
 * a client must take them (and may drop them), not end the session.
 * RFC 8448's server sends one, at its sequence number 0. */
static void
test_client_takes_new_session_ticket(void **state)
{
	struct tlsrec cl, sv;
	struct tlsrec_dir rd;
	unsigned char two[410];
	size_t len = unhex(s_ticket_rec, rec);
	long n;
	int type = -1, alert = -1, rc;

	rfc_init(&cl, 0, 0, 0);
	assert_int_equal(tlsrec_open(&cl, rec, len, out, &type, &alert), 205);
	assert_int_equal(type, TLSREC_HANDSHAKE);
	rd = cl.rd;
	rc = tlsrec_handshake(&cl, out, 205, &alert);
	if (rc == -1)
		fail_msg("RFC 8448's NewSessionTicket: alert %d", alert);
	assert_int_not_equal(rc, 1);
	assert_memory_equal(&cl.rd, &rd, sizeof(rd));
	/* The session goes on: the server's data at 1. */
	len = unhex(s_data_rec, rec);
	assert_int_equal(tlsrec_open(&cl, rec, len, out, &type, &alert), 50);

	/* Two tickets in one record, as a server may coalesce them. */
	unhex(s_ticket, two);
	unhex(s_ticket, two + 205);
	rfc_init(&sv, 1, 0, 0);
	rfc_init(&cl, 0, 0, 0);
	n = tlsrec_seal(&sv, TLSREC_HANDSHAKE, two, 410, rec);
	assert_int_equal(tlsrec_open(&cl, rec, (size_t)n, out, &type,
	    &alert), 410);
	rc = tlsrec_handshake(&cl, out, 410, &alert);
	assert_true(rc != -1 && rc != 1);

	/* A server still refuses one from its client. */
	rfc_init(&sv, 1, 0, 0);
	assert_int_equal(tlsrec_handshake(&sv, two, 205, &alert), -1);
	assert_int_equal(alert, TLSREC_UNEXPECTED);
}

/* tlsrec_update() against HKDF-Expand-Label computed by OpenSSL's HKDF,
 * with SHA-256 and SHA-384. */
static void
test_update_independent(void **state)
{
	struct tlsrec cl, sv;
	unsigned char next[48], key[32], iv[12], secret[32];

	rfc_init(&cl, 0, 5, 9);
	unhex(c_ap_secret, secret);
	hkdf_label("SHA256", secret, 32, "traffic upd", next, 32);
	hkdf_label("SHA256", next, 32, "key", key, 16);
	hkdf_label("SHA256", next, 32, "iv", iv, 12);
	assert_int_equal(tlsrec_update(&cl, &cl.wr), 0);
	assert_memory_equal(cl.wr.secret, next, 32);
	assert_memory_equal(cl.wr.key, key, 16);
	assert_memory_equal(cl.wr.iv, iv, 12);
	assert_int_equal(cl.wr.seq, 0);
	assert_int_equal(cl.rd.seq, 5);
	/* And the next one from that. */
	hkdf_label("SHA256", next, 32, "traffic upd", next, 32);
	assert_int_equal(tlsrec_update(&cl, &cl.wr), 0);
	assert_memory_equal(cl.wr.secret, next, 32);

	/* The RFC's own key, by OpenSSL's HKDF too: the helper above
	 * builds the label right. */
	hkdf_label("SHA256", secret, 32, "key", key, 16);
	assert_memory_equal(key, next, unhex(c_ap_key, next));

	pair(0x1302, &cl, &sv);
	memcpy(next, sv.rd.secret, 48);
	hkdf_label("SHA384", next, 48, "traffic upd", next, 48);
	hkdf_label("SHA384", next, 48, "key", key, 32);
	hkdf_label("SHA384", next, 48, "iv", iv, 12);
	assert_int_equal(tlsrec_update(&sv, &sv.rd), 0);
	assert_memory_equal(sv.rd.secret, next, 48);
	assert_memory_equal(sv.rd.key, key, 32);
	assert_memory_equal(sv.rd.iv, iv, 12);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expand_label_rfc8448),
		cmocka_unit_test(test_init_keys),
		cmocka_unit_test(test_rfc8448_client_data),
		cmocka_unit_test(test_rfc8448_server_data),
		cmocka_unit_test(test_roundtrip_suites),
		cmocka_unit_test(test_roundtrip_high_seq),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_frame),
		cmocka_unit_test(test_inner_plaintext),
		cmocka_unit_test(test_key_update),
		cmocka_unit_test(test_handshake_refused),
		cmocka_unit_test(test_client_takes_new_session_ticket),
		cmocka_unit_test(test_update_independent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
