/*
 * smtp_envelope.c - inbound SMTP: the envelope, MAIL and RCPT (the
 * other verbs are smtp_cmd.c's, whose table calls these).  Who may start
 * a transaction (greeted, TLS if the listener says so, authenticated, an
 * enabled subaccount), the sender and its parameters against the
 * subaccount's domains, pauses, quota and the store's room; each
 * recipient against the suppression list, the recipient limit and the
 * routing rules (the checks are envelope.c's, which the HTTP API makes
 * too).  A feedback session (fbl.h) takes its own path.
 * Standards: RFC 5321 (MAIL, RCPT), RFC 1870 (SIZE), RFC 3461 (DSN),
 * RFC 6531 (SMTPUTF8), RFC 3463 (enhanced status codes).
 * Exposure: parses untrusted input from unauthenticated clients
 * (smtp_proto.c's parsers).
 * Diagnostics: a refused sender or recipient gets a reply and is
 * counted; dies only when memory for a recipient runs out.
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "cluster.h"
#include "fbl.h"
#include "gwd.h"
#include "log.h"
#include "metrics.h"
#include "msg.h"
#include "policy.h"
#include "quota.h"
#include "session_priv.h"
#include "submit.h"
#include "util.h"

/* Who may start a transaction: a greeted, authenticated client. */
int
smtp_check_mail(struct session *s, const struct smtp_cmd *cmd)
{
	const struct subaccount *sa;

	if (!s->helo)
		return session_bad_command(s, "503 5.5.1 Error: send HELO/EHLO "
		    "first");
	if (s->l->cfg->require_tls && !s->tls) {
		metrics_reject(REJ_MAIL_TLS);
		session_refuse(s, "", NULL, BC_NONE, "530 5.7.0 Must issue a "
		    "STARTTLS command first");
		return -1;
	}
	if (s->tx.active)
		return session_bad_command(s, "503 5.5.1 Error: nested MAIL "
		    "command");
	/* Reports come from anyone: no AUTH (fbl.h). */
	if (fbl_session(s))
		return 0;
	/* Servers on an allowlist need no AUTH on listeners that say so;
	 * looked up at each MAIL so gwctl changes apply at once. */
	if (s->authed == AUTH_NONE && s->l->cfg->ip_auth &&
	    (accounts_poll(), sa = account_by_ip((struct sockaddr *)
	    &s->c->peer)) != NULL) {
		s->authed = AUTH_IP;
		gw_strlcpy(s->subaccount, sa->name, sizeof(s->subaccount));
	}
	if (s->authed == AUTH_NONE) {
		metrics_reject(REJ_MAIL_AUTH);
		session_refuse(s, "", NULL, BC_NONE, "530 5.7.0 "
		    "Authentication required");
		return -1;
	}
	if ((sa = session_account(s)) == NULL || !sa->enabled) {
		metrics_reject(REJ_MAIL_DISABLED);
		session_refuse(s, "", NULL, BC_NONE, "550 5.7.1 Error: "
		    "subaccount is disabled or gone");
		return -1;
	}
	return 0;
}

/* This node's count against the quota (its share while the cluster is
 * degraded): 1 when refused. */
static int
mail_quota_refused(struct session *s, const struct subaccount *sa)
{
	char msg[600];
	const char *r;

	if ((r = quota_check(sa, now_us(), msg, sizeof(msg))) == NULL)
		return 0;
	metrics_reject(REJ_MAIL_QUOTA);
	session_refuse(s, s->tx.mail.path.addr, NULL, BC_THROTTLED, "%s", r);
	return 1;
}

static void
mail_quota_over(struct session *s, const struct subaccount *sa)
{
	metrics_reject(REJ_MAIL_QUOTA);
	session_refuse(s, s->tx.mail.path.addr, NULL, BC_THROTTLED, "451 "
	    "4.7.1 Error: subaccount %s has reached its quota across the "
	    "cluster; try again later", sa->name);
}

/* Redis's answer for a MAIL that waited for a quota token. */
static void
mail_quota_done(void *arg, int verdict)
{
	struct session *s = arg;
	const struct subaccount *sa = session_account(s);

	s->state = SS_CMD;
	if (sa == NULL) {
		if (verdict == CQ_OK)
			cluster_quota_return(s->subaccount);
		session_refuse(s, s->tx.mail.path.addr, NULL, BC_NONE, "550 "
		    "5.7.1 Error: subaccount is disabled or gone");
	} else if (verdict == CQ_OVER)
		mail_quota_over(s, sa);
	else if (verdict == CQ_OK || !mail_quota_refused(s, sa)) {
		/* CQ_AWAY: Redis went away meanwhile; this node's share
		 * said yes. */
		s->tx.cq_held = verdict == CQ_OK;
		s->tx.active = 1;
		session_reply(s, "250 2.1.0 Ok");
	}
	session_resume(s);
}

/* The sender, its parameters, and the subaccount's policy on it. */
void
smtp_proceed_mail(struct session *s, const struct smtp_cmd *cmd)
{
	const struct subaccount *sa = session_account(s);
	const char *r, *from = s->tx.mail.path.addr;
	struct envelope_verdict v;
	char msg[600];

	if (smtp_parse_mail(cmd->arg, cmd->arglen, &s->tx.mail, &r) == -1) {
		session_bad_command(s, r);
		return;
	}
	/* RFC 8689 4.1: only where it was offered. */
	if (s->tx.mail.requiretls && (!s->tls || fbl_session(s))) {
		metrics_reject(REJ_MAIL_TLS);
		session_refuse(s, from, NULL, BC_NONE, "530 5.7.10 REQUIRETLS "
		    "needs a TLS session: STARTTLS first");
		return;
	}
	if (s->tx.mail.has_size && s->tx.mail.size > fbl_max_size(s)) {
		metrics_reject(REJ_MAIL_SIZE);
		session_refuse(s, from, NULL, BC_NONE, "552 5.3.4 Message "
		    "size exceeds fixed maximum message size");
		return;
	}
	if (fbl_session(s)) {
		if ((r = fbl_mail(s)) != NULL) {
			session_refuse(s, from, NULL, BC_THROTTLED, "%s", r);
			return;
		}
		s->tx.active = 1;
		session_reply(s, "250 2.1.0 Ok");
		return;
	}
	if ((r = envelope_check_sender(sa, &s->tx.mail.path,
	    s->tx.mail.has_size ? s->tx.mail.size : 0, msg, sizeof(msg),
	    &v)) != NULL) {
		envelope_count(&v);
		session_refuse(s, from, NULL, v.cls, "%s", r);
		return;
	}
	switch (cluster_quota_take(sa->name, sa->quota_hour, sa->quota_day,
	    mail_quota_done, s)) {
	case CQ_OK:
		s->tx.cq_held = 1;
		break;
	case CQ_OVER:
		mail_quota_over(s, sa);
		return;
	case CQ_WAIT:
		/* A round trip to Redis; the client waits for its 250. */
		s->state = SS_WAIT;
		timer_del(&s->timer);
		conn_pause_read(s->c, 1);
		return;
	}
	s->tx.active = 1;
	session_reply(s, "250 2.1.0 Ok");
}

/* 1 when addr is a recipient of the transaction already. */
static int
smtp_rcpt_dup(const struct session *s, const char *addr)
{
	for (int i = 0; i < s->tx.nrcpt; i++)
		if (strcmp(s->tx.rcpt[i], addr) == 0)
			return 1;
	return 0;
}

static void
smtp_add_rcpt(struct session *s, const struct rcpt_args *ra)
{
	s->tx.rcpt = xreallocarray(s->tx.rcpt, (size_t)s->tx.nrcpt + 1,
	    sizeof(char *));
	s->tx.rdsn = xreallocarray(s->tx.rdsn, (size_t)s->tx.nrcpt + 1,
	    sizeof(*s->tx.rdsn));
	s->tx.rdsn[s->tx.nrcpt] = ra->dsn;
	s->tx.rcpt[s->tx.nrcpt++] = xstrdup(ra->path.addr);
	session_reply(s, "250 2.1.5 Ok");
}

int
smtp_check_rcpt(struct session *s, const struct smtp_cmd *cmd)
{
	if (!s->tx.active)
		return session_bad_command(s, "503 5.5.1 Error: need MAIL "
		    "command");
	return 0;
}

/* The recipient, the suppression list, the limit, the routing rules
 * (envelope.c); a recipient given again gets its 250 again. */
void
smtp_proceed_rcpt(struct session *s, const struct smtp_cmd *cmd)
{
	struct envelope_verdict v;
	struct rcpt_args ra;
	char msg[REPLY_MAX - 1];
	const char *r;
	int dup;

	if (smtp_parse_rcpt(cmd->arg, cmd->arglen, &ra, &r) == -1) {
		session_bad_command(s, r);
		return;
	}
	if ((r = envelope_check_rcpt_addr(&s->tx.mail, &ra, &v)) != NULL) {
		envelope_count(&v);
		session_refuse(s, NULL, ra.path.addr, v.cls, "%s", r);
		return;
	}
	dup = smtp_rcpt_dup(s, ra.path.addr);
	/* Only gw's own feedback addresses: never a relay (fbl.h). */
	if (fbl_session(s)) {
		if ((r = fbl_rcpt(ra.path.addr, msg, sizeof(msg))) != NULL) {
			metrics_reject(REJ_RCPT_POLICY);
			session_refuse(s, NULL, ra.path.addr, BC_POLICY, "%s",
			    r);
		} else if (dup)
			session_reply(s, "250 2.1.5 Ok");
		else if (s->tx.nrcpt >= gcfg->limits.recipients) {
			metrics_reject(REJ_RCPT_LIMIT);
			session_refuse(s, NULL, ra.path.addr, BC_NONE, "452 "
			    "4.5.3 Error: too many recipients");
		} else
			smtp_add_rcpt(s, &ra);
		return;
	}
	if ((r = envelope_check_rcpt(s->subaccount, &s->tx.mail, &ra,
	    s->tx.nrcpt, dup, msg, sizeof(msg), &v)) != NULL) {
		envelope_count(&v);
		session_refuse(s, NULL, ra.path.addr, v.cls, "%s", r);
	} else if (dup)
		session_reply(s, "250 2.1.5 Ok");	/* again */
	else
		smtp_add_rcpt(s, &ra);
}
