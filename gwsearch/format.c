/*
 * format.c - printing messages and their events: a readable table, or
 * JSON lines with Elastic Common Schema field names.
 *
 * Exposure: subjects, addresses and remote replies were written by
 * strangers.  On a terminal, control characters (C0, DEL, C1) and bytes
 * that are not UTF-8 are shown as \xNN so no escape sequence reaches the
 * terminal; JSON escapes them (json.c).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "gwsearch.h"
#include "json.h"
#include "log.h"
#include "util.h"

/* Safe for a terminal: copy s, escaping controls and broken UTF-8. */
static void
format_clean(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i = 0, n;
	uint32_t cp;
	int r = 0;

	while (i < len && r == 0) {
		n = json_utf8_next(p + i, len - i, &cp);
		if (n == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
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
static void
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
		if (strcmp(m->ev[i].action, "received") == 0)
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
	if (e->has_reply_code)
		buf_printf(b, "%lld ", (long long)e->reply_code);
	if (e->reply_status)
		buf_printf(b, "%s ", e->reply_status);
	if (e->reply_text)
		format_clean(b, e->reply_text);
	if (strcmp(e->action, "received") == 0 && e->has_size)
		buf_printf(b, "size=%lld", (long long)e->size);
	if (e->detail) {
		if (buf_len(b) > 0)
			buf_putc(b, ' ');
		format_clean(b, e->detail);
	}
	while (buf_len(b) > 0 && buf_ptr(b)[buf_len(b) - 1] == ' ')
		b->len--;
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

/* ECS event.outcome: final good, final bad, or not known yet. */
static const char *
format_outcome(const char *action)
{
	static const char *const ok[] = { "received", "delivered", "dsn" };
	static const char *const bad[] = { "bounced", "expired", "rejected",
	    "auth" };

	for (size_t i = 0; i < nitems(ok); i++)
		if (strcmp(action, ok[i]) == 0)
			return "success";
	for (size_t i = 0; i < nitems(bad); i++)
		if (strcmp(action, bad[i]) == 0)
			return "failure";
	return "unknown";
}

/* "a@x, b@y" -> ["a@x","b@y"] */
static void
format_addresses(const char *list, struct buf *b)
{
	const char *p = list;
	int first = 1;

	buf_putc(b, '[');
	while (*p) {
		size_t n;

		p += strspn(p, ", ");
		if ((n = strcspn(p, ",")) == 0)
			break;
		while (n > 0 && p[n - 1] == ' ')
			n--;
		buf_puts(b, first ? "\"" : ",\"");
		json_escape(b, p, n);
		buf_putc(b, '"');
		first = 0;
		p += n;
		p += strcspn(p, ",");
	}
	buf_putc(b, ']');
}

/* "TLSv1.3 TLS_AES_256_GCM_SHA384" -> tls.version 1.3, tls.cipher ... */
static void
format_tls(struct json_obj *o, const char *tls)
{
	char ver[64];
	const char *sp = strchr(tls, ' ');
	size_t n = sp ? (size_t)(sp - tls) : strlen(tls);

	snprintf(ver, sizeof(ver), "%.*s", (int)n, tls);
	if (strncmp(ver, "TLSv", 4) == 0 || strncmp(ver, "SSLv", 4) == 0) {
		json_obj_str(o, "tls.version", ver + 4);
		json_obj_str(o, "tls.version_protocol",
		    ver[0] == 'T' ? "tls" : "ssl");
	} else
		json_obj_str(o, "tls.version", ver);
	if (sp && sp[1])
		json_obj_str(o, "tls.cipher", sp + 1);
}

static void
format_json_email(struct json_obj *o, const struct event *e)
{
	struct buf to;

	json_obj_str(o, "email.local_id", e->qid);
	json_obj_str(o, "email.from.address", e->sender);
	if (e->recipient) {
		buf_init(&to, 0);
		format_addresses(e->recipient, &to);
		json_obj_raw(o, "email.to.address", buf_cstr(&to));
		buf_free(&to);
	}
	json_obj_str(o, "email.subject", e->subject);
	json_obj_str(o, "email.message_id", e->message_id);
}

static void
format_json_gw(struct json_obj *o, const struct event *e)
{
	json_obj_int(o, "gw.event_id", e->id);
	json_obj_str(o, "gw.subaccount", e->subaccount);
	if (e->has_size)
		json_obj_int(o, "gw.size", e->size);
	json_obj_str(o, "gw.header_from", e->from_addr);
	json_obj_str(o, "gw.detail", e->detail);
	if (e->has_reply_code)
		json_obj_int(o, "gw.smtp.code", e->reply_code);
	json_obj_str(o, "gw.smtp.status", e->reply_status);
	json_obj_str(o, "gw.smtp.text", e->reply_text);
}

static void
format_json_event(const struct event *e, struct buf *b)
{
	struct json_obj o;
	char t[40];

	fmt_rfc3339(e->ts, t, sizeof(t));
	json_obj_begin(&o, b);
	json_obj_str(&o, "@timestamp", t);
	json_obj_str(&o, "event.action", e->action);
	json_obj_str(&o, "event.outcome", format_outcome(e->action));
	if (e->has_duration)
		json_obj_int(&o, "event.duration", e->duration_ms * 1000000);
	format_json_email(&o, e);
	json_obj_str(&o, "source.ip", e->client_ip);
	json_obj_str(&o, "destination.domain", e->remote_host);
	json_obj_str(&o, "destination.ip", e->remote_ip);
	if (e->tls)
		format_tls(&o, e->tls);
	format_json_gw(&o, e);
	if (json_obj_end(&o) == -1)
		fatalx("output too long");
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
