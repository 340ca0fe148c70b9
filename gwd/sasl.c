/*
 * sasl.c - inbound SMTP: AUTH PLAIN and LOGIN, from the command to the
 * 235 or the (slow) 535.  The credential check itself is auth.c's.
 * Standards: RFC 4954 (AUTH), RFC 4616 (PLAIN).
 * Exposure: decodes base64 and splits credentials sent by
 * unauthenticated clients (after TLS); a failure never says whether the
 * name exists.
 * Diagnostics: a failed login is a 535 after limits.auth_fail_delay, an
 * "auth" event and a log line with the name and the reason; a blocked
 * address or name gets 421, a full check queue 454.  None fatal.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "base64.h"
#include "event.h"
#include "gwd.h"
#include "log.h"
#include "metrics.h"
#include "session_priv.h"
#include "store.h"
#include "util.h"

static void
auth_delay_done(struct ev_timer *t)
{
	struct session *s = t->arg;

	session_reply(s, "535 5.7.8 Error: authentication failed");
	if (s->close_after_delay) {
		session_reply(s, "421 4.7.0 %s Error: too many failed "
		    "authentications; try again later", gcfg->hostname);
		session_close(s, "too many failed authentications");
		return;
	}
	session_resume(s);
}

static void
auth_blocked_reply(struct session *s)
{
	session_reply(s, "421 4.7.0 %s Error: too many failed "
	    "authentications; try again later", gcfg->hostname);
}

/*
 * A failed login: the same slow 535 whatever the reason, and the reason
 * with the name tried in the log line and the "auth" event, for the
 * admin (gwsearch, the SIEM export).
 */
static void
auth_failed(struct session *s, const struct auth_result *res)
{
	struct audit_event *ev;
	const char *blocked = res->blocked & GUARD_IP ? "; address blocked" :
	    res->blocked & GUARD_NAME ? "; user blocked from this address" : "";
	char esc[SASL_USER_MAX * 4 + 8];

	s->close_after_delay = res->blocked != 0;
	gm.auth_failures_total++;
	ev = audit_new(event_name(EV_AUTH), NULL);
	ev->client_ip = xstrdup(s->ip);
	ev->username = xstrdup(res->user);
	ev->subaccount = res->subaccount ? xstrdup(res->subaccount) : NULL;
	ev->reply_code = 535;
	ev->reply_status = xstrdup("5.7.8");
	ev->reply_text = xstrdup("authentication failed");
	ev->detail = xasprintf("%s%s", res->reason, blocked);
	store_event(ev);
	log_info("session=%016llx ip=%s auth failed user=\"%s\" reason=\"%s%s\"",
	    (unsigned long long)s->id, s->ip, log_escape(res->user,
	    strlen(res->user), esc, sizeof(esc)), res->reason, blocked);
	/* Answer slowly: guessing costs the guesser time. */
	timer_add(&s->delay, gcfg->limits.auth_fail_delay_ms);
}

static void
auth_result(void *arg, const struct auth_result *res)
{
	struct session *s = arg;

	s->authreq = NULL;
	switch (res->status) {
	case AUTH_OK:
		s->authed = AUTH_SASL;
		gw_strlcpy(s->subaccount, res->subaccount,
		    sizeof(s->subaccount));
		gw_strlcpy(s->key_id, res->key_id ? res->key_id : "",
		    sizeof(s->key_id));
		session_reply(s, "235 2.7.0 Authentication successful");
		log_debug("session=%016llx ip=%s auth=%s",
		    (unsigned long long)s->id, s->ip, res->subaccount);
		session_resume(s);
		break;
	case AUTH_FAILED:
		auth_failed(s, res);
		break;
	case AUTH_BLOCKED:
		auth_blocked_reply(s);
		session_close(s, "too many failed authentications");
		break;
	case AUTH_BUSY:
		/* RFC 4954 6: a temporary failure; counted as an error so a
		 * client cannot spin on it. */
		s->state = SS_CMD;
		session_bad_command(s, "454 4.7.0 Error: temporary "
		    "authentication failure; try again later");
		session_resume(s);
		break;
	}
}

static void
start_auth(struct session *s, const char *user, size_t ulen, const char *pw,
    size_t pwlen, const char *refuse)
{
	struct auth_req *r;

	s->state = SS_WAIT;
	timer_del(&s->timer);
	conn_pause_read(s->c, 1);
	r = auth_check(user, ulen, pw, pwlen, (struct sockaddr *)&s->c->peer,
	    s->ip, refuse, auth_result, s);
	if (r != NULL)
		s->authreq = r;
}

/* Decode one SASL response; -1 after replying. */
static int
sasl_decode(struct session *s, const char *in, size_t len, char *out,
    size_t outsz, size_t *outlen)
{
	if (len == 1 && in[0] == '*') {
		session_reply(s, "501 5.0.0 Authentication aborted");
		return -1;
	}
	if (len == 1 && in[0] == '=') {		/* RFC 4954: empty */
		*outlen = 0;
		return 0;
	}
	if (base64_decode(in, len, out, outsz - 1, outlen) == -1)
		return session_bad_command(s, "501 5.5.2 Error: invalid "
		    "base64 data");
	out[*outlen] = '\0';
	return 0;
}

static void
sasl_plain(struct session *s, const char *resp, size_t len)
{
	char dec[SASL_LINE_MAX];
	size_t n;
	const char *authz, *authc, *pw, *nul1, *nul2;
	size_t authclen;

	s->state = SS_CMD;
	if (sasl_decode(s, resp, len, dec, sizeof(dec), &n) == -1)
		return;
	/* authzid NUL authcid NUL passwd, nothing more. */
	authz = dec;
	if ((nul1 = memchr(dec, '\0', n)) == NULL ||
	    (nul2 = memchr(nul1 + 1, '\0', n - (size_t)(nul1 + 1 - dec))) ==
	    NULL || memchr(nul2 + 1, '\0', n - (size_t)(nul2 + 1 - dec))) {
		session_bad_command(s, "501 5.5.2 Error: malformed PLAIN "
		    "response");
		return;
	}
	authc = nul1 + 1;
	authclen = (size_t)(nul2 - authc);
	pw = nul2 + 1;
	/* Acting for someone else is not offered: authzid must be empty or
	 * name the authenticating user.  Treated as a failed login. */
	if (authclen == 0 || authclen > SASL_USER_MAX)
		start_auth(s, "", 0, pw, n - (size_t)(pw - dec), NULL);
	else
		start_auth(s, authc, authclen, pw, n - (size_t)(pw - dec),
		    nul1 > authz && ((size_t)(nul1 - authz) != authclen ||
		    memcmp(authz, authc, authclen) != 0) ?
		    "authorization identity differs from the user name" :
		    NULL);
}

static void
sasl_login(struct session *s, const char *resp, size_t len)
{
	char dec[SASL_LINE_MAX];
	size_t n;

	s->state = SS_CMD;
	if (sasl_decode(s, resp, len, dec, sizeof(dec), &n) == -1)
		return;
	if (s->sasl == SASL_LOGIN_USER) {
		free(s->sasl_user);
		/* A bad name still gets asked for its password: the answer
		 * is then any failure's. */
		s->sasl_user = n > SASL_USER_MAX || memchr(dec, '\0', n) ?
		    xstrdup("") : xstrndup(dec, n);
		session_reply(s, "334 UGFzc3dvcmQ6");	/* "Password:" */
		s->sasl = SASL_LOGIN_PASS;
		s->state = SS_SASL;
		return;
	}
	/* auth_check() copies the name; an idle session keeps none. */
	start_auth(s, s->sasl_user, strlen(s->sasl_user), dec, n, NULL);
	free(s->sasl_user);
	s->sasl_user = NULL;
}

void
sasl_line(struct session *s, const char *line, size_t len)
{
	if (s->sasl == SASL_PLAIN)
		sasl_plain(s, line, len);
	else
		sasl_login(s, line, len);
}

/* AUTH: once, after EHLO, under TLS, outside a transaction. */
int
sasl_check_auth(struct session *s, const struct smtp_cmd *cmd)
{
	if (!s->helo)
		return session_bad_command(s, "503 5.5.1 Error: send "
		    "HELO/EHLO first");
	if (!s->tls)
		return session_bad_command(s, "530 5.7.0 Must issue a "
		    "STARTTLS command first");
	if (s->authed != AUTH_NONE)
		return session_bad_command(s, "503 5.5.1 Error: already "
		    "authenticated");
	if (s->tx.active)
		return session_bad_command(s, "503 5.5.1 Error: MAIL "
		    "transaction in progress");
	if (authguard_ip_blocked(s->ip)) {
		auth_blocked_reply(s);
		session_close(s, "address blocked");
		return -1;
	}
	return 0;
}

/* The mechanism, and its initial response when one came along. */
void
sasl_proceed_auth(struct session *s, const struct smtp_cmd *cmd)
{
	const char *mech = cmd->arg, *init = NULL;
	size_t mlen = 0, ilen = 0;

	/* cmd->arg is not NUL-terminated: it points into the input. */
	while (mlen < cmd->arglen && mech[mlen] != ' ')
		mlen++;
	if (mlen < cmd->arglen) {
		init = mech + mlen + 1;
		ilen = cmd->arglen - mlen - 1;
	}
	if (mlen == 5 && strncasecmp(mech, "PLAIN", 5) == 0) {
		s->sasl = SASL_PLAIN;
		if (init) {
			sasl_plain(s, init, ilen);
			return;
		}
		session_reply(s, "334 ");
		s->state = SS_SASL;
	} else if (mlen == 5 && strncasecmp(mech, "LOGIN", 5) == 0) {
		s->sasl = SASL_LOGIN_USER;
		if (init) {
			sasl_login(s, init, ilen);
			return;
		}
		session_reply(s, "334 VXNlcm5hbWU6");	/* "Username:" */
		s->state = SS_SASL;
	} else
		session_bad_command(s, "504 5.5.4 Error: unsupported "
		    "authentication mechanism");
}

void
sasl_init(struct session *s)
{
	timer_init(&s->delay, auth_delay_done, s);
}
