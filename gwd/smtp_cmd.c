/*
 * smtp_cmd.c - inbound SMTP: the commands.  One table row per verb says
 * whether it ends a pipelined group, whether HELP lists it, what must
 * hold before it runs (check) and what it does (proceed), in the manner
 * of OpenSMTPD's smtp_check_* and smtp_proceed_*.  A check replies and
 * returns -1 when the command may not run now.  The EHLO keywords are a
 * table too.  AUTH is sasl.c's.
 * Standards: RFC 5321, RFC 3207 (STARTTLS), RFC 1870 (SIZE), RFC 2920
 * (PIPELINING), RFC 6152 (8BITMIME), RFC 2034/3463 (enhanced status
 * codes), RFC 6409 (submission), RFC 3461 (DSN), RFC 3030 (CHUNKING),
 * RFC 6531 (SMTPUTF8).
 * Exposure: parses untrusted input from unauthenticated clients.
 * Diagnostics: bad commands get replies and count toward
 * limits.unknown_commands; dies only when memory for a recipient or the
 * EHLO name runs out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
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

enum smtp_verb {
	CMD_HELO, CMD_EHLO, CMD_MAIL, CMD_RCPT, CMD_DATA, CMD_BDAT, CMD_RSET,
	CMD_NOOP, CMD_QUIT, CMD_VRFY, CMD_EXPN, CMD_HELP, CMD_STARTTLS,
	CMD_AUTH, CMD_HTTP
};

struct verb {
	enum smtp_verb	 verb;
	const char	*name;
	int		 ends_group;	/* RFC 2920 3.1: the client must wait */
	int		 help;		/* listed by HELP */
	int		(*check)(struct session *, const struct smtp_cmd *);
	void		(*proceed)(struct session *, const struct smtp_cmd *);
};

/* An EHLO keyword, offered when offered() says so (NULL: always), with
 * the parameter param() writes (NULL: none). */
struct ehlo_keyword {
	const char	*keyword;
	int		(*offered)(const struct session *);
	void		(*param)(const struct session *, char *, size_t);
};

static int
smtp_check_noarg(struct session *s, const struct smtp_cmd *cmd,
    const char *r)
{
	return cmd->arglen > 0 ? session_bad_command(s, r) : 0;
}

/* HELO and EHLO. */

static int
smtp_check_helo_name(struct session *s, const struct smtp_cmd *cmd,
    const char *syntax)
{
	if (cmd->arglen == 0)
		return session_bad_command(s, syntax);
	if (cmd->arglen > CTL_DOMAIN_MAX)
		return session_bad_command(s, "501 5.5.4 Error: host name too "
		    "long");
	return 0;
}

static int
smtp_check_helo(struct session *s, const struct smtp_cmd *cmd)
{
	return smtp_check_helo_name(s, cmd, "501 5.5.4 Syntax: HELO hostname");
}

static int
smtp_check_ehlo(struct session *s, const struct smtp_cmd *cmd)
{
	return smtp_check_helo_name(s, cmd, "501 5.5.4 Syntax: EHLO hostname");
}

/* A new greeting starts over: no transaction, the new name. */
static void
smtp_greeted(struct session *s, const struct smtp_cmd *cmd, int esmtp)
{
	char name[CTL_DOMAIN_MAX + 1];

	session_tx_reset(s);
	msg_sanitize(cmd->arg, cmd->arglen, name, sizeof(name));
	free(s->helo_name);
	s->helo_name = xstrdup(name);
	s->helo = 1;
	s->esmtp = esmtp;
}

static void
smtp_proceed_helo(struct session *s, const struct smtp_cmd *cmd)
{
	smtp_greeted(s, cmd, 0);
	session_reply(s, "250 %s", gcfg->hostname);
}

static int
offer_starttls(const struct session *s)
{
	return !s->tls;
}

/* RFC 4954 4: AUTH goes unannounced until TLS protects the password. */
static int
offer_auth(const struct session *s)
{
	return s->tls && s->authed == AUTH_NONE && !fbl_session(s);
}

/* RFC 1870: the largest message, in octets. */
static void
size_param(const struct session *s, char *out, size_t outsz)
{
	snprintf(out, outsz, "%llu", fbl_max_size(s));
}

static const struct ehlo_keyword ehlo_keywords[] = {
	{ "PIPELINING", NULL, NULL },
	{ "SIZE", NULL, size_param },
	{ "8BITMIME", NULL, NULL },
	{ "ENHANCEDSTATUSCODES", NULL, NULL },
	{ "DSN", NULL, NULL },
	{ "CHUNKING", NULL, NULL },
	{ "SMTPUTF8", NULL, NULL },
	{ "STARTTLS", offer_starttls, NULL },
	{ "AUTH PLAIN LOGIN", offer_auth, NULL },
};

/* The EHLO reply: the greeting line, then the keywords offered now. */
static int
ehlo_reply(const struct session *s, struct buf *b)
{
	const struct ehlo_keyword *kw[nitems(ehlo_keywords)];
	char param[32];
	size_t n = 0;

	for (size_t i = 0; i < nitems(ehlo_keywords); i++)
		if (ehlo_keywords[i].offered == NULL ||
		    ehlo_keywords[i].offered(s))
			kw[n++] = &ehlo_keywords[i];
	if (buf_printf(b, "250-%s Hello [%s]\r\n", gcfg->hostname,
	    s->ip) == -1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		param[0] = '\0';
		if (kw[i]->param)
			kw[i]->param(s, param, sizeof(param));
		if (buf_printf(b, "250%c%s%s%s\r\n", i == n - 1 ? ' ' : '-',
		    kw[i]->keyword, param[0] ? " " : "", param) == -1)
			return -1;
	}
	return 0;
}

static void
smtp_proceed_ehlo(struct session *s, const struct smtp_cmd *cmd)
{
	struct buf b;

	smtp_greeted(s, cmd, 1);
	/* One write for the whole multi-line reply. */
	buf_init(&b, 0);
	if (ehlo_reply(s, &b) == -1) {
		log_warnx("session=%016llx EHLO reply: out of memory",
		    (unsigned long long)s->id);
		session_reply(s, "451 4.3.0 Error: insufficient memory");
	} else if (conn_write(s->c, buf_ptr(&b), buf_len(&b)) == -1)
		session_close(s, "output buffer full");
	buf_free(&b);
}

/* STARTTLS. */

static int
smtp_check_starttls(struct session *s, const struct smtp_cmd *cmd)
{
	if (smtp_check_noarg(s, cmd, "501 5.5.4 Syntax: STARTTLS") == -1)
		return -1;
	if (s->tls)
		return session_bad_command(s, "554 5.5.1 Error: TLS already "
		    "active");
	return 0;
}

static void
smtp_proceed_starttls(struct session *s, const struct smtp_cmd *cmd)
{
	session_reply(s, "220 2.0.0 Ready to start TLS");
	s->state = SS_STARTTLS;
	timer_del(&s->timer);
	conn_pause_read(s->c, 1);
}

/* The envelope. */

/* The reply of the rule that rejects this recipient, or NULL. */
static const char *
rule_reject(struct session *s, const char *rcpt, int64_t size,
    const char *msg, size_t len)
{
	const struct rule *r = session_rule(s, rcpt, size, msg, len);

	return r && r->action == RULE_REJECT ? r->reply : NULL;
}

/* Who may start a transaction: a greeted, authenticated client. */
static int
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

/* The sender, its parameters, and the subaccount's policy on it. */
static void
smtp_proceed_mail(struct session *s, const struct smtp_cmd *cmd)
{
	const struct subaccount *sa = session_account(s);
	const char *r, *from = s->tx.mail.path.addr;
	char msg[600], dom[ADDR_DOMAIN_MAX + 1];

	if (smtp_parse_mail(cmd->arg, cmd->arglen, &s->tx.mail, &r) == -1) {
		session_bad_command(s, r);
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
	if ((r = quota_check(sa, now_us(), msg, sizeof(msg))) != NULL) {
		metrics_reject(REJ_MAIL_QUOTA);
		session_refuse(s, from, NULL, BC_THROTTLED, "%s", r);
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

static int
smtp_check_rcpt(struct session *s, const struct smtp_cmd *cmd)
{
	if (!s->tx.active)
		return session_bad_command(s, "503 5.5.1 Error: need MAIL "
		    "command");
	return 0;
}

/* The recipient, the suppression list, the limit, the routing rules. */
static void
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

static int
smtp_check_data(struct session *s, const struct smtp_cmd *cmd)
{
	if (smtp_check_noarg(s, cmd, "501 5.5.4 Syntax: DATA") == -1)
		return -1;
	if (!s->tx.active)
		return session_bad_command(s, "503 5.5.1 Error: need MAIL "
		    "command");
	if (s->tx.nrcpt == 0)
		return session_bad_command(s, "503 5.5.1 Error: need RCPT "
		    "command");
	if (s->tx.bdat)
		return session_bad_command(s, "503 5.5.1 Error: DATA after "
		    "BDAT");
	return 0;
}

static void
smtp_proceed_data(struct session *s, const struct smtp_cmd *cmd)
{
	if (session_memory >= gcfg->limits.memory) {
		metrics_reject(REJ_DATA_MEMORY);
		session_refuse(s, NULL, NULL, BC_NONE, "452 4.3.1 "
		    "Insufficient system resources");
		return;
	}
	session_reply(s, "354 End data with <CR><LF>.<CR><LF>");
	data_init(&s->tx.dp, fbl_max_size(s));
	s->tx.dp.lf_normalize = gcfg->limits.bare_lf == BARE_LF_NORMALIZE;
	buf_init(&s->tx.data, 0);
	s->state = SS_DATA;
	session_arm(s, gcfg->limits.data_timeout_ms);
}

/* The small ones. */

static int
smtp_check_rset(struct session *s, const struct smtp_cmd *cmd)
{
	return smtp_check_noarg(s, cmd, "501 5.5.4 Syntax: RSET");
}

static void
smtp_proceed_rset(struct session *s, const struct smtp_cmd *cmd)
{
	session_tx_reset(s);
	session_reply(s, "250 2.0.0 Ok");
}

static void
smtp_proceed_noop(struct session *s, const struct smtp_cmd *cmd)
{
	session_reply(s, "250 2.0.0 Ok");
}

static void
smtp_proceed_quit(struct session *s, const struct smtp_cmd *cmd)
{
	session_reply(s, "221 2.0.0 Bye");
	session_close(s, NULL);
}

static void
smtp_proceed_disabled(struct session *s, const struct smtp_cmd *cmd)
{
	session_reply(s, "502 5.5.1 Error: command disabled");
}

static void smtp_proceed_help(struct session *, const struct smtp_cmd *);

/*
 * BDAT (RFC 3030).  Its chunk follows the command at once, pipelined or
 * not, so even a BDAT that is refused has its octets read (and thrown
 * away) before the reply: they must never be taken for commands.  Only
 * a size that cannot be read leaves no way to find the next command:
 * 501 and close.  A client that has not authenticated gets no such
 * courtesy (530 and close): skipping would let it stream any amount.
 */
static int
bdat_parse(const struct smtp_cmd *cmd, uint64_t *size, int *last)
{
	const char *a = cmd->arg;
	size_t n = 0, len = cmd->arglen;
	uint64_t x = 0;

	while (n < len && a[n] >= '0' && a[n] <= '9') {
		if (x > (UINT64_MAX - (uint64_t)(a[n] - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(a[n++] - '0');
	}
	if (n == 0 || n > 20)
		return -1;
	*size = x;
	*last = 0;
	if (n == len)
		return 0;
	if (len - n == 5 && strncasecmp(a + n, " LAST", 5) == 0) {
		*last = 1;
		return 0;
	}
	return -1;
}

/* Why this BDAT may not add to a message, or NULL. */
static const char *
bdat_refusal(const struct session *s)
{
	if (!s->tx.active)
		return "503 5.5.1 Error: need MAIL command";
	if (s->tx.nrcpt == 0)
		return "503 5.5.1 Error: need RCPT command";
	/* As at DATA: no new message while memory is short. */
	if (!s->tx.bdat && session_memory >= gcfg->limits.memory)
		return "452 4.3.1 Insufficient system resources";
	return NULL;
}

static void
smtp_proceed_bdat(struct session *s, const struct smtp_cmd *cmd)
{
	struct tx *t = &s->tx;
	uint64_t size;
	int last;

	if (bdat_parse(cmd, &size, &last) == -1) {
		session_reply(s, "501 5.5.4 Syntax: BDAT chunk-size [LAST]; "
		    "closing connection");
		session_close(s, "BDAT syntax");
		return;
	}
	if (s->authed == AUTH_NONE && !fbl_session(s)) {
		session_refuse(s, "", NULL, BC_NONE, "530 5.7.0 Authentication "
		    "required; closing connection");
		session_close(s, "BDAT before AUTH");
		return;
	}
	t->bdat_refusal = bdat_refusal(s);
	if (t->bdat_refusal == NULL && !t->bdat) {
		data_init_chunks(&t->dp, fbl_max_size(s));
		buf_init(&t->data, 0);
		t->bdat = 1;
	}
	t->bdat_size = size;
	t->bdat_left = size;
	t->bdat_last = last;
	s->state = SS_BDAT;
	session_arm(s, gcfg->limits.data_timeout_ms);
	if (size == 0)
		smtp_bdat_chunk_end(s);
}

/* A chunk's octets are all in: its reply, or after LAST the message's
 * verdict (data_end.c). */
void
smtp_bdat_chunk_end(struct session *s)
{
	struct tx *t = &s->tx;
	const char *r = t->bdat_refusal;

	s->state = SS_CMD;
	session_arm(s, gcfg->limits.idle_timeout_ms);	/* not DATA's now */
	t->bdat_refusal = NULL;
	if (r != NULL) {
		if (r[0] == '4')
			session_refuse(s, NULL, NULL, BC_NONE, "%s", r);
		else
			session_bad_command(s, r);
		return;
	}
	if (!t->bdat_last) {
		session_reply(s, "250 2.0.0 Ok: %llu octets received",
		    (unsigned long long)t->bdat_size);
		return;
	}
	data_chunks_end(&t->dp, &t->data);
	data_end(s);
}

/* HTTP through an SMTP port: a proxy abuse or a scanner. */
static void
smtp_proceed_http(struct session *s, const struct smtp_cmd *cmd)
{
	session_reply(s, "221 2.7.0 Error: HTTP request on an SMTP port");
	session_close(s, "HTTP request");
}

/* HELP lists the rows marked so, in this order. */
static const struct verb verbs[] = {
	/* verb		name	  ends help check	proceed */
	{ CMD_EHLO,	"EHLO",	    1, 1, smtp_check_ehlo, smtp_proceed_ehlo },
	{ CMD_HELO,	"HELO",	    1, 1, smtp_check_helo, smtp_proceed_helo },
	{ CMD_STARTTLS,	"STARTTLS", 1, 1, smtp_check_starttls,
	    smtp_proceed_starttls },
	{ CMD_AUTH,	"AUTH",	    1, 1, sasl_check_auth, sasl_proceed_auth },
	{ CMD_MAIL,	"MAIL",	    0, 1, smtp_check_mail, smtp_proceed_mail },
	{ CMD_RCPT,	"RCPT",	    0, 1, smtp_check_rcpt, smtp_proceed_rcpt },
	{ CMD_DATA,	"DATA",	    1, 1, smtp_check_data, smtp_proceed_data },
	{ CMD_RSET,	"RSET",	    0, 1, smtp_check_rset, smtp_proceed_rset },
	{ CMD_NOOP,	"NOOP",	    1, 1, NULL, smtp_proceed_noop },
	{ CMD_QUIT,	"QUIT",	    0, 1, NULL, smtp_proceed_quit },
	{ CMD_VRFY,	"VRFY",	    1, 0, NULL, smtp_proceed_disabled },
	{ CMD_EXPN,	"EXPN",	    1, 0, NULL, smtp_proceed_disabled },
	{ CMD_HELP,	"HELP",	    1, 0, NULL, smtp_proceed_help },
	{ CMD_BDAT,	"BDAT",	    0, 0, NULL, smtp_proceed_bdat },
	{ CMD_HTTP,	"GET",	    0, 0, NULL, smtp_proceed_http },
	{ CMD_HTTP,	"POST",	    0, 0, NULL, smtp_proceed_http },
	{ CMD_HTTP,	"HEAD",	    0, 0, NULL, smtp_proceed_http },
	{ CMD_HTTP,	"PUT",	    0, 0, NULL, smtp_proceed_http },
	{ CMD_HTTP,	"CONNECT",  0, 0, NULL, smtp_proceed_http },
	{ CMD_HTTP,	"OPTIONS",  0, 0, NULL, smtp_proceed_http },
};

static void
smtp_proceed_help(struct session *s, const struct smtp_cmd *cmd)
{
	char names[256];
	size_t n = 0;

	names[0] = '\0';
	for (size_t i = 0; i < nitems(verbs); i++) {
		if (!verbs[i].help)
			continue;
		if (n + 1 + strlen(verbs[i].name) >= sizeof(names)) {
			log_warnx("HELP: the verb table outgrew its reply");
			break;
		}
		n += (size_t)snprintf(names + n, sizeof(names) - n, " %s",
		    verbs[i].name);
	}
	session_reply(s, "214 2.0.0 Commands:%s", names);
}

static const struct verb *
verb_find(const struct smtp_cmd *cmd)
{
	for (size_t i = 0; i < nitems(verbs); i++)
		if (strlen(verbs[i].name) == cmd->namelen &&
		    strncasecmp(cmd->name, verbs[i].name, cmd->namelen) == 0)
			return &verbs[i];
	return NULL;
}

/*
 * The client spoke after a command that must end a pipelined group.
 * STARTTLS ends one too, but what follows it is discarded at the
 * handshake (CVE-2011-0411) rather than refused.
 */
static int
out_of_sync(struct session *s, const struct verb *v)
{
	if (v == NULL || !v->ends_group || v->verb == CMD_STARTTLS)
		return 0;
	if (conn_pending(s->c) == 0)
		return 0;
	session_reply(s, "554 5.5.0 Error: SMTP protocol synchronization");
	session_close(s, "pipelining violation");
	return 1;
}

void
smtp_dispatch(struct session *s, const char *line, size_t len)
{
	const struct verb *v;
	struct smtp_cmd cmd;

	s->stage = NULL;
	if (memchr(line, '\0', len) != NULL || str_has_ctl(line, len)) {
		session_bad_command(s, "500 5.5.2 Error: control characters in "
		    "command");
		return;
	}
	smtp_cmd_parse(line, len, &cmd);
	v = verb_find(&cmd);
	s->stage = v ? v->name : NULL;
	if (out_of_sync(s, v))
		return;
	if (v == NULL) {
		session_bad_command(s, "500 5.5.2 Error: command not "
		    "recognized");
		return;
	}
	if (v->check == NULL || v->check(s, &cmd) == 0)
		v->proceed(s, &cmd);
}
