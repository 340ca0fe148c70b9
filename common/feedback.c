/*
 * feedback.c - reading bounces and abuse reports (GMime 3 for the MIME
 * structure, the report fields read here).
 * Standards: RFC 3462/6522 (multipart/report), RFC 3464 (DSN fields),
 * RFC 6533 (message/global-delivery-status), RFC 5965 (ARF), RFC 6650
 * (its use in feedback loops), RFC 3463 (enhanced status codes), RFC
 * 5322 2.2.3 (unfolding).
 * Exposure: parses an untrusted message from anyone on the internet.
 * Bounded: the MIME depth walked is FB_DEPTH, recipients FB_MAX_RCPT,
 * every value kept FB_MAX_FIELD bytes, the plain text searched for a
 * quoted reply FB_MAX_TEXT bytes; a value is unfolded into a buffer
 * with a hard maximum.  Control characters never reach a kept value.
 * Diagnostics: none; what cannot be read is left "".
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>

#include "buf.h"
#include "feedback.h"
#include "mime_walk.h"
#include "util.h"

#define FB_DEPTH	6		/* MIME levels entered */
#define FB_MAX_TEXT	(256 << 10)	/* plain text searched */
#define FB_MAX_UNFOLD	(64 << 10)	/* one unfolded field */

/* Which part of a report a block of fields came from. */
enum fb_part { P_DSN, P_ARF, P_HEADERS };

struct parse {
	struct fb_report	*r;
	int			 cap;
	int			 rblock;	/* block of r->rcpt[last] */
	int			 report;	/* multipart/report seen */
	int			 arf;		/* report-type=feedback-report */
	int			 dsn;		/* report-type=delivery-status */
	int			 have_dsn_part, have_arf_part;
	struct buf		 text;		/* plain text, for FB_BOUNCE */
};

static const char *const type_names[] = { "unknown", "dsn", "bounce",
    "arf" };
static const char *const action_names[] = { "", "failed", "delayed",
    "delivered", "relayed", "expanded" };

const char *
feedback_type_name(enum fb_type t)
{
	return (unsigned)t < nitems(type_names) ? type_names[t] : "unknown";
}

const char *
feedback_action_name(enum fb_action a)
{
	return (unsigned)a < nitems(action_names) ? action_names[a] : "";
}

/* A kept value: trimmed, control characters (a folded CR LF, a NUL, an
 * escape) become spaces, cut at FB_MAX_FIELD. */
static char *
clean_dup(const char *p, size_t n)
{
	char *d;

	while (n && isspace((unsigned char)*p))
		p++, n--;
	while (n && isspace((unsigned char)p[n - 1]))
		n--;
	if (n > FB_MAX_FIELD)
		n = FB_MAX_FIELD;
	d = xstrndup(p, n);
	/* xstrndup stops at a NUL: the rest of d is what it copied. */
	for (char *q = d; *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			*q = ' ';
	return d;
}

static void
set_once(char **dst, const char *p, size_t n)
{
	if (**dst != '\0')
		return;
	free(*dst);
	*dst = clean_dup(p, n);
}

/* "rfc822; <a@b>" -> "a@b": the address type dropped (RFC 3464 2.1.2),
 * angle brackets and a trailing comment dropped. */
static char *
addr_dup(const char *p, size_t n)
{
	const char *semi = memchr(p, ';', n), *lt, *gt;

	if (semi) {
		n -= (size_t)(semi + 1 - p);
		p = semi + 1;
	}
	while (n && isspace((unsigned char)*p))
		p++, n--;
	if ((lt = memchr(p, '<', n)) != NULL &&
	    (gt = memchr(lt, '>', n - (size_t)(lt - p))) != NULL)
		return clean_dup(lt + 1, (size_t)(gt - lt - 1));
	for (size_t i = 0; i < n; i++)
		if (isspace((unsigned char)p[i]))
			n = i;
	return clean_dup(p, n);
}

static void
set_addr_once(char **dst, const char *p, size_t n)
{
	if (**dst != '\0')
		return;
	free(*dst);
	*dst = addr_dup(p, n);
}

static int
name_is(const char *p, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

/* "5.1.1" at p (a class 2, 4 or 5, subject 1-3 digits, detail 1-3
 * digits, then a non-digit): its length, else 0. */
static size_t
status_len(const char *p, size_t n)
{
	size_t i = 0, d;

	if (n < 5 || (p[0] != '2' && p[0] != '4' && p[0] != '5') ||
	    p[1] != '.')
		return 0;
	i = 2;
	for (int part = 0; part < 2; part++) {
		for (d = 0; i < n && isdigit((unsigned char)p[i]) && d < 4; i++)
			d++;
		if (d == 0 || d > 3)
			return 0;
		if (part == 0) {
			if (i >= n || p[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < n && (isdigit((unsigned char)p[i]) || p[i] == '.'))
		return 0;
	return i;
}

/* Where a reply without an enhanced code may start: at the start of the
 * line (after blanks) or after a colon. */
static int
reply_place(const char *line, size_t i)
{
	while (i > 0 && (line[i - 1] == ' ' || line[i - 1] == '\t'))
		i--;
	return i == 0 || line[i - 1] == ':';
}

int
feedback_find_reply(const char *line, size_t len, int *code,
    char status[16])
{
	for (size_t i = 0; i + 3 <= len; i++) {
		const char *p = line + i;
		size_t j = 3, sl;

		/* A code stands alone: "550 ", "550-", "550 5.1.1". */
		if (p[0] != '5' || !isdigit((unsigned char)p[1]) ||
		    !isdigit((unsigned char)p[2]))
			continue;
		if (i > 0 && (isalnum((unsigned char)p[-1]) || p[-1] == '.' ||
		    p[-1] == '-' || p[-1] == '[' || p[-1] == ':'))
			continue;
		if (i + 3 < len && p[3] != ' ' && p[3] != '-')
			continue;
		/* The enhanced code, if one follows, must be of class 5; a
		 * code without one ("550 bytes") only where a reply is
		 * quoted: first on the line or after a colon ("said: 554
		 * delivery error"), and followed by words. */
		status[0] = '\0';
		while (i + j < len && (p[j] == ' ' || p[j] == '-'))
			j++;
		if ((sl = status_len(p + j, len - i - j)) > 0) {
			if (p[j] != '5')
				continue;
			memcpy(status, p + j, sl);
			status[sl] = '\0';
		} else if (i + j >= len || (!isalpha((unsigned char)p[j]) &&
		    p[j] != '<' && p[j] != '#' && p[j] != '"' &&
		    p[j] != '(') || !reply_place(line, i)) {
			continue;
		}
		*code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
		return (int)i;
	}
	return -1;
}

static struct fb_rcpt *
rcpt_new(struct parse *ps, int block)
{
	struct fb_report *r = ps->r;
	struct fb_rcpt *x;

	if (r->nrcpt == FB_MAX_RCPT) {
		r->dropped++;
		return NULL;
	}
	if (r->nrcpt == ps->cap) {
		ps->cap = ps->cap ? ps->cap * 2 : 4;
		r->rcpt = xreallocarray(r->rcpt, (size_t)ps->cap,
		    sizeof(*r->rcpt));
	}
	x = &r->rcpt[r->nrcpt++];
	memset(x, 0, sizeof(*x));
	x->final = xstrdup("");
	x->original = xstrdup("");
	x->diag = xstrdup("");
	ps->rblock = block;
	return x;
}

static enum fb_action
action_parse(const char *p, size_t n)
{
	for (size_t i = 1; i < nitems(action_names); i++) {
		size_t al = strlen(action_names[i]);

		/* "failed" or "failed (bad destination mailbox address)". */
		if (n >= al && strncasecmp(p, action_names[i], al) == 0 &&
		    (n == al || !isalpha((unsigned char)p[al])))
			return (enum fb_action)i;
	}
	return FA_UNKNOWN;
}

/* Diagnostic-Code: "smtp; 550 5.1.1 <a@b>: user unknown". */
static void
diag_set(struct fb_rcpt *x, const char *p, size_t n)
{
	const char *semi = memchr(p, ';', n);
	char st[16];
	int code;

	if (x->diag[0])
		return;
	if (semi) {
		n -= (size_t)(semi + 1 - p);
		p = semi + 1;
	}
	free(x->diag);
	x->diag = clean_dup(p, n);
	if (feedback_find_reply(x->diag, strlen(x->diag), &code, st) == -1) {
		/* A 4xx, or none: the code only, if it leads. */
		const char *d = x->diag;

		if ((d[0] == '4' || d[0] == '2') &&
		    isdigit((unsigned char)d[1]) &&
		    isdigit((unsigned char)d[2]) && !isdigit((unsigned char)d[3]))
			x->code = (d[0] - '0') * 100 + (d[1] - '0') * 10 +
			    (d[2] - '0');
		return;
	}
	x->code = code;
	if (x->status[0] == '\0')
		memcpy(x->status, st, sizeof(st));
}

static void
dsn_field(struct parse *ps, int block, const char *name, size_t nl,
    const char *v, size_t vl)
{
	struct fb_report *r = ps->r;
	struct fb_rcpt *x = r->nrcpt && ps->rblock == block ?
	    &r->rcpt[r->nrcpt - 1] : NULL;
	int per_rcpt = name_is(name, nl, "Final-Recipient") ||
	    name_is(name, nl, "Original-Recipient") ||
	    name_is(name, nl, "Action") || name_is(name, nl, "Status") ||
	    name_is(name, nl, "Diagnostic-Code");
	size_t sl;

	if (name_is(name, nl, "Reporting-MTA")) {
		const char *semi = memchr(v, ';', vl);

		if (semi)
			set_once(&r->reporting_mta, semi + 1,
			    vl - (size_t)(semi + 1 - v));
		return;
	}
	if (!per_rcpt)
		return;
	if (x == NULL && (x = rcpt_new(ps, block)) == NULL)
		return;
	if (name_is(name, nl, "Final-Recipient"))
		set_addr_once(&x->final, v, vl);
	else if (name_is(name, nl, "Original-Recipient"))
		set_addr_once(&x->original, v, vl);
	else if (name_is(name, nl, "Action"))
		x->action = action_parse(v, vl);
	else if (name_is(name, nl, "Status")) {
		while (vl && isspace((unsigned char)*v))
			v++, vl--;
		if ((sl = status_len(v, vl)) > 0 && sl < sizeof(x->status)) {
			memcpy(x->status, v, sl);
			x->status[sl] = '\0';
		}
	} else
		diag_set(x, v, vl);
}

static void
arf_field(struct parse *ps, const char *name, size_t nl, const char *v,
    size_t vl)
{
	struct fb_report *r = ps->r;

	if (name_is(name, nl, "Feedback-Type")) {
		set_once(&r->feedback_type, v, vl);
		str_lower(r->feedback_type);
	} else if (name_is(name, nl, "Original-Mail-From"))
		set_addr_once(&r->orig_mail_from, v, vl);
	else if (name_is(name, nl, "Original-Rcpt-To"))
		set_addr_once(&r->orig_rcpt_to, v, vl);
	else if (name_is(name, nl, "Source-IP"))
		set_once(&r->source_ip, v, vl);
	else if (name_is(name, nl, "User-Agent"))
		set_once(&r->user_agent, v, vl);
}

/*
 * gw's own trace field: "from H ([IP]) by HOST (gw) with P id QID; date".
 * Only the first Received: written by gw counts (the one nearest the
 * top is the last hop that was gw).
 */
static void
received_field(struct fb_report *r, const char *v, size_t vl)
{
	const char *gw = memmem(v, vl, " (gw) with ", 11), *id, *end;
	size_t n;

	if (r->ret_qid[0] || gw == NULL)
		return;
	vl -= (size_t)(gw - v);
	if ((id = memmem(gw, vl, " id ", 4)) == NULL)
		return;
	id += 4;
	end = gw + vl;
	for (n = 0; id + n < end && isalnum((unsigned char)id[n]); n++)
		;
	if (n > 0 && n <= 32)
		set_once(&r->ret_qid, id, n);
}

static void
header_field(struct parse *ps, int block, const char *name, size_t nl,
    const char *v, size_t vl)
{
	struct fb_report *r = ps->r;

	if (block > 0)
		return;		/* the returned body, not its header */
	if (name_is(name, nl, "Message-ID"))
		set_once(&r->ret_message_id, v, vl);
	else if (name_is(name, nl, "Return-Path"))
		set_addr_once(&r->ret_return_path, v, vl);
	else if (name_is(name, nl, "From"))
		set_once(&r->ret_from, v, vl);
	else if (name_is(name, nl, "To"))
		set_once(&r->ret_to, v, vl);
	else if (name_is(name, nl, "Subject"))
		set_once(&r->ret_subject, v, vl);
	else if (name_is(name, nl, "Received"))
		received_field(r, v, vl);
}

static void
field(struct parse *ps, enum fb_part part, int block, const char *name,
    size_t nl, const char *v, size_t vl)
{
	switch (part) {
	case P_DSN:
		dsn_field(ps, block, name, nl, v, vl);
		break;
	case P_ARF:
		arf_field(ps, name, nl, v, vl);
		break;
	case P_HEADERS:
		header_field(ps, block, name, nl, v, vl);
		break;
	}
}

/* The end of the line at p (its terminator excluded) and the start of
 * the next. */
static const char *
line_end(const char *p, const char *end, const char **next)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	*next = nl ? nl + 1 : end;
	if (nl == NULL)
		nl = end;
	if (nl > p && nl[-1] == '\r')
		nl--;
	return nl;
}

/*
 * Header-style fields in p[0..n): "Name: value" with folded lines
 * unfolded, blocks separated by blank lines (RFC 3464 2.1's per-message
 * and per-recipient groups).  A line that is no field is skipped.
 */
static void
fields_read(struct parse *ps, enum fb_part part, const char *p, size_t n)
{
	const char *end = p + n, *next, *le;
	struct buf v;
	int block = 0, blank = 0;

	buf_init(&v, FB_MAX_UNFOLD);
	while (p < end) {
		const char *colon, *name;
		size_t nl;

		le = line_end(p, end, &next);
		if (le == p) {
			if (!blank)
				block++;
			blank = 1;
			p = next;
			continue;
		}
		blank = 0;
		colon = memchr(p, ':', (size_t)(le - p));
		if (colon == NULL || colon == p || *p == ' ' || *p == '\t') {
			p = next;
			continue;
		}
		name = p;
		nl = (size_t)(colon - p);
		while (nl && (name[nl - 1] == ' ' || name[nl - 1] == '\t'))
			nl--;
		for (colon++; colon < le && (*colon == ' ' || *colon == '\t');)
			colon++;
		buf_reset(&v);
		buf_append(&v, colon, (size_t)(le - colon));
		/* Continuation lines: folded whitespace becomes a space. */
		for (p = next; p < end && (*p == ' ' || *p == '\t'); p = next) {
			const char *q = p;

			le = line_end(p, end, &next);
			while (q < le && (*q == ' ' || *q == '\t'))
				q++;
			if (buf_putc(&v, ' ') == 0)
				buf_append(&v, q, (size_t)(le - q));
		}
		field(ps, part, block, name, nl, buf_ptr(&v) ? buf_ptr(&v) : "",
		    buf_len(&v));
	}
	buf_free(&v);
}

/* A leaf part's content with its transfer encoding undone, into b. */
static void
part_bytes(GMimePart *part, struct buf *b)
{
	GMimeDataWrapper *dw = g_mime_part_get_content(part);
	GMimeStream *mem;
	GByteArray *ba;

	if (dw == NULL)
		return;
	mem = g_mime_stream_mem_new();
	g_mime_data_wrapper_write_to_stream(dw, mem);
	ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	if (ba && ba->len) {
		size_t room = b->max ? b->max - buf_len(b) : ba->len;

		buf_append(b, ba->data, ba->len < room ? ba->len : room);
	}
	g_object_unref(mem);
}

static void
part_fields(struct parse *ps, enum fb_part part, GMimePart *leaf)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	part_bytes(leaf, &b);
	fields_read(ps, part, buf_ptr(&b) ? buf_ptr(&b) : "", buf_len(&b));
	buf_free(&b);
}

/* The returned message of a message/rfc822 part: its header only. */
static void
returned_message(struct parse *ps, GMimeMessagePart *mp)
{
	GMimeMessage *m = g_mime_message_part_get_message(mp);
	char *h;

	if (m == NULL || ps->r->ret_message_id[0] || ps->r->ret_qid[0])
		return;
	h = g_mime_object_get_headers(GMIME_OBJECT(m), NULL);
	if (h) {
		fields_read(ps, P_HEADERS, h, strlen(h));
		g_free(h);
	}
}

static int
type_is(GMimeContentType *ct, const char *type, const char *sub)
{
	return ct && g_mime_content_type_is_type(ct, type, sub);
}

static void walk(struct parse *, GMimeObject *, int);

static void
walk_leaf(struct parse *ps, GMimePart *leaf, GMimeContentType *ct)
{
	const char *disp;

	if (type_is(ct, "message", "delivery-status") ||
	    type_is(ct, "message", "global-delivery-status")) {
		ps->have_dsn_part = 1;
		part_fields(ps, P_DSN, leaf);
	} else if (type_is(ct, "message", "feedback-report")) {
		ps->have_arf_part = 1;
		part_fields(ps, P_ARF, leaf);
	} else if (type_is(ct, "text", "rfc822-headers") ||
	    type_is(ct, "message", "global-headers")) {
		part_fields(ps, P_HEADERS, leaf);
	} else if (type_is(ct, "text", "plain") &&
	    ((disp = g_mime_object_get_disposition(GMIME_OBJECT(leaf))) ==
	    NULL || strcasecmp(disp, "attachment") != 0)) {
		part_bytes(leaf, &ps->text);
		buf_putc(&ps->text, '\n');
	}
}

static void
walk(struct parse *ps, GMimeObject *obj, int depth)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);

	if (obj == NULL || depth > FB_DEPTH)
		return;
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		int n = g_mime_multipart_get_count(mp);

		if (depth == 0 && type_is(ct, "multipart", "report")) {
			const char *rt = g_mime_content_type_get_parameter(ct,
			    "report-type");

			ps->report = 1;
			ps->arf = rt && strcasecmp(rt, "feedback-report") == 0;
			ps->dsn = rt && (strcasecmp(rt, "delivery-status") == 0 ||
			    strcasecmp(rt, "global-delivery-status") == 0);
		}
		for (int i = 0; i < n; i++)
			walk(ps, g_mime_multipart_get_part(mp, i), depth + 1);
	} else if (GMIME_IS_MESSAGE_PART(obj)) {
		/* The returned message: never entered further (a report
		 * inside it is the complainer's content, not a report). */
		returned_message(ps, GMIME_MESSAGE_PART(obj));
	} else if (GMIME_IS_PART(obj)) {
		walk_leaf(ps, GMIME_PART(obj), ct);
	}
}

static int
addr_char(int c)
{
	return isalnum(c) || strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL;
}

/* The first address (local@domain.tld) in p[0..n): its span into *a,
 * *al; 0 when there is none. */
static int
find_addr(const char *p, size_t n, const char **a, size_t *al)
{
	for (size_t i = 0; i < n; i++) {
		size_t s = i, e = i + 1, dots = 0;

		if (p[i] != '@')
			continue;
		while (s > 0 && addr_char((unsigned char)p[s - 1]))
			s--;
		while (e < n && (isalnum((unsigned char)p[e]) || p[e] == '-' ||
		    p[e] == '.'))
			dots += p[e++] == '.';
		while (e > i + 1 && p[e - 1] == '.')
			e--, dots--;
		if (s == i || dots == 0 || e - s > 254)
			continue;
		*a = p + s;
		*al = e - s;
		return 1;
	}
	return 0;
}

/*
 * A bounce without a report: the recipients are the addresses quoted
 * with a 5xx reply, on the reply's line ("<a@b>: host x said: 550 ...",
 * Postfix without DSN) or on a line shortly before it (qmail's "<a@b>:"
 * then "Remote host said: 550 ...", Exim's address then "SMTP error
 * ...").  The text stops at the copy of the message, if marked.
 */
static void
plain_bounce(struct parse *ps, const char *p, size_t n)
{
	static const char *const stops[] = {
	    "--- Below this line is a copy of the message",
	    "------ This is a copy of the message",
	    "----- Original message -----",
	    "--- Original message follows",
	    "Original message follows." };
	const char *end = p + n, *next, *le, *last = NULL;
	size_t lastl = 0;
	int since = 0;

	for (size_t i = 0; i < nitems(stops); i++) {
		const char *s = memmem(p, n, stops[i], strlen(stops[i]));

		if (s && s < end)
			end = s;
	}
	for (; p < end; p = next, since++) {
		const char *a, *after;
		size_t al;
		char st[16];
		int code, at;
		struct fb_rcpt *x;

		le = line_end(p, end, &next);
		at = feedback_find_reply(p, (size_t)(le - p), &code, st);
		after = at >= 0 ? p + at : NULL;
		if (find_addr(p, (size_t)(le - p), &a, &al) &&
		    (after == NULL || a < after)) {
			last = a;
			lastl = al;
			since = 0;
		}
		if (after == NULL)
			continue;
		if (last == NULL || since > 4) {
			/* The address quoted in the reply itself. */
			if (!find_addr(after, (size_t)(le - after), &a, &al))
				continue;
			last = a;
			lastl = al;
		}
		if ((x = rcpt_new(ps, -1)) == NULL)
			return;
		free(x->final);
		x->final = clean_dup(last, lastl);
		x->action = FA_FAILED;
		x->code = code;
		memcpy(x->status, st, sizeof(st));
		free(x->diag);
		x->diag = clean_dup(after, (size_t)(le - after));
		last = NULL;
	}
}

/* A copy of the message quoted in the text: its header fields, from the
 * first line that starts "Received:" or "Message-ID:"... */
static void
quoted_headers(struct parse *ps, const char *p, size_t n)
{
	static const char *const starts[] = { "\nReceived:", "\nMessage-ID:",
	    "\nReturn-Path:" };
	const char *first = NULL;

	for (size_t i = 0; i < nitems(starts); i++) {
		const char *s = memmem(p, n, starts[i], strlen(starts[i]));

		if (s && (first == NULL || s < first))
			first = s;
	}
	if (first)
		fields_read(ps, P_HEADERS, first + 1, (size_t)(p + n - first - 1));
}

static void
report_init(struct fb_report *r)
{
	memset(r, 0, sizeof(*r));
	r->feedback_type = xstrdup("");
	r->orig_mail_from = xstrdup("");
	r->orig_rcpt_to = xstrdup("");
	r->source_ip = xstrdup("");
	r->user_agent = xstrdup("");
	r->reporting_mta = xstrdup("");
	r->ret_message_id = xstrdup("");
	r->ret_qid = xstrdup("");
	r->ret_return_path = xstrdup("");
	r->ret_from = xstrdup("");
	r->ret_to = xstrdup("");
	r->ret_subject = xstrdup("");
}

static void
classify(struct parse *ps)
{
	struct fb_report *r = ps->r;
	const char *t = buf_ptr(&ps->text) ? buf_ptr(&ps->text) : "";

	if (ps->have_arf_part && (ps->arf || r->feedback_type[0]))
		r->type = FB_ARF;
	else if (ps->have_dsn_part && r->nrcpt > 0)
		r->type = FB_DSN;
	else {
		plain_bounce(ps, t, buf_len(&ps->text));
		if (r->nrcpt > 0)
			r->type = FB_BOUNCE;
	}
	if (r->ret_message_id[0] == '\0' && r->ret_qid[0] == '\0' &&
	    r->type != FB_UNKNOWN)
		quoted_headers(ps, t, buf_len(&ps->text));
}

static void
walk_top(void *arg, void *m)
{
	if (m != NULL)
		walk(arg, g_mime_message_get_mime_part(m), 0);
}

int
feedback_parse(const char *msg, size_t len, struct fb_report *r)
{
	struct parse ps;

	report_init(r);
	memset(&ps, 0, sizeof(ps));
	ps.r = r;
	buf_init(&ps.text, FB_MAX_TEXT);
	mime_with_message(msg, len, walk_top, &ps);
	classify(&ps);
	buf_free(&ps.text);
	return 0;
}

void
feedback_free(struct fb_report *r)
{
	for (int i = 0; i < r->nrcpt; i++) {
		free(r->rcpt[i].final);
		free(r->rcpt[i].original);
		free(r->rcpt[i].diag);
	}
	free(r->rcpt);
	free(r->feedback_type);
	free(r->orig_mail_from);
	free(r->orig_rcpt_to);
	free(r->source_ip);
	free(r->user_agent);
	free(r->reporting_mta);
	free(r->ret_message_id);
	free(r->ret_qid);
	free(r->ret_return_path);
	free(r->ret_from);
	free(r->ret_to);
	free(r->ret_subject);
	memset(r, 0, sizeof(*r));
}
