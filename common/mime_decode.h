/*
 * mime_decode.h - a GMime part's content decoded for the content walk
 * (mime_walk.c) and the redaction (redact.c, through mime_walk.h's
 * mime_part_decoded()).  Internal to those two.
 */
#ifndef GW_MIME_DECODE_H
#define GW_MIME_DECODE_H

#include <stddef.h>

struct buf;

/*
 * After the first `at` decoded bytes (or all, when fewer), fn may lower
 * or raise how much is kept: an attachment is sniffed on its first bytes
 * and, when it is text, kept whole in the same pass.
 */
struct read_cap {
	size_t	  at;
	size_t	(*fn)(void *arg, const char *p, size_t n);
	void	 *arg;
};

/*
 * The GMimePart's content decoded (transfer encoding, then charset when
 * cs is not NULL), appended to b up to max bytes (or what cap says); the
 * decoded size in *total.  1 when cs is not known (not converted), else
 * 0.  With filters, through GMime's filter stream as before; else, when
 * no charset is converted, by GMime's own decoder step over the raw
 * content (the step its filter takes: the same bytes, no stream or
 * filter object per part), and once nothing more is kept, base64 and
 * quoted-printable only counted (mime_decode_count()).  The tests
 * compare the two.
 */
int	 mime_read_decoded(void *gmime_part, const char *cs, struct buf *b,
	    size_t max, size_t *total, const struct read_cap *cap,
	    int filters);

/*
 * What g_mime_encoding_step(e, in, n, ...) would write for a decoding
 * e (base64, quoted-printable; else n), without writing it; e's state
 * is advanced as the step advances it, its save only as far as the
 * count needs (no decoding step may follow).  Exact for the GMime the
 * probes of mime_decode_counted() pass: 1 then, else 0 (decode).
 */
struct _GMimeEncoding;
size_t	 mime_decode_count(struct _GMimeEncoding *e, const char *in,
	    size_t n);
int	 mime_decode_counted(void);

#endif
