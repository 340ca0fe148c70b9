/*
 * smtp_cmd.c - inbound SMTP: the commands.  HELO/EHLO, STARTTLS, the
 * envelope (MAIL, RCPT, DATA) and the small ones; AUTH is sasl.c's.
 * Standards: RFC 5321, RFC 3207 (STARTTLS), RFC 1870 (SIZE), RFC 2920
 * (PIPELINING), RFC 6152 (8BITMIME), RFC 2034/3463 (enhanced status
 * codes), RFC 6409 (submission).
 * Exposure: parses untrusted input from unauthenticated clients.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "gwd.h"
#include "log.h"
#include "msg.h"
#include "pause.h"
#include "policy.h"
#include "quota.h"
#include "session_priv.h"
#include "suppress.h"
#include "util.h"

/* The client spoke after a command that must end a pipelined group. */
static int
out_of_sync(struct session *s, enum smtp_verb v)
{
	if (v == CMD_STARTTLS || !smtp_cmd_ends_group(v))
		return 0;
	if (conn_pending(s->c) == 0)
		return 0;
	session_reply(s, "554 5.5.0 Error: SMTP protocol synchronization");
	session_close(s, "pipelining violation");
	return 1;
}

static void
cmd_helo(struct session *s, const struct smtp_cmd *cmd)
{
	struct buf b;

	if (cmd->arglen == 0) {
		session_reply(s, "501 5.5.4 Syntax: %s hostname", cmd->verb ==
		    CMD_EHLO ? "EHLO" : "HELO");
		session_count_error(s);
		return;
	}
	if (cmd->arglen > NAME_MAX_LEN) {
		session_reply(s, "501 5.5.4 Error: host name too long");
		session_count_error(s);
		return;
	}
	session_tx_reset(s);
	msg_sanitize(cmd->arg, cmd->arglen, s->helo_name, sizeof(s->helo_name));
	s->helo = 1;
	s->esmtp = cmd->verb == CMD_EHLO;
	if (!s->esmtp) {
		session_reply(s, "250 %s", gcfg->hostname);
		return;
	}
	/* One write for the whole multi-line reply. */
	{
		const char *caps[8];
		char size[40];
		int n = 0;

		snprintf(size, sizeof(size), "SIZE %llu",
		    (unsigned long long)gcfg->limits.message_size);
		caps[n++] = "PIPELINING";
		caps[n++] = size;
		caps[n++] = "8BITMIME";
		caps[n++] = "ENHANCEDSTATUSCODES";
		if (!s->tls)
			caps[n++] = "STARTTLS";
		else if (s->authed == AUTH_NONE)
			caps[n++] = "AUTH PLAIN LOGIN";
		buf_init(&b, 4096);
		buf_printf(&b, "250-%s Hello [%s]\r\n", gcfg->hostname, s->ip);
		for (int i = 0; i < n; i++)
			buf_printf(&b, "250%c%s\r\n", i == n - 1 ? ' ' : '-',
			    caps[i]);
	}
	if (conn_write(s->c, buf_ptr(&b), buf_len(&b)) == -1)
		session_close(s, "output buffer full");
	buf_free(&b);
}

static void
cmd_starttls(struct session *s, const struct smtp_cmd *cmd)
{
	if (cmd->arglen > 0) {
		session_reply(s, "501 5.5.4 Syntax: STARTTLS");
		session_count_error(s);
		return;
	}
	if (s->tls) {
		session_reply(s, "554 5.5.1 Error: TLS already active");
		session_count_error(s);
		return;
	}
	session_reply(s, "220 2.0.0 Ready to start TLS");
	s->state = SS_STARTTLS;
	timer_del(&s->timer);
	conn_pause_read(s->c, 1);
}

/* The reply of the rule that rejects this recipient, or NULL. */
static const char *
rule_reject(struct session *s, const char *rcpt, int64_t size,
    const char *msg, size_t len)
{
	const struct rule *r = session_rule(s, rcpt, size, msg, len);

	return r && r->action == RULE_REJECT ? r->reply : NULL;
}

static void
cmd_mail(struct session *s, const struct smtp_cmd *cmd)
{
	const struct subaccount *sa;
	const char *r;
	char msg[600];

	if (!s->helo) {
		session_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
		session_count_error(s);
		return;
	}
	if (s->l->cfg->require_tls && !s->tls) {
		session_refuse(s, "530 5.7.0 Must issue a STARTTLS command "
		    "first", "", NULL);
		return;
	}
	if (s->tx.active) {
		session_reply(s, "503 5.5.1 Error: nested MAIL command");
		session_count_error(s);
		return;
	}
	/* Servers on an allowlist need no AUTH on listeners that say so;
	 * looked up at each MAIL so gwctl changes apply at once. */
	if (s->authed == AUTH_NONE && s->l->cfg->ip_auth &&
	    (accounts_poll(), sa = account_by_ip((struct sockaddr *)
	    &s->c->peer)) != NULL) {
		s->authed = AUTH_IP;
		gw_strlcpy(s->subaccount, sa->name, sizeof(s->subaccount));
	}
	if (s->authed == AUTH_NONE) {
		session_refuse(s, "530 5.7.0 Authentication required", "",
		    NULL);
		return;
	}
	if ((sa = session_account(s)) == NULL || !sa->enabled) {
		session_refuse(s, "550 5.7.1 Error: subaccount is disabled "
		    "or gone", "", NULL);
		return;
	}
	if (smtp_parse_mail(cmd->arg, cmd->arglen, &s->tx.mail, &r) == -1) {
		session_reply(s, "%s", r);
		session_count_error(s);
		return;
	}
	if (s->tx.mail.has_size &&
	    s->tx.mail.size > gcfg->limits.message_size) {
		session_refuse(s, "552 5.3.4 Message size exceeds fixed "
		    "maximum message size", s->tx.mail.path.addr, NULL);
		return;
	}
	if (s->tx.mail.path.len > 0 && (s->tx.mail.path.literal ||
	    !account_owns_domain(sa, mailpath_domain(&s->tx.mail.path)))) {
		snprintf(msg, sizeof(msg), "550 5.7.1 <%s>: Sender address "
		    "rejected: domain not owned by subaccount %s",
		    s->tx.mail.path.addr, sa->name);
		session_refuse(s, msg, s->tx.mail.path.addr, NULL);
		return;
	}
	if ((r = pause_check(sa->name, msg, sizeof(msg))) != NULL) {
		session_refuse_class(s, r, s->tx.mail.path.addr, NULL,
		    BC_POLICY);
		return;
	}
	if (s->tx.mail.path.len > 0 &&
	    (r = quota_check(sa, now_us(), msg, sizeof(msg))) != NULL) {
		session_refuse_class(s, r, s->tx.mail.path.addr, NULL,
		    BC_THROTTLED);
		return;
	}
	s->tx.active = 1;
	session_reply(s, "250 2.1.0 Ok");
}

static void
cmd_rcpt(struct session *s, const struct smtp_cmd *cmd)
{
	const struct suppression *sup;
	struct rcpt_args ra;
	char msg[511];		/* a reply line is at most 512 with CRLF */
	const char *r;

	if (!s->tx.active) {
		session_reply(s, "503 5.5.1 Error: need MAIL command");
		session_count_error(s);
		return;
	}
	if (smtp_parse_rcpt(cmd->arg, cmd->arglen, &ra, &r) == -1) {
		session_reply(s, "%s", r);
		session_count_error(s);
		return;
	}
	if (ra.path.literal) {
		session_refuse(s, "553 5.1.3 Error: address literals are not "
		    "accepted as recipients", NULL, ra.path.addr);
		return;
	}
	/* gw.db may have changed since the last tick: an admin's entry
	 * applies at the next RCPT. */
	accounts_poll();
	if ((sup = suppress_find(s->subaccount, ra.path.addr)) != NULL) {
		snprintf(msg, sizeof(msg), "550 5.1.1 <%s>: Recipient address "
		    "rejected: suppressed: %s", ra.path.addr, sup->reason[0] ?
		    sup->reason : sup->source);
		session_refuse_class(s, msg, NULL, ra.path.addr, BC_HARD);
		return;
	}
	for (int i = 0; i < s->tx.nrcpt; i++) {
		if (strcmp(s->tx.rcpt[i], ra.path.addr) == 0) {
			session_reply(s, "250 2.1.5 Ok");	/* again */
			return;
		}
	}
	if (s->tx.nrcpt >= gcfg->limits.recipients) {
		session_reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	if ((r = rule_reject(s, ra.path.addr, -1, NULL, 0)) != NULL) {
		session_refuse(s, r, NULL, ra.path.addr);
		return;
	}
	s->tx.rcpt = realloc(s->tx.rcpt, sizeof(char *) *
	    (size_t)(s->tx.nrcpt + 1));
	if (s->tx.rcpt == NULL)
		fatal("rcpt");
	s->tx.rcpt[s->tx.nrcpt++] = xstrdup(ra.path.addr);
	session_reply(s, "250 2.1.5 Ok");
}

static void
cmd_data(struct session *s, const struct smtp_cmd *cmd)
{
	if (cmd->arglen > 0) {
		session_reply(s, "501 5.5.4 Syntax: DATA");
		session_count_error(s);
		return;
	}
	if (!s->tx.active) {
		session_reply(s, "503 5.5.1 Error: need MAIL command");
		session_count_error(s);
		return;
	}
	if (s->tx.nrcpt == 0) {
		session_reply(s, "503 5.5.1 Error: need RCPT command");
		session_count_error(s);
		return;
	}
	if (inflight_bytes >= gcfg->limits.memory) {
		session_refuse(s, "452 4.3.1 Insufficient system resources",
		    NULL, NULL);
		return;
	}
	session_reply(s, "354 End data with <CR><LF>.<CR><LF>");
	data_init(&s->tx.dp, gcfg->limits.message_size);
	buf_init(&s->tx.data, 0);
	s->state = SS_DATA;
	session_arm(s, gcfg->limits.data_timeout_ms);
}

void
smtp_dispatch(struct session *s, const char *line, size_t len)
{
	struct smtp_cmd cmd;

	if (memchr(line, '\0', len) != NULL || str_has_ctl(line, len)) {
		session_reply(s, "500 5.5.2 Error: control characters in "
		    "command");
		session_count_error(s);
		return;
	}
	smtp_cmd_parse(line, len, &cmd);
	if (out_of_sync(s, cmd.verb))
		return;
	switch (cmd.verb) {
	case CMD_HELO:
	case CMD_EHLO:
		cmd_helo(s, &cmd);
		break;
	case CMD_STARTTLS:
		cmd_starttls(s, &cmd);
		break;
	case CMD_AUTH:
		sasl_auth(s, &cmd);
		break;
	case CMD_MAIL:
		cmd_mail(s, &cmd);
		break;
	case CMD_RCPT:
		cmd_rcpt(s, &cmd);
		break;
	case CMD_DATA:
		cmd_data(s, &cmd);
		break;
	case CMD_RSET:
		if (cmd.arglen > 0) {
			session_reply(s, "501 5.5.4 Syntax: RSET");
			session_count_error(s);
			break;
		}
		session_tx_reset(s);
		session_reply(s, "250 2.0.0 Ok");
		break;
	case CMD_NOOP:
		session_reply(s, "250 2.0.0 Ok");
		break;
	case CMD_QUIT:
		session_reply(s, "221 2.0.0 Bye");
		session_close(s, NULL);
		break;
	case CMD_VRFY:
	case CMD_EXPN:
		session_reply(s, "502 5.5.1 Error: command disabled");
		break;
	case CMD_HELP:
		session_reply(s, "214 2.0.0 Commands: EHLO HELO STARTTLS AUTH "
		    "MAIL RCPT DATA RSET NOOP QUIT");
		break;
	case CMD_BDAT:
		/* The chunk that follows would be read as commands. */
		session_reply(s, "521 5.5.1 Error: BDAT without CHUNKING; "
		    "closing connection");
		session_close(s, "BDAT");
		break;
	case CMD_HTTP:
		session_reply(s, "221 2.7.0 Error: HTTP request on an SMTP "
		    "port");
		session_close(s, "HTTP request");
		break;
	case CMD_UNKNOWN:
		session_reply(s, "500 5.5.2 Error: command not recognized");
		session_count_error(s);
		break;
	}
}
