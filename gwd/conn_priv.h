/*
 * conn_priv.h - what conn's three files share, and nothing else of gwd
 * sees (conn.h is their public face):
 *
 *   conn.c       the stream on the loop: buffers, reads, writes, epoll
 *                interest once a turn, closing
 *   conn_tls.c   TLS on a stream: setup, the handshake, error text, what
 *                is pending, the version and cipher for trace fields
 *                and events
 *   conn_rec.c   a server's TLS 1.3 session after the handshake, with
 *                OpenSSL's SSL object freed: the record layer
 */
#ifndef GW_CONN_PRIV_H
#define GW_CONN_PRIV_H

#include "conn.h"

/* conn.c */
void	 conn_update(struct conn *);
/* c->error = "what: <errno's text>"; returns -1. */
int	 conn_failed(struct conn *, const char *what);
/* After a read(2) that returned n <= 0: 0 (EOF, c->eof set; or nothing
 * there now), or -1 with c->error. */
int	 conn_read_none(struct conn *, ssize_t n);
/* Write what b holds to the socket: 0 (all of it), 1 (the socket is
 * full: the rest stays in b), or -1 with c->error. */
int	 conn_write_buf(struct conn *, struct buf *);

/* conn_tls.c */
void	 conn_tls_error(struct conn *, const char *what);
void	 conn_tls_handshake(struct conn *);

/* conn_rec.c: a conn is followed from SSL_new (when ctx is the lean
 * one) and taken over once OpenSSL is not needed (c->tls_rec); then
 * reads, flushes and the close go through it. */
void	 conn_rec_track(struct conn *, SSL_CTX *);
void	 conn_rec_try(struct conn *);
int	 conn_rec_read(struct conn *, size_t budget);
int	 conn_rec_flush(struct conn *);
void	 conn_rec_close(struct conn *);
size_t	 conn_rec_pending(const struct conn *);
void	 conn_rec_desc(const struct conn *, char *, size_t);

#endif
