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
 * filter object per part; or mime_decode_step(), which decodes as it
 * does), and once nothing more is kept, base64 and quoted-printable
 * only counted (mime_decode_count()).  The tests compare the two.
 */
int	 mime_read_decoded(void *gmime_part, const char *cs, struct buf *b,
	    size_t max, size_t *total, const struct read_cap *cap,
	    int filters);

/*
 * What g_mime_encoding_step(e, in, n, out) would write for a decoding
 * e (base64, quoted-printable; else n bytes), written to out (room for
 * n + 3), or only counted (mime_decode_count()); e's state and save
 * are left as the step leaves them (the count's save only as far as
 * counting needs: no step may follow a count).  Exact for the GMime
 * whose decoders agree on mime_decode_own()'s probes: it returns 1
 * then, else 0 (use GMime's step).
 */
struct _GMimeEncoding;
size_t	 mime_decode_step(struct _GMimeEncoding *e, const char *in,
	    size_t n, char *out);
size_t	 mime_decode_count(struct _GMimeEncoding *e, const char *in,
	    size_t n);
int	 mime_decode_own(void);

#endif
