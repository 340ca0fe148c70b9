/*
 * mta_body.c - the delivery client: the message body on the wire,
 * dot-stuffed for DATA, or as it is after BDAT, and written a chunk at
 * a time as the output drains, so a large message never sits whole in
 * the output buffer.
 * Standards: RFC 5321 4.5.2 (transparency), RFC 3030 (CHUNKING).
 * Exposure: none; the body is gwd's stored message.
 * Diagnostics: a full output buffer fails the connection (mta_fail).
 */
#include <string.h>

#include "gwd.h"
#include "mta_priv.h"

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

/* After "BDAT <bodylen> LAST": the body as it is, to its last octet. */
static void
mta_body_fill_bdat(struct mta *m)
{
	struct qmsg *msg = m->job->msg;
	struct buf *out = &m->c->out;

	while (m->body_off < msg->bodylen && buf_len(out) < BODY_CHUNK) {
		size_t n = msg->bodylen - m->body_off;

		if (n > BODY_CHUNK - buf_len(out))
			n = BODY_CHUNK - buf_len(out);
		if (buf_append(out, msg->body + m->body_off, n) == -1) {
			mta_fail(m, "output buffer full");
			return;
		}
		m->body_off += n;
	}
	if (m->body_off == msg->bodylen) {
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
		mta_body_fill_bdat(m);
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
