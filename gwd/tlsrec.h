/*
 * tlsrec.h - the TLS 1.3 record layer (RFC 8446 5) of a session whose
 * handshake OpenSSL did: what kernel TLS does in a kernel that has it.
 * gwd keeps only the traffic secrets, keys, IVs and sequence numbers of
 * an established TLS 1.3 session (~230 bytes) and frees OpenSSL's SSL
 * object (~14 KB); records are sealed and opened with OpenSSL's AEAD
 * ciphers.  Pure: no sockets, no buffers of its own; conn_rec.c drives
 * it.
 */
#ifndef GW_TLSREC_H
#define GW_TLSREC_H

#include <stddef.h>
#include <stdint.h>

#define TLSREC_HDR		5
#define TLSREC_TAG		16
#define TLSREC_MAX_PLAIN	16384			/* 2^14 */
#define TLSREC_MAX_BODY		(TLSREC_MAX_PLAIN + 256)	/* 2^14 + 256 */
#define TLSREC_MAX		(TLSREC_HDR + TLSREC_MAX_BODY)
#define TLSREC_MAX_SECRET	48

/* Content types (RFC 8446 5.1). */
#define TLSREC_ALERT		21
#define TLSREC_HANDSHAKE	22
#define TLSREC_APPDATA		23

/* Alert descriptions (RFC 8446 6) we send or name. */
#define TLSREC_CLOSE_NOTIFY	0
#define TLSREC_UNEXPECTED	10
#define TLSREC_BAD_MAC		20
#define TLSREC_OVERFLOW		22
#define TLSREC_ILLEGAL_PARAM	47
#define TLSREC_DECODE_ERROR	50
#define TLSREC_INTERNAL		80

/* One direction: its current traffic secret and what it derives. */
struct tlsrec_dir {
	unsigned char	 secret[TLSREC_MAX_SECRET];
	unsigned char	 key[32];
	unsigned char	 iv[12];
	uint64_t	 seq;
};

struct tlsrec {
	uint16_t	 suite;		/* 0x1301, 0x1302 or 0x1303 */
	uint8_t		 hashlen;	/* 32 (SHA-256) or 48 (SHA-384) */
	uint8_t		 keylen;	/* 16 or 32 */
	uint8_t		 server;	/* which side we are */
	struct tlsrec_dir rd, wr;
};

/*
 * Set up from the suite (TLS_AES_128_GCM_SHA256 0x1301,
 * TLS_AES_256_GCM_SHA384 0x1302, TLS_CHACHA20_POLY1305_SHA256 0x1303),
 * the client's and the server's application traffic secrets (hash
 * length bytes each) and the sequence numbers already used; `server`
 * says which side we are (the server reads with the client's secret).
 * 0, or -1 for a suite not supported or a secret of the wrong length.
 */
int	 tlsrec_init(struct tlsrec *, uint16_t suite, int server,
	    const unsigned char *client_secret,
	    const unsigned char *server_secret, size_t secretlen,
	    uint64_t rseq, uint64_t wseq);
/* HKDF-Expand-Label(secret, label, "", outlen) (RFC 8446 7.1) with
 * SHA-256 (hashlen 32) or SHA-384 (48); outlen <= hashlen.  0 or -1. */
int	 tlsrec_expand_label(int hashlen, const unsigned char *secret,
	    const char *label, unsigned char *out, size_t outlen);
/* A KeyUpdate on one direction (RFC 8446 7.2): the next traffic secret,
 * its key and IV, sequence number 0.  0 or -1. */
int	 tlsrec_update(const struct tlsrec *, struct tlsrec_dir *);

/*
 * The record at p, of which n bytes are here: its whole length (header
 * included) once all of it is, 0 while more must come, or -1 with the
 * alert to send in *alert (not an encrypted record: unexpected_message;
 * longer than 2^14 + 256: record_overflow).
 */
long	 tlsrec_frame(const unsigned char *p, size_t n, int *alert);
/*
 * Open one whole record of len bytes (as tlsrec_frame found it) into
 * out, which has room for len - TLSREC_HDR - TLSREC_TAG bytes (out may
 * be rec + TLSREC_HDR).  Returns the plaintext's length with its inner
 * content type in *type, or -1 with the alert in *alert (a bad tag:
 * bad_record_mac, and out is wiped; no content type: unexpected_message;
 * an inner plaintext over 2^14 + 1 bytes, padding included:
 * record_overflow).  The read sequence number advances only on
 * success.
 */
long	 tlsrec_open(struct tlsrec *, const unsigned char *rec, size_t len,
	    unsigned char *out, int *type, int *alert);
/*
 * Seal n <= 2^14 bytes of content type `type` into out, which has room
 * for TLSREC_HDR + n + 1 + TLSREC_TAG bytes (out may not overlap p).
 * Returns the record's length, or -1 (OpenSSL failed; the sequence
 * number does not advance).
 */
long	 tlsrec_seal(struct tlsrec *, int type, const unsigned char *p,
	    size_t n, unsigned char *out);
/*
 * What a peer's handshake record (its plaintext, n bytes) asks for.
 * After the handshake a client may send only a KeyUpdate (RFC 8446
 * 4.6.3), whole and alone at the end of its record since it changes the
 * key (5.1); a server may also send NewSessionTickets (4.6.1), which a
 * client drops (we resume nothing).  Returns 1 for a KeyUpdate with
 * update_requested (we must answer with our own), 0 for one without, 2
 * for tickets only (nothing to do), or -1 with the alert in *alert.
 * The read direction is updated on 0 and 1.
 */
int	 tlsrec_handshake(struct tlsrec *, const unsigned char *p, size_t n,
	    int *alert);
/* The KeyUpdate(update_not_requested) message we send (5 bytes). */
extern const unsigned char tlsrec_key_update[5];

#endif
