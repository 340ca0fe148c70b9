/*
 * smtp_proto.h - the pure half of the inbound SMTP server: command lines,
 * MAIL/RCPT parameters, and the DATA stream.  No I/O; fuzzed directly.
 * Standards: RFC 5321, RFC 1870 (SIZE), RFC 6152 (8BITMIME),
 * RFC 2920 (PIPELINING), RFC 3461 (DSN: smtp_dsn.h), RFC 3030 (CHUNKING),
 * RFC 6531 (SMTPUTF8).
 */
#ifndef GW_SMTP_PROTO_H
#define GW_SMTP_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "buf.h"
#include "smtp_dsn.h"

/* A command line split; the verbs themselves are the session's table
 * (smtp_cmd.c).  Neither part is NUL-terminated. */
struct smtp_cmd {
	const char	*name;		/* the verb, as sent */
	size_t		 namelen;
	const char	*arg;		/* after the verb and one space */
	size_t		 arglen;
};

/*
 * Line framing for commands.  A line ends in CRLF; a bare LF, or a CR not
 * followed by LF, is LINE_BARE.  A line longer than `max` (CRLF included)
 * is LINE_LONG: its bytes are consumed up to and including the next LF so
 * the session stays in step.  LINE_MORE: no full line yet.
 */
enum line_status { LINE_OK, LINE_MORE, LINE_LONG, LINE_BARE };

struct line_reader {
	int	skipping;	/* discarding the rest of an overlong line */
};

/* Look at data[0..len).  On LINE_OK, *line and *linelen are the line without
 * CRLF; *used is what to consume (also set for LONG and BARE). */
enum line_status line_next(struct line_reader *, const char *data,
	    size_t len, size_t max, const char **line, size_t *linelen,
	    size_t *used);

/* Split a command line at its first space. */
void	smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *);

struct mail_args {
	struct mailpath	 path;
	int		 has_size;
	uint64_t	 size;
	int		 body_8bit;
	struct dsn_mail	 dsn;		/* RET, ENVID (RFC 3461) */
	int		 smtputf8;	/* RFC 6531: UTF-8 addresses, headers */
	int		 requiretls;	/* RFC 8689: verified TLS all the way */
};

struct rcpt_args {
	struct mailpath	 path;
	struct dsn_rcptp dsn;		/* NOTIFY, ORCPT (RFC 3461) */
};

/*
 * Parse the argument of MAIL ("FROM:<a@b> SIZE=10 BODY=8BITMIME") or RCPT
 * ("TO:<a@b>").  Return 0, or -1 with *reply set to a complete SMTP
 * reply line (no CRLF), e.g. "555 5.5.4 Unsupported parameter".
 */
int	smtp_parse_mail(const char *arg, size_t len, struct mail_args *,
	    const char **reply);
int	smtp_parse_rcpt(const char *arg, size_t len, struct rcpt_args *,
	    const char **reply);
/* Paths are read with UTF-8; one that has any may only be used in a
 * transaction whose MAIL said SMTPUTF8: NULL, or the 553 5.6.7 reply. */
const char *smtp_utf8_reply(const struct mailpath *, int smtputf8);

/*
 * The DATA stream: dot-unstuffing and end detection.  Only CR LF "." CR LF
 * ends the data (the first CR LF may be the one ending the DATA command).
 * Bare CR, bare LF, NUL, lines over 998 octets and overflow of `max` are
 * flagged and the data is still read to its true end, so one message can
 * never be split into two (SMTP smuggling).  After the first flag,
 * nothing more is stored.  With lf_normalize a bare LF is no fault but
 * a line end, stored as CRLF (Postfix's smtpd_forbid_bare_newline =
 * normalize); the line after it is never a line start, so a dot there
 * is content, never an end of data.
 */
#define DATA_BARE_LF	0x01
#define DATA_BARE_CR	0x02
#define DATA_NUL	0x04
#define DATA_LONG_LINE	0x08
#define DATA_TOO_BIG	0x10
#define DATA_OUT_ERROR	0x20	/* the output buffer refused an append */

#define DATA_LINE_MAX	998	/* octets before CRLF, RFC 5322 2.1.1 */

struct data_parser {
	int		 state;
	int		 flags;
	int		 done;
	int		 chunks;	/* BDAT: no dots, no end marker */
	size_t		 linelen;
	uint64_t	 size;		/* unstuffed octets seen */
	uint64_t	 max;
	int		 lf_normalize;	/* a bare LF is stored as CRLF, not
					   flagged (set after data_init) */
};

void	data_init(struct data_parser *, uint64_t max);
/*
 * The same checks for BDAT chunks (RFC 3030): the content is taken as it
 * is (a leading dot is content, nothing ends it); data_chunks_end() after
 * the LAST chunk flags a CR left bare at its end and ends a last line
 * that has no CRLF.  p->done is never set: the chunk sizes say where the
 * message ends.
 */
void	data_init_chunks(struct data_parser *, uint64_t max);
void	data_chunks_end(struct data_parser *, struct buf *out);
/* Consume from in[0..len) until the end of data (p->done) or the input
 * runs out; unstuffed content is appended to out.  Returns bytes used. */
size_t	data_feed(struct data_parser *, const char *in, size_t len,
	    struct buf *out);
/* The reply for flagged data, or NULL when the data is clean. */
const char *data_flags_reply(int flags);

#endif
