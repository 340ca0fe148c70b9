/*
 * mime_head.h - the top header fields the content walk reads, apart
 * from the rest.  GMime builds an object for every header field it
 * parses (about 10 k instructions each, bench/RESULTS.md), yet the walk
 * of the top message reads only its Content-* fields (the part's type,
 * encoding, disposition: GMime's part reads no other) and its Subject.
 * A pure check of the header section: bytes in, those fields out, or a
 * no (then GMime parses the whole message, as it does every other one).
 *
 * Yes only when there is no doubt where the section ends, for GMime as
 * for this check: every line up to the first empty one is a field as
 * mime_plain_field() takes it (printable US-ASCII name without blanks,
 * a colon, a value of printable US-ASCII and tabs, CRLF line ends) or
 * its continuation (folded), and an empty line (CRLF) ends it.  A line
 * without a colon, a bare CR or LF, a NUL, an 8-bit byte, an mbox
 * "From " line, a fold at the very start, a section that never ends:
 * each is a no, since there GMime's own rules (a line that is no field
 * may start the body) decide, and a disagreement on where the body
 * starts would hide content from the scan.
 */
#ifndef GW_MIME_HEAD_H
#define GW_MIME_HEAD_H

#include <stddef.h>

struct buf;

/* The Content-* and Subject fields of msg[0..len)'s header section, as
 * they are (folds and all, in their order), then the empty line,
 * appended to out; *body is where the body starts in msg.  0, or -1
 * (doubt, or no memory: out is then to be thrown away). */
int	 mime_head_keep(const char *msg, size_t len, struct buf *out,
	    size_t *body);

#endif
