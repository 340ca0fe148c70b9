/*
 * conn_rec.c - a server conn's TLS 1.3 session after its handshake,
 * without OpenSSL: what kernel TLS would do, in gwd (this kernel has no
 * tls ULP, and OpenSSL 3.0 cannot hand its record layer over anyway).
 *
 * While OpenSSL does the handshake we learn what it will not tell
 * otherwise: the application traffic secrets (its key log callback) and
 * how many records each side has sent under them (its message callback
 * sees every record header after each side's Finished).  Once the
 * handshake is over and OpenSSL holds nothing unread or unsent, the
 * SSL object is freed (~14 KB an idle session: the goal of 10 000 idle
 * TLS sessions under 100 MB, issue 16) and tlsrec.c seals and opens the
 * records.  TLS 1.2 sessions, and a session that saw a KeyUpdate before
 * the switch, stay with OpenSSL.
 *
 * Standards: RFC 8446 5 (records), 4.6.3 (KeyUpdate), 6 (alerts).
 * Exposure: reads the peer's records off the socket: tlsrec.c checks
 * each (frame, tag, content type) before a byte of it is believed;
 * anything wrong is a fatal alert sent and the conn failed, with the
 * reason in c->error.  The secrets are wiped when the conn is freed.
 * Diagnostics: never dies (memory aside); -1 returns carry c->error.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "conn_priv.h"
#include "tlsrec.h"
#include "util.h"

#define SEAL_BATCH	4	/* records sealed per write */

struct conn_rec {
	struct tlsrec	 t;
	const char	*cipher;	/* OpenSSL's name (static) */
	struct buf	 rin;	/* ciphertext not yet opened */
	struct buf	 pin;	/* plaintext c->in had no room for */
	struct buf	 rout;	/* sealed, not yet written */
	/* Learned during the handshake. */
	unsigned char	 csecret[TLSREC_MAX_SECRET];
	unsigned char	 ssecret[TLSREC_MAX_SECRET];
	uint64_t	 rseq, wseq;	/* records after each Finished */
	uint8_t		 secretlen;
	unsigned	 have_c:1, have_s:1,
			 rfin:1, wfin:1,	/* each side's Finished seen */
			 never:1,	/* stays with OpenSSL */
			 failed:1;	/* no close_notify at close */
};

static SSL_CTX	*lean_ctx;
static int	 rec_idx = -1;	/* SSL ex_data: the conn */
/* A read lands here when no partial record waits in rin: most records
 * are opened in place, and an idle conn keeps no buffer. */
static unsigned char rscratch[TLSREC_MAX];

static int
unhex(const char *s, unsigned char *out, size_t max)
{
	size_t n = strlen(s), i;

	if (n % 2 != 0 || n / 2 > max)
		return -1;
	for (i = 0; i < n / 2; i++) {
		int hi = OPENSSL_hexchar2int((unsigned char)s[2 * i]);
		int lo = OPENSSL_hexchar2int((unsigned char)s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return (int)(n / 2);
}

/* OpenSSL's key log line: "LABEL <client random> <secret>", in hex. */
static void
keylog(const SSL *ssl, const char *line)
{
	struct conn *c = SSL_get_ex_data(ssl, rec_idx);
	struct conn_rec *r;
	unsigned char *dst;
	const char *sp;
	int n;

	if (c == NULL || (r = c->rec) == NULL)
		return;
	if (strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24) == 0)
		dst = r->csecret;
	else if (strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24) == 0)
		dst = r->ssecret;
	else
		return;
	if ((sp = strrchr(line, ' ')) == NULL ||
	    (n = unhex(sp + 1, dst, TLSREC_MAX_SECRET)) <= 0 ||
	    (r->secretlen != 0 && n != r->secretlen)) {
		r->never = 1;
		return;
	}
	r->secretlen = (uint8_t)n;
	if (dst == r->csecret)
		r->have_c = 1;
	else
		r->have_s = 1;
}

/* Every record header and handshake message OpenSSL reads or writes:
 * count the records each side sends after its Finished, which is
 * where its application traffic keys start. */
static void
msg(int write_p, int version, int type, const void *buf, size_t len,
    SSL *ssl, void *arg)
{
	struct conn *c = arg;
	struct conn_rec *r = c->rec;
	const unsigned char *p = buf;

	if (r == NULL || len < 1)
		return;
	if (type == SSL3_RT_HANDSHAKE) {
		if (p[0] == SSL3_MT_FINISHED) {
			if (write_p) {
				r->wfin = 1;
				r->wseq = 0;
			} else {
				r->rfin = 1;
				r->rseq = 0;
			}
		} else if (p[0] == SSL3_MT_KEY_UPDATE)
			r->never = 1;	/* the count no longer names a key */
	} else if (type == SSL3_RT_HEADER && len >= TLSREC_HDR &&
	    p[0] == TLSREC_APPDATA) {
		if (write_p && r->wfin)
			r->wseq++;
		else if (!write_p && r->rfin)
			r->rseq++;
	}
}

int
conn_tls_lean(SSL_CTX *ctx)
{
	if (rec_idx == -1 &&
	    (rec_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL)) == -1)
		return -1;
	SSL_CTX_set_keylog_callback(ctx, keylog);
	lean_ctx = ctx;
	return 0;
}

static void
rec_free(struct conn *c)
{
	struct conn_rec *r = c->rec;

	if (r == NULL)
		return;
	buf_free(&r->rin);
	buf_free(&r->pin);
	buf_free(&r->rout);
	OPENSSL_cleanse(r, sizeof(*r));
	free(r);
	c->rec = NULL;
}

void
conn_rec_track(struct conn *c, SSL_CTX *ctx)
{
	if (ctx != lean_ctx || lean_ctx == NULL)
		return;
	c->rec = xcalloc(1, sizeof(*c->rec));
	if (SSL_set_ex_data(c->ssl, rec_idx, c) != 1) {
		rec_free(c);
		return;
	}
	SSL_set_msg_callback(c->ssl, msg);
	SSL_set_msg_callback_arg(c->ssl, c);
}

/* OpenSSL is no longer needed: nothing unread, nothing unsent. */
void
conn_rec_try(struct conn *c)
{
	struct conn_rec *r = c->rec;
	const SSL_CIPHER *ciph;
	SSL *ssl = c->ssl;

	if (r == NULL || ssl == NULL || c->handshaking)
		return;
	if (r->never || SSL_version(ssl) != TLS1_3_VERSION)
		goto stay;
	if (!r->rfin || !r->wfin || !r->have_c || !r->have_s ||
	    SSL_has_pending(ssl) || buf_len(&c->out) > 0 ||
	    c->tls_want_write || SSL_get_shutdown(ssl) != 0)
		return;
	ciph = SSL_get_current_cipher(ssl);
	if (ciph == NULL || tlsrec_init(&r->t, SSL_CIPHER_get_protocol_id(ciph),
	    1, r->csecret, r->ssecret, r->secretlen, r->rseq, r->wseq) == -1)
		goto stay;
	r->cipher = SSL_CIPHER_get_name(ciph);
	OPENSSL_cleanse(r->csecret, sizeof(r->csecret));
	OPENSSL_cleanse(r->ssecret, sizeof(r->ssecret));
	SSL_free(ssl);
	c->ssl = NULL;
	c->tls_rec = 1;
	return;
stay:
	/* OpenSSL keeps the session for its life. */
	SSL_set_msg_callback(ssl, NULL);
	rec_free(c);
}

void
conn_rec_desc(const struct conn *c, char *out, size_t n)
{
	snprintf(out, n, "TLSv1.3 %s", c->rec->cipher);
}

size_t
conn_rec_pending(const struct conn *c)
{
	return buf_len(&c->rec->pin);
}

/* Seal one record of `type` onto rout; -1 with c->error. */
static int
seal(struct conn *c, int type, const void *p, size_t n)
{
	struct buf *o = &c->rec->rout;
	long len;

	if (buf_reserve(o, TLSREC_HDR + n + 1 + TLSREC_TAG) == -1)
		return conn_failed(c, "TLS write");
	if ((len = tlsrec_seal(&c->rec->t, type, p, n,
	    (unsigned char *)buf_tail(o))) == -1) {
		snprintf(c->error, sizeof(c->error), "TLS write: seal failed");
		return -1;
	}
	buf_added(o, (size_t)len);
	return 0;
}

/* rout to the socket: 0 (all of it, or it would block), -1 broken. */
static int
drain(struct conn *c)
{
	int r = conn_write_buf(c, &c->rec->rout);

	if (r == -1)
		return -1;
	/* Bytes left: the flush waits for the socket (conn_apply()). */
	c->tls_want_write = r == 1;
	if (r == 0)
		buf_release(&c->rec->rout, 0);
	return 0;
}

int
conn_rec_flush(struct conn *c)
{
	for (;;) {
		int i;

		if (drain(c) == -1)
			return -1;
		if (c->tls_want_write || buf_len(&c->out) == 0)
			return 0;
		for (i = 0; i < SEAL_BATCH && buf_len(&c->out) > 0; i++) {
			size_t n = buf_len(&c->out);

			if (n > TLSREC_MAX_PLAIN)
				n = TLSREC_MAX_PLAIN;
			if (seal(c, TLSREC_APPDATA, buf_ptr(&c->out), n) == -1)
				return -1;
			buf_consume(&c->out, n);
		}
	}
}

static const char *
alert_name(int a)
{
	switch (a) {
	case TLSREC_UNEXPECTED:		return "unexpected message";
	case TLSREC_BAD_MAC:		return "bad record MAC";
	case TLSREC_OVERFLOW:		return "record overflow";
	case TLSREC_ILLEGAL_PARAM:	return "illegal parameter";
	case TLSREC_DECODE_ERROR:	return "decode error";
	default:			return "internal error";
	}
}

/* A fatal alert to the peer (best effort) and the conn's end. */
static int
fatal(struct conn *c, int alert)
{
	unsigned char a[2] = { 2, (unsigned char)alert };

	snprintf(c->error, sizeof(c->error), "TLS read: %s",
	    alert_name(alert));
	c->rec->failed = 1;
	if (seal(c, TLSREC_ALERT, a, sizeof(a)) == 0)
		(void)drain(c);
	return -1;
}

/* How many of n bytes c->in takes before its limit. */
static size_t
in_room(const struct conn *c, size_t n)
{
	if (c->in.max != 0 && c->in.max - buf_len(&c->in) < n)
		return c->in.max - buf_len(&c->in);
	return n;
}

/* Plaintext to c->in as far as its limit allows, the rest to pin. */
static int
deliver(struct conn *c, const unsigned char *p, size_t n)
{
	size_t room = in_room(c, n);

	if ((room > 0 && buf_append(&c->in, p, room) == -1) ||
	    (n > room && buf_append(&c->rec->pin, p + room, n - room) == -1))
		return conn_failed(c, "read");
	return 0;
}

static int
in_full(const struct conn *c)
{
	return buf_len(&c->rec->pin) > 0 || in_room(c, 1) == 0;
}

/*
 * Open the whole records at p (n bytes, opened in place) while c->in
 * takes their plaintext; *got counts it.  Returns the bytes used, or
 * -1 when the conn must end (c->error says why).
 */
static long
open_records(struct conn *c, unsigned char *p, size_t n, size_t *got)
{
	struct conn_rec *r = c->rec;
	size_t used = 0;

	while (!c->eof && !in_full(c)) {
		int type, alert, k;
		long len, pl;

		if ((len = tlsrec_frame(p + used, n - used, &alert)) == 0)
			break;
		if (len < 0)
			return fatal(c, alert);
		pl = tlsrec_open(&r->t, p + used, (size_t)len,
		    p + used + TLSREC_HDR, &type, &alert);
		if (pl < 0)
			return fatal(c, alert);
		switch (type) {
		case TLSREC_APPDATA:
			if (deliver(c, p + used + TLSREC_HDR, (size_t)pl) == -1)
				return -1;
			*got += (size_t)pl;
			break;
		case TLSREC_ALERT:
			if (pl != 2)
				return fatal(c, TLSREC_DECODE_ERROR);
			if (p[used + TLSREC_HDR + 1] != TLSREC_CLOSE_NOTIFY) {
				snprintf(c->error, sizeof(c->error),
				    "TLS read: alert %d from the peer",
				    p[used + TLSREC_HDR + 1]);
				r->failed = 1;
				return -1;
			}
			c->eof = 1;
			break;
		case TLSREC_HANDSHAKE:
			k = tlsrec_handshake(&r->t, p + used + TLSREC_HDR,
			    (size_t)pl, &alert);
			if (k == -1)
				return fatal(c, alert);
			/* Asked to update ours: a KeyUpdate under the old key,
			 * then everything after it under the new one. */
			if (k == 1 && (seal(c, TLSREC_HANDSHAKE,
			    tlsrec_key_update, sizeof(tlsrec_key_update)) == -1 ||
			    tlsrec_update(&r->t, &r->t.wr) == -1 ||
			    drain(c) == -1))
				return -1;
			break;
		default:
			return fatal(c, TLSREC_UNEXPECTED);
		}
		used += (size_t)len;
	}
	return (long)used;
}

/* Keep the n bytes at p that were not used (a partial record, or
 * records c->in had no room for) at the front of rin. */
static int
keep(struct conn *c, const unsigned char *p, size_t n)
{
	if (n > 0 && buf_append(&c->rec->rin, p, n) == -1)
		return conn_failed(c, "read");
	return 0;
}

int
conn_rec_read(struct conn *c, size_t budget)
{
	struct conn_rec *r = c->rec;
	size_t got = 0;
	long used;
	int last = 0;

	for (;;) {
		ssize_t n;
		size_t want;

		/* What was held back goes first, in order. */
		if (buf_len(&r->pin) > 0) {
			size_t k = in_room(c, buf_len(&r->pin));

			if (buf_append(&c->in, buf_ptr(&r->pin), k) == -1)
				return conn_failed(c, "read");
			buf_consume(&r->pin, k);
		}
		if (buf_len(&r->rin) > 0) {
			used = open_records(c, (unsigned char *)buf_ptr(&r->rin),
			    buf_len(&r->rin), &got);
			if (used == -1)
				return -1;
			buf_consume(&r->rin, (size_t)used);
		}
		if (c->eof || in_full(c) || got >= budget || last)
			break;
		if (buf_len(&r->rin) > 0) {
			/* A partial record: the rest joins it. */
			if (buf_reserve(&r->rin, TLSREC_MAX) == -1)
				return conn_failed(c, "read");
			want = TLSREC_MAX;
			n = read(c->fd, buf_tail(&r->rin), want);
			if (n > 0)
				buf_added(&r->rin, (size_t)n);
		} else {
			want = sizeof(rscratch);
			n = read(c->fd, rscratch, want);
			if (n > 0) {
				used = open_records(c, rscratch, (size_t)n,
				    &got);
				if (used == -1 || keep(c, rscratch + used,
				    (size_t)n - (size_t)used) == -1)
					return -1;
			}
		}
		/* A short read emptied the socket (epoll says if not): what
		 * it brought is opened at the top, then no read() that would
		 * only say EAGAIN. */
		if (n > 0) {
			if ((size_t)n < want)
				last = 1;
			continue;
		}
		/* EOF without close_notify is an EOF, as with OpenSSL. */
		if (conn_read_none(c, n) == -1)
			return -1;
		break;
	}
	/* Records or plaintext held for want of room: the socket will not
	 * say they are here, the reap pass must (conn.c). */
	c->tls_held = !c->eof && (buf_len(&r->pin) > 0 ||
	    tlsrec_frame((unsigned char *)buf_ptr(&r->rin), buf_len(&r->rin),
	    &(int){ 0 }) > 0);
	buf_release(&r->rin, 0);
	buf_release(&r->pin, 0);
	return got > 0 || c->eof ? 1 : 0;
}

/* At close: close_notify unless the session failed (best effort, like
 * SSL_shutdown on a non-blocking socket), then the keys wiped. */
void
conn_rec_close(struct conn *c)
{
	static const unsigned char notify[2] = { 1, TLSREC_CLOSE_NOTIFY };

	if (c->rec == NULL)
		return;
	if (c->tls_rec && !c->rec->failed &&
	    seal(c, TLSREC_ALERT, notify, sizeof(notify)) == 0)
		(void)drain(c);
	rec_free(c);
	c->tls_rec = 0;
}
