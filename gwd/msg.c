/*
 * msg.c - the header section of a submitted message.
 * Standards: RFC 5322 2.2 (fields, folding), 3.4 (addresses, read by
 * addrlist.c), 3.6.2 (originator fields), RFC 6409 8.
 * Exposure: parses untrusted message content; bounded copies only.
 * Diagnostics: never dies; msg_build() returns -1 when out's maximum is
 * reached.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "addrlist.h"
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

/* The value of the field at v..end without the line end closing it. */
static size_t
value_len(const char *v, const char *end)
{
	size_t n = (size_t)(end - v);

	if (n > 0 && v[n - 1] == '\n') {
		n--;
		if (n > 0 && v[n - 1] == '\r')
			n--;
	}
	return n;
}

#define STR_(x)	#x
#define STR(x)	STR_(x)

static const char *
add_from(void *arg, const char *addr, size_t at)
{
	struct msg_info *mi = arg;

	if (mi->nfrom_addr >= MSG_FROM_MAX)
		return "more than " STR(MSG_FROM_MAX) " addresses";
	memcpy(mi->from_addr[mi->nfrom_addr++], addr, strlen(addr) + 1);
	return NULL;
}

static const char *
add_sender(void *arg, const char *addr, size_t at)
{
	struct msg_info *mi = arg;

	if (mi->sender_addr[0] != '\0')
		return "more than one address";
	memcpy(mi->sender_addr, addr, strlen(addr) + 1);
	return NULL;
}

static void
parse_from(const char *v, size_t n, struct msg_info *mi)
{
	if (addrlist_parse(v, n, add_from, mi, &mi->from_err) == -1)
		mi->nfrom_addr = 0;
}

static void
parse_sender(const char *v, size_t n, struct msg_info *mi)
{
	int r = addrlist_parse(v, n, add_sender, mi, &mi->sender_err);

	if (r == 0)
		mi->sender_err = "no address";
	if (r != 1)
		mi->sender_addr[0] = '\0';
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

/* Fields the stored form never takes from the client: the blind
 * recipients, and X-GW-Policy:, the content policies' verdict, which
 * only gwd writes (a client's would be a forged verdict). */
static int
is_dropped(const char *p, size_t n)
{
	return is_bcc(p, n) || name_is(p, n, "X-GW-Policy");
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
				unfold(v, (size_t)(p + flen - v), mi->from,
				    sizeof(mi->from));
				parse_from(v, value_len(v, p + flen), mi);
			}
		} else if (name_is(p, nl, "Sender")) {
			if (mi->nsender++ == 0)
				parse_sender(v, value_len(v, p + flen), mi);
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
		if (!(nl && is_dropped(p, nl)) &&
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
	if (buf_append(out, msg + mi->header_len, len - mi->header_len) == -1)
		return -1;
	/* An empty body becomes one CRLF: the same body hash under every
	 * DKIM canonicalization (RFC 6376 3.4.3, 3.4.4), and verifiers
	 * that fail "simple" on a zero-length body (Exim 4.96) agree. */
	if (mi->body_off >= len && buf_append(out, "\r\n", 2) == -1)
		return -1;
	return 0;
}

static const char *
check_owned(const char *field, const char *addr, int smtputf8,
    int (*owns)(const void *, const char *), const void *arg,
    const char *who, char *buf, size_t bufsz)
{
	const char *at = strrchr(addr, '@');
	char dom[ADDR_DOMAIN_MAX + 1];

	/* RFC 6532 3.2: a UTF-8 address in a header travels only in an
	 * SMTPUTF8 transaction (the receiver must be able to take it). */
	if (!smtputf8 && !addr_is_ascii(addr)) {
		snprintf(buf, bufsz, "550 5.6.7 Error: %s address <%s> is "
		    "internationalized: send with SMTPUTF8", field, addr);
		return buf;
	}
	/* Owned domains are kept in A-labels, as DNS knows them. */
	if (at != NULL && addr_domain_ascii(at + 1, dom, sizeof(dom)) == 0 &&
	    owns(arg, dom))
		return NULL;
	snprintf(buf, bufsz, "550 5.7.1 Error: %s address <%s> not owned by "
	    "subaccount %s", field, addr, who);
	return buf;
}

const char *
msg_check_authors(const struct msg_info *mi, int smtputf8,
    int (*owns)(const void *, const char *), const void *arg,
    const char *who, char *buf, size_t bufsz)
{
	const char *r;

	if (mi->nfrom > 1)
		return "554 5.6.0 Error: message has more than one From header";
	if (mi->nsender > 1)
		return "554 5.6.0 Error: message has more than one Sender "
		    "header";
	if (mi->nfrom == 1 && mi->from_err != NULL) {
		snprintf(buf, bufsz, "550 5.7.1 Error: From: header not "
		    "accepted: %s", mi->from_err);
		return buf;
	}
	if (mi->nfrom == 1 && mi->nfrom_addr == 0)
		return "550 5.7.1 Error: From: header has no address";
	if (mi->nsender == 1 && mi->sender_err != NULL) {
		snprintf(buf, bufsz, "550 5.7.1 Error: Sender: header not "
		    "accepted: %s", mi->sender_err);
		return buf;
	}
	for (int i = 0; i < mi->nfrom_addr; i++)
		if ((r = check_owned("From:", mi->from_addr[i], smtputf8, owns,
		    arg, who, buf, bufsz)) != NULL)
			return r;
	if (mi->nsender == 1)
		return check_owned("Sender:", mi->sender_addr, smtputf8, owns,
		    arg, who, buf, bufsz);
	return NULL;
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
