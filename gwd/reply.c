/*
 * reply.c - SMTP replies from remote servers (RFC 5321 4.2, RFC 2034).
 *
 * A remote server is as untrusted as a client: it may send endless lines,
 * endless continuation lines, codes that change half-way, NULs and escape
 * sequences meant for an admin's terminal.  The parser holds at most one
 * line and a bounded text, and cleans the text before anyone logs it.
 * Exposure: parses what remote servers send: bounded lines, bounded
 * text, control bytes cleaned before the text is logged or stored.
 * Diagnostics: never dies; a reply that breaks the grammar is
 * REPLY_ERROR (the delivery session gives up on that server), never a
 * partial success.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "reply.h"

void
reply_parser_init(struct reply_parser *p)
{
	p->r.code = 0;
	p->r.status[0] = '\0';
	p->r.text[0] = '\0';
	p->r.nlines = 0;
	p->linelen = 0;
	p->textlen = 0;
	p->lines = 0;
	p->error = NULL;
}

/*
 * Length of an enhanced status code "c.sss.ddd" at the start of s[0..n)
 * whose class matches the reply's first digit, followed by a space or
 * the end; 0 when there is none.
 */
static size_t
enhanced_code(const char *s, size_t n, char cls)
{
	size_t i = 0, k;
	int part;

	if (n < 5 || s[0] != cls)
		return 0;
	i = 1;
	for (part = 0; part < 2; part++) {
		if (i >= n || s[i] != '.')
			return 0;
		i++;
		for (k = 0; k < 3 && i < n && isdigit((unsigned char)s[i]); k++)
			i++;
		if (k == 0 || (i < n && isdigit((unsigned char)s[i])))
			return 0;
	}
	if (i < n && s[i] != ' ')
		return 0;
	return i;
}

static void
add_text(struct reply_parser *p, const char *s, size_t n)
{
	size_t i;

	if (p->r.nlines > 1 && p->textlen < REPLY_TEXT_MAX - 1)
		p->r.text[p->textlen++] = '\n';
	for (i = 0; i < n && p->textlen < REPLY_TEXT_MAX - 1; i++) {
		unsigned char c = (unsigned char)s[i];

		p->r.text[p->textlen++] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	p->r.text[p->textlen] = '\0';
}

/* One complete line (without CR LF).  Returns 1 when it ends the reply,
 * 0 when more lines follow, -1 on error. */
static int
take_line(struct reply_parser *p, const char *l, size_t n)
{
	int code, last;
	size_t skip = 0, el;

	if (n < 3 || l[0] < '2' || l[0] > '5' || l[1] < '0' || l[1] > '5' ||
	    !isdigit((unsigned char)l[2])) {
		p->error = "bad code";
		return -1;
	}
	if (n > 3 && l[3] != ' ' && l[3] != '-') {
		p->error = "bad code";
		return -1;
	}
	code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
	last = n == 3 || l[3] == ' ';
	if (p->lines == 0)
		p->r.code = code;
	else if (code != p->r.code) {
		p->error = "code mismatch in multi-line reply";
		return -1;
	}
	if (++p->lines > REPLY_LINES_MAX) {
		p->error = "too many lines";
		return -1;
	}
	p->r.nlines = p->lines;
	if (n > 4) {
		l += 4;
		n -= 4;
		el = enhanced_code(l, n, (char)('0' + code / 100));
		if (el > 0 && el < sizeof(p->r.status)) {
			if (p->lines == 1) {
				memcpy(p->r.status, l, el);
				p->r.status[el] = '\0';
				skip = el;
			} else if (strlen(p->r.status) == el &&
			    memcmp(p->r.status, l, el) == 0)
				skip = el;
			while (skip < n && l[skip] == ' ')
				skip++;
		}
		add_text(p, l + skip, n - skip);
	} else
		add_text(p, "", 0);
	return last;
}

enum reply_result
reply_feed(struct reply_parser *p, const char *data, size_t len, size_t *used)
{
	size_t i;
	int rc;

	*used = 0;
	if (p->error != NULL)
		return REPLY_ERROR;
	for (i = 0; i < len; i++) {
		char c = data[i];

		if (c != '\n') {
			if (p->linelen >= REPLY_LINE_MAX) {
				p->error = "line too long";
				*used = i;
				return REPLY_ERROR;
			}
			p->line[p->linelen++] = c;
			continue;
		}
		if (p->linelen > 0 && p->line[p->linelen - 1] == '\r')
			p->linelen--;
		rc = take_line(p, p->line, p->linelen);
		p->linelen = 0;
		if (rc == -1) {
			*used = i + 1;
			return REPLY_ERROR;
		}
		if (rc == 1) {
			*used = i + 1;
			return REPLY_DONE;
		}
	}
	*used = len;
	return REPLY_MORE;
}

static int
word_is(const char *w, size_t n, const char *kw)
{
	return strlen(kw) == n && strncasecmp(w, kw, n) == 0;
}

static void
auth_mechs(const char *s, size_t n, struct ehlo_caps *caps)
{
	size_t i = 0, start;

	while (i < n) {
		while (i < n && (s[i] == ' ' || s[i] == '='))
			i++;
		start = i;
		while (i < n && s[i] != ' ')
			i++;
		if (word_is(s + start, i - start, "PLAIN"))
			caps->auth_plain = 1;
		else if (word_is(s + start, i - start, "LOGIN"))
			caps->auth_login = 1;
	}
}

void
ehlo_parse(const struct smtp_reply *r, struct ehlo_caps *caps)
{
	const char *p = r->text, *eol, *sp;
	size_t n, kl;

	memset(caps, 0, sizeof(*caps));
	if ((p = strchr(p, '\n')) == NULL)
		return;			/* greeting only */
	for (p++; *p != '\0'; p = *eol ? eol + 1 : eol) {
		eol = strchr(p, '\n');
		if (eol == NULL)
			eol = p + strlen(p);
		n = (size_t)(eol - p);
		sp = memchr(p, ' ', n);
		kl = sp ? (size_t)(sp - p) : n;
		if (word_is(p, kl, "PIPELINING"))
			caps->pipelining = 1;
		else if (word_is(p, kl, "STARTTLS"))
			caps->starttls = 1;
		else if (word_is(p, kl, "8BITMIME"))
			caps->eightbitmime = 1;
		else if (word_is(p, kl, "ENHANCEDSTATUSCODES"))
			caps->enhancedstatuscodes = 1;
		else if (word_is(p, kl, "SMTPUTF8"))
			caps->smtputf8 = 1;
		else if (word_is(p, kl, "REQUIRETLS"))
			caps->requiretls = 1;
		else if (word_is(p, kl, "CHUNKING"))
			caps->chunking = 1;
		else if (word_is(p, kl, "DSN"))
			caps->dsn = 1;
		else if (kl >= 4 && strncasecmp(p, "AUTH", 4) == 0 &&
		    (kl == 4 || p[4] == '='))
			auth_mechs(p + 4, n - 4, caps);
		else if (word_is(p, kl, "SIZE")) {
			char num[24];
			size_t vl = sp ? n - kl - 1 : 0;

			caps->size_ext = 1;
			if (vl > 0 && vl < sizeof(num)) {
				memcpy(num, sp + 1, vl);
				num[vl] = '\0';
				if (strspn(num, "0123456789") == vl)
					caps->size = strtoull(num, NULL, 10);
			}
		}
	}
}
