/*
 * smtp_proto.c - command lines, MAIL/RCPT parameters, the DATA stream.
 * Standards: RFC 5321, RFC 1870, RFC 6152, RFC 2920, RFC 3461 (its
 * parameters are smtp_dsn.c's).
 * Exposure: every byte here comes from an unauthenticated client.
 * Diagnostics: never dies; a command or parameter that breaks the
 * grammar returns -1 (or a line status) with the complete reply to send.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp_proto.h"

enum line_status
line_next(struct line_reader *lr, const char *data, size_t len, size_t max,
    const char **line, size_t *linelen, size_t *used)
{
	const char *lf = len ? memchr(data, '\n', len) : NULL;
	size_t n;

	if (lr->skipping) {
		if (lf == NULL) {
			*used = len;
			return LINE_MORE;
		}
		lr->skipping = 0;
		*used = (size_t)(lf - data) + 1;
		return LINE_LONG;
	}
	if (lf == NULL) {
		if (len >= max) {
			/* Too long already: skip to the end of the line. */
			lr->skipping = 1;
			*used = len;
			return LINE_MORE;
		}
		*used = 0;
		return LINE_MORE;
	}
	n = (size_t)(lf - data) + 1;
	*used = n;
	if (n > max)
		return LINE_LONG;
	if (n < 2 || data[n - 2] != '\r')
		return LINE_BARE;
	if (memchr(data, '\r', n - 2) != NULL)
		return LINE_BARE;
	*line = data;
	*linelen = n - 2;
	return LINE_OK;
}

void
smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *cmd)
{
	size_t vlen = 0;

	while (vlen < len && line[vlen] != ' ')
		vlen++;
	cmd->name = line;
	cmd->namelen = vlen;
	cmd->arg = line + len;
	cmd->arglen = 0;
	if (vlen < len) {
		cmd->arg = line + vlen + 1;
		cmd->arglen = len - vlen - 1;
	}
}

/* Parse a SIZE value: digits only, no overflow. */
static int
parse_size_param(const char *v, size_t n, uint64_t *out)
{
	uint64_t x = 0;

	if (n == 0 || n > 20)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)v[i]))
			return -1;
		if (x > (UINT64_MAX - (uint64_t)(v[i] - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	*out = x;
	return 0;
}

static int
kw_is(const char *p, size_t n, const char *kw)
{
	return strlen(kw) == n && strncasecmp(p, kw, n) == 0;
}

/*
 * Split "FROM:" / "TO:" and the path.  Some clients put a space after
 * the colon; Postfix accepts it, so do we.
 */
static int
parse_prefix_path(const char *arg, size_t len, const char *prefix,
    int flags, struct mailpath *mp, size_t *after, const char **reply)
{
	size_t plen = strlen(prefix), i, used;
	enum addr_status st;

	if (len < plen || strncasecmp(arg, prefix, plen) != 0) {
		*reply = flags & ADDR_ALLOW_NULL ?
		    "501 5.5.4 Syntax: MAIL FROM:<address>" :
		    "501 5.5.4 Syntax: RCPT TO:<address>";
		return -1;
	}
	i = plen;
	while (i < len && arg[i] == ' ')
		i++;
	if (i == len || arg[i] != '<') {
		*reply = flags & ADDR_ALLOW_NULL ?
		    "501 5.5.4 Syntax: MAIL FROM:<address>" :
		    "501 5.5.4 Syntax: RCPT TO:<address>";
		return -1;
	}
	/* UTF-8 is read always; whether it may be used depends on the
	 * SMTPUTF8 parameter of the transaction (smtp_utf8_reply). */
	st = addr_parse_path(arg + i, len - i, flags | ADDR_ALLOW_UTF8, mp,
	    &used);
	if (st != ADDR_OK) {
		*reply = addr_status_reply(st);
		return -1;
	}
	*after = i + used;
	return 0;
}

/* Iterate over " KEY=VALUE" parameters; -1 on syntax error. */
static int
next_param(const char *arg, size_t len, size_t *pos, const char **k,
    size_t *klen, const char **v, size_t *vlen)
{
	size_t i = *pos, start;

	if (i >= len)
		return 0;
	if (arg[i] != ' ')
		return -1;
	while (i < len && arg[i] == ' ')
		i++;
	if (i == len) {
		*pos = i;
		return 0;
	}
	start = i;
	while (i < len && arg[i] != ' ' && arg[i] != '=')
		i++;
	*k = arg + start;
	*klen = i - start;
	*v = NULL;
	*vlen = 0;
	if (i < len && arg[i] == '=') {
		start = ++i;
		while (i < len && arg[i] != ' ')
			i++;
		*v = arg + start;
		*vlen = i - start;
	}
	*pos = i;
	return *klen > 0 ? 1 : -1;
}

int
smtp_parse_mail(const char *arg, size_t len, struct mail_args *ma,
    const char **reply)
{
	const char *k, *v;
	size_t pos, klen, vlen;
	int r, dr;

	memset(ma, 0, sizeof(*ma));
	if (parse_prefix_path(arg, len, "FROM:", ADDR_ALLOW_NULL, &ma->path,
	    &pos, reply) == -1)
		return -1;
	while ((r = next_param(arg, len, &pos, &k, &klen, &v, &vlen)) == 1) {
		if (kw_is(k, klen, "SIZE")) {
			if (v == NULL || parse_size_param(v, vlen, &ma->size) ==
			    -1) {
				*reply = "501 5.5.4 Bad SIZE parameter";
				return -1;
			}
			ma->has_size = 1;
		} else if (kw_is(k, klen, "BODY")) {
			if (v && kw_is(v, vlen, "8BITMIME"))
				ma->body_8bit = 1;
			else if (v && kw_is(v, vlen, "7BIT"))
				ma->body_8bit = 0;
			else {
				*reply = "501 5.5.4 Bad BODY parameter "
				    "(7BIT or 8BITMIME)";
				return -1;
			}
		} else if (kw_is(k, klen, "SMTPUTF8") && v == NULL) {
			ma->smtputf8 = 1;	/* RFC 6531 3.4 */
		} else if (kw_is(k, klen, "REQUIRETLS") && v == NULL) {
			ma->requiretls = 1;	/* RFC 8689 4.1 */
		} else if (kw_is(k, klen, "AUTH")) {
			/* RFC 4954 5: ignored; we know who authenticated. */
		} else if ((dr = smtp_dsn_mail_param(k, klen, v, vlen,
		    &ma->dsn, reply)) != 0) {
			if (dr == -1)
				return -1;
		} else {
			*reply = "555 5.5.4 Unsupported MAIL parameter";
			return -1;
		}
	}
	if (r == -1) {
		*reply = "501 5.5.4 Syntax error in MAIL parameters";
		return -1;
	}
	if ((*reply = smtp_utf8_reply(&ma->path, ma->smtputf8)) != NULL)
		return -1;
	return 0;
}

const char *
smtp_utf8_reply(const struct mailpath *mp, int smtputf8)
{
	if (smtputf8 || addr_is_ascii(mp->addr))
		return NULL;
	return "553 5.6.7 Non-ASCII address requires the SMTPUTF8 "
	    "parameter of MAIL";
}

int
smtp_parse_rcpt(const char *arg, size_t len, struct rcpt_args *ra,
    const char **reply)
{
	const char *k, *v;
	size_t pos, klen, vlen;
	int r, dr;

	memset(ra, 0, sizeof(*ra));
	if (parse_prefix_path(arg, len, "TO:", 0, &ra->path, &pos, reply) == -1)
		return -1;
	/* Only DSN's NOTIFY and ORCPT (smtp_dsn.c keeps encoded CR/LF,
	 * Exim CVE-2020-28026, out of ORCPT). */
	while ((r = next_param(arg, len, &pos, &k, &klen, &v, &vlen)) == 1) {
		if ((dr = smtp_dsn_rcpt_param(k, klen, v, vlen, &ra->dsn,
		    reply)) == -1)
			return -1;
		if (dr == 0) {
			*reply = "555 5.5.4 Unsupported RCPT parameter";
			return -1;
		}
	}
	if (r == -1) {
		*reply = "501 5.5.4 Syntax error in RCPT parameters";
		return -1;
	}
	return 0;
}

/* DATA states: where we stand relative to a possible "\r\n.\r\n". */
enum { D_BOL, D_MID, D_CR, D_DOT, D_DOT_CR };

static void emit(struct data_parser *, struct buf *, const char *, size_t);

void
data_init(struct data_parser *p, uint64_t max)
{
	memset(p, 0, sizeof(*p));
	p->state = D_BOL;	/* the DATA command's CRLF began a line */
	p->max = max;
}

void
data_init_chunks(struct data_parser *p, uint64_t max)
{
	data_init(p, max);
	p->chunks = 1;
}

void
data_chunks_end(struct data_parser *p, struct buf *out)
{
	if (p->state == D_CR)
		p->flags |= DATA_BARE_CR;
	else if (p->state == D_MID)
		emit(p, out, "\r\n", 2);
	p->state = D_BOL;
}

/* Count and store one content byte. */
static void
emit(struct data_parser *p, struct buf *out, const char *s, size_t n)
{
	p->size += n;
	if (p->size > p->max)
		p->flags |= DATA_TOO_BIG;
	if (p->flags)
		return;
	if (buf_append(out, s, n) == -1)
		p->flags |= DATA_OUT_ERROR;
}

static void
line_byte(struct data_parser *p)
{
	if (++p->linelen > DATA_LINE_MAX)
		p->flags |= DATA_LONG_LINE;
}

/*
 * A bare LF ends a line: refused, or with lf_normalize stored as CRLF.
 * Either way the next line is no line start: a dot there is neither
 * removed nor an end of data, so LF "." LF, LF "." CRLF and CRLF "." LF
 * stay inside the message (smuggling) and only CRLF "." CRLF ends it.
 */
static void
bare_lf(struct data_parser *p, struct buf *out)
{
	p->linelen = 0;
	if (!p->lf_normalize) {
		p->flags |= DATA_BARE_LF;
		return;
	}
	emit(p, out, "\r\n", 2);
}

/*
 * Runs of ordinary bytes in the middle of a line are copied in one go;
 * the state machine only looks at CR, LF, NUL and line starts.
 */
size_t
data_feed(struct data_parser *p, const char *in, size_t len, struct buf *out)
{
	size_t i = 0;

	while (i < len && !p->done) {
		char c = in[i];

		switch (p->state) {
		case D_MID: {
			size_t j = i;

			while (j < len && in[j] != '\r' && in[j] != '\n' &&
			    in[j] != '\0')
				j++;
			if (j > i) {
				p->linelen += j - i;
				if (p->linelen > DATA_LINE_MAX)
					p->flags |= DATA_LONG_LINE;
				emit(p, out, in + i, j - i);
				i = j;
				continue;
			}
			i++;
			if (c == '\r')
				p->state = D_CR;
			else if (c == '\n')
				bare_lf(p, out);
			else {
				p->flags |= DATA_NUL;
				line_byte(p);
			}
			break;
		}
		case D_BOL:
			i++;
			if (c == '.' && !p->chunks)
				p->state = D_DOT;
			else if (c == '\r')
				p->state = D_CR;
			else if (c == '\n') {
				bare_lf(p, out);
				p->state = D_MID;
			} else {
				if (c == '\0')
					p->flags |= DATA_NUL;
				line_byte(p);
				emit(p, out, &c, 1);
				p->state = D_MID;
			}
			break;
		case D_CR:
			i++;
			if (c == '\n') {
				emit(p, out, "\r\n", 2);
				p->linelen = 0;
				p->state = D_BOL;
			} else {
				/* The CR was bare; look at c afresh. */
				p->flags |= DATA_BARE_CR;
				p->state = D_MID;
				i--;
			}
			break;
		case D_DOT:
			/* A leading dot is removed (RFC 5321 4.5.2). */
			i++;
			line_byte(p);
			if (c == '\r')
				p->state = D_DOT_CR;
			else {
				p->state = D_MID;
				i--;
			}
			break;
		case D_DOT_CR:
			i++;
			if (c == '\n') {
				p->done = 1;
			} else {
				p->flags |= DATA_BARE_CR;
				p->state = D_MID;
				i--;
			}
			break;
		}
	}
	return i;
}

const char *
data_flags_reply(int flags)
{
	if (flags & DATA_TOO_BIG)
		return "552 5.3.4 Message too big";
	if (flags & (DATA_BARE_LF | DATA_BARE_CR))
		return "550 5.5.2 Message refused: bare CR or LF received "
		    "(lines must end in CRLF)";
	if (flags & DATA_NUL)
		return "554 5.6.0 Message refused: NUL character in data";
	if (flags & DATA_LONG_LINE)
		return "554 5.6.0 Message refused: line longer than 998 "
		    "characters";
	if (flags & DATA_OUT_ERROR)
		return "451 4.3.0 Insufficient resources to store the message";
	return NULL;
}
