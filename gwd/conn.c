/*
 * conn.c - non-blocking plaintext/TLS streams on the event loop (TLS
 * setup and the handshake are conn_tls.c's).
 * Exposure: moves untrusted bytes between sockets and buffers; it never
 * interprets them.
 * Diagnostics: dies only when memory runs out; conn_connect() returns
 * NULL (errno), conn_write() -1 past the output buffer's maximum or on
 * a dead connection, and I/O errors reach the owner through on_error
 * with the reason in c->error.
 *
 * What a conn waits for (epoll interest) is worked out when its state
 * changes but told to the kernel once per loop turn, before the loop
 * sleeps: a session that pauses and resumes reading within one turn (an
 * AUTH answered from the cache) costs no system call.  A pause keeps
 * the read interest until a read event actually arrives while paused;
 * the client usually waits for the reply that ends the pause.
 */
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "conn_priv.h"
#include "log.h"
#include "util.h"

#define READ_CHUNK	16384
#define EV_KICK		0x100		/* from the reap pass: read buffered */
#define READ_BUDGET	(256 * 1024)	/* per conn per turn: stay fair */
#define BUF_KEEP	2048		/* an emptied buffer above this is freed */
#define TRIM_MIN	1024		/* conns at a peak worth trimming after */

static struct conn	*flush_list;
static struct conn	*update_list;	/* epoll interest to recompute */
/* Reads land here unless the conn's buffer has room already: a conn
 * keeps only the bytes it was sent, not READ_CHUNK of room for each
 * (10 000 idle sessions would hold 320 MB of empty buffers).  Only the
 * loop thread reads. */
static char		 scratch[READ_CHUNK];
static struct conn	*dead_list;
static struct conn	*open_list;	/* every conn not closed yet */
static int		 nconns;
static int		 peak;		/* most conns since the last trim */

static void conn_io(struct ev_io *, int);
static void conn_apply(struct conn *);

static void
free_dead(void)
{
	struct conn *c, *next;

	for (c = dead_list; c != NULL; c = next) {
		next = c->next_dead;
		buf_free(&c->in);
		buf_free(&c->out);
		free(c);
	}
	dead_list = NULL;
}

static void
conn_reap(void *arg)
{
	struct conn *c;

	/* Flush everything written this turn: one write per conn. */
	while ((c = flush_list) != NULL) {
		flush_list = c->next_flush;
		c->flush_listed = 0;
		c->next_flush = NULL;
		if (!c->dead) {
			int kick = c->kick_read ? EV_KICK : 0;

			c->kick_read = 0;
			conn_io(&c->io, EV_WRITE | kick);
		}
	}
	/* Then tell epoll what each changed conn waits for now. */
	while ((c = update_list) != NULL) {
		update_list = c->next_update;
		c->update_listed = 0;
		c->next_update = NULL;
		if (!c->dead)
			conn_apply(c);
	}
	free_dead();
	/* After a burst of connections (thousands of idle TLS sessions:
	 * 15 KB each, mostly OpenSSL's) the heap keeps the freed pages
	 * unless asked; give them back once most of the burst is gone. */
	if (peak >= TRIM_MIN && nconns < peak / 4) {
		malloc_trim(0);
		peak = nconns;
	}
}

void
conn_init_module(void)
{
	loop_on_idle(conn_reap, NULL);
}

int
conn_count(void)
{
	return nconns;
}

void
conn_close_left(int (*pick)(const struct conn *))
{
	struct conn *c, *next;

	for (c = open_list; c != NULL; c = next) {
		next = c->next_open;
		if (pick(c))
			conn_close(c);
	}
	free_dead();
}

static void
set_sockopts(int fd)
{
	int one = 1;

	/* Replies are small and latency-bound: never wait for delayed ACKs. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static struct conn *
conn_alloc(int fd, const struct conn_ops *ops, void *arg, size_t inmax,
    size_t outmax)
{
	struct conn *c = xcalloc(1, sizeof(*c));

	c->fd = fd;
	c->ops = ops;
	c->arg = arg;
	buf_init(&c->in, inmax);
	buf_init(&c->out, outmax);
	io_init(&c->io, fd, conn_io, c);
	if ((c->next_open = open_list) != NULL)
		open_list->prev_open = c;
	open_list = c;
	if (++nconns > peak)
		peak = nconns;
	return c;
}

struct conn *
conn_new(int fd, const struct conn_ops *ops, void *arg, size_t inmax,
    size_t outmax)
{
	struct conn *c;

	set_sockopts(fd);
	c = conn_alloc(fd, ops, arg, inmax, outmax);
	c->peerlen = sizeof(c->peer);
	if (getpeername(fd, (struct sockaddr *)&c->peer, &c->peerlen) == -1)
		c->peerlen = 0;
	conn_update(c);
	return c;
}

struct conn *
conn_connect(const struct sockaddr *sa, socklen_t salen,
    const struct sockaddr *src, socklen_t srclen,
    const struct conn_ops *ops, void *arg, size_t inmax, size_t outmax)
{
	struct conn *c;
	int fd;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		return NULL;
	set_sockopts(fd);
	if (src != NULL && bind(fd, src, srclen) == -1)
		goto fail;
	if (connect(fd, sa, salen) == -1 && errno != EINPROGRESS)
		goto fail;
	c = conn_alloc(fd, ops, arg, inmax, outmax);
	memcpy(&c->peer, sa, salen);
	c->peerlen = salen;
	c->connecting = 1;
	conn_update(c);
	return c;
fail:
	{
		int e = errno;

		close(fd);
		errno = e;
	}
	return NULL;
}

static void
schedule_flush(struct conn *c)
{
	if (!c->flush_listed) {
		c->flush_listed = 1;
		c->next_flush = flush_list;
		flush_list = c;
	}
}

int
conn_write(struct conn *c, const void *p, size_t n)
{
	if (c->dead)
		return -1;
	if (buf_append(&c->out, p, n) == -1)
		return -1;
	schedule_flush(c);
	return 0;
}

int
conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (c->dead)
		return -1;
	va_start(ap, fmt);
	r = buf_vprintf(&c->out, fmt, ap);
	va_end(ap);
	if (r == 0)
		schedule_flush(c);
	return r;
}

void
conn_pause_read(struct conn *c, int paused)
{
	if (c->dead)
		return;
	c->read_paused = paused ? 1 : 0;
	if (!paused) {
		c->pause_seen = 0;
		/* The reap pass hands over what is buffered, TLS included. */
		c->kick_read = 1;
		schedule_flush(c);
	}
	conn_update(c);
}

static void
conn_fail(struct conn *c)
{
	if (c->dead)
		return;
	if (c->ops->on_error)
		c->ops->on_error(c);
	conn_close(c);
}

/* The conn's interest changed: recompute it before the loop sleeps. */
void
conn_update(struct conn *c)
{
	if (c->dead || c->update_listed)
		return;
	c->update_listed = 1;
	c->next_update = update_list;
	update_list = c;
}

static void
conn_apply(struct conn *c)
{
	int ev = 0;

	if (c->connecting)
		ev = EV_WRITE;
	else if (c->handshaking)
		ev = c->tls_want_write ? EV_WRITE : EV_READ;
	else {
		/* Paused: keep reading armed until bytes come meanwhile. */
		if ((!c->read_paused || !c->pause_seen) && !c->eof &&
		    !c->closing && (c->in.max == 0 || buf_len(&c->in) <
		    c->in.max))
			ev |= EV_READ;
		if (buf_len(&c->out) > 0 || c->tls_want_write)
			ev |= EV_WRITE;
	}
	io_set(&c->io, ev);
}

/* Write what we can; -1 when the connection broke. */
static int
do_flush(struct conn *c)
{
	if (c->tls_rec)
		return conn_rec_flush(c);
	if (c->ssl == NULL)
		return conn_write_buf(c, &c->out) == -1 ? -1 : 0;
	while (buf_len(&c->out) > 0) {
		int r, err;

		ERR_clear_error();
		errno = 0;
		r = SSL_write(c->ssl, buf_ptr(&c->out),
		    (int)(buf_len(&c->out) > 1 << 30 ? 1 << 30 :
		    buf_len(&c->out)));
		if (r > 0) {
			buf_consume(&c->out, (size_t)r);
			c->tls_want_write = 0;
			continue;
		}
		err = SSL_get_error(c->ssl, r);
		if (err == SSL_ERROR_WANT_WRITE) {
			c->tls_want_write = 1;
			return 0;
		}
		if (err == SSL_ERROR_WANT_READ)
			return 0;
		conn_tls_error(c, "TLS write");
		return -1;
	}
	return 0;
}

int
conn_write_buf(struct conn *c, struct buf *b)
{
	while (buf_len(b) > 0) {
		ssize_t n = write(c->fd, buf_ptr(b), buf_len(b));

		if (n > 0) {
			buf_consume(b, (size_t)n);
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 1;
		return conn_failed(c, "write");
	}
	return 0;
}

int
conn_failed(struct conn *c, const char *what)
{
	snprintf(c->error, sizeof(c->error), "%s: %s", what, strerror(errno));
	return -1;
}

int
conn_read_none(struct conn *c, ssize_t n)
{
	if (n == 0) {
		c->eof = 1;
		return 0;
	}
	if (errno == EAGAIN || errno == EINTR)
		return 0;
	return conn_failed(c, "read");
}

/* n bytes were read into dst (the buffer's tail, or scratch). */
static int
read_keep(struct conn *c, const char *dst, size_t n)
{
	if (dst != scratch) {
		buf_added(&c->in, n);
		return 0;
	}
	if (buf_append(&c->in, dst, n) == -1)
		return conn_failed(c, "read");
	return 0;
}

/* Read what is there (bounded per turn); -1 on error. */
static int
do_read(struct conn *c)
{
	size_t got = 0;
	int starved = 0;	/* TLS: OpenSSL needs the socket again */

	if (c->tls_rec)
		return conn_rec_read(c, READ_BUDGET);
	while (!c->eof && got < READ_BUDGET) {
		size_t room = READ_CHUNK;
		ssize_t n;
		char *dst;

		if (c->in.max) {
			size_t live = buf_len(&c->in);

			if (live >= c->in.max)
				break;		/* consumer must drain first */
			if (room > c->in.max - live)
				room = c->in.max - live;
		}
		/* Straight into the buffer when it is big already (DATA in
		 * flight); else via scratch, keeping only what came. */
		dst = buf_room(&c->in) >= room ? buf_tail(&c->in) : scratch;
		if (c->ssl) {
			int r, err;

			ERR_clear_error();
			errno = 0;
			r = SSL_read(c->ssl, dst, (int)room);
			if (r > 0) {
				if (read_keep(c, dst, (size_t)r) == -1)
					return -1;
				got += (size_t)r;
				/* Nothing left in OpenSSL's read-ahead buffer:
				 * the socket is most likely empty too, and
				 * epoll says so if not.  Spares a read() that
				 * would only return EAGAIN. */
				if (!SSL_has_pending(c->ssl)) {
					starved = 1;
					break;
				}
				continue;
			}
			err = SSL_get_error(c->ssl, r);
			if (err == SSL_ERROR_WANT_READ) {
				starved = 1;
				break;
			}
			if (err == SSL_ERROR_WANT_WRITE) {
				c->tls_want_write = 1;
				starved = 1;
				break;
			}
			if (err == SSL_ERROR_ZERO_RETURN) {
				c->eof = 1;
				break;
			}
			if (err == SSL_ERROR_SYSCALL && errno == 0) {
				c->eof = 1;	/* EOF without close_notify */
				break;
			}
			conn_tls_error(c, "TLS read");
			return -1;
		}
		n = read(c->fd, dst, room);
		if (n > 0) {
			if (read_keep(c, dst, (size_t)n) == -1)
				return -1;
			got += (size_t)n;
			if ((size_t)n < room)
				break;
			continue;
		}
		if (conn_read_none(c, n) == -1)
			return -1;
		break;
	}
	/* Stopped by the budget or a full buffer with records OpenSSL read
	 * ahead: the socket will not say they are there. */
	c->tls_held = c->ssl && !starved && !c->eof &&
	    SSL_has_pending(c->ssl);
	return got > 0 || c->eof ? 1 : 0;
}

static void
finish_connect(struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	c->connecting = 0;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		snprintf(c->error, sizeof(c->error), "connect: %s",
		    strerror(err));
		c->ops->on_connect(c, 0);
		return;
	}
	conn_update(c);
	c->ops->on_connect(c, 1);
}

/*
 * revents may carry EV_KICK from the reap pass: a pause ended, so hand
 * the consumer what is buffered even if the socket has nothing new.
 */
static void
conn_io(struct ev_io *io, int revents)
{
	struct conn *c = io->arg;
	int r;

	if (c->dead)
		return;
	if (c->connecting) {
		if (revents & (EV_WRITE | EV_READ))
			finish_connect(c);
		return;
	}
	if (c->handshaking) {
		if (c->closing) {
			conn_close(c);
			return;
		}
		conn_tls_handshake(c);
		return;
	}
	if ((revents & EV_WRITE) || c->tls_want_write || c->closing) {
		size_t before = buf_len(&c->out);

		if (do_flush(c) == -1) {
			conn_fail(c);
			return;
		}
		if (c->closing && buf_len(&c->out) == 0 &&
		    !c->tls_want_write) {
			conn_close(c);
			return;
		}
		if (c->ops->on_drain && before > 0 &&
		    buf_len(&c->out) <= c->drain_mark) {
			c->ops->on_drain(c);
			if (c->dead)
				return;
		}
	}
	if (c->read_paused && (revents & EV_READ))
		c->pause_seen = 1;	/* now take read interest away */
	if (!c->read_paused && !c->closing && ((revents & (EV_READ |
	    EV_KICK)) || (c->ssl && (revents & EV_WRITE)))) {
		if ((r = do_read(c)) == -1) {
			conn_fail(c);
			return;
		}
		if (r == 1 || ((revents & EV_KICK) && buf_len(&c->in) > 0)) {
			c->ops->on_read(c);
			if (c->dead)
				return;
		}
	}
	/* OpenSSL holds records it read ahead (or the rest of one that did
	 * not fit): the socket will not say so, the reap pass must. */
	if (c->tls_held && !c->read_paused && !c->closing &&
	    (c->in.max == 0 || buf_len(&c->in) < c->in.max)) {
		c->kick_read = 1;
		schedule_flush(c);
	}
	/* OpenSSL done with (TLS 1.3, nothing held): conn_rec.c's now. */
	if (c->rec != NULL && c->ssl != NULL)
		conn_rec_try(c);
	/* What was consumed or sent needs no room kept for it. */
	buf_release(&c->in, BUF_KEEP);
	buf_release(&c->out, BUF_KEEP);
	conn_update(c);
}

void
conn_close_after_flush(struct conn *c)
{
	if (c->dead)
		return;
	/* Never close synchronously: the caller may still hold state that
	 * on_close would free.  The reap pass closes once out is empty. */
	c->closing = 1;
	schedule_flush(c);
	conn_update(c);
}

void
conn_close(struct conn *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	io_del(&c->io);
	if (c->ssl) {
		if (!c->handshaking)
			SSL_shutdown(c->ssl);	/* best effort close_notify */
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	conn_rec_close(c);
	close(c->fd);
	c->fd = -1;
	if (c->prev_open != NULL)
		c->prev_open->next_open = c->next_open;
	else
		open_list = c->next_open;
	if (c->next_open != NULL)
		c->next_open->prev_open = c->prev_open;
	nconns--;
	c->next_dead = dead_list;
	dead_list = c;
	if (c->ops->on_close)
		c->ops->on_close(c);
}
