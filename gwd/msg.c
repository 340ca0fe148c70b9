/*
 * msg.c - the header section of a submitted message.
 * Standards: RFC 5322 2.2 (fields, folding), 3.4 (addresses), RFC 6409 8.
 * Exposure: parses untrusted message content; bounded copies only.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "msg.h"

/* Length of the line at p (up to and including LF), within end. */
static size_t
line_len(const char *p, const char *end)
{
	const char *lf = memchr(p, '\n', (size_t)(end - p));

	return lf ? (size_t)(lf - p) + 1 : (size_t)(end - p);
}

static int
is_blank_line(const char *p, size_t n)
{
	return (n == 2 && p[0] == '\r' && p[1] == '\n') ||
	    (n == 1 && p[0] == '\n');
}

/* A field starts with a name of printable non-colon chars, then ':'. */
static size_t
field_name_len(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && p[i] > 32 && p[i] < 127 && p[i] != ':')
		i++;
	if (i == 0 || i >= n || p[i] != ':')
		return 0;
	return i;
}

/* Unfold a field value into out: CRLFs dropped, runs of WSP -> one SP. */
static void
unfold(const char *v, size_t n, char *out, size_t outsz)
{
	size_t o = 0;
	int sp = 1;

	for (size_t i = 0; i < n && o + 1 < outsz; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == '\r' || c == '\n')
			continue;
		if (c == ' ' || c == '\t') {
			if (!sp)
				out[o++] = ' ';
			sp = 1;
			continue;
		}
		out[o++] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
		sp = 0;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

/*
 * Collect addr-specs from an address-list: skip comments and display
 * names; an address is either inside <...> or a bare token holding '@'.
 */
static void
from_addresses(const char *v, struct msg_info *mi)
{
	char tok[256];
	size_t t = 0;
	int depth = 0, inq = 0, angle = 0, has_angle = 0;

	for (const char *p = v;; p++) {
		char c = *p;
		int end_tok = 0;

		if (c == '\0')
			end_tok = 1;
		else if (inq) {
			if (c == '\\' && p[1])
				p++;
			else if (c == '"')
				inq = 0;
			if (angle && t + 2 < sizeof(tok)) {
				tok[t++] = c;
			}
			continue;
		} else if (depth > 0) {
			if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			continue;
		} else if (c == '(') {
			depth = 1;
			continue;
		} else if (c == '"') {
			inq = 1;
			if (angle && t + 1 < sizeof(tok))
				tok[t++] = c;
			continue;
		} else if (c == '<') {
			angle = 1;
			has_angle = 1;
			t = 0;
			continue;
		} else if (c == '>') {
			angle = 0;
			end_tok = 1;
		} else if (c == ',' || c == ';' || c == ':') {
			if (c == ':' && !has_angle)
				t = 0;		/* group name */
			else
				end_tok = 1;
		} else if (c == ' ' && !angle) {
			if (!has_angle && t > 0 && memchr(tok, '@', t))
				end_tok = 1;
			else if (!has_angle)
				t = 0;		/* a display-name word */
			continue;
		} else {
			if (t + 1 < sizeof(tok))
				tok[t++] = c;
			else
				mi->from_bad = 1;
			continue;
		}
		if (end_tok) {
			/* An unclosed <...> is no address (from_bad below). */
			if (t > 0 && memchr(tok, '@', t) && !(c == '\0' &&
			    angle) && mi->nfrom_addr < MSG_FROM_MAX) {
				char *dst = mi->from_addr[mi->nfrom_addr++];

				memcpy(dst, tok, t);
				dst[t] = '\0';
				for (char *d = strrchr(dst, '@'); d && *d; d++)
					*d = (char)tolower((unsigned char)*d);
			}
			t = 0;
			if (c == ',' || c == ';')
				has_angle = 0;
		}
		if (c == '\0')
			break;
	}
	if (inq || depth || angle)
		mi->from_bad = 1;
}

static int
name_is(const char *p, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

/* Fields that name blind recipients: Bcc: and, for a message sent on
 * again, Resent-Bcc: (RFC 5322 3.6.6).  Neither may reach anyone. */
static int
is_bcc(const char *p, size_t n)
{
	return name_is(p, n, "Bcc") || name_is(p, n, "Resent-Bcc");
}

void
msg_scan(const char *msg, size_t len, struct msg_info *mi)
{
	const char *p = msg, *end = msg + len;

	memset(mi, 0, sizeof(*mi));
	while (p < end) {
		size_t n = line_len(p, end), nl, flen;
		const char *v;

		if (is_blank_line(p, n)) {
			mi->header_len = (size_t)(p - msg);
			mi->body_off = mi->header_len + n;
			mi->has_blank = 1;
			return;
		}
		if ((nl = field_name_len(p, n)) == 0) {
			/* Not a field and not a continuation: body begins. */
			mi->header_len = mi->body_off = (size_t)(p - msg);
			return;
		}
		/* The whole field, continuation lines included. */
		flen = n;
		while (p + flen < end && (p[flen] == ' ' || p[flen] == '\t'))
			flen += line_len(p + flen, end);
		v = p + nl + 1;
		if (name_is(p, nl, "Received"))
			mi->nreceived++;
		else if (name_is(p, nl, "Date"))
			mi->has_date = 1;
		else if (is_bcc(p, nl))
			mi->nbcc++;
		else if (name_is(p, nl, "Message-ID")) {
			mi->has_message_id = 1;
			unfold(v, (size_t)(p + flen - v), mi->message_id,
			    sizeof(mi->message_id));
		} else if (name_is(p, nl, "Subject"))
			unfold(v, (size_t)(p + flen - v), mi->subject,
			    sizeof(mi->subject));
		else if (name_is(p, nl, "From")) {
			if (mi->nfrom++ == 0) {
				char full[2048];

				unfold(v, (size_t)(p + flen - v), full,
				    sizeof(full));
				if (strlen(full) >= sizeof(mi->from) - 1)
					mi->from_bad = 1;
				memcpy(mi->from, full, sizeof(mi->from) - 1);
				mi->from[sizeof(mi->from) - 1] = '\0';
				from_addresses(full, mi);
			}
		}
		p += flen;
	}
	mi->header_len = mi->body_off = len;
}

int
msg_build(const char *msg, size_t len, const struct msg_info *mi,
    const char *prepend, const char *append, struct buf *out)
{
	const char *p = msg, *hend = msg + mi->header_len;

	if (buf_puts(out, prepend) == -1)
		return -1;
	while (p < hend) {
		size_t n = line_len(p, hend), nl = field_name_len(p, n), flen = n;

		while (p + flen < hend && (p[flen] == ' ' || p[flen] == '\t'))
			flen += line_len(p + flen, hend);
		/* Bcc: and Resent-Bcc: must never reach a recipient. */
		if (!(nl && is_bcc(p, nl)) &&
		    buf_append(out, p, flen) == -1)
			return -1;
		p += flen;
	}
	/* A header section cut off without a line end gets one, so the
	 * appended fields start lines of their own. */
	if (mi->header_len > 0 && msg[mi->header_len - 1] != '\n' &&
	    buf_append(out, "\r\n", 2) == -1)
		return -1;
	if (buf_puts(out, append) == -1)
		return -1;
	/* A message with no blank line before its body gets one. */
	if (!mi->has_blank && buf_append(out, "\r\n", 2) == -1)
		return -1;
	return buf_append(out, msg + mi->header_len, len - mi->header_len);
}

void
msg_sanitize(const char *in, size_t len, char *out, size_t outsz)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 1 < outsz; i++) {
		unsigned char c = (unsigned char)in[i];

		out[o++] = (char)(c < 0x21 || c > 0x7e || c == '(' || c == ')' ?
		    '_' : c);
	}
	out[o] = '\0';
}
