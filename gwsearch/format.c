/*
 * format.c - printing messages and their events: a readable table, or
 * JSON lines with Elastic Common Schema field names.
 *
 * CSV (RFC 4180), ArcSight CEF and RFC 5424 syslog lines are written
 * one per event, for spreadsheets and SIEMs.
 *
 * Exposure: subjects, addresses and remote replies were written by
 * strangers.  On a terminal, control characters (C0, DEL, C1) and bytes
 * that are not UTF-8 are shown as \xNN so no escape sequence reaches the
 * terminal; JSON escapes them (json.c), CSV writes U+FFFD for them
 * (tab and line breaks stay, quoted) and CEF a space.  No format lets
 * one through raw: U+009B is CSI to a terminal that reads 8-bit
 * controls, U+0085 a line break to some SIEM parsers.
 * Diagnostics: dies (fatalx) only when memory runs out or a line passes
 * its output limit; nothing here returns errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "addrlist.h"
#include "buf.h"
#include "event.h"
#include "evjson.h"
#include "gwsearch.h"
#include "json.h"
#include "log.h"
#include "util.h"

/*
 * Who wrote the events: gwd's `hostname` (ECS observer.hostname, CEF
 * dvchost, the syslog HOSTNAME), its cluster node name (cluster.node,
 * else the hostname: `show` names it, since each node's log.db holds
 * only its own queue ids) and the private enterprise number of the
 * syslog structured data.  Set once from the configuration.
 */
static struct {
	char	host[256];
	char	node[256];
	int	pen;
} origin = { "-", "-", 32473 };

static void
origin_name(char *to, size_t n, const char *name)
{
	if (name == NULL || *name == '\0' || strpbrk(name, " \t\r\n") ||
	    strlen(name) >= n)
		name = "-";
	gw_strlcpy(to, name, n);
}

void
format_origin(const char *hostname, const char *node, int pen)
{
	origin_name(origin.host, sizeof(origin.host), hostname);
	origin_name(origin.node, sizeof(origin.node), node ? node : hostname);
	origin.pen = pen;
}

const char *
format_node(void)
{
	return origin.node;
}

/* A control character: C0, DEL or C1 (U+0080..U+009F, CSI among them). */
static int
format_is_ctl(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
}

/* Safe for a terminal: copy s, escaping controls and broken UTF-8. */
void
format_clean(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i = 0, n;
	uint32_t cp;
	int r = 0;

	while (i < len && r == 0) {
		n = json_utf8_next(p + i, len - i, &cp);
		if (n == 0 || format_is_ctl(cp)) {
			n = n ? n : 1;
			for (size_t j = 0; j < n && r == 0; j++)
				r = buf_printf(b, "\\x%02x", p[i + j]);
		} else
			r = buf_append(b, p + i, n);
		i += n;
	}
	if (r == -1)
		fatalx("output too long");
}

static const char *
format_or(const char *s, const char *dflt)
{
	return s && *s ? s : dflt;
}

/* RFC 3339 UTC with whole seconds, for people. */
void
format_time(int64_t us, char *out, size_t n)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		gw_strlcpy(out, "?", n);
}

/* The event that best describes the message: "received" if present. */
static const struct event *
format_head(const struct message *m)
{
	for (int i = 0; i < m->nev; i++)
		if (event_lookup(m->ev[i].action) == EV_RECEIVED)
			return &m->ev[i];
	return &m->ev[0];
}

static void
format_header(const struct message *m, struct buf *b)
{
	const struct event *h = format_head(m);

	buf_puts(b, h->qid ? h->qid : "(no queue id)");
	if (h->sender) {
		buf_puts(b, "  from <");
		format_clean(b, h->sender);
		buf_puts(b, ">");
	}
	if (h->subject) {
		buf_puts(b, "  subject \"");
		format_clean(b, h->subject);
		buf_puts(b, "\"");
	}
	printf("%s\n", buf_cstr(b));
	buf_reset(b);
}

/* The reply column: SMTP reply, else what the event has to say. */
static void
format_reply(const struct event *e, struct buf *b)
{
	if (e->username) {
		buf_puts(b, "user=");
		format_clean(b, e->username);
		buf_putc(b, ' ');
	}
	if (e->has_reply_code)
		buf_printf(b, "%lld ", (long long)e->reply_code);
	if (e->reply_status)
		buf_printf(b, "%s ", e->reply_status);
	if (e->reply_text)
		format_clean(b, e->reply_text);
	if (event_lookup(e->action) == EV_RECEIVED && e->has_size)
		buf_printf(b, "size=%lld", (long long)e->size);
	if (e->bounce_class) {
		if (buf_len(b) > 0)
			buf_putc(b, ' ');
		buf_puts(b, "class=");
		format_clean(b, e->bounce_class);
	}
	if (e->detail) {
		if (buf_len(b) > 0)
			buf_putc(b, ' ');
		format_clean(b, e->detail);
	}
	while (buf_len(b) > 0 && buf_ptr(b)[buf_len(b) - 1] == ' ')
		b->len--;
}

/* Terminal width: COLUMNS, else the tty's; 0 when not known.  Asked
 * once and remembered (the pager takes stdout's place later). */
int
format_columns(void)
{
	static int cols = -1;
	struct winsize ws;
	const char *env = getenv("COLUMNS");

	if (cols >= 0)
		return cols;
	cols = 0;
	if (env && atoi(env) > 0)
		cols = atoi(env);
	else if (isatty(STDOUT_FILENO) &&
	    ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		cols = ws.ws_col;
	return cols;
}

/* Shorten the reply so the line fits the terminal; "..." marks the cut. */
static void
format_fit(struct buf *c, size_t used, size_t tail)
{
	size_t cols = (size_t)format_columns(), room;

	if (cols == 0 || used + tail + buf_len(c) <= cols)
		return;
	room = cols > used + tail + 10 ? cols - used - tail : 10;
	if (buf_len(c) > room) {
		/* Do not cut inside a UTF-8 sequence. */
		size_t n = room - 3;

		while (n > 0 && (buf_ptr(c)[n] & 0xc0) == 0x80)
			n--;
		c->len = c->off + n;
		buf_puts(c, "...");
	}
}

static void
format_line(const struct event *e, int wr, int wh, struct buf *b)
{
	struct buf c;
	char t[40];

	buf_init(&c, 0);
	format_time(e->ts, t, sizeof(t));
	buf_printf(b, "  %s  %-9s  ", t, e->action);
	format_clean(&c, format_or(e->recipient, "-"));
	buf_printf(b, "%-*s  ", wr, buf_cstr(&c));
	buf_reset(&c);
	/* The peer: the remote server, or the client that sent to us. */
	format_clean(&c, format_or(e->remote_host, format_or(e->client_ip,
	    "-")));
	buf_printf(b, "%-*s  ", wh, buf_cstr(&c));
	buf_reset(&c);
	format_reply(e, &c);
	format_fit(&c, buf_len(b), 2 + strlen(format_or(e->tls, "-")));
	buf_printf(b, "%-s  %s", format_or(buf_cstr(&c), "-"),
	    format_or(e->tls, "-"));
	buf_free(&c);
	printf("%s\n", buf_cstr(b));
	buf_reset(b);
}

static int
format_width(const char *s)
{
	return s ? (int)strlen(s) : 1;
}

void
format_table(const struct message *m)
{
	int wr = 1, wh = 1;
	struct buf b;

	if (m->nev == 0)
		return;
	for (int i = 0; i < m->nev; i++) {
		const struct event *e = &m->ev[i];
		int w = format_width(e->recipient);

		if (w > wr && w <= 60)
			wr = w;
		w = format_width(e->remote_host ? e->remote_host :
		    e->client_ip);
		if (w > wh && w <= 40)
			wh = w;
	}
	buf_init(&b, 0);
	format_header(m, &b);
	for (int i = 0; i < m->nev; i++)
		format_line(&m->ev[i], wr, wh, &b);
	buf_free(&b);
	printf("\n");
}

static void
format_json_event(const struct event *e, struct buf *b)
{
	struct json_obj o;

	json_obj_begin(&o, b);
	evjson_fields(&o, e, origin.host);
	if (json_obj_end(&o) == -1)
		fatalx("output too long");
}

/* s with each byte that is not UTF-8 as U+FFFD; esc(b, code point)
 * writes what else needs escaping and returns 1, or returns 0. */
static void
format_utf8(struct buf *b, const char *s, int (*esc)(struct buf *, uint32_t))
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i = 0, n;
	uint32_t cp;

	while (i < len) {
		n = json_utf8_next(p + i, len - i, &cp);
		if (n == 0) {
			buf_puts(b, "\xef\xbf\xbd");
			n = 1;
		} else if (esc == NULL || esc(b, cp) == 0)
			buf_append(b, p + i, n);
		i += n;
	}
}

/* CSV has no escapes: line breaks and tabs stay (quoted by the caller),
 * other controls become U+FFFD so none reaches a terminal or a cell. */
static int
format_esc_csv(struct buf *b, uint32_t c)
{
	if (c == '"') {
		buf_puts(b, "\"\"");
		return 1;
	}
	if (format_is_ctl(c) && c != '\t' && c != '\r' && c != '\n') {
		buf_puts(b, "\xef\xbf\xbd");
		return 1;
	}
	return 0;
}

/*
 * A field a spreadsheet would take for a formula (=, +, -, @, tab, CR
 * first: a hostile subject like =HYPERLINK(...)) gets a ' in front, as
 * OWASP advises for CSV injection; jsonl keeps the value as it was.
 */
void
format_csv_field(struct buf *b, const char *s, int first)
{
	int formula;

	if (!first)
		buf_putc(b, ',');
	if (s == NULL)
		return;
	formula = *s != '\0' && strchr("=+-@\t\r", *s) != NULL;
	if (!formula && strpbrk(s, "\",\r\n") == NULL) {
		format_utf8(b, s, format_esc_csv);
		return;
	}
	buf_putc(b, '"');
	if (formula)
		buf_putc(b, '\'');
	format_utf8(b, s, format_esc_csv);
	buf_putc(b, '"');
}

static const char *const csv_columns[] = { "timestamp", "event_id",
    "queue_id", "action", "outcome", "sender", "recipient", "subject",
    "message_id", "header_from", "subaccount", "client_ip", "remote_host",
    "remote_ip", "reply_code", "reply_status", "reply_text", "tls",
    "duration_ms", "size", "detail", "bounce_class", "tls_policy",
    "tls_verified", "tls_note", "username" };

void
format_csv_header(void)
{
	for (size_t i = 0; i < nitems(csv_columns); i++)
		printf("%s%s", i ? "," : "", csv_columns[i]);
	printf("\r\n");
}

static const char *
format_num(char *tmp, size_t n, int has, int64_t v)
{
	if (!has)
		return NULL;
	snprintf(tmp, n, "%lld", (long long)v);
	return tmp;
}

static void
format_csv(const struct event *e, struct buf *b)
{
	char t[40], id[24], code[24], dur[24], size[24], tv[24];
	const char *f[] = { t, id, e->qid, e->action,
	    evjson_outcome(e->action), e->sender, e->recipient, e->subject,
	    e->message_id, e->from_addr, e->subaccount, e->client_ip,
	    e->remote_host, e->remote_ip,
	    format_num(code, sizeof(code), e->has_reply_code, e->reply_code),
	    e->reply_status, e->reply_text, e->tls,
	    format_num(dur, sizeof(dur), e->has_duration, e->duration_ms),
	    format_num(size, sizeof(size), e->has_size, e->size), e->detail,
	    e->bounce_class, e->tls_policy,
	    format_num(tv, sizeof(tv), e->has_tls_verified, e->tls_verified),
	    e->tls_note, e->username };

	fmt_rfc3339(e->ts, t, sizeof(t));
	snprintf(id, sizeof(id), "%lld", (long long)e->id);
	for (size_t i = 0; i < nitems(f); i++)
		format_csv_field(b, f[i], i == 0);
	buf_puts(b, "\r\n");
}

/* CEF header fields: \ and | escaped; no line breaks. */
static int
format_esc_cef_head(struct buf *b, uint32_t c)
{
	if (c == '\\' || c == '|') {
		buf_putc(b, '\\');
		buf_putc(b, (int)c);
		return 1;
	}
	if (format_is_ctl(c)) {
		buf_putc(b, ' ');
		return 1;
	}
	return 0;
}

/* CEF extension values: \ = escaped, line breaks as \n \r. */
static int
format_esc_cef_ext(struct buf *b, uint32_t c)
{
	if (c == '\\' || c == '=') {
		buf_putc(b, '\\');
		buf_putc(b, (int)c);
	} else if (c == '\n')
		buf_puts(b, "\\n");
	else if (c == '\r')
		buf_puts(b, "\\r");
	else if (format_is_ctl(c))
		buf_putc(b, ' ');
	else
		return 0;
	return 1;
}

static void
format_cef_ext(struct buf *b, const char *key, const char *val)
{
	if (val == NULL)
		return;
	buf_printf(b, " %s=", key);
	format_utf8(b, val, format_esc_cef_ext);
}

static int
format_severity(const char *action)
{
	return event_kind(event_lookup(action))->cef_severity;
}

static void
format_cef(const struct event *e, struct buf *b)
{
	char n[24], rt[24];
	struct buf r;

	const struct event_kind *k = event_kind(event_lookup(e->action));

	buf_puts(b, "CEF:0|gw|gwd|" GW_VERSION "|");
	format_utf8(b, e->action, format_esc_cef_head);
	buf_putc(b, '|');
	format_utf8(b, k->title, format_esc_cef_head);
	buf_printf(b, "|%d|", k->cef_severity);
	snprintf(rt, sizeof(rt), "%lld", (long long)(e->ts / 1000));
	snprintf(n, sizeof(n), "%lld", (long long)e->id);
	buf_printf(b, "rt=%s externalId=%s", rt, n);
	format_cef_ext(b, "dvchost", origin.host);
	format_cef_ext(b, "act", e->action);
	format_cef_ext(b, "outcome", evjson_outcome(e->action));
	/* The source user: the name a login tried, else the envelope
	 * sender. */
	format_cef_ext(b, "suser", e->username ? e->username : e->sender);
	format_cef_ext(b, "duser", e->recipient);
	format_cef_ext(b, "msg", e->subject);
	if (e->username)
		format_cef_ext(b, "reason", e->detail);
	format_cef_ext(b, "src", e->client_ip);
	format_cef_ext(b, "dhost", e->remote_host);
	format_cef_ext(b, "dst", e->remote_ip);
	if (e->qid)
		buf_puts(b, " cs1Label=queueId");
	format_cef_ext(b, "cs1", e->qid);
	if (e->message_id)
		buf_puts(b, " cs2Label=messageId");
	format_cef_ext(b, "cs2", e->message_id);
	buf_init(&r, 0);
	if (e->has_reply_code)
		buf_printf(&r, "%lld", (long long)e->reply_code);
	if (e->reply_status)
		buf_printf(&r, "%s%s", buf_len(&r) ? " " : "", e->reply_status);
	if (e->reply_text)
		buf_printf(&r, "%s%s", buf_len(&r) ? " " : "", e->reply_text);
	if (buf_len(&r) > 0) {
		buf_puts(b, " cs3Label=smtpReply");
		format_cef_ext(b, "cs3", buf_cstr(&r));
	}
	buf_free(&r);
	if (e->subaccount)
		buf_puts(b, " cs4Label=subaccount");
	format_cef_ext(b, "cs4", e->subaccount);
	if (e->tls)
		buf_puts(b, " cs5Label=tls");
	format_cef_ext(b, "cs5", e->tls);
	if (e->has_size)
		buf_printf(b, " fsize=%lld", (long long)e->size);
	buf_putc(b, '\n');
}

/* RFC 5424's MSGID: 1 to 32 printable US-ASCII characters, and none
 * that an SD parser would trip on; else "-". */
static const char *
format_msgid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32)
		return "-";
	for (size_t i = 0; i < n; i++)
		if (s[i] < 33 || s[i] > 126 || s[i] == ']' || s[i] == '"')
			return "-";
	return s;
}

/*
 * RFC 5424: <PRI>1 TIME HOST APP - MSGID [SD] MSG, the MSG being JSON.
 * HOST is gwd's hostname (what its mail says it is), not the host that
 * runs the export; the SD-ID is gw@ the configured enterprise number.
 */
static void
format_syslog(const struct event *e, struct buf *b)
{
	char t[40];
	int sev = format_severity(e->action) >= 5 ? 4 : 6;

	fmt_rfc3339(e->ts, t, sizeof(t));
	/* facility mail (2) */
	buf_printf(b, "<%d>1 %s %.255s gwd - %s [gw@%d eventId=\"%lld\"] ",
	    2 * 8 + sev, t, origin.host, format_msgid(e->action), origin.pen,
	    (long long)e->id);
	format_json_event(e, b);
	buf_putc(b, '\n');
}

void
format_event(const struct event *e, enum format f, struct buf *b)
{
	switch (f) {
	case FMT_CSV:
		format_csv(e, b);
		break;
	case FMT_CEF:
		format_cef(e, b);
		break;
	case FMT_SYSLOG:
		format_syslog(e, b);
		break;
	case FMT_TABLE:
	case FMT_JSON:
		format_json_event(e, b);
		buf_putc(b, '\n');
		break;
	}
}

void
format_json(const struct message *m)
{
	struct buf b;

	buf_init(&b, 0);
	for (int i = 0; i < m->nev; i++) {
		format_json_event(&m->ev[i], &b);
		printf("%s\n", buf_cstr(&b));
		buf_reset(&b);
	}
	buf_free(&b);
}

/* One event on its own line, for --follow: the queue id, then the rest. */
void
format_table_event(const struct event *e)
{
	struct buf b;

	buf_init(&b, 0);
	buf_puts(&b, e->qid ? e->qid : "-");
	format_line(e, 24, 20, &b);
	buf_free(&b);
}
