/*
 * mime_walk.h - a message as the content policy reads it: every text
 * part decoded (base64, quoted-printable) and converted to UTF-8, HTML
 * turned into text, and every attachment listed with its name, declared
 * and sniffed type and size.  Nested message/rfc822 parts are walked to
 * a bounded depth; archives are reported, never unpacked.
 *
 * Pure as far as the caller sees: bytes in, a result out, no I/O but
 * libmagic's reading of its database on first use in a thread.  gwd's
 * policy stage, gwctl's `policy test`, the unit tests and a fuzzer share
 * it.  Bounded on hostile input: parts past lim->parts are counted, not
 * read; text past lim->text is cut (and said so); depth past lim->depth
 * is not entered.
 */
#ifndef GW_MIME_WALK_H
#define GW_MIME_WALK_H

#include <stddef.h>

/* Why the walk did not read everything (mime_walk.flags). */
#define MW_DEEP		0x01	/* message/rfc822 nested past lim->depth */
#define MW_MANY_PARTS	0x02	/* more than lim->parts leaf parts */
#define MW_TEXT_CUT	0x04	/* decoded text past lim->text */
#define MW_BAD_CHARSET	0x08	/* a declared charset unknown: read as
				 * UTF-8 where valid, else as Latin-1 */

struct mime_limits {
	int	 depth;		/* message/rfc822 levels entered (1: the top) */
	int	 parts;		/* leaf parts read */
	size_t	 text;		/* decoded text kept, all parts together */
	/* 1: no libmagic.  An attachment's sniffed type comes from a few
	 * magic numbers (zip, PDF, PE, ELF, gzip, rar, 7z), else is
	 * "text/plain" (its first bytes are UTF-8 text: read as text, as
	 * libmagic's verdict would have it) or "application/octet-stream".
	 * libmagic costs 0.5 to 3 ms an attachment; only attachment rules
	 * need its finer answer (bench/RESULTS.md, issue 11). */
	int	 no_magic;
	/* 1: GMime reads every message; else a message of one plain text
	 * part (mime_plain.h) is read without GMime's objects, to the same
	 * result.  The tests set it to compare the two paths. */
	int	 gmime_only;
};

/* The defaults gwd uses: 5 levels, 1000 parts, 16 MiB of text, the fast
 * path on. */
extern const struct mime_limits mime_limits_default;

struct mime_text {
	char	*path;		/* the part: "1.2", "2/1" (a nested message's
				 * part 1), "subject" */
	char	*type;		/* declared, lower case: "text/html" */
	char	*text;		/* UTF-8 (invalid sequences replaced),
				 * NUL-terminated */
	size_t	 len;
	/* text/html: the href, src and action targets, one a line
	 * (character references decoded), for the URL checks (urlx.h);
	 * NULL for other types. */
	char	*links;
	size_t	 linkslen;
};

struct mime_attach {
	char	*path;
	char	*name;		/* filename or name parameter; "" if none */
	char	*type;		/* declared, lower case */
	char	*sniffed;	/* libmagic's MIME type of the content */
	size_t	 size;		/* decoded bytes */
	int	 archive;	/* zip, rar, 7z, tar, gzip...: not unpacked */
	int	 encrypted;	/* a zip with an encrypted entry among the
				 * bytes sniffed */
};

struct mime_walk {
	struct mime_text	*texts;
	int			 ntexts;
	struct mime_attach	*att;
	int			 natt;
	int			 nparts;	/* leaf parts seen, read or not */
	int			 flags;		/* MW_* */
	size_t			 textlen;	/* sum of texts[].len */
};

/*
 * Walk msg[0..len).  Never fails on content: whatever GMime can read of
 * it is returned (a message with no MIME structure is one text part).
 * Returns 0 (GMime and this walk die only when memory runs out).
 */
int	 mime_walk(const char *msg, size_t len, const struct mime_limits *,
	    struct mime_walk *);
void	 mime_walk_free(struct mime_walk *);
/* GMime's start, once per process, whichever thread asks first: every
 * user of GMime in gw calls it (g_mime_init itself is not thread-safe). */
void	 mime_init(void);
/* msg[0..len) parsed by GMime in place, then fn(arg, the GMimeMessage *,
 * or NULL when GMime reads none); the message lives until fn returns. */
void	 mime_with_message(const char *msg, size_t len,
	    void (*fn)(void *arg, void *gmime_message), void *arg);

/* HTML to text: tags dropped (block tags become a line break), script
 * and style content dropped, comments dropped, character references
 * decoded.  out gets at most len + 1 bytes (UTF-8 of a reference never
 * outgrows the reference); returns the length written. */
size_t	 mime_html_text(const char *html, size_t len, char *out);
/* The same, with map[i] the offset in html of what made out[i] (map has
 * room for len entries). */
size_t	 mime_html_text_map(const char *html, size_t len, char *out,
	    size_t *map);
/* The length of the source of one character of the text at html[at]: a
 * character reference's whole length, else 1. */
size_t	 mime_html_unit(const char *html, size_t len, size_t at);

/* A header value's text: encoded words (RFC 2047) decoded, UTF-8
 * cleaned; the caller frees it. */
char	*mime_header_text(const char *raw);

struct buf;
/* A GMimePart's content decoded (transfer encoding; then from charset
 * cs to UTF-8 unless cs is NULL), appended to b up to max bytes; the
 * decoded size in *total.  1 when cs is not known (not converted). */
int	 mime_part_decoded(void *gmime_part, const char *cs, struct buf *b,
	    size_t max, size_t *total);

/* The href=, src= and action= values of the tags of html[0..len), each
 * followed by '\n', character references decoded, into out (at most
 * len + 1 bytes); returns the length written. */
size_t	 mime_html_links(const char *html, size_t len, char *out);

#endif
