/*
 * tls.h - OpenSSL contexts for gwd: the server side of every listener
 * and the client side of delivery.  TLS 1.2 and 1.3 only; TLS 1.2 with
 * AEAD ciphers and forward secrecy only; no compression, no client
 * renegotiation.
 */
#ifndef GW_TLS_H
#define GW_TLS_H

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

#endif
