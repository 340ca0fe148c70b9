/*
 * reply.h - SMTP replies from remote servers, parsed as hostile input.
 *
 * Pure: bytes in, replies out.  Standards: RFC 5321 4.2 (reply codes and
 * multi-line replies), RFC 2034/3463 (enhanced status codes), RFC 5321
 * 4.1.1.1 and extensions (EHLO keywords).
 *
 * Limits keep memory bounded whatever the server sends: a line may be at
 * most REPLY_LINE_MAX bytes, a reply at most REPLY_LINES_MAX lines; text
 * beyond REPLY_TEXT_MAX is dropped (the reply still parses).
 */
#ifndef GW_REPLY_H
#define GW_REPLY_H

#include <stddef.h>
#include <stdint.h>

#define REPLY_LINE_MAX	4096
#define REPLY_LINES_MAX	1000
#define REPLY_TEXT_MAX	2048

struct smtp_reply {
	int	code;			/* 200..599 */
	char	status[16];		/* enhanced code "5.1.1", or "" */
	/* Text of all lines after "NNN-"/"NNN ", the enhanced code removed
	 * from the first; lines joined by '\n'; bytes < 0x20 (other than
	 * the joining '\n') and 0x7f..0xff replaced by '?'.  NUL-terminated. */
	char	text[REPLY_TEXT_MAX];
	int	nlines;
};

enum reply_result { REPLY_MORE, REPLY_DONE, REPLY_ERROR };

struct reply_parser {
	struct smtp_reply r;
	char	line[REPLY_LINE_MAX];	/* a line being assembled */
	size_t	linelen;
	size_t	textlen;
	int	lines;
	const char *error;		/* why REPLY_ERROR */
};

void	reply_parser_init(struct reply_parser *);
/*
 * Feed bytes.  Lines end in LF (CR before it is dropped).  Returns:
 *   REPLY_DONE  a complete reply is in p->r; *used = bytes of data eaten
 *               (the rest belongs to the next reply); call
 *               reply_parser_init() before feeding the next one.
 *   REPLY_MORE  all of data was eaten (*used = len); feed more.
 *   REPLY_ERROR malformed: p->error says why ("line too long", "bad code",
 *               "code mismatch in multi-line reply", "too many lines").
 * Malformed: a line shorter than 3 bytes; a code that is not 3 digits in
 * 2xx..5xx (first digit 2-5, second 0-5); a 4th byte that is neither
 * ' ' nor '-' (a bare "250" is a final line); a continuation whose code
 * differs from the first line.
 */
enum reply_result reply_feed(struct reply_parser *, const char *data,
	    size_t len, size_t *used);

struct ehlo_caps {
	int		pipelining;
	int		starttls;
	int		eightbitmime;
	int		enhancedstatuscodes;
	int		smtputf8;
	int		requiretls;	/* RFC 8689 */
	int		chunking;
	int		dsn;
	int		auth_plain;
	int		auth_login;
	int		size_ext;	/* SIZE advertised (RFC 1870) */
	uint64_t	size;		/* SIZE limit, 0 = none stated */
};

/* Read the capability lines of a 250 reply to EHLO (the first line is the
 * greeting and is skipped); keywords are case-insensitive. */
void	ehlo_parse(const struct smtp_reply *, struct ehlo_caps *);

#endif
