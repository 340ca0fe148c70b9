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
SSL_CTX	*tls_client_ctx(const struct gw_config *, char *err, size_t errsz);

#endif
