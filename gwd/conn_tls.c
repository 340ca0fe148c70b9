/*
 * conn_tls.c - TLS on a conn (conn.c has the stream): STARTTLS or
 * implicit TLS set up on the socket, the handshake driven by the loop's
 * events, OpenSSL's error queue turned into the conn's error text, and
 * the version and cipher for trace fields and events, and what the peer
 * sent that was not looked at yet (OpenSSL's or conn_rec.c's included).
 * Standards: RFC 3207 (STARTTLS), RFC 6066 3 (SNI).
 * Exposure: the handshake parses untrusted bytes (OpenSSL does); plaintext
 * sent with or after STARTTLS is discarded (CVE-2011-0411).
 * Diagnostics: a failed setup returns -1 and a failed handshake reaches
 * the owner through on_tls(c, 0), both with the reason in c->error;
 * nothing here is fatal.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "conn_priv.h"

/* OpenSSL's reason (else errno's, else "connection closed") for what
 * failed, into c->error. */
void
conn_tls_error(struct conn *c, const char *what)
{
	unsigned long e = ERR_get_error();
	char tmp[120];

	if (e != 0) {
		ERR_error_string_n(e, tmp, sizeof(tmp));
		snprintf(c->error, sizeof(c->error), "%s: %s", what, tmp);
	} else if (errno != 0)
		snprintf(c->error, sizeof(c->error), "%s: %s", what,
		    strerror(errno));
	else
		snprintf(c->error, sizeof(c->error), "%s: connection closed",
		    what);
	ERR_clear_error();
}

/* One step of the handshake; on_tls(c, 1 or 0) once it is over. */
void
conn_tls_handshake(struct conn *c)
{
	int r, err;

	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		c->handshaking = 0;
		c->tls_want_write = 0;
		conn_update(c);
		c->ops->on_tls(c, 1);
		return;
	}
	err = SSL_get_error(c->ssl, r);
	if (err == SSL_ERROR_WANT_READ) {
		c->tls_want_write = 0;
		conn_update(c);
		return;
	}
	if (err == SSL_ERROR_WANT_WRITE) {
		c->tls_want_write = 1;
		conn_update(c);
		return;
	}
	conn_tls_error(c, "TLS handshake");
	c->ops->on_tls(c, 0);
}

int
conn_starttls(struct conn *c, SSL_CTX *ctx, int server, const char *sni)
{
	/* Plaintext that arrived with or after STARTTLS is an injection
	 * attempt, never a command (CVE-2011-0411). */
	buf_reset(&c->in);
	if ((c->ssl = SSL_new(ctx)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		conn_tls_error(c, "TLS setup");
		return -1;
	}
	if (server) {
		SSL_set_accept_state(c->ssl);
		conn_rec_track(c, ctx);
	} else {
		SSL_set_connect_state(c->ssl);
		if (sni)
			SSL_set_tlsext_host_name(c->ssl, sni);
	}
	/* A client speaks first: the loop starts the handshake on the next
	 * writable event, after the caller had its say on c->ssl (SNI,
	 * host name checks). */
	c->handshaking = 1;
	c->tls_want_write = !server;
	conn_update(c);
	return 0;
}

size_t
conn_pending(const struct conn *c)
{
	size_t n = buf_len(&c->in);

	if (c->ssl && !c->handshaking)
		n += (size_t)SSL_pending(c->ssl);
	if (c->tls_rec)
		n += conn_rec_pending(c);
	return n;
}

void
conn_tls_desc(const struct conn *c, char *out, size_t n)
{
	if (!conn_tls_active(c)) {
		if (n)
			out[0] = '\0';
		return;
	}
	if (c->tls_rec) {
		conn_rec_desc(c, out, n);
		return;
	}
	snprintf(out, n, "%s %s", SSL_get_version(c->ssl),
	    SSL_get_cipher_name(c->ssl));
}
