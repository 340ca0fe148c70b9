/*
 * dsn.c - delivery status notifications.
 * Standards: RFC 3464 (delivery-status; Diagnostic-Code carries only
 * the remote reply, as it was said, 2.3.6), RFC 6522 (multipart/report),
 * RFC 3461 (what the sender asked for: ENVID, ORCPT, RET, success),
 * RFC 3463 (status codes), RFC 3834 (Auto-Submitted), RFC 2046 5.1
 * (boundaries), RFC 5322 2.1.1 and 2.2.3 (line length, folding),
 * RFC 6533 (the global DSN of an SMTPUTF8 message: UTF-8 kept).
 * Exposure: copies untrusted text (remote replies, recipient addresses,
 * the original's header section) into a message we send.  Nothing of
 * it may end a field early, start a field of its own or a MIME part.
 * Diagnostics: never dies; dsn_build() returns -1 when out's maximum
 * would be passed.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "addr.h"
#include "dsn.h"
#include "util.h"

#define DSN_FOLD	78	/* RFC 5322 2.1.1: lines SHOULD not pass this */
#define DSN_HARD	998	/* ... and MUST not pass this */
#define DSN_BOUNDMAX	70	/* RFC 2046 5.1.1 */
/* Untrusted text stops short of DSN_HARD: a trusted ">" may follow. */
#define DSN_TEXTMAX	(DSN_HARD - 8)

/*
 * Output state.  Errors are sticky so the builder reads as a plain
 * sequence of writes; col is the length of the current output line.
 */
struct dsn_out {
	struct buf	*b;
	size_t		 col;
	int		 err;
	int		 utf8;	/* RFC 6533: well-formed UTF-8 is kept */
};

static void
dsn_raw(struct dsn_out *o, const char *p, size_t n)
{
	if (o->err || n == 0)
		return;
	if (buf_append(o->b, p, n) == -1)
		o->err = 1;
	o->col += n;
}

/*
 * Trusted text.  Mid-line it may follow untrusted text that used up the
 * line, so it can start a continuation line of its own.
 */
static void
dsn_puts(struct dsn_out *o, const char *s)
{
	size_t n = strlen(s);

	if (o->col > 0 && o->col + n > DSN_HARD) {
		dsn_raw(o, "\r\n ", 3);
		o->col = 1;
	}
	dsn_raw(o, s, n);
}

static void
dsn_crlf(struct dsn_out *o)
{
	dsn_raw(o, "\r\n", 2);
	o->col = 0;
}

/*
 * What an untrusted byte becomes inside a single-line value: controls
 * (CR and LF above all) turn into space so they can only ever separate
 * words; 8-bit bytes become '?' since every part we write is us-ascii
 * (in a global DSN, dsn_char keeps those of well-formed UTF-8).
 */
static int
dsn_clean(unsigned char c)
{
	if (c < 0x20 || c == 0x7f)
		return ' ';
	if (c >= 0x80)
		return '?';
	return c;
}

/*
 * The character at s[0..n) as it goes out: *out and its length, a
 * well-formed UTF-8 sequence as it is in a global DSN, else one cleaned
 * byte (c holds it).
 */
static size_t
dsn_char(const struct dsn_out *o, const char *s, size_t n, char *c,
    const char **out)
{
	size_t k;

	if (o->utf8 && (unsigned char)s[0] >= 0x80 &&
	    (k = utf8_char_len(s, n)) > 0) {
		*out = s;
		return k;
	}
	*c = (char)dsn_clean((unsigned char)s[0]);
	*out = c;
	return 1;
}

/* Length of the next word (cleaned non-space bytes) at s[i..n). */
static size_t
dsn_wordlen(const char *s, size_t i, size_t n)
{
	size_t j;

	for (j = i; j < n && dsn_clean((unsigned char)s[j]) != ' '; j++)
		;
	return j - i;
}

/*
 * Append untrusted text to the current line.  Runs of white space
 * collapse to one space and are trimmed at both ends, so a fold never
 * leaves a line of white space alone.  A fold is CRLF put before a
 * space (RFC 5322 2.2.3), taken when the next word would pass DSN_FOLD;
 * a word too long for DSN_HARD is split hard with CRLF and a space.
 * Either way every continuation line starts with a space, which is what
 * keeps it from being read as a field, a header end or a boundary.
 */
static void
dsn_text(struct dsn_out *o, const char *s)
{
	size_t i, n, w, k;
	int space = 0, any = 0;
	const char *ch;
	char c;

	if (s == NULL)
		return;
	n = strlen(s);
	for (i = 0; i < n && !o->err; i += k) {
		k = dsn_char(o, s + i, n - i, &c, &ch);
		if (k == 1 && *ch == ' ') {
			space = any;
			continue;
		}
		if (space) {
			w = dsn_wordlen(s, i, n);
			if (o->col + 1 + w > DSN_FOLD && o->col > 1)
				dsn_crlf(o);
			dsn_raw(o, " ", 1);
			space = 0;
		}
		if (o->col >= DSN_TEXTMAX) {
			dsn_crlf(o);
			dsn_raw(o, " ", 1);
		}
		dsn_raw(o, ch, k);
		any = 1;
	}
}

/* One header field: a trusted name, untrusted parts, CRLF. */
static void
dsn_field(struct dsn_out *o, const char *name, const char *pre,
    const char *val, const char *post)
{
	dsn_puts(o, name);
	dsn_puts(o, pre);
	dsn_text(o, val);
	dsn_puts(o, post);
	dsn_crlf(o);
}

/*
 * fmt_rfc5322() trusts localtime_r(); keep times in a range it can
 * always represent (years 1970..9999) instead of reading a struct tm
 * it never filled in.
 */
static void
dsn_date(struct dsn_out *o, const char *name, int64_t t)
{
	char date[64];

	if (t < 0)
		t = 0;
	if (t > INT64_C(253402300799))
		t = INT64_C(253402300799);
	fmt_rfc5322((time_t)t, date, sizeof(date));
	dsn_field(o, name, "", date, "");
}

/*
 * The boundary comes from the caller, but a bad one would break the
 * structure silently: demand RFC 2046 bchars, no trailing space.
 */
static int
dsn_boundary_ok(const char *b)
{
	static const char bchars[] = "0123456789"
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "'()+_,-./:=? ";
	size_t n;

	if (b == NULL || (n = strlen(b)) == 0 || n > DSN_BOUNDMAX)
		return 0;
	if (strspn(b, bchars) != n || b[n - 1] == ' ')
		return 0;
	return 1;
}

static void
dsn_delim(struct dsn_out *o, const char *boundary, int last)
{
	dsn_crlf(o);
	dsn_puts(o, "--");
	dsn_puts(o, boundary);
	if (last)
		dsn_puts(o, "--");
	dsn_crlf(o);
}

static const char *
dsn_str(const char *s, const char *dflt)
{
	return s != NULL ? s : dflt;
}

/* What the report is of: any failure makes it a bounce; delays and no
 * failure, a warning; else successes. */
enum dsn_kind { DK_FAILED, DK_DELAYED, DK_SUCCESS };

static enum dsn_kind
dsn_kind(const struct dsn *d)
{
	int i, delayed = 0, failed = d->nrcpts == 0;

	for (i = 0; i < d->nrcpts; i++) {
		const char *a = dsn_str(d->rcpts[i].action, "failed");

		if (strcasecmp(a, "delayed") == 0)
			delayed = 1;
		else if (strcasecmp(a, "relayed") != 0 &&
		    strcasecmp(a, "delivered") != 0 &&
		    strcasecmp(a, "expanded") != 0)
			failed = 1;
	}
	return failed ? DK_FAILED : delayed ? DK_DELAYED : DK_SUCCESS;
}

static const char *const dsn_subjects[] = {
	[DK_FAILED] = "Undelivered Mail Returned to Sender",
	[DK_DELAYED] = "Delayed Mail (still being retried)",
	[DK_SUCCESS] = "Successful Mail Delivery Report",
};

const char *
dsn_subject(const struct dsn *d)
{
	return dsn_subjects[dsn_kind(d)];
}

static void
dsn_headers(struct dsn_out *o, const struct dsn *d, enum dsn_kind kind)
{
	const char *mid = dsn_str(d->message_id, "");

	dsn_field(o, "From: ", "Mail Delivery System <",
	    dsn_str(d->postmaster, "MAILER-DAEMON"), ">");
	dsn_field(o, "To: ", "<", dsn_str(d->to, ""), ">");
	dsn_field(o, "Subject: ", "", dsn_subjects[kind], "");
	dsn_date(o, "Date: ", d->now);
	if (mid[0] == '<')
		dsn_field(o, "Message-ID: ", "", mid, "");
	else
		dsn_field(o, "Message-ID: ", "<", mid, ">");
	dsn_field(o, "Auto-Submitted: ", "", "auto-replied", "");
	dsn_field(o, "MIME-Version: ", "", "1.0", "");
	dsn_puts(o, o->utf8 ? "Content-Type: multipart/report; "
	    "report-type=global-delivery-status;" :
	    "Content-Type: multipart/report; report-type=delivery-status;");
	dsn_crlf(o);
	dsn_puts(o, "\tboundary=\"");
	dsn_puts(o, d->boundary);
	dsn_puts(o, "\"");
	dsn_crlf(o);
	dsn_field(o, "X-Gw-Queue-ID: ", "", dsn_str(d->qid, ""), "");
	dsn_crlf(o);
	dsn_puts(o, "This is a MIME-encapsulated message.");
	dsn_crlf(o);
}

/* Part 1: what a person reads. */
static void
dsn_notice(struct dsn_out *o, const struct dsn *d, enum dsn_kind kind)
{
	const struct dsn_rcpt *r;
	int i;

	dsn_delim(o, d->boundary, 0);
	dsn_puts(o, o->utf8 ? "Content-Type: text/plain; charset=utf-8" :
	    "Content-Type: text/plain; charset=us-ascii");
	dsn_crlf(o);
	dsn_puts(o, "Content-Description: Notification");
	dsn_crlf(o);
	dsn_crlf(o);
	dsn_puts(o, "This is the mail system at host ");
	dsn_text(o, dsn_str(d->reporting_mta, "localhost"));
	dsn_puts(o, ".");
	dsn_crlf(o);
	dsn_crlf(o);
	if (kind == DK_DELAYED) {
		dsn_puts(o, "Your message could not be delivered yet to one "
		    "or more recipients.");
		dsn_crlf(o);
		dsn_puts(o, "It will be retried; you do not need to send it "
		    "again.");
	} else if (kind == DK_SUCCESS) {
		dsn_puts(o, "Your message was passed on to the servers of the "
		    "recipients below,");
		dsn_crlf(o);
		dsn_puts(o, "which send no delivery reports: this is the last "
		    "one for them.");
	} else {
		dsn_puts(o, "Your message could not be delivered to one or "
		    "more recipients.");
		dsn_crlf(o);
		dsn_puts(o, d->full ? "It is attached below." :
		    "Its headers are attached below.");
	}
	dsn_crlf(o);
	dsn_crlf(o);
	/* Lines start with '<', never with "--": no fake delimiter. */
	for (i = 0; i < d->nrcpts; i++) {
		r = &d->rcpts[i];
		dsn_puts(o, "<");
		dsn_text(o, dsn_str(r->address, ""));
		dsn_puts(o, ">: ");
		if (r->reason != NULL)
			dsn_text(o, r->reason);
		else if (r->diagnostic != NULL)
			dsn_text(o, r->diagnostic);
		else {
			dsn_text(o, dsn_str(r->action, "failed"));
			dsn_puts(o, ", status ");
			dsn_text(o, dsn_str(r->status, "5.0.0"));
		}
		dsn_crlf(o);
	}
}

/* Part 2: RFC 3464 2.2 and 2.3, for programs. */
static void
dsn_status(struct dsn_out *o, const struct dsn *d)
{
	const struct dsn_rcpt *r;
	int i;

	dsn_delim(o, d->boundary, 0);
	dsn_puts(o, o->utf8 ? "Content-Type: message/global-delivery-status" :
	    "Content-Type: message/delivery-status");
	dsn_crlf(o);
	dsn_puts(o, "Content-Description: Delivery report");
	dsn_crlf(o);
	dsn_crlf(o);
	if (d->envid != NULL)
		dsn_field(o, "Original-Envelope-Id: ", "", d->envid, "");
	dsn_field(o, "Reporting-MTA: ", "dns; ",
	    dsn_str(d->reporting_mta, "localhost"), "");
	dsn_field(o, "X-Gw-Queue-ID: ", "", dsn_str(d->qid, ""), "");
	if (d->arrival != 0)
		dsn_date(o, "Arrival-Date: ", d->arrival);
	for (i = 0; i < d->nrcpts; i++) {
		r = &d->rcpts[i];
		dsn_crlf(o);
		if (r->orcpt != NULL)
			dsn_field(o, "Original-Recipient: ", "", r->orcpt, "");
		/* RFC 6533 3: a UTF-8 address is of type utf-8. */
		dsn_field(o, "Final-Recipient: ", o->utf8 &&
		    !addr_is_ascii(dsn_str(r->address, "")) ? "utf-8; " :
		    "rfc822; ", dsn_str(r->address, ""), "");
		dsn_field(o, "Action: ", "", dsn_str(r->action, "failed"), "");
		dsn_field(o, "Status: ", "", dsn_str(r->status, "5.0.0"), "");
		if (r->remote_mta != NULL)
			dsn_field(o, "Remote-MTA: ", "dns; ", r->remote_mta,
			    "");
		if (r->diagnostic != NULL)
			dsn_field(o, "Diagnostic-Code: ", "smtp; ",
			    r->diagnostic, "");
		/* Our words are never passed off as the remote's. */
		if (r->reason != NULL)
			dsn_field(o, "X-Gw-Diagnostic: ", "", r->reason, "");
		if (r->last_attempt != 0)
			dsn_date(o, "Last-Attempt-Date: ", r->last_attempt);
	}
}

/*
 * A byte of the original's header section.  Unlike dsn_clean() this
 * keeps tab (folded fields use it) and is only used inside lines.
 */
static char
dsn_hclean(unsigned char c)
{
	if (c == '\t')
		return '\t';
	if (c < 0x20 || c == 0x7f || c >= 0x80)
		return '?';
	return (char)c;
}

/* Would line p[0..n) read as "--boundary" once cleaned? */
static int
dsn_is_delim(const char *p, size_t n, const char *boundary)
{
	size_t i, blen = strlen(boundary);

	if (n < 2 + blen)
		return 0;
	for (i = 0; i < 2 + blen; i++) {
		char want = i < 2 ? '-' : boundary[i - 2];

		if (dsn_hclean((unsigned char)p[i]) != want)
			return 0;
	}
	return 1;
}

/*
 * One line of the original (no line end), cleaned.  A line over
 * DSN_HARD is folded before its last white space that fits, or split
 * hard with CRLF and a space: the continuation rule of RFC 5322 keeps
 * either inside the field it belongs to.
 */
static void
dsn_hline(struct dsn_out *o, const char *p, size_t n, const char *boundary)
{
	size_t i, room, cut, k;
	char c;

	if (dsn_is_delim(p, n, boundary))
		dsn_raw(o, " ", 1);
	while (n > 0 && !o->err) {
		room = DSN_HARD - o->col;
		if (n <= room)
			cut = n;
		else {
			for (cut = room; cut > 0; cut--)
				if (p[cut] == ' ' || p[cut] == '\t')
					break;
			/* A hard split never cuts a UTF-8 character. */
			if (cut == 0)
				for (cut = room; cut > 1 &&
				    ((unsigned char)p[cut] & 0xc0) == 0x80; cut--)
					;
		}
		for (i = 0; i < cut; i += k) {
			k = o->utf8 && (unsigned char)p[i] >= 0x80 ?
			    utf8_char_len(p + i, cut - i) : 0;
			if (k > 0) {
				dsn_raw(o, p + i, k);
				continue;
			}
			c = dsn_hclean((unsigned char)p[i]);
			dsn_raw(o, &c, 1);
			k = 1;
		}
		p += cut;
		n -= cut;
		if (n > 0) {
			dsn_crlf(o);
			if (p[0] != ' ' && p[0] != '\t')
				dsn_raw(o, " ", 1);
		}
	}
	dsn_crlf(o);
}

/*
 * Part 3 with RET=FULL: the whole original, its lines as stored (CRLF,
 * none over 998 octets: DATA refused anything else), except that a
 * line reading as our delimiter gets a leading space.
 */
static void
dsn_original_full(struct dsn_out *o, const struct dsn *d)
{
	const char *p = d->original, *end = p + d->original_len, *lf;

	dsn_delim(o, d->boundary, 0);
	dsn_puts(o, o->utf8 ? "Content-Type: message/global" :
	    "Content-Type: message/rfc822");
	dsn_crlf(o);
	dsn_puts(o, "Content-Description: Undelivered Message");
	dsn_crlf(o);
	if (d->full_8bit) {
		dsn_puts(o, "Content-Transfer-Encoding: 8bit");
		dsn_crlf(o);
	}
	dsn_crlf(o);
	while (p < end && !o->err) {
		lf = memchr(p, '\n', (size_t)(end - p));
		lf = lf ? lf + 1 : end;
		if (dsn_is_delim(p, (size_t)(lf - p), d->boundary))
			dsn_raw(o, " ", 1);
		dsn_raw(o, p, (size_t)(lf - p));
		p = lf;
	}
	if (d->original_len > 0 && end[-1] != '\n')
		dsn_raw(o, "\r\n", 2);
	o->col = 0;
}

/*
 * Part 3: the original's header section.  CRLF, bare LF and bare CR
 * all end a line, so no stray CR or LF reaches the output unpaired;
 * the first empty line ends the section (the body never goes back).
 */
static void
dsn_original(struct dsn_out *o, const struct dsn *d)
{
	const char *p = d->original, *end, *eol;

	if (d->full && p != NULL) {
		dsn_original_full(o, d);
		return;
	}
	dsn_delim(o, d->boundary, 0);
	dsn_puts(o, o->utf8 ? "Content-Type: message/global-headers" :
	    "Content-Type: text/rfc822-headers");
	dsn_crlf(o);
	dsn_puts(o, "Content-Description: Undelivered Message Headers");
	dsn_crlf(o);
	dsn_crlf(o);
	if (p == NULL)
		return;
	end = p + d->original_len;
	while (p < end && !o->err) {
		for (eol = p; eol < end && *eol != '\r' && *eol != '\n'; eol++)
			;
		if (eol == p && eol < end)
			break;
		dsn_hline(o, p, (size_t)(eol - p), d->boundary);
		p = eol;
		if (p + 1 < end && p[0] == '\r' && p[1] == '\n')
			p += 2;
		else if (p < end)
			p++;
	}
}

int
dsn_build(const struct dsn *d, struct buf *out)
{
	struct dsn_out o = { out, 0, 0, d->utf8 };
	size_t live = buf_len(out);
	enum dsn_kind kind;

	if (!dsn_boundary_ok(d->boundary) || d->nrcpts < 0 ||
	    (d->nrcpts > 0 && d->rcpts == NULL))
		return -1;
	kind = dsn_kind(d);
	dsn_headers(&o, d, kind);
	dsn_notice(&o, d, kind);
	dsn_status(&o, d);
	dsn_original(&o, d);
	dsn_delim(&o, d->boundary, 1);
	if (o.err) {
		/* Leave out as it was, as a failed buf_append() would. */
		out->len = out->off + live;
		return -1;
	}
	return 0;
}
