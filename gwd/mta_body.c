/*
 * mta_body.c - the delivery client: the message body on the wire,
 * dot-stuffed for DATA, or as it is after BDAT, and written a chunk at
 * a time as the output drains, so a large message never sits whole in
 * the output buffer.
 * Standards: RFC 5321 4.5.2 (transparency), RFC 3030 (CHUNKING).
 * Exposure: none; the body is gwd's stored message.
 * Diagnostics: a full output buffer fails the connection (mta_fail).
 */
#include <stdlib.h>
#include <string.h>

#include "gwd.h"
#include "log.h"
#include "mta_priv.h"
#include "store_read.h"

/*
 * A message whose recipients each have their own fields (List-Unsubscribe
 * and the DKIM-Signature over them, QMSG_RCPT_PREFIX): the job's one
 * recipient's, from queue.db, go before the body, in body7 (what
 * mta_8bit_body() hands out).  The copy lasts as long as the job: a
 * message's size per busy connection, as a 7-bit conversion.  0, or -1
 * when queue.db no longer has the recipient.
 */
int
mta_body_prefix(struct mta *m)
{
	const struct qmsg *msg = m->job->msg;
	char *p;
	size_t len;

	if (!(msg->flags & QMSG_RCPT_PREFIX) || m->job->nrcpt != 1)
		return 0;
	if (store_load_prefix(m->job->rcpt[0], &p, &len) == -1)
		return -1;
	if (p == NULL)
		return 0;
	buf_init(&m->body7, len + msg->bodylen);
	if (buf_append(&m->body7, p, len) == -1 ||
	    buf_append(&m->body7, msg->body, msg->bodylen) == -1)
		fatalx("out of memory");
	m->has_body7 = 1;
	free(p);
	return 0;
}

/* 354 (or BDAT sent): the body goes out, a chunk at a time as the
 * output drains. */
void
mta_body_start(struct mta *m)
{
	m->state = M_BODY;
	m->body_off = 0;
	m->body_bol = 1;
	mta_arm(m, gcfg->relay.data_timeout_ms);
	mta_body_fill(m);
}

/* After "BDAT <len> LAST": the body that goes (converted to 7 bits or
 * not, mta_8bit.c), as it is, to its last octet. */
static void
mta_body_fill_bdat(struct mta *m, const char *b, size_t len)
{
	struct buf *out = &m->c->out;

	while (m->body_off < len && buf_len(out) < BODY_CHUNK) {
		size_t n = len - m->body_off;

		if (n > BODY_CHUNK - buf_len(out))
			n = BODY_CHUNK - buf_len(out);
		if (buf_append(out, b + m->body_off, n) == -1) {
			mta_fail(m, "output buffer full");
			return;
		}
		m->body_off += n;
	}
	if (m->body_off == len) {
		m->state = M_DOT;
		mta_arm(m, gcfg->relay.data_timeout_ms);
	}
	conn_write(m->c, "", 0);
}

/* Dot-stuff the body into the output, a chunk at a time. */
void
mta_body_fill(struct mta *m)
{
	struct buf *out = &m->c->out;
	size_t len;
	const char *b = mta_8bit_body(m, &len);

	if (m->bdat) {
		mta_body_fill_bdat(m, b, len);
		return;
	}
	while (m->body_off < len && buf_len(out) < BODY_CHUNK) {
		const char *p = b + m->body_off;
		size_t rest = len - m->body_off, n;
		const char *lf;

		if (m->body_bol && *p == '.' && buf_append(out, ".", 1) == -1)
			goto full;
		lf = memchr(p, '\n', rest);
		n = lf ? (size_t)(lf - p) + 1 : rest;
		if (buf_append(out, p, n) == -1)
			goto full;
		m->body_off += n;
		m->body_bol = lf != NULL;
	}
	if (m->body_off == len) {
		/* The end in the same write as the last bytes (no stall on a
		 * delayed ACK between them). */
		if (!m->body_bol && buf_append(out, "\r\n", 2) == -1)
			goto full;
		if (buf_append(out, ".\r\n", 3) == -1)
			goto full;
		m->state = M_DOT;
		mta_arm(m, gcfg->relay.data_timeout_ms);
	}
	conn_write(m->c, "", 0);
	return;
full:
	mta_fail(m, "output buffer full");
}
