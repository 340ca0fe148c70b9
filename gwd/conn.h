/*
 * conn.h - a non-blocking stream, plaintext or TLS, with bounded input
 * and output buffers.  Used by inbound SMTP sessions and outbound
 * delivery alike.
 *
 * Output is appended with conn_write() and flushed before the loop
 * sleeps, so everything a turn produces leaves in one write.  A closed
 * conn is freed only after the current loop turn, so pointers taken from
 * epoll in the same turn stay valid.
 */
#ifndef GW_CONN_H
#define GW_CONN_H

#include <sys/socket.h>

#include <openssl/ssl.h>

#include "buf.h"
#include "loop.h"

struct conn;
struct conn_rec;

struct conn_ops {
	/* New bytes are in c->in (or EOF/err: c->eof set). */
	void	(*on_read)(struct conn *);
	/* TLS handshake finished: ok = 1, or failed (reason in c->error). */
	void	(*on_tls)(struct conn *, int ok);
	/* Nonblocking connect finished: ok = 1, or failed (c->error). */
	void	(*on_connect)(struct conn *, int ok);
	/* Output buffer ran below the low-water mark (may be NULL). */
	void	(*on_drain)(struct conn *);
	/* The peer went away or an I/O error happened (before free). */
	void	(*on_error)(struct conn *);
	/* The conn is closed (for any reason); last call, no I/O allowed. */
	void	(*on_close)(struct conn *);
};

struct conn {
	int			 fd;
	struct ev_io		 io;
	SSL			*ssl;
	struct conn_rec		*rec;	/* conn_rec.c's, or NULL */
	const struct conn_ops	*ops;
	void			*arg;
	struct buf		 in;
	struct buf		 out;
	size_t			 drain_mark;	/* call on_drain below this */
	unsigned		 connecting:1,
				 handshaking:1,
				 tls_want_write:1,
				 read_paused:1,
				 eof:1,
				 closing:1,	/* close once out is flushed */
				 dead:1,
				 flush_listed:1,
				 update_listed:1,
				 pause_seen:1,	/* read event while paused */
				 tls_held:1,	/* TLS records to read held */
				 tls_rec:1,	/* TLS 1.3 records are ours */
				 kick_read:1;
	char			 error[128];
	struct sockaddr_storage	 peer;
	socklen_t		 peerlen;
	struct conn		*next_flush;
	struct conn		*next_update;
	struct conn		*next_dead;
	struct conn		*prev_open, *next_open;	/* until closed */
};

/* fd must be non-blocking already (accept4 with SOCK_NONBLOCK). */
struct conn *conn_new(int fd, const struct conn_ops *, void *arg,
	    size_t inmax, size_t outmax);
/* Start a nonblocking connect; on_connect reports the result. */
struct conn *conn_connect(const struct sockaddr *, socklen_t,
	    const struct sockaddr *src, socklen_t srclen,
	    const struct conn_ops *, void *arg, size_t inmax, size_t outmax);
int	 conn_write(struct conn *, const void *, size_t);
int	 conn_printf(struct conn *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 conn_pause_read(struct conn *, int paused);
/* Start TLS on an open connection; c->in is emptied first (anything the
 * peer sent before the handshake is discarded, CVE-2011-0411). */
int	 conn_starttls(struct conn *, SSL_CTX *, int server,
	    const char *sni);
/* Flush what is queued, then close. */
void	 conn_close_after_flush(struct conn *);
/* Close now; on_error is not called, on_close is. */
void	 conn_close(struct conn *);
/* TLS version and cipher, "TLSv1.3 TLS_AES_256_GCM_SHA384", or "". */
void	 conn_tls_desc(const struct conn *, char *, size_t);
static inline int
conn_tls_active(const struct conn *c)
{
	return (c->ssl != NULL && !c->handshaking) || c->tls_rec;
}
/*
 * Server sessions of this context keep only their keys once a TLS 1.3
 * handshake is over: OpenSSL's SSL object (~14 KB) is freed and
 * conn_rec.c does the record layer (tls.lean_sessions).  Call once,
 * after the context is made.  0, or -1 when OpenSSL refuses.
 */
int	 conn_tls_lean(SSL_CTX *);
/* Bytes the peer sent that we have not looked at yet (buffer + TLS). */
size_t	 conn_pending(const struct conn *);

void	 conn_init_module(void);
int	 conn_count(void);
/* After loop_run() has returned, whose reap pass frees closed conns:
 * close every open conn pick() chooses (on_close runs), then free every
 * closed one. */
void	 conn_close_left(int (*pick)(const struct conn *));

#endif
