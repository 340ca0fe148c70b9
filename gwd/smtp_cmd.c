/*
 * smtp_cmd.c - inbound SMTP: the commands.  One table row per verb says
 * whether it ends a pipelined group, whether HELP lists it, what must
 * hold before it runs (check) and what it does (proceed), in the manner
 * of OpenSMTPD's smtp_check_* and smtp_proceed_*.  A check replies and
 * returns -1 when the command may not run now.  The EHLO keywords are a
 * table too.  MAIL and RCPT are smtp_envelope.c's, AUTH is sasl.c's.
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
#include "policy.h"
#include "session_priv.h"
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

/* RFC 8689 4.1: REQUIRETLS only where TLS protects the session, and
 * not on the feedback listener, which relays nothing. */
static int
offer_requiretls(const struct session *s)
{
	return s->tls && !fbl_session(s);
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
	{ "REQUIRETLS", offer_requiretls, NULL },
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
