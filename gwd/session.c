/*
 * session.c - inbound SMTP: listeners, sessions, the command state machine.
 * Standards: RFC 5321, RFC 3207 (STARTTLS), RFC 4954 (AUTH), RFC 1870
 * (SIZE), RFC 2920 (PIPELINING), RFC 6152 (8BITMIME), RFC 2034/3463
 * (enhanced status codes), RFC 6409 (submission), RFC 3848 (trace).
 * Exposure: parses untrusted input from unauthenticated clients.  Nothing
 * a client sends may end the process: bad bytes get a reply.
 *
 * Connection state lives in struct session, the transaction (MAIL to the
 * end of DATA) in struct tx.  Replies are appended to the conn and leave
 * together before the loop sleeps, so pipelined answers go in one write.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <unistd.h>

#include "addr.h"
#include "auth.h"
#include "base64.h"
#include "bounce.h"
#include "cidr.h"
#include "conn.h"
#include "gwd.h"
#include "hmap.h"
#include "log.h"
#include "metrics.h"
#include "loop.h"
#include "msg.h"
#include "pause.h"
#include "policy.h"
#include "queue.h"
#include "quota.h"
#include "session.h"
#include "signer.h"
#include "smtp_proto.h"
#include "store.h"
#include "suppress.h"
#include "util.h"
#include "window.h"

#define IN_MAX		(64 * 1024)
#define OUT_MAX		(1024 * 1024)
#define OUT_HIGH	(64 * 1024)	/* stop reading commands above this */
#define SASL_LINE_MAX	(12288 + 2)	/* RFC 4954 4: 12288 octets + CRLF */
#define NAME_MAX_LEN	255

enum sstate {
	SS_TLS_HANDSHAKE,	/* implicit TLS or after STARTTLS */
	SS_STARTTLS,		/* 220 sent; start TLS once it is flushed */
	SS_CMD,
	SS_SASL,		/* waiting for a SASL response line */
	SS_DATA,
	SS_WAIT,		/* credential check, delayed reply, or commit */
	SS_CLOSING
};

enum sasl_step { SASL_PLAIN, SASL_LOGIN_USER, SASL_LOGIN_PASS };
enum authed { AUTH_NONE, AUTH_SASL, AUTH_IP };

struct listener {
	struct gw_listen	*cfg;
	int			 fd;
	struct ev_io		 io;
};

struct tx {
	int			 active;	/* MAIL accepted */
	struct mail_args	 mail;
	char			**rcpt;
	int			 nrcpt;
	struct buf		 data;
	struct data_parser	 dp;
	size_t			 accounted;	/* bytes in inflight_bytes */
};

struct session {
	uint64_t		 id;
	struct conn		*c;
	struct listener		*l;
	char			 ip[INET6_ADDRSTRLEN];
	enum sstate		 state;
	int			 helo;
	int			 esmtp;
	char			 helo_name[NAME_MAX_LEN + 1];
	int			 tls;
	enum authed		 authed;
	char			 subaccount[NAME_MAX_LEN + 1];
	struct line_reader	 lr;
	int			 errors;
	int			 accepted;	/* messages queued */
	struct ev_timer		 timer;		/* command/DATA deadline */
	struct ev_timer		 delay;		/* a failed AUTH's 535 */
	enum sasl_step		 sasl;
	char			 sasl_user[NAME_MAX_LEN + 1];
	struct auth_req		*authreq;
	struct store_op		*op;		/* commit in flight */
	int			 close_after_delay;
	struct tx		 tx;
	struct session		*prev, *next;
};

static struct listener	 listeners[GW_MAX_LISTEN];
static int		 nlisteners;
static struct session	*sessions;
static int		 nsessions;
static struct hmap	 per_ip;		/* ip -> (intptr_t) count */
static uint64_t		 inflight_bytes;	/* DATA being received */
static uint64_t		 next_id;
static int		 spare_fd = -1;		/* for 421 when out of fds */

static void session_process(struct session *);
static void session_close(struct session *, const char *why);
static void session_read(struct conn *);
static void session_tls(struct conn *, int);
static void session_drain(struct conn *);
static void session_error(struct conn *);
static void session_closed(struct conn *);

static const struct conn_ops session_ops = {
	.on_read = session_read,
	.on_tls = session_tls,
	.on_drain = session_drain,
	.on_error = session_error,
	.on_close = session_closed,
};

static void
reply(struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
reply(struct session *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	line[n++] = '\r';
	line[n++] = '\n';
	if (conn_write(s->c, line, (size_t)n) == -1)
		session_close(s, "output buffer full");
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

/* Refusals are events of the audit trail, like deliveries. */
static void
audit_reject(struct session *s, const char *r, const char *sender,
    const char *rcpt, const char *cls)
{
	struct audit_event *ev = audit_new("rejected", NULL);
	const char *text;
	char status[16];

	split_reply(r, &ev->reply_code, status, sizeof(status), &text);
	ev->reply_status = status[0] ? xstrdup(status) : NULL;
	ev->reply_text = xstrdup(text);
	ev->client_ip = xstrdup(s->ip);
	ev->subaccount = s->subaccount[0] ? xstrdup(s->subaccount) : NULL;
	if (sender)
		ev->sender = xstrdup(sender);
	else if (s->tx.active)
		ev->sender = xstrdup(s->tx.mail.path.addr);
	if (rcpt)
		ev->recipient = xstrdup(rcpt);
	ev->bounce_class = cls;
	store_event(ev);
}

/* A refusal: reply, and record it. */
static void
refuse(struct session *s, const char *r, const char *sender, const char *rcpt)
{
	reply(s, "%s", r);
	audit_reject(s, r, sender, rcpt, NULL);
}

/* A refusal that says why delivery would fail (bounce.h's class). */
static void
refuse_class(struct session *s, const char *r, const char *sender,
    const char *rcpt, enum bounce_class cls)
{
	reply(s, "%s", r);
	audit_reject(s, r, sender, rcpt, bounce_class_name(cls));
}

/* A message counted toward its subaccount's quota was not stored. */
static void
quota_release(const struct qmsg *m)
{
	if (m->sender[0] != '\0')
		window_add(m->subaccount, WIN_ACCEPTED, m->received_us, -1);
}

/*
 * The routing rule that decides for this recipient, or NULL (defaults,
 * or not known yet).  Before DATA (size -1, no headers) only a rule that
 * needs nothing more can decide.
 */
static const struct rule *
rule_decide(struct session *s, const char *rcpt, int64_t size,
    const char *msg, size_t len)
{
	struct rule_msg m = { s->subaccount, s->tx.mail.path.addr, rcpt, size,
	    msg, len };
	const struct policy *p;
	int gen, i;

	p = policy_now(&gen);
	i = rules_match(p->rules, p->nrules, &m);
	return i >= 0 ? &p->rules[i] : NULL;
}

/* The reply of the rule that rejects this recipient, or NULL. */
static const char *
rule_reject(struct session *s, const char *rcpt, int64_t size,
    const char *msg, size_t len)
{
	const struct rule *r = rule_decide(s, rcpt, size, msg, len);

	return r && r->action == RULE_REJECT ? r->reply : NULL;
}

static void
arm_timer(struct session *s, int64_t ms)
{
	timer_add(&s->timer, ms);
}

static void
tx_reset(struct session *s)
{
	struct tx *t = &s->tx;

	for (int i = 0; i < t->nrcpt; i++)
		free(t->rcpt[i]);
	free(t->rcpt);
	inflight_bytes -= t->accounted;
	buf_free(&t->data);
	memset(t, 0, sizeof(*t));
}

/* Bad commands count toward a limit; past it, the client is cut off. */
static void
count_error(struct session *s)
{
	if (++s->errors >= gcfg->limits.unknown_commands) {
		reply(s, "421 4.7.0 %s Error: too many errors; closing "
		    "connection", gcfg->hostname);
		session_close(s, "too many errors");
	}
}

static void
greet(struct session *s)
{
	reply(s, "220 %s ESMTP gw", gcfg->hostname);
	s->state = SS_CMD;
	arm_timer(s, gcfg->limits.idle_timeout_ms);
}

/* The client spoke after a command that must end a pipelined group. */
static int
out_of_sync(struct session *s, enum smtp_verb v)
{
	if (v == CMD_STARTTLS || !smtp_cmd_ends_group(v))
		return 0;
	if (conn_pending(s->c) == 0)
		return 0;
	reply(s, "554 5.5.0 Error: SMTP protocol synchronization");
	session_close(s, "pipelining violation");
	return 1;
}

static void
cmd_helo(struct session *s, const struct smtp_cmd *cmd)
{
	struct buf b;

	if (cmd->arglen == 0) {
		reply(s, "501 5.5.4 Syntax: %s hostname", cmd->verb ==
		    CMD_EHLO ? "EHLO" : "HELO");
		count_error(s);
		return;
	}
	if (cmd->arglen > NAME_MAX_LEN) {
		reply(s, "501 5.5.4 Error: host name too long");
		count_error(s);
		return;
	}
	tx_reset(s);
	msg_sanitize(cmd->arg, cmd->arglen, s->helo_name, sizeof(s->helo_name));
	s->helo = 1;
	s->esmtp = cmd->verb == CMD_EHLO;
	if (!s->esmtp) {
		reply(s, "250 %s", gcfg->hostname);
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
		reply(s, "501 5.5.4 Syntax: STARTTLS");
		count_error(s);
		return;
	}
	if (s->tls) {
		reply(s, "554 5.5.1 Error: TLS already active");
		count_error(s);
		return;
	}
	reply(s, "220 2.0.0 Ready to start TLS");
	s->state = SS_STARTTLS;
	timer_del(&s->timer);
	conn_pause_read(s->c, 1);
}

/* After STARTTLS: the 220 is out; anything else the client sent in
 * plaintext is dropped by conn_starttls (CVE-2011-0411). */
static void
session_drain(struct conn *c)
{
	struct session *s = c->arg;

	if (s->state == SS_STARTTLS && buf_len(&c->out) == 0) {
		s->state = SS_TLS_HANDSHAKE;
		arm_timer(s, gcfg->limits.idle_timeout_ms);
		if (conn_starttls(c, server_tls, 1, NULL) == -1)
			session_close(s, c->error);
		return;
	}
	if (s->state == SS_CMD || s->state == SS_SASL || s->state == SS_DATA)
		session_process(s);
}

static void
session_tls(struct conn *c, int ok)
{
	struct session *s = c->arg;
	char desc[128];

	if (!ok) {
		log_info("session=%016llx ip=%s tls handshake failed: %s",
		    (unsigned long long)s->id, s->ip, c->error);
		session_close(s, "TLS handshake failed");
		return;
	}
	/* RFC 3207 4.2: forget everything learned before TLS. */
	s->tls = 1;
	s->helo = 0;
	s->authed = AUTH_NONE;
	s->subaccount[0] = '\0';
	tx_reset(s);
	conn_tls_desc(c, desc, sizeof(desc));
	log_debug("session=%016llx tls=\"%s\"", (unsigned long long)s->id,
	    desc);
	conn_pause_read(c, 0);
	/* On an implicit-TLS listener this is the start of the session
	 * (STARTTLS is refused there: TLS is already active). */
	if (s->l->cfg->tls == LISTEN_IMPLICIT) {
		greet(s);
		return;
	}
	s->state = SS_CMD;
	arm_timer(s, gcfg->limits.idle_timeout_ms);
}

/* SASL. */

static void
auth_delay_done(struct ev_timer *t)
{
	struct session *s = t->arg;

	reply(s, "535 5.7.8 Error: authentication failed");
	if (s->close_after_delay) {
		reply(s, "421 4.7.0 %s Error: too many failed "
		    "authentications; try again later", gcfg->hostname);
		session_close(s, "too many failed authentications");
		return;
	}
	s->state = SS_CMD;
	arm_timer(s, gcfg->limits.idle_timeout_ms);
	conn_pause_read(s->c, 0);
}

static void
auth_result(void *arg, const char *name)
{
	struct session *s = arg;
	struct audit_event *ev;

	s->authreq = NULL;
	if (name != NULL) {
		s->authed = AUTH_SASL;
		gw_strlcpy(s->subaccount, name, sizeof(s->subaccount));
		reply(s, "235 2.7.0 Authentication successful");
		log_debug("session=%016llx ip=%s auth=%s",
		    (unsigned long long)s->id, s->ip, name);
		s->state = SS_CMD;
		arm_timer(s, gcfg->limits.idle_timeout_ms);
		conn_pause_read(s->c, 0);
		return;
	}
	s->close_after_delay = auth_failure(s->ip);
	gm.auth_failures_total++;
	ev = audit_new("auth", NULL);
	ev->client_ip = xstrdup(s->ip);
	ev->reply_code = 535;
	ev->reply_status = xstrdup("5.7.8");
	ev->reply_text = xstrdup("authentication failed");
	ev->detail = xstrdup(s->close_after_delay ? "failed; address blocked" :
	    "failed");
	store_event(ev);
	log_info("session=%016llx ip=%s auth failed%s",
	    (unsigned long long)s->id, s->ip, s->close_after_delay ?
	    "; address blocked" : "");
	/* Answer slowly: guessing costs the guesser time. */
	timer_add(&s->delay, gcfg->limits.auth_fail_delay_ms);
}

static void
start_auth(struct session *s, const char *user, size_t ulen, const char *pw,
    size_t pwlen)
{
	struct auth_req *r;

	s->state = SS_WAIT;
	timer_del(&s->timer);
	conn_pause_read(s->c, 1);
	r = auth_check(user, ulen, pw, pwlen, (struct sockaddr *)&s->c->peer,
	    auth_result, s);
	if (r != NULL)
		s->authreq = r;
}

/* Decode one SASL response; -1 after replying. */
static int
sasl_decode(struct session *s, const char *in, size_t len, char *out,
    size_t outsz, size_t *outlen)
{
	if (len == 1 && in[0] == '*') {
		reply(s, "501 5.0.0 Authentication aborted");
		return -1;
	}
	if (len == 1 && in[0] == '=') {		/* RFC 4954: empty */
		*outlen = 0;
		return 0;
	}
	if (base64_decode(in, len, out, outsz - 1, outlen) == -1) {
		reply(s, "501 5.5.2 Error: invalid base64 data");
		count_error(s);
		return -1;
	}
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
		reply(s, "501 5.5.2 Error: malformed PLAIN response");
		count_error(s);
		return;
	}
	authc = nul1 + 1;
	authclen = (size_t)(nul2 - authc);
	pw = nul2 + 1;
	/* Acting for someone else is not offered: authzid must be empty or
	 * name the authenticating user.  Treated as a failed login. */
	if ((nul1 > authz && ((size_t)(nul1 - authz) != authclen ||
	    memcmp(authz, authc, authclen) != 0)) || authclen == 0 ||
	    authclen > NAME_MAX_LEN)
		start_auth(s, "", 0, pw, n - (size_t)(pw - dec));
	else
		start_auth(s, authc, authclen, pw, n - (size_t)(pw - dec));
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
		if (n > NAME_MAX_LEN || memchr(dec, '\0', n)) {
			/* Still ask for the password: answer as any failure. */
			s->sasl_user[0] = '\0';
		} else
			memcpy(s->sasl_user, dec, n + 1);
		reply(s, "334 UGFzc3dvcmQ6");		/* "Password:" */
		s->sasl = SASL_LOGIN_PASS;
		s->state = SS_SASL;
		return;
	}
	start_auth(s, s->sasl_user, strlen(s->sasl_user), dec, n);
}

static void
sasl_line(struct session *s, const char *line, size_t len)
{
	if (s->sasl == SASL_PLAIN)
		sasl_plain(s, line, len);
	else
		sasl_login(s, line, len);
}

static void
cmd_auth(struct session *s, const struct smtp_cmd *cmd)
{
	const char *mech = cmd->arg, *init = NULL;
	size_t mlen = 0, ilen = 0;

	/* cmd->arg is not NUL-terminated: it points into the input. */
	while (mlen < cmd->arglen && mech[mlen] != ' ')
		mlen++;

	if (!s->helo) {
		reply(s, "503 5.5.1 Error: send HELO/EHLO first");
		count_error(s);
		return;
	}
	if (!s->tls) {
		reply(s, "530 5.7.0 Must issue a STARTTLS command first");
		count_error(s);
		return;
	}
	if (s->authed != AUTH_NONE) {
		reply(s, "503 5.5.1 Error: already authenticated");
		count_error(s);
		return;
	}
	if (s->tx.active) {
		reply(s, "503 5.5.1 Error: MAIL transaction in progress");
		count_error(s);
		return;
	}
	if (auth_blocked(s->ip)) {
		reply(s, "421 4.7.0 %s Error: too many failed authentications;"
		    " try again later", gcfg->hostname);
		session_close(s, "address blocked");
		return;
	}
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
		reply(s, "334 ");
		s->state = SS_SASL;
	} else if (mlen == 5 && strncasecmp(mech, "LOGIN", 5) == 0) {
		s->sasl = SASL_LOGIN_USER;
		if (init) {
			sasl_login(s, init, ilen);
			return;
		}
		reply(s, "334 VXNlcm5hbWU6");		/* "Username:" */
		s->state = SS_SASL;
	} else {
		reply(s, "504 5.5.4 Error: unsupported authentication "
		    "mechanism");
		count_error(s);
	}
}

/* The envelope. */

static const struct subaccount *
current_account(struct session *s)
{
	const struct subaccount *sa;

	if (s->authed == AUTH_NONE)
		return NULL;
	sa = account_find(s->subaccount);
	if (sa && s->authed == AUTH_IP &&
	    (sa->nnets == 0 || !account_ip_allowed(sa,
	    (struct sockaddr *)&s->c->peer)))
		return NULL;
	return sa;
}

static void
cmd_mail(struct session *s, const struct smtp_cmd *cmd)
{
	const struct subaccount *sa;
	const char *r;
	char msg[600];

	if (!s->helo) {
		reply(s, "503 5.5.1 Error: send HELO/EHLO first");
		count_error(s);
		return;
	}
	if (s->l->cfg->require_tls && !s->tls) {
		refuse(s, "530 5.7.0 Must issue a STARTTLS command first",
		    "", NULL);
		return;
	}
	if (s->tx.active) {
		reply(s, "503 5.5.1 Error: nested MAIL command");
		count_error(s);
		return;
	}
	/* Servers on an allowlist need no AUTH on listeners that say so;
	 * looked up at each MAIL so gwctl changes apply at once. */
	if (s->authed == AUTH_NONE && s->l->cfg->ip_auth &&
	    (accounts_poll(), sa = account_by_ip((struct sockaddr *)&s->c->peer)) != NULL) {
		s->authed = AUTH_IP;
		gw_strlcpy(s->subaccount, sa->name, sizeof(s->subaccount));
	}
	if (s->authed == AUTH_NONE) {
		refuse(s, "530 5.7.0 Authentication required", "", NULL);
		return;
	}
	if ((sa = current_account(s)) == NULL || !sa->enabled) {
		refuse(s, "550 5.7.1 Error: subaccount is disabled or gone",
		    "", NULL);
		return;
	}
	if (smtp_parse_mail(cmd->arg, cmd->arglen, &s->tx.mail, &r) == -1) {
		reply(s, "%s", r);
		count_error(s);
		return;
	}
	if (s->tx.mail.has_size &&
	    s->tx.mail.size > gcfg->limits.message_size) {
		refuse(s, "552 5.3.4 Message size exceeds fixed maximum "
		    "message size", s->tx.mail.path.addr, NULL);
		return;
	}
	if (s->tx.mail.path.len > 0 && (s->tx.mail.path.literal ||
	    !account_owns_domain(sa, mailpath_domain(&s->tx.mail.path)))) {
		snprintf(msg, sizeof(msg), "550 5.7.1 <%s>: Sender address "
		    "rejected: domain not owned by subaccount %s",
		    s->tx.mail.path.addr, sa->name);
		refuse(s, msg, s->tx.mail.path.addr, NULL);
		return;
	}
	if ((r = pause_check(sa->name, msg, sizeof(msg))) != NULL) {
		refuse_class(s, r, s->tx.mail.path.addr, NULL, BC_POLICY);
		return;
	}
	if (s->tx.mail.path.len > 0 &&
	    (r = quota_check(sa, now_us(), msg, sizeof(msg))) != NULL) {
		refuse_class(s, r, s->tx.mail.path.addr, NULL, BC_THROTTLED);
		return;
	}
	s->tx.active = 1;
	reply(s, "250 2.1.0 Ok");
}

static void
cmd_rcpt(struct session *s, const struct smtp_cmd *cmd)
{
	const struct suppression *sup;
	struct rcpt_args ra;
	char msg[511];		/* a reply line is at most 512 with CRLF */
	const char *r;

	if (!s->tx.active) {
		reply(s, "503 5.5.1 Error: need MAIL command");
		count_error(s);
		return;
	}
	if (smtp_parse_rcpt(cmd->arg, cmd->arglen, &ra, &r) == -1) {
		reply(s, "%s", r);
		count_error(s);
		return;
	}
	if (ra.path.literal) {
		refuse(s, "553 5.1.3 Error: address literals are not accepted "
		    "as recipients", NULL, ra.path.addr);
		return;
	}
	/* gw.db may have changed since the last tick: an admin's entry
	 * applies at the next RCPT. */
	accounts_poll();
	if ((sup = suppress_find(s->subaccount, ra.path.addr)) != NULL) {
		snprintf(msg, sizeof(msg), "550 5.1.1 <%s>: Recipient address "
		    "rejected: suppressed: %s", ra.path.addr, sup->reason[0] ?
		    sup->reason : sup->source);
		refuse_class(s, msg, NULL, ra.path.addr, BC_HARD);
		return;
	}
	for (int i = 0; i < s->tx.nrcpt; i++) {
		if (strcmp(s->tx.rcpt[i], ra.path.addr) == 0) {
			reply(s, "250 2.1.5 Ok");	/* same one again */
			return;
		}
	}
	if (s->tx.nrcpt >= gcfg->limits.recipients) {
		reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	if ((r = rule_reject(s, ra.path.addr, -1, NULL, 0)) != NULL) {
		refuse(s, r, NULL, ra.path.addr);
		return;
	}
	s->tx.rcpt = realloc(s->tx.rcpt, sizeof(char *) *
	    (size_t)(s->tx.nrcpt + 1));
	if (s->tx.rcpt == NULL)
		fatal("rcpt");
	s->tx.rcpt[s->tx.nrcpt++] = xstrdup(ra.path.addr);
	reply(s, "250 2.1.5 Ok");
}

static void
cmd_data(struct session *s, const struct smtp_cmd *cmd)
{
	if (cmd->arglen > 0) {
		reply(s, "501 5.5.4 Syntax: DATA");
		count_error(s);
		return;
	}
	if (!s->tx.active) {
		reply(s, "503 5.5.1 Error: need MAIL command");
		count_error(s);
		return;
	}
	if (s->tx.nrcpt == 0) {
		reply(s, "503 5.5.1 Error: need RCPT command");
		count_error(s);
		return;
	}
	if (inflight_bytes >= gcfg->limits.memory) {
		refuse(s, "452 4.3.1 Insufficient system resources", NULL,
		    NULL);
		return;
	}
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
	data_init(&s->tx.dp, gcfg->limits.message_size);
	buf_init(&s->tx.data, 0);
	s->state = SS_DATA;
	arm_timer(s, gcfg->limits.data_timeout_ms);
}

/* End of DATA. */

static void
committed(struct store_op *op)
{
	struct session *s = op->arg;
	struct qmsg *m = op->insert;

	if (op->failed) {
		log_warnx("qid=%s not queued: %s", m->qid, op->error);
		quota_release(m);
		if (s)
			reply(s, "451 4.3.0 Error: queue file write error");
		qmsg_free(m);
	} else {
		log_debug("qid=%s queued size=%zu rcpts=%d", m->qid, m->size,
		    m->nrcpt);
		gm.messages_received_total++;
		gm.bytes_received_total += m->size;
		gm.recipients_received_total += (uint64_t)m->nrcpt;
		if (s) {
			reply(s, "250 2.0.0 Ok: queued as %s", m->qid);
			s->accepted++;
		}
		queue_add(m);
	}
	store_op_free(op);
	if (s == NULL)
		return;
	s->op = NULL;
	s->state = SS_CMD;
	arm_timer(s, gcfg->limits.idle_timeout_ms);
	conn_pause_read(s->c, 0);
}

static const char *
trace_proto(const struct session *s)
{
	/* RFC 3848 */
	if (!s->esmtp)
		return "SMTP";
	if (s->tls)
		return s->authed == AUTH_SASL ? "ESMTPSA" : "ESMTPS";
	return s->authed == AUTH_SASL ? "ESMTPA" : "ESMTP";
}

static int
owns_domain(const void *sa, const char *domain)
{
	return account_owns_domain(sa, domain);
}

/* Policy on the header section; NULL when the message may go. */
static const char *
check_headers(struct session *s, const struct msg_info *mi, char *buf,
    size_t bufsz)
{
	const struct subaccount *sa = current_account(s);

	if (mi->nreceived >= gcfg->limits.received_headers)
		return "554 5.4.6 Error: too many Received headers (mail loop?)";
	if (mi->nfrom == 0 && s->tx.mail.path.len == 0)
		return "554 5.6.0 Error: message has no From header";
	if (sa == NULL || !sa->enabled)
		return "550 5.7.1 Error: subaccount is disabled or gone";
	/* From: and Sender: read whole, every address owned. */
	return msg_check_authors(mi, owns_domain, sa, sa->name, buf, bufsz);
}

/*
 * The worker has signed (or failed to sign) the message of op: put the
 * signatures on top and queue it.  op->arg is NULL when the client went
 * away meanwhile; the message is queued all the same, as it would be
 * after a commit the client did not wait for.
 */
static void
signed_msg(struct sign_job *j)
{
	struct store_op *op = j->arg;
	struct session *s = op->arg;
	struct qmsg *m = op->insert;
	struct audit_event *ev;
	char *body;

	if (j->failed) {
		log_warnx("qid=%s: DKIM signing failed: %s", m->qid, j->err);
		quota_release(m);
		ev = audit_new("rejected", m->qid);
		ev->sender = xstrdup(m->sender);
		ev->subaccount = xstrdup(m->subaccount);
		ev->reply_code = 451;
		ev->reply_status = xstrdup("4.3.0");
		if (asprintf(&ev->reply_text, "DKIM signing failed: %s",
		    j->err) == -1)
			ev->reply_text = NULL;
		store_event(ev);
		if (s) {
			reply(s, "451 4.3.0 Error: DKIM signing failed; try "
			    "again later");
			s->op = NULL;
			s->state = SS_CMD;
			arm_timer(s, gcfg->limits.idle_timeout_ms);
			conn_pause_read(s->c, 0);
		}
		qmsg_free(m);
		store_op_free(op);
		sign_job_free(j);
		return;
	}
	body = xmalloc(buf_len(&j->sigs) + m->bodylen);
	memcpy(body, buf_ptr(&j->sigs), buf_len(&j->sigs));
	memcpy(body + buf_len(&j->sigs), m->body, m->bodylen);
	free(m->body);
	m->body = body;
	m->bodylen += buf_len(&j->sigs);
	m->size = m->bodylen;
	gm.dkim_signed_total++;
	ev = store_op_event(op, "signed", m->qid);
	ev->sender = xstrdup(m->sender);
	ev->subaccount = xstrdup(m->subaccount);
	ev->detail = xstrdup(j->detail);
	sign_job_free(j);
	store_submit(op);
}

/* Sign on a worker when a key applies; otherwise log why not and queue. */
static void
sign_or_store(struct session *s, struct store_op *op,
    const struct msg_info *mi)
{
	const struct subaccount *sa = current_account(s);
	struct qmsg *m = op->insert;
	struct sign_job *j;
	struct audit_event *ev;
	char dom[256], why[400];
	const char *at;

	at = mi->nfrom_addr > 0 ? strrchr(mi->from_addr[0], '@') :
	    strrchr(m->sender, '@');
	gw_strlcpy(dom, at ? at + 1 : "", sizeof(dom));
	for (char *p = dom; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	j = signer_plan(dom, sa ? sa->dkim_org : NULL, why, sizeof(why));
	if (j == NULL) {
		gm.dkim_unsigned_total++;
		ev = store_op_event(op, "unsigned", m->qid);
		ev->sender = xstrdup(m->sender);
		ev->subaccount = xstrdup(m->subaccount);
		ev->detail = xstrdup(why);
		store_submit(op);
		return;
	}
	j->done = signed_msg;
	j->arg = op;
	signer_run(j, m->body, m->bodylen, now_us() / 1000000);
}

/*
 * A routing rule (r, for recipient rcpt) holds the message for review
 * (quarantine): it is stored held, until `gwctl queue release`.
 */
static void
quarantine(struct qmsg *m, struct store_op *op, const struct rule *r,
    const char *rcpt)
{
	struct audit_event *ev;

	m->held = 1;
	ev = store_op_event(op, "quarantined", m->qid);
	ev->recipient = xstrdup(rcpt);
	ev->sender = xstrdup(m->sender);
	ev->subaccount = xstrdup(m->subaccount);
	if (asprintf(&ev->detail, "held by routing rule %lld until "
	    "released (gwctl queue release %s)", (long long)r->id,
	    m->qid) == -1)
		ev->detail = NULL;
}

static void
data_end(struct session *s)
{
	const struct subaccount *sa;
	struct tx *t = &s->tx;
	struct msg_info mi;
	struct buf hdr, add, out;
	struct qmsg *m;
	struct store_op *op;
	struct audit_event *ev;
	char date[64], tlsdesc[128], rbuf[600], rnd[9];
	unsigned char rb[4];
	const struct rule *hold = NULL;	/* valid within this call */
	const char *r, *hold_rcpt = NULL;
	int64_t now = now_us();

	timer_del(&s->timer);
	s->state = SS_CMD;
	if ((r = data_flags_reply(t->dp.flags)) != NULL) {
		gm.messages_rejected_total++;
		refuse(s, r, t->mail.path.addr, NULL);
		tx_reset(s);
		arm_timer(s, gcfg->limits.idle_timeout_ms);
		return;
	}
	msg_scan(buf_ptr(&t->data), buf_len(&t->data), &mi);
	if ((r = check_headers(s, &mi, rbuf, sizeof(rbuf))) != NULL) {
		gm.messages_rejected_total++;
		refuse(s, r, t->mail.path.addr, NULL);
		tx_reset(s);
		arm_timer(s, gcfg->limits.idle_timeout_ms);
		return;
	}
	/* Again: sessions in DATA side by side all passed MAIL. */
	if (t->mail.path.len > 0 && (sa = current_account(s)) != NULL &&
	    (r = quota_check(sa, now, rbuf, sizeof(rbuf))) != NULL) {
		gm.messages_rejected_total++;
		refuse_class(s, r, t->mail.path.addr, NULL, BC_THROTTLED);
		tx_reset(s);
		arm_timer(s, gcfg->limits.idle_timeout_ms);
		return;
	}
	/* The rules, once per recipient, with headers and size: one that
	 * rejects refuses the whole message (after DATA there is no
	 * refusing one recipient); the first that holds quarantines it. */
	for (int i = 0; i < t->nrcpt; i++) {
		const struct rule *ru = rule_decide(s, t->rcpt[i],
		    (int64_t)buf_len(&t->data), buf_ptr(&t->data),
		    buf_len(&t->data));

		if (ru && ru->action == RULE_HOLD && hold == NULL) {
			hold = ru;
			hold_rcpt = t->rcpt[i];
		}
		if (ru == NULL || ru->action != RULE_REJECT)
			continue;
		gm.messages_rejected_total++;
		refuse(s, ru->reply, t->mail.path.addr, t->rcpt[i]);
		tx_reset(s);
		arm_timer(s, gcfg->limits.idle_timeout_ms);
		return;
	}

	m = queue_msg_new(t->mail.path.addr, s->subaccount, t->nrcpt);
	m->received_us = now;
	if (t->mail.body_8bit)
		m->flags |= QMSG_8BIT;
	for (int i = 0; i < t->nrcpt; i++) {
		struct qrcpt *rc = &m->rcpt[i];
		const char *at = strrchr(t->rcpt[i], '@');

		rc->addr = xstrdup(t->rcpt[i]);
		rc->domain = xstrdup(at ? at + 1 : "");
		rc->next_attempt = now / 1000000;
	}

	/* Our trace field first; Message-ID, Date, From added if missing
	 * (RFC 6409 8). */
	fmt_rfc5322((time_t)(now / 1000000), date, sizeof(date));
	conn_tls_desc(s->c, tlsdesc, sizeof(tlsdesc));
	buf_init(&hdr, 0);
	buf_printf(&hdr, "Received: from %s ([%s])\r\n\tby %s (gw) with %s "
	    "id %s", s->helo_name, s->ip, gcfg->hostname, trace_proto(s),
	    m->qid);
	if (tlsdesc[0]) {
		char *sp = strchr(tlsdesc, ' ');

		if (sp)
			*sp = '\0';
		buf_printf(&hdr, "\r\n\t(version=%s cipher=%s)", tlsdesc,
		    sp ? sp + 1 : "");
		if (sp)
			*sp = ' ';
	}
	buf_printf(&hdr, ";\r\n\t%s\r\n", date);
	buf_init(&add, 0);
	if (!mi.has_message_id) {
		random_bytes(rb, sizeof(rb));
		hex_encode(rb, sizeof(rb), rnd);
		snprintf(mi.message_id, sizeof(mi.message_id), "<%s.%s@%s>",
		    m->qid, rnd, gcfg->hostname);
		buf_printf(&add, "Message-ID: %s\r\n", mi.message_id);
	}
	if (!mi.has_date)
		buf_printf(&add, "Date: %s\r\n", date);
	if (mi.nfrom == 0) {
		buf_printf(&add, "From: <%s>\r\n", t->mail.path.addr);
		snprintf(mi.from, sizeof(mi.from), "<%s>", t->mail.path.addr);
	}
	buf_init(&out, 0);
	if (buf_reserve(&out, buf_len(&t->data) + buf_len(&hdr) +
	    buf_len(&add) + 2) == -1 || msg_build(buf_ptr(&t->data),
	    buf_len(&t->data), &mi, buf_cstr(&hdr), buf_cstr(&add), &out) ==
	    -1) {
		buf_free(&hdr);
		buf_free(&add);
		buf_free(&out);
		qmsg_free(m);
		refuse(s, "451 4.3.0 Error: insufficient memory", NULL, NULL);
		tx_reset(s);
		return;
	}
	buf_free(&hdr);
	buf_free(&add);
	m->body = buf_steal(&out, &m->bodylen);
	m->size = m->bodylen;
	m->message_id = xstrdup(mi.message_id);

	op = store_op_new();
	op->insert = m;
	op->done = committed;
	op->arg = s;
	ev = store_op_event(op, "received", m->qid);
	ev->ts = now;
	ev->subaccount = xstrdup(s->subaccount);
	ev->client_ip = xstrdup(s->ip);
	ev->sender = xstrdup(m->sender);
	ev->message_id = xstrdup(mi.message_id);
	ev->subject = xstrdup(mi.subject);
	ev->from_addr = xstrdup(mi.from);
	ev->size = (int64_t)m->size;
	ev->tls = tlsdesc[0] ? xstrdup(tlsdesc) : NULL;
	ev->rcpts = xcalloc((size_t)t->nrcpt, sizeof(char *));
	ev->nrcpts = t->nrcpt;
	{
		struct buf all;

		buf_init(&all, 0);
		for (int i = 0; i < t->nrcpt; i++) {
			ev->rcpts[i] = xstrdup(t->rcpt[i]);
			buf_printf(&all, "%s%s", i ? ", " : "", t->rcpt[i]);
		}
		ev->recipient = buf_steal(&all, NULL);
	}
	if (asprintf(&ev->detail, "helo=%s auth=%s", s->helo_name,
	    s->authed == AUTH_IP ? "ip" : "sasl") == -1)
		ev->detail = NULL;
	if (hold)
		quarantine(m, op, hold, hold_rcpt);

	/* Counted now, so the next MAIL sees it; given back if the message
	 * is not stored after all. */
	if (m->sender[0] != '\0')
		window_add(m->subaccount, WIN_ACCEPTED, now, 1);
	s->op = op;
	s->state = SS_WAIT;
	conn_pause_read(s->c, 1);
	sign_or_store(s, op, &mi);
	tx_reset(s);
}

static void
data_step(struct session *s)
{
	struct conn *c = s->c;
	struct tx *t = &s->tx;
	size_t used;

	used = data_feed(&t->dp, buf_ptr(&c->in), buf_len(&c->in), &t->data);
	buf_consume(&c->in, used);
	/* Account what is held in memory for the global limit. */
	inflight_bytes += buf_len(&t->data) - t->accounted;
	t->accounted = buf_len(&t->data);
	if (t->dp.done)
		data_end(s);
}

static void
dispatch(struct session *s, const char *line, size_t len)
{
	struct smtp_cmd cmd;

	if (memchr(line, '\0', len) != NULL || str_has_ctl(line, len)) {
		reply(s, "500 5.5.2 Error: control characters in command");
		count_error(s);
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
		cmd_auth(s, &cmd);
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
			reply(s, "501 5.5.4 Syntax: RSET");
			count_error(s);
			break;
		}
		tx_reset(s);
		reply(s, "250 2.0.0 Ok");
		break;
	case CMD_NOOP:
		reply(s, "250 2.0.0 Ok");
		break;
	case CMD_QUIT:
		reply(s, "221 2.0.0 Bye");
		session_close(s, NULL);
		break;
	case CMD_VRFY:
	case CMD_EXPN:
		reply(s, "502 5.5.1 Error: command disabled");
		break;
	case CMD_HELP:
		reply(s, "214 2.0.0 Commands: EHLO HELO STARTTLS AUTH MAIL RCPT "
		    "DATA RSET NOOP QUIT");
		break;
	case CMD_BDAT:
		/* The chunk that follows would be read as commands. */
		reply(s, "521 5.5.1 Error: BDAT without CHUNKING; closing "
		    "connection");
		session_close(s, "BDAT");
		break;
	case CMD_HTTP:
		reply(s, "221 2.7.0 Error: HTTP request on an SMTP port");
		session_close(s, "HTTP request");
		break;
	case CMD_UNKNOWN:
		reply(s, "500 5.5.2 Error: command not recognized");
		count_error(s);
		break;
	}
}

static void
session_process(struct session *s)
{
	struct conn *c = s->c;

	while (!c->dead && !c->closing) {
		const char *line;
		size_t len, used, max;
		enum line_status ls;

		if (s->state == SS_DATA) {
			if (buf_len(&c->in) == 0)
				break;
			data_step(s);
			continue;
		}
		if (s->state != SS_CMD && s->state != SS_SASL)
			break;
		if (buf_len(&c->out) > OUT_HIGH)
			break;		/* the client is not reading replies */
		max = s->state == SS_SASL ? SASL_LINE_MAX :
		    (size_t)gcfg->limits.line_length;
		ls = line_next(&s->lr, buf_ptr(&c->in), buf_len(&c->in), max,
		    &line, &len, &used);
		if (ls == LINE_MORE) {
			buf_consume(&c->in, used);
			break;
		}
		if (ls == LINE_LONG) {
			buf_consume(&c->in, used);
			if (s->state == SS_SASL) {
				reply(s, "500 5.5.6 Error: authentication "
				    "exchange line too long");
				s->state = SS_CMD;
			} else
				reply(s, "500 5.5.2 Error: line too long");
			count_error(s);
			continue;
		}
		if (ls == LINE_BARE) {
			reply(s, "500 5.5.2 Error: bare CR or LF received "
			    "(commands must end in CRLF)");
			session_close(s, "bare CR/LF in command");
			break;
		}
		/*
		 * Consuming only moves the buffer's offset: the line's bytes
		 * stay put while it is handled (nothing appends to c->in
		 * meanwhile), and the sync check sees only what follows.
		 */
		buf_consume(&c->in, used);
		if (s->state == SS_SASL)
			sasl_line(s, line, len);
		else
			dispatch(s, line, len);
		if (s->state == SS_CMD && !c->dead)
			arm_timer(s, gcfg->limits.idle_timeout_ms);
	}
	if (!c->dead && !c->closing && c->eof && buf_len(&c->in) == 0 &&
	    s->state != SS_WAIT)
		session_close(s, s->state == SS_DATA ? "lost connection in DATA" :
		    "client disconnected");
}

static void
session_read(struct conn *c)
{
	session_process(c->arg);
}

static void
session_timeout(struct ev_timer *t)
{
	struct session *s = t->arg;

	reply(s, "421 4.4.2 %s Error: timeout exceeded", gcfg->hostname);
	session_close(s, s->state == SS_DATA ? "timeout in DATA" : "timeout");
}

static void
session_error(struct conn *c)
{
	struct session *s = c->arg;

	log_debug("session=%016llx ip=%s %s", (unsigned long long)s->id, s->ip,
	    c->error);
}

static void
session_close(struct session *s, const char *why)
{
	if (s->state == SS_CLOSING)
		return;
	s->state = SS_CLOSING;
	if (why)
		log_info("session=%016llx ip=%s close reason=\"%s\" "
		    "accepted=%d", (unsigned long long)s->id, s->ip, why,
		    s->accepted);
	timer_del(&s->timer);
	timer_del(&s->delay);
	conn_close_after_flush(s->c);
}

static void
per_ip_add(const char *ip, int delta)
{
	intptr_t n = (intptr_t)hmap_get(&per_ip, ip) + delta;

	if (n <= 0)
		hmap_del(&per_ip, ip);
	else
		hmap_put(&per_ip, ip, (void *)n);
}

/* Last call from the conn: release everything. */
static void
session_closed(struct conn *c)
{
	struct session *s = c->arg;

	timer_del(&s->timer);
	timer_del(&s->delay);
	if (s->authreq)
		auth_cancel(s->authreq);
	if (s->op)
		s->op->arg = NULL;	/* the commit completes without us */
	tx_reset(s);
	per_ip_add(s->ip, -1);
	gm.sessions_current--;
	if (s->prev)
		s->prev->next = s->next;
	else
		sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	nsessions--;
	free(s);
}

static void
session_new(struct listener *l, int fd)
{
	struct session *s = xcalloc(1, sizeof(*s));
	intptr_t count;

	s->id = ++next_id;
	s->l = l;
	s->state = SS_CMD;
	timer_init(&s->timer, session_timeout, s);
	timer_init(&s->delay, auth_delay_done, s);
	if ((s->c = conn_new(fd, &session_ops, s, IN_MAX, OUT_MAX)) == NULL) {
		log_warn("accept: conn_new");
		close(fd);
		free(s);
		return;
	}
	sockaddr_ntop((struct sockaddr *)&s->c->peer, s->ip, sizeof(s->ip));
	s->next = sessions;
	if (sessions)
		sessions->prev = s;
	sessions = s;
	nsessions++;
	per_ip_add(s->ip, 1);
	gm.sessions_total++;
	gm.sessions_current++;
	count = (intptr_t)hmap_get(&per_ip, s->ip);

	/* On 465 the client speaks TLS first, so a refusal there is just a
	 * close; elsewhere it is a 421 the client can log. */
	if (nsessions > gcfg->limits.connections ||
	    count > gcfg->limits.connections_per_ip || auth_blocked(s->ip)) {
		const char *why = nsessions > gcfg->limits.connections ?
		    "too many connections" : count >
		    gcfg->limits.connections_per_ip ?
		    "too many connections from your address" :
		    "too many failed authentications; try again later";

		if (l->cfg->tls != LISTEN_IMPLICIT)
			reply(s, "421 4.7.0 %s Error: %s", gcfg->hostname, why);
		session_close(s, why);
		return;
	}
	if (l->cfg->tls == LISTEN_IMPLICIT) {
		s->state = SS_TLS_HANDSHAKE;
		arm_timer(s, gcfg->limits.idle_timeout_ms);
		if (conn_starttls(s->c, server_tls, 1, NULL) == -1)
			session_close(s, s->c->error);
		return;
	}
	greet(s);
}

/* Out of descriptors: free the spare, accept, refuse, close, re-arm. */
static void
refuse_no_fd(struct listener *l)
{
	static const char msg[] = "421 4.3.2 Error: too many connections; "
	    "try again later\r\n";
	int fd;

	if (spare_fd == -1)
		return;
	close(spare_fd);
	if ((fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC)) != -1) {
		if (l->cfg->tls != LISTEN_IMPLICIT &&
		    write(fd, msg, sizeof(msg) - 1) == -1)
			log_debug("refusal not sent: %s", strerror(errno));
		close(fd);
	}
	spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void
accept_cb(struct ev_io *io, int revents)
{
	struct listener *l = io->arg;

	for (int i = 0; i < 64; i++) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC);

		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				log_warnx("accept: out of file descriptors");
				refuse_no_fd(l);
				continue;
			}
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept");
			return;
		}
		session_new(l, fd);
	}
}

int
listeners_bind(char *err, size_t errsz)
{
	hmap_init(&per_ip);
	spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (int i = 0; i < gcfg->nlisten; i++) {
		struct gw_listen *lc = &gcfg->listen[i];
		struct listener *l = &listeners[nlisteners];
		struct addrinfo hints, *ai;
		char port[8];
		int fd, one = 1, r;

		memset(&hints, 0, sizeof(hints));
		hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE | AI_NUMERICSERV;
		hints.ai_socktype = SOCK_STREAM;
		snprintf(port, sizeof(port), "%d", lc->port);
		if ((r = getaddrinfo(lc->address, port, &hints, &ai)) != 0) {
			snprintf(err, errsz, "%s:%d: listen address \"%s\": %s",
			    gcfg->path, lc->line, lc->address,
			    gai_strerror(r));
			return -1;
		}
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd == -1) {
			snprintf(err, errsz, "socket: %s", strerror(errno));
			freeaddrinfo(ai);
			return -1;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof(one));
		/* A deep backlog: dropped SYNs cost clients a second each. */
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
		    listen(fd, 4096) == -1) {
			snprintf(err, errsz, "%s:%d: cannot listen on %s port "
			    "%d: %s", gcfg->path, lc->line, lc->address,
			    lc->port, strerror(errno));
			close(fd);
			freeaddrinfo(ai);
			return -1;
		}
		freeaddrinfo(ai);
		l->cfg = lc;
		l->fd = fd;
		nlisteners++;
		log_info("listening on %s port %d (%s%s%s)", lc->address,
		    lc->port, lc->tls == LISTEN_IMPLICIT ? "implicit TLS" :
		    "STARTTLS", lc->require_tls ? "" : ", TLS optional",
		    lc->ip_auth ? ", IP allowlists" : "");
	}
	return 0;
}

void
listeners_start(void)
{
	for (int i = 0; i < nlisteners; i++) {
		io_init(&listeners[i].io, listeners[i].fd, accept_cb,
		    &listeners[i]);
		io_set(&listeners[i].io, EV_READ);
	}
}

void
listeners_stop(void)
{
	for (int i = 0; i < nlisteners; i++) {
		io_del(&listeners[i].io);
		close(listeners[i].fd);
	}
	nlisteners = 0;
}

void
sessions_close_all(void)
{
	struct session *s, *next;

	for (s = sessions; s; s = next) {
		next = s->next;
		if (s->state == SS_WAIT && s->op)
			continue;	/* let the commit answer first */
		if (s->state != SS_CLOSING && s->state != SS_TLS_HANDSHAKE &&
		    s->state != SS_STARTTLS)
			reply(s, "421 4.3.2 %s Service shutting down",
			    gcfg->hostname);
		session_close(s, "shutdown");
	}
}

int
sessions_count(void)
{
	return nsessions;
}
