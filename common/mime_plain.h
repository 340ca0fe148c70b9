/*
 * mime_plain.h - is a message one plain text part that the content walk
 * may read without GMime's object tree?  A pure check of the header
 * section: bytes in, a yes with the few values the walk needs, or a no
 * (then GMime reads the message, as it reads every other one).
 *
 * Yes only when there is no doubt what GMime would make of it: every
 * header line "Name: value" in printable US-ASCII (tabs allowed) with
 * CRLF line ends, an empty line before the body; Content-Type absent or
 * text/plain or text/html with at most a charset of US-ASCII or UTF-8
 * (no name, no RFC 2231 parameter, no comment); Content-Transfer-Encoding
 * absent, 7bit, 8bit, binary or quoted-printable; no
 * Content-Disposition; Content-Type, Content-Transfer-Encoding and
 * Subject each at most once, the first two not folded.
 */
#ifndef GW_MIME_PLAIN_H
#define GW_MIME_PLAIN_H

#include <stddef.h>

struct mime_plain {
	int		 html;		/* text/html, else text/plain */
	int		 qp;		/* quoted-printable */
	const char	*subject;	/* the raw value after the colon (folds
					 * and all, the final CRLF not), or
					 * NULL when there is no Subject */
	size_t		 subjectlen;
	size_t		 body;		/* where the body starts */
};

/* 0 and *p filled when msg[0..len) is such a message, else -1. */
int	 mime_plain_head(const char *msg, size_t len, struct mime_plain *p);

/*
 * One header field at msg[*i..len): its name's length in *nl, its value
 * (after the colon, up to its final CRLF) in *v, *vl; *folded when it
 * goes on over more lines.  *i moves past the final CRLF.  -1 when the
 * field is not plainly one: no colon, a blank or a byte outside
 * printable US-ASCII in the name, a control byte (but tab) or 8-bit byte
 * in the value, a CR or LF but as a CRLF pair.  Such a field's end is
 * where every reader puts it (GMime too: mime_head.h relies on it).
 */
int	 mime_plain_field(const char *msg, size_t len, size_t *i, size_t *nl,
	    const char **v, size_t *vl, int *folded);

#endif
