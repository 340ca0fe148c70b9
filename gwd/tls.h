/*
 * tls.h - OpenSSL contexts for gwd: the server side of every listener
 * and the client side of delivery.  TLS 1.2 and 1.3 only; TLS 1.2 with
 * AEAD ciphers and forward secrecy only; no compression, no client
 * renegotiation.
 */
#ifndef GW_TLS_H
#define GW_TLS_H

#include <stdint.h>

#include <openssl/ssl.h>

#include "config.h"

/* Make a self-signed certificate and key for `host` at the given paths
 * (key mode 0600).  0, or -1 with a message in err. */
int	 tls_make_self_signed(const char *cert, const char *key,
	    const char *host, char *err, size_t errsz);
SSL_CTX	*tls_server_ctx(const struct gw_config *, char *err, size_t errsz);
/* Delivery: the CA store of relay.ca_file/relay.ca_dir (else the
 * system's); no policy of its own. */
SSL_CTX	*tls_client_ctx(const struct gw_config *, char *err, size_t errsz);
/*
 * A new client SSL to next hop `host` (an MX or smarthost name, or an
 * IP address, bare or in brackets) under `policy`: SNI for a name, the
 * name or address the certificate must match, and with TLSP_VERIFY a
 * handshake that fails on a certificate that does not verify.  0 or -1.
 */
int	 tls_client_prepare(SSL *, const char *host, enum tls_policy);
/* After a handshake, finished or failed: why the certificate chain or
 * name check failed, or NULL (also when no check ran). */
const char *tls_client_verify_error(const SSL *);
/* After a finished handshake: 1 if the server's certificate chains to
 * the CA store and matches the name, else 0 and *why says why not. */
int	 tls_client_verified(const SSL *, const char **why);
/*
 * DANE (RFC 7672) instead of tls_client_prepare(): SNI `host`, the
 * TLSA records of the host as the only trust, DANE-EE without name or
 * date checks, DANE-TA with the name; a handshake that fails when no
 * record matches.  Returns how many records OpenSSL took (0: none
 * usable, the caller decides), or -1.
 */
struct dns_tlsa;
int	 tls_client_dane(SSL *, const char *host, const struct dns_tlsa *,
	    int n);
/* After a finished DANE handshake: 1 and which record matched in `how`
 * ("TLSA 3 1 1 matched"), or 0 and why not. */
int	 tls_client_dane_verified(SSL *, char *how, size_t howsz);

/*
 * Session ticket keys (exposed for the unit tests): key[0] seals new
 * tickets, key[1] (the one before) still opens them; every period_ms
 * the ring turns.
 */
#define TICKET_NAME_LEN	16
struct ticket_key {
	unsigned char	 name[TICKET_NAME_LEN];
	unsigned char	 aes[32];
	unsigned char	 hmac[32];
};
struct ticket_keys {
	struct ticket_key key[2];
	int64_t		 rotated_ms;
	int64_t		 period_ms;
};
void	 ticket_keys_init(struct ticket_keys *, int64_t period_ms,
	    int64_t now_ms);
/* The key to seal a ticket with now. */
const struct ticket_key *ticket_keys_seal(struct ticket_keys *,
	    int64_t now_ms);
/* The key named `name` if it may still open tickets (*renew = 1: an
 * older key, the client should get a new ticket), else NULL. */
const struct ticket_key *ticket_keys_open(struct ticket_keys *,
	    const unsigned char *name, int64_t now_ms, int *renew);

#endif
