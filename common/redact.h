/*
 * redact.h - the redact action of the content policy (issue 11): the
 * values some detectors find are replaced in a message's text parts
 * (dlp_redact(): "XXXX-XXXX-XXXX-1111"), and the MIME re-encoded.
 *
 * Which parts: every inline text/plain and text/html part (no file
 * name, not an attachment), also inside message/rfc822 parts to the
 * walk's depth.  A part is decoded (base64, quoted-printable), converted
 * to UTF-8 from its charset, the values replaced (in HTML, the source of
 * each replaced character, a character reference included), and encoded
 * again: the same transfer encoding (7bit text that gained 8-bit bytes
 * becomes quoted-printable), charset UTF-8 when it was converted, kept
 * when it was US-ASCII, UTF-8 or one iconv does not know (replaced in
 * the bytes as they are).  The Subject of the message and of each
 * nested one is redacted too: its encoded words (RFC 2047) decoded,
 * the values replaced, encoded again.  Parts with nothing to replace,
 * other headers and attachments are left as they were.
 *
 * Pure as far as the caller sees: bytes in, bytes out; runs on gwd's
 * content worker and in gwctl's `policy test`.
 */
#ifndef GW_REDACT_H
#define GW_REDACT_H

#include <stddef.h>

#include "buf.h"
#include "dlp.h"

/*
 * Replace what the detectors of db with want[det] set find in msg[0..len)
 * and write the whole message, CRLF line ends, to out: the number of
 * values replaced (0: out is left empty, the message needs no change),
 * or -1 with the reason in err (Hyperscan failed, or out is full).
 */
int	 redact_message(const struct dlp_db *, const int *want,
	    const char *msg, size_t len, struct buf *out, char *err,
	    size_t errsz);

/* The same over one string, in place (a subject): want NULL for every
 * detector of db; whole: every letter and digit of a value replaced,
 * none kept.  The number replaced, or -1 with err. */
int	 redact_string(const struct dlp_db *, const int *want, int whole,
	    char *s, size_t len, char *err, size_t errsz);

#endif
