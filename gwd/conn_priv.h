/*
 * conn_priv.h - what conn's two files share, and nothing else of gwd
 * sees (conn.h is their public face):
 *
 *   conn.c       the stream on the loop: buffers, reads, writes, epoll
 *                interest once a turn, closing
 *   conn_tls.c   TLS on a stream: setup, the handshake, error text, the
 *                version and cipher for trace fields and events
 */
#ifndef GW_CONN_PRIV_H
#define GW_CONN_PRIV_H

#include "conn.h"

/* conn.c */
void	 conn_update(struct conn *);

/* conn_tls.c */
void	 conn_tls_error(struct conn *, const char *what);
void	 conn_tls_handshake(struct conn *);

#endif
