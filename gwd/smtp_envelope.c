/*
 * smtp_envelope.c - inbound SMTP: the envelope, MAIL and RCPT (the
 * other verbs are smtp_cmd.c's, whose table calls these).  Who may start
 * a transaction (greeted, TLS if the listener says so, authenticated, an
 * enabled subaccount), the sender and its parameters against the
 * subaccount's domains, pauses, quota and the store's room; each
 * recipient against the suppression list, the recipient limit and the
 * routing rules.  A feedback session (fbl.h) takes its own path.
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
#include "pause.h"
#include "policy.h"
#include "quota.h"
#include "session_priv.h"
#include "store.h"
#include "suppress.h"
#include "util.h"

/* The reply of the rule that rejects this recipient, or NULL. */
static const char *
rule_reject(struct session *s, const char *rcpt, int64_t size,
    const char *msg, size_t len)
{
	const struct rule *r = session_rule(s, rcpt, size, msg, len);

	return r && r->action == RULE_REJECT ? r->reply : NULL;
}

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
	char msg[600], dom[ADDR_DOMAIN_MAX + 1];

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
	/* Early, as Postfix does: not a 451 after the whole DATA. */
	if (store_blocked() || store_space_short(s->tx.mail.has_size ?
	    s->tx.mail.size : 0)) {
		metrics_reject(REJ_MAIL_STORAGE);
		session_refuse(s, from, NULL, BC_NONE, "452 4.3.1 "
		    "Insufficient system storage");
		return;
	}
	/* Subaccounts own domains as DNS knows them: A-labels. */
	if (addr_domain_ascii(mailpath_domain(&s->tx.mail.path), dom,
	    sizeof(dom)) == -1)
		dom[0] = '\0';
	if (s->tx.mail.path.len > 0 && (s->tx.mail.path.literal ||
	    !account_owns_domain(sa, dom))) {
		metrics_reject(REJ_MAIL_SENDER);
		session_refuse(s, from, NULL, BC_NONE, "550 5.7.1 <%s>: "
		    "Sender address rejected: domain not owned by subaccount "
		    "%s", from, sa->name);
		return;
	}
	if ((r = pause_check(sa->name, msg, sizeof(msg))) != NULL) {
		metrics_reject(REJ_MAIL_PAUSED);
		session_refuse(s, from, NULL, BC_POLICY, "%s", r);
		return;
	}
	/* The null sender too: a subaccount's DSNs are its mail. */
	if (mail_quota_refused(s, sa))
		return;
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

/* A recipient given again (250 again), or one too many (452): 1 when
 * answered so. */
static int
smtp_rcpt_again_or_full(struct session *s, const char *addr)
{
	for (int i = 0; i < s->tx.nrcpt; i++) {
		if (strcmp(s->tx.rcpt[i], addr) == 0) {
			session_reply(s, "250 2.1.5 Ok");	/* again */
			return 1;
		}
	}
	if (s->tx.nrcpt >= gcfg->limits.recipients) {
		metrics_reject(REJ_RCPT_LIMIT);
		session_refuse(s, NULL, addr, BC_NONE, "452 4.5.3 "
		    "Error: too many recipients");
		return 1;
	}
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

/* The recipient, the suppression list, the limit, the routing rules. */
void
smtp_proceed_rcpt(struct session *s, const struct smtp_cmd *cmd)
{
	const struct suppression *sup;
	struct rcpt_args ra;
	char msg[REPLY_MAX - 1];
	const char *r;

	if (smtp_parse_rcpt(cmd->arg, cmd->arglen, &ra, &r) == -1) {
		session_bad_command(s, r);
		return;
	}
	if ((r = smtp_utf8_reply(&ra.path, s->tx.mail.smtputf8)) != NULL) {
		session_refuse(s, NULL, ra.path.addr, BC_NONE, "%s", r);
		return;
	}
	if (ra.path.literal) {
		metrics_reject(REJ_RCPT_LITERAL);
		session_refuse(s, NULL, ra.path.addr, BC_NONE, "553 5.1.3 "
		    "Error: address literals are not accepted as recipients");
		return;
	}
	/* Only gw's own feedback addresses: never a relay (fbl.h). */
	if (fbl_session(s)) {
		if ((r = fbl_rcpt(ra.path.addr, msg, sizeof(msg))) != NULL) {
			metrics_reject(REJ_RCPT_POLICY);
			session_refuse(s, NULL, ra.path.addr, BC_POLICY, "%s",
			    r);
			return;
		}
		if (!smtp_rcpt_again_or_full(s, ra.path.addr))
			smtp_add_rcpt(s, &ra);
		return;
	}
	/* gw.db may have changed since the last tick: an admin's entry
	 * applies at the next RCPT. */
	accounts_poll();
	if ((sup = suppress_find(s->subaccount, ra.path.addr)) != NULL) {
		/* The reason, last, may be a remote server's long text:
		 * it is cut where the reply line ends. */
		if (snprintf(msg, sizeof(msg), "550 5.1.1 <%s>: Recipient "
		    "address rejected: suppressed: %s", ra.path.addr,
		    sup->reason[0] ? sup->reason : sup->source) >=
		    (int)sizeof(msg))
			log_debug("session=%016llx suppression reason cut",
			    (unsigned long long)s->id);
		metrics_reject(REJ_RCPT_SUPPRESSION);
		session_refuse(s, NULL, ra.path.addr, BC_HARD, "%s", msg);
		return;
	}
	if (smtp_rcpt_again_or_full(s, ra.path.addr))
		return;
	/* A DSN (RFC 3464) or an MDN (RFC 8098) goes to one recipient: the
	 * null sender is no way to fan a message out past the bounce rate.
	 * 452, so a client sends the others in transactions of their own. */
	if (s->tx.mail.path.len == 0 && s->tx.nrcpt >= 1) {
		metrics_reject(REJ_RCPT_LIMIT);
		session_refuse(s, NULL, ra.path.addr, BC_NONE, "452 4.5.3 "
		    "Error: a message with the null sender has one recipient");
		return;
	}
	if ((r = rule_reject(s, ra.path.addr, -1, NULL, 0)) != NULL) {
		metrics_reject(REJ_RCPT_POLICY);
		session_refuse(s, NULL, ra.path.addr, BC_NONE, "%s", r);
		return;
	}
	smtp_add_rcpt(s, &ra);
}
