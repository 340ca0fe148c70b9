/*
 * mime7.h - the 8BITMIME downgrade: a message with 8-bit body parts made
 * 7-bit for a receiver that does not offer 8BITMIME, by MIME's own means
 * (each 8-bit leaf part quoted-printable), so that what a reader decodes
 * is what the client sent.  Pure; fuzzed.
 * Standards: RFC 6152 3 (a relay converts or returns the message),
 * RFC 2045 6.7 (quoted-printable), RFC 2046 5.1 (multipart), 5.2.1
 * (message/rfc822), RFC 1428 (charset "unknown-8bit").
 */
#ifndef GW_MIME7_H
#define GW_MIME7_H

#include <stddef.h>

#include "buf.h"

/* 1 when s[0..n) holds a byte >= 0x80. */
int	mime7_is_8bit(const char *s, size_t n);

/* 1 when the header section of msg[0..n) has a DKIM-Signature field. */
int	mime7_has_dkim(const char *msg, size_t n);

/* Append b[0..n) quoted-printable (RFC 2045 6.7; CRLF a hard line
 * break, lines of at most 76 octets) to out: 0, or -1 when out is full. */
int	mime7_qp(struct buf *out, const char *b, size_t n);

#define MIME7_STRIP_DKIM	0x01	/* drop the top-level DKIM-Signature
					   fields (they would not verify) */

/*
 * Append the 7-bit form of msg[0..n) (CRLF lines) to out.  Leaf parts
 * with 8-bit content (Content-Transfer-Encoding absent, 7bit, 8bit or
 * binary) become quoted-printable; multipart and message/rfc822 are
 * walked (32 levels at most) and lose an 8bit/binary encoding field;
 * MIME-Version: is added at the top, and a part without Content-Type
 * is labelled "text/plain; charset=unknown-8bit".  7-bit parts are
 * copied as they are.  0, or -1 with *err saying why the message
 * cannot be made 7-bit without changing what it says (an 8-bit header
 * field, 8-bit text in base64 or quoted-printable, outside the parts of
 * a multipart, or nested too deep) or that out is full.
 */
int	mime7_downgrade(const char *msg, size_t n, int flags, struct buf *out,
	    const char **err);

#endif
