/*
 * session_reply.c - inbound SMTP: replies and refusals.  A reply is one
 * line, bounded to REPLY_MAX and sent with its CRLF; a refusal is a
 * reply that is also an event of the audit trail ("rejected": the
 * stage, the reply split into code, status and text, the sender and
 * recipient it names; audit_refusal(), which the HTTP API uses too; on
 * a feedback listener past feedback.reject_log only counted, fbl.h); a
 * bad command is a reply counted toward limits.unknown_commands.  session.c has the rest of a session's life.
 * Standards: RFC 5321 4.2 (replies), 4.5.3.1.5 (reply line length),
 * RFC 2034/3463 (enhanced status codes).
 * Exposure: what goes into a reply is ours or already parsed (addresses
 * by smtp_proto.c); nothing here reads from the network.
 * Diagnostics: a reply longer than a line is cut and logged, never
 * dropped; an output buffer that is full closes the session; dies only
 * when memory for an audit event runs out.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "fbl.h"
#include "gwd.h"
#include "log.h"
#include "session_priv.h"
#include "store.h"
#include "util.h"

/*
 * Format one reply line into line[REPLY_MAX] and send it with its CRLF.
 * What we compose is bounded to fit (addresses by the parser, names and
 * admin texts by gwctl); a line that does not fit all the same is cut,
 * and said so in the log, never dropped: the client waits for a reply.
 */
static void
reply_vsend(struct session *s, char *line, const char *fmt, va_list ap)
{
	int n;

	n = vsnprintf(line, REPLY_MAX - 1, fmt, ap);
	if (n < 0) {
		log_warnx("session=%016llx reply \"%s\": %s",
		    (unsigned long long)s->id, fmt, strerror(errno));
		n = snprintf(line, REPLY_MAX - 1, "451 4.3.0 Error: local "
		    "error");
	} else if (n > REPLY_MAX - 2) {
		log_warnx("session=%016llx reply of %d octets cut to %d: "
		    "%.60s...", (unsigned long long)s->id, n, REPLY_MAX - 2,
		    line);
		n = REPLY_MAX - 2;
	}
	line[n++] = '\r';
	line[n++] = '\n';
	if (conn_write(s->c, line, (size_t)n) == -1)
		session_close(s, "output buffer full");
	session_mem_update(s);
	line[n - 2] = '\0';
}

void
session_reply(struct session *s, const char *fmt, ...)
{
	char line[REPLY_MAX];
	va_list ap;

	va_start(ap, fmt);
	reply_vsend(s, line, fmt, ap);
	va_end(ap);
}

/* Split "550 5.7.1 text" for the audit log. */
static void
split_reply(const char *r, int *code, char *status, size_t stsz,
    const char **text)
{
	const char *p = r;
	size_t n;

	*code = atoi(r);
	status[0] = '\0';
	*text = r;
	if (strlen(r) < 4)
		return;
	p = r + 4;
	n = strcspn(p, " ");
	if (n > 0 && n < stsz && p[0] >= '2' && p[0] <= '5' && p[1] == '.') {
		memcpy(status, p, n);
		status[n] = '\0';
		p += n;
		while (*p == ' ')
			p++;
	}
	*text = p;
}

static struct audit_event *
refusal_event(const char *r, const char *stage, const char *ip,
    const char *more)
{
	struct audit_event *ev = audit_new(event_name(EV_REJECTED), NULL);
	const char *text;
	char status[16];

	ev->detail = xasprintf("stage=%s%s%s", stage, more ? " " : "",
	    more ? more : "");
	split_reply(r, &ev->reply_code, status, sizeof(status), &text);
	ev->reply_status = status[0] ? xstrdup(status) : NULL;
	ev->reply_text = xstrdup(text);
	ev->client_ip = xstrdup(ip);
	return ev;
}

void
audit_refusal(const char *r, const char *stage, const char *ip,
    const char *sub, const char *sender, const char *rcpt, const char *cls)
{
	struct audit_event *ev = refusal_event(r, stage, ip, NULL);

	ev->subaccount = sub && sub[0] ? xstrdup(sub) : NULL;
	if (sender)
		ev->sender = xstrdup(sender);
	if (rcpt)
		ev->recipient = xstrdup(rcpt);
	ev->bounce_class = cls;
	store_event(ev);
}

void
audit_refusal_more(const char *r, const char *stage, const char *ip,
    const char *more)
{
	store_event(refusal_event(r, stage, ip, more));
}

/* Refusals are events of the audit trail, like deliveries: the reply,
 * and the stage (the command refused; "data" for the end of DATA). */
static void
audit_reject(struct session *s, const char *r, const char *sender,
    const char *rcpt, const char *cls)
{
	char stage[16];

	gw_strlcpy(stage, s->stage ? s->stage : "connect", sizeof(stage));
	for (char *p = stage; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	/* Anyone may hammer a feedback listener (port 25): past
	 * feedback.reject_log its refusals are counted, not each logged. */
	if (fbl_session(s) && !fbl_refusal_logged(s->ip, stage, r))
		return;
	if (sender == NULL && s->tx.active)
		sender = s->tx.mail.path.addr;
	audit_refusal(r, stage, s->ip, s->subaccount, sender, rcpt, cls);
}

/*
 * A refusal: reply, and record the same line.  cls says why delivery
 * would have failed (bounce.h's class; BC_NONE: not said).
 */
void
session_refuse(struct session *s, const char *sender, const char *rcpt,
    enum bounce_class cls, const char *fmt, ...)
{
	char line[REPLY_MAX];
	va_list ap;

	va_start(ap, fmt);
	reply_vsend(s, line, fmt, ap);
	va_end(ap);
	audit_reject(s, line, sender, rcpt, cls == BC_NONE ? NULL :
	    bounce_class_name(cls));
}

/*
 * A bad command: reply r, and count it.  Past limits.unknown_commands the
 * client is cut off.  Returns -1, for a check to return.
 */
int
session_bad_command(struct session *s, const char *r)
{
	session_reply(s, "%s", r);
	/* A refused envelope or message is an event of the audit trail
	 * (a bad MAIL or RCPT parameter, an address it cannot take, a
	 * command out of order); unknown commands and the like are not. */
	if (s->stage && (strcmp(s->stage, "MAIL") == 0 ||
	    strcmp(s->stage, "RCPT") == 0 || strcmp(s->stage, "DATA") == 0))
		audit_reject(s, r, NULL, NULL, NULL);
	if (++s->errors >= gcfg->limits.unknown_commands) {
		session_reply(s, "421 4.7.0 %s Error: too many errors; closing "
		    "connection", gcfg->hostname);
		session_close(s, "too many errors");
	}
	return -1;
}
