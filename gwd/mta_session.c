/*
 * mta_session.c - the delivery client's SMTP dialogue: the greeting,
 * EHLO (or HELO) and what the server offers, then one transaction per
 * job (MAIL, RCPT, DATA, the end of data) and its results, one per
 * recipient (mta_result.c makes them).  MAIL and RCPT themselves are
 * mta_envelope.c's, STARTTLS mta_tls.c's, AUTH mta_auth.c's, the body
 * mta_body.c's, 8-bit content to a server without 8BITMIME
 * mta_8bit.c's; mta.c owns the connection.
 * Standards: RFC 5321 (client), RFC 2920 (PIPELINING), RFC 1870
 * (SIZE), RFC 6152 (8BITMIME), RFC 3461 (DSN: its parameters passed on),
 * RFC 3030 (CHUNKING: the body after BDAT), RFC 6531 (SMTPUTF8).
 * Exposure: acts on replies of remote servers that may be hostile,
 * already parsed and bounded by reply.c.
 * Diagnostics: dies only when memory for a job's results runs out;
 * a refusal becomes a recipient's result, a broken dialogue the next
 * target or the job's temporary failure.
 *
 * What the server offered in EHLO is used in three places: ehlo_done()
 * (what the session does next), mta_envelope_fits() (whether a message
 * can go to this server) and mta_envelope_mail()/mta_envelope_rcpt()
 * (the parameters; both in mta_envelope.c).  Each state's reply handler
 * is a row of on_reply[].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gwd.h"
#include "log.h"
#include "mta_priv.h"
#include "util.h"

/* Results (mta_result.c sets them); the job goes back. */

/* Hand the job back; its outcome is applied later, from the loop. */
static void
job_report(struct mta *m)
{
	struct job *j = m->job;

	m->job = NULL;
	mta_8bit_reset(m);
	free(m->accepted);
	m->accepted = NULL;
	dest_job_done(j);
}

/* Ready for a job: the destination gives one, or keeps the
 * connection idle until the timer says QUIT (mta_arm_idle). */
static void
take_work(struct mta *m)
{
	m->state = M_READY;
	mta_arm_idle(m);
	dest_conn_ready(m->dest, m);
}

/* The transaction is over and the connection is fine: report the job,
 * then take the next one, or QUIT when the connection has done enough
 * (relay.messages_per_connection, relay.connection_lifetime). */
void
mta_session_finish_job(struct mta *m)
{
	mta_result_fill(m->job, 451, "4.3.0", "no result for this recipient");
	job_report(m);
	if (mta_worn_out(m)) {
		mta_session_quit(m);
		return;
	}
	take_work(m);
}

/* A job ended before it started (mta_run_job): finish it from the
 * loop, so a run of such jobs never nests dest_conn_ready() calls. */
static void
finish_soon(struct mta *m)
{
	m->state = M_FINISH;
	timer_add(&m->timer, 0);
}

/* The job cannot go to this server: every recipient gets this result. */
void
mta_session_fail_job(struct mta *m, int code, const char *status,
    const char *text)
{
	mta_result_fill(m->job, code, status, text);
	finish_soon(m);
}

/* Give every recipient of a broken transaction a temporary failure. */
void
mta_session_job_lost(struct mta *m, const char *why)
{
	struct job *j = m->job;
	char text[400];

	if (m->state == M_DOT)
		j->maybe_dup = 1;
	snprintf(text, sizeof(text), "lost connection with %s[%s] while %s: "
	    "%s", j->hop.host, j->hop.ip, m->state == M_TXN ?
	    "sending the envelope" :
	    m->state == M_BODY ? "sending message body" : m->state == M_DOT ?
	    "waiting for the reply to end of data" : "in a transaction", why);
	mta_result_fill(j, 451, "4.4.2", text);
}

/* The connection is gone under a job: report it, lost. */
void
mta_session_abort(struct mta *m, const char *why)
{
	mta_session_job_lost(m, why);
	job_report(m);
}

/* Up to a usable session. */

/* EHLO: after the greeting, and again after STARTTLS (RFC 3207 4.2). */
void
mta_session_ehlo(struct mta *m)
{
	m->state = M_EHLO;
	mta_send(m, "EHLO %s", m->helo);
	mta_arm(m, gcfg->relay.command_timeout_ms);
}

/* What the server offered decides what comes next: STARTTLS when the
 * policy wants it (mta_tls.c), AUTH to a smarthost (mta_auth.c), then
 * jobs.  What a message needs of it is mta_envelope_fits()'s. */
static void
ehlo_done(struct mta *m)
{
	if (mta_tls_after_ehlo(m))
		return;
	mta_session_ready(m);
}

/* The session is usable: authenticate if asked, then take work. */
void
mta_session_ready(struct mta *m)
{
	if (mta_auth_start(m))
		return;
	if (!m->ready_once) {
		m->ready_once = 1;
		dest_conn_up(m->dest);
	}
	take_work(m);
}

/* Say goodbye; the conn closes once QUIT is out (or when the server
 * does not take it in time). */
void
mta_session_quit(struct mta *m)
{
	m->state = M_QUIT;
	mta_arm(m, gcfg->relay.command_timeout_ms);
	mta_send(m, "QUIT");
	conn_close_after_flush(m->c);
}

static void
greeting_reply(struct mta *m, const struct smtp_reply *r)
{
	char why[REPLY_TEXT_MAX + 200];

	if (r->code / 100 != 2) {
		snprintf(why, sizeof(why), "%s[%s] refused to talk to "
		    "us: %d %s", mta_host(m), m->hop.ip, r->code, r->text);
		if (r->code / 100 == 4) {
			m->greet_code = r->code;
			gw_strlcpy(m->greet_status, r->status,
			    sizeof(m->greet_status));
		}
		mta_next_target(m, why);
		return;
	}
	mta_health(m, 1, NULL);
	mta_session_ehlo(m);
}

static void
ehlo_reply(struct mta *m, const struct smtp_reply *r)
{
	char why[REPLY_TEXT_MAX + 200];

	if (r->code / 100 == 2) {
		m->esmtp = 1;
		ehlo_parse(r, &m->caps);
		ehlo_done(m);
		return;
	}
	if (conn_tls_active(m->c)) {
		snprintf(why, sizeof(why), "%s[%s] refused EHLO after "
		    "STARTTLS: %d %s", mta_host(m), m->hop.ip, r->code,
		    r->text);
		mta_next_target(m, why);
		return;
	}
	m->state = M_HELO;
	mta_send(m, "HELO %s", m->helo);
}

static void
helo_reply(struct mta *m, const struct smtp_reply *r)
{
	char why[REPLY_TEXT_MAX + 200];

	if (r->code / 100 != 2) {
		snprintf(why, sizeof(why), "%s[%s] refused HELO: %d %s",
		    mta_host(m), m->hop.ip, r->code, r->text);
		mta_next_target(m, why);
		return;
	}
	ehlo_done(m);
}

/* Transactions. */

/* The next command of the envelope: MAIL, each RCPT, then DATA. */
static void
send_command(struct mta *m)
{
	struct job *j = m->job;
	int k = m->sent_idx++;

	if (k == 0)
		mta_envelope_mail(m);
	else if (k <= j->nrcpt)
		mta_envelope_rcpt(m, j->rcpt[k - 1]);
	else
		mta_send(m, "DATA");
}

static void
send_rset(struct mta *m)
{
	m->state = M_RSET;
	mta_send(m, "RSET");
}

static void
spool_lost(struct mta *m, const char *what)
{
	char text[80];

	log_warnx("qid=%s: %s missing from queue.db", m->job->msg->qid, what);
	snprintf(text, sizeof(text), "%s missing from the queue", what);
	mta_result_fill(m->job, 451, "4.3.0", text);
	finish_soon(m);
}

void
mta_run_job(struct mta *m, struct job *j)
{
	struct qmsg *msg = j->msg;

	m->job = j;
	j->res = xcalloc((size_t)j->nrcpt, sizeof(*j->res));
	for (int i = 0; i < j->nrcpt; i++)
		j->res[i].code = -1;
	m->accepted = xcalloc((size_t)j->nrcpt, sizeof(int));
	m->naccepted = 0;
	m->mail_failed = 0;
	m->reply_idx = 0;
	m->sent_idx = 0;
	j->started_ms = loop_now();
	j->hop = m->hop;
	/* The hops that failed before this connection worked are the
	 * first job's to record. */
	j->tried = hop_fail_copy(m->tried, m->ntried);
	j->ntried = m->ntried;
	m->ntried = 0;
	j->dsn_passed = m->caps.dsn;
	m->bdat = m->caps.chunking;
	/* The spool lost the body (or the recipient's own fields): nothing
	 * sensible to send. */
	if (queue_load_body(msg) == -1) {
		spool_lost(m, "message body");
		return;
	}
	j->body_held = 1;
	if (mta_body_prefix(m) == -1) {
		spool_lost(m, "recipient's fields");
		return;
	}
	if (mta_envelope_fits(m, j) == -1) {
		finish_soon(m);
		return;
	}
	if (mta_8bit_prepare(m) != 0)
		return;		/* refused, or continues once signed */
	mta_session_send_envelope(m);
}

/* The envelope and DATA go out. */
void
mta_session_send_envelope(struct mta *m)
{
	struct job *j = m->job;

	m->state = M_TXN;
	mta_arm(m, gcfg->relay.command_timeout_ms);
	/* With PIPELINING: the whole envelope and DATA in one write (BDAT
	 * waits for the RCPT replies: no body for nobody). */
	do
		send_command(m);
	while (m->c && m->caps.pipelining &&
	    m->sent_idx <= j->nrcpt + !m->bdat);
}

static void
mail_reply(struct mta *m, const struct smtp_reply *r)
{
	if (r->code / 100 != 2) {
		m->mail_failed = 1;
		for (int i = 0; i < m->job->nrcpt; i++)
			mta_result_from_reply(m->job, i, r);
	}
}

/* The reply to the RCPT of recipient i. */
static void
rcpt_reply(struct mta *m, int i, const struct smtp_reply *r)
{
	if (m->mail_failed)
		return;
	if (r->code / 100 == 2) {
		m->accepted[i] = 1;
		m->naccepted++;
	} else if (r->code == 452 && i > 0)
		mta_result_set(m->job, i, 0, "", "");	/* next txn */
	else
		mta_result_from_reply(m->job, i, r);
}

static void
data_reply(struct mta *m, const struct smtp_reply *r)
{
	if (r->code == 354) {
		if (m->mail_failed || m->naccepted == 0) {
			/* RFC 2920 3.1: end an empty message. */
			m->state = M_DOT_DISCARD;
			mta_send(m, ".");
			return;
		}
		mta_body_start(m);
		return;
	}
	if (!m->mail_failed && m->naccepted > 0)
		mta_result_accepted(m, r);
	send_rset(m);
}

/* To a server offering CHUNKING, once every RCPT is answered: the body
 * in one chunk, BDAT LAST, whose reply is the message's (M_DOT). */
static void
bdat_start(struct mta *m)
{
	size_t len;

	if (m->mail_failed || m->naccepted == 0) {
		send_rset(m);
		return;
	}
	m->reply_idx++;		/* BDAT stands where DATA would */
	(void)mta_8bit_body(m, &len);
	mta_send(m, "BDAT %zu LAST", len);
	if (!m->c->dead)		/* not failed on a full buffer */
		mta_body_start(m);
}

/* A reply to the envelope: the k-th of MAIL, each RCPT, DATA.  Without
 * PIPELINING each command waits for the reply to the one before. */
static void
txn_reply(struct mta *m, const struct smtp_reply *r)
{
	struct job *j = m->job;
	int k = m->reply_idx++;

	mta_arm(m, gcfg->relay.command_timeout_ms);
	if (k == 0)
		mail_reply(m, r);
	else if (k <= j->nrcpt)
		rcpt_reply(m, k - 1, r);
	else {
		data_reply(m, r);
		return;
	}
	if (m->bdat && k == j->nrcpt) {
		bdat_start(m);
		return;
	}
	if (m->caps.pipelining)
		return;
	if (k == 0 && m->mail_failed)
		send_rset(m);
	else if (k == j->nrcpt && m->naccepted == 0)
		send_rset(m);		/* nobody to send to */
	else if (m->sent_idx <= j->nrcpt + 1)
		send_command(m);
}

/* A reply before the body was all out: the server gave up on us. */
static void
body_reply(struct mta *m, const struct smtp_reply *r)
{
	mta_result_accepted(m, r);
	mta_fail(m, "reply during message body");
}

static void
dot_reply(struct mta *m, const struct smtp_reply *r)
{
	mta_result_accepted(m, r);
	m->messages++;
	mta_session_finish_job(m);
}

/* After RSET, or after the dot that ended an empty message. */
static void
rset_reply(struct mta *m, const struct smtp_reply *r)
{
	char why[REPLY_TEXT_MAX + 200];

	if (r->code / 100 != 2 && m->state == M_RSET) {
		snprintf(why, sizeof(why), "%s[%s] refused RSET: %d %s",
		    mta_host(m), m->hop.ip, r->code, r->text);
		mta_fail(m, why);
		return;
	}
	mta_session_finish_job(m);
}

/* Unsolicited (e.g. 421 on an idle connection), or 221 to QUIT. */
static void
closing_reply(struct mta *m, const struct smtp_reply *r)
{
	conn_close(m->c);
}

/* What each state does with a reply; a state without a row ignores it. */
typedef void reply_fn(struct mta *, const struct smtp_reply *);
static reply_fn *const on_reply[M_NSTATES] = {
	[M_GREETING] = greeting_reply,
	[M_EHLO] = ehlo_reply,
	[M_HELO] = helo_reply,
	[M_STARTTLS] = mta_tls_reply,
	[M_AUTH] = mta_auth_reply,
	[M_AUTH_LOGIN_USER] = mta_auth_reply,
	[M_AUTH_LOGIN_PASS] = mta_auth_reply,
	[M_READY] = closing_reply,
	[M_TXN] = txn_reply,
	[M_BODY] = body_reply,
	[M_DOT] = dot_reply,
	[M_DOT_DISCARD] = rset_reply,
	[M_RSET] = rset_reply,
	[M_QUIT] = closing_reply,
};

void
mta_session_reply(struct mta *m, const struct smtp_reply *r)
{
	if (on_reply[m->state] != NULL)
		on_reply[m->state](m, r);
}
