/*
 * mta_session.c - the delivery client's SMTP dialogue: the greeting,
 * EHLO (or HELO) and what the server offers, then one transaction per
 * job (MAIL, RCPT, DATA, the end of data) and its results, one per
 * recipient.  STARTTLS is mta_tls.c's, AUTH mta_auth.c's, the body
 * mta_body.c's; mta.c owns the connection.
 * Standards: RFC 5321 (client), RFC 2920 (PIPELINING), RFC 1870
 * (SIZE), RFC 6152 (8BITMIME).
 * Exposure: acts on replies of remote servers that may be hostile,
 * already parsed and bounded by reply.c.
 * Diagnostics: dies only when memory for a job's results runs out;
 * a refusal becomes a recipient's result, a broken dialogue the next
 * target or the job's temporary failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gwd.h"
#include "log.h"
#include "mta_priv.h"
#include "util.h"

/* Results. */

static void
set_result(struct job *j, int i, int code, const char *status,
    const char *text)
{
	free(j->res[i].text);
	j->res[i].code = code;
	gw_strlcpy(j->res[i].status, status ? status : "",
	    sizeof(j->res[i].status));
	j->res[i].text = xstrdup(text ? text : "");
}

static void
result_from_reply(struct job *j, int i, const struct smtp_reply *r)
{
	char text[REPLY_TEXT_MAX + 300];

	snprintf(text, sizeof(text), "%s said: %s", j->hop.host, r->text);
	/* Multi-line text reads better on one line in logs and DSNs. */
	for (char *p = text; *p; p++)
		if (*p == '\n')
			*p = ' ';
	set_result(j, i, r->code, r->status, text);
}

/* Every recipient still without a result gets this one. */
static void
fill_missing(struct job *j, int code, const char *status, const char *text)
{
	for (int i = 0; i < j->nrcpt; i++)
		if (j->res[i].code == -1)
			set_result(j, i, code, status, text);
}

/* The transaction is over and the connection is fine: report the job
 * (its outcome is applied later, from the loop), then the next one. */
void
mta_session_finish_job(struct mta *m)
{
	struct job *j = m->job;

	fill_missing(j, 451, "4.3.0", "no result for this recipient");
	m->job = NULL;
	free(m->accepted);
	m->accepted = NULL;
	m->state = M_READY;
	timer_del(&m->timer);
	dest_job_done(j);
	dest_conn_ready(m->dest, m);
}

/* A job ended before it started (mta_run_job): finish it from the
 * loop, so a run of such jobs never nests dest_conn_ready() calls. */
static void
finish_soon(struct mta *m)
{
	m->state = M_FINISH;
	timer_add(&m->timer, 0);
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
	fill_missing(j, 451, "4.4.2", text);
}

/* The session is usable: authenticate if asked, then take work. */
void
mta_session_ready(struct mta *m)
{
	if (mta_auth_start(m))
		return;
	m->state = M_READY;
	timer_del(&m->timer);
	if (!m->ready_once) {
		m->ready_once = 1;
		dest_conn_up(m->dest);
	}
	dest_conn_ready(m->dest, m);
}

/* Transactions. */

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
	if (queue_load_body(msg) == -1) {
		/* The spool lost it: nothing sensible to send. */
		log_warnx("qid=%s: message body missing from queue.db",
		    msg->qid);
		fill_missing(j, 451, "4.3.0", "message body missing from the "
		    "queue");
		finish_soon(m);
		return;
	}
	j->body_held = 1;
	if (m->caps.size && msg->size > m->caps.size) {
		char text[600];

		snprintf(text, sizeof(text), "message size %zu exceeds the "
		    "limit of %s (%llu)", msg->size, j->hop.host,
		    (unsigned long long)m->caps.size);
		fill_missing(j, 552, "5.3.4", text);
		finish_soon(m);
		return;
	}
	m->state = M_TXN;
	mta_arm(m, gcfg->relay.command_timeout_ms);
	/* With PIPELINING: the whole envelope and DATA in one write. */
	do {
		int k = m->sent_idx;

		if (k == 0) {
			char size[40] = "";

			/* Only to a server that offered SIZE (RFC 1870 6). */
			if (m->caps.size_ext)
				snprintf(size, sizeof(size), " SIZE=%zu",
				    msg->size);
			mta_send(m, "MAIL FROM:<%s>%s%s", msg->sender, size,
			    (msg->flags & QMSG_8BIT) && m->caps.eightbitmime ?
			    " BODY=8BITMIME" : "");
		} else if (k <= j->nrcpt)
			mta_send(m, "RCPT TO:<%s>", j->rcpt[k - 1]->addr);
		else
			mta_send(m, "DATA");
		m->sent_idx++;
	} while (m->c && m->caps.pipelining && m->sent_idx <= j->nrcpt + 1);
}

static void
send_next_command(struct mta *m)
{
	struct job *j = m->job;

	if (m->caps.pipelining || m->sent_idx > j->nrcpt + 1)
		return;
	if (m->sent_idx <= j->nrcpt)
		mta_send(m, "RCPT TO:<%s>", j->rcpt[m->sent_idx - 1]->addr);
	else
		mta_send(m, "DATA");
	m->sent_idx++;
}

static void
txn_reply(struct mta *m, const struct smtp_reply *r)
{
	struct job *j = m->job;
	int k = m->reply_idx++;

	mta_arm(m, gcfg->relay.command_timeout_ms);
	if (k == 0) {
		if (r->code / 100 != 2) {
			m->mail_failed = 1;
			for (int i = 0; i < j->nrcpt; i++)
				result_from_reply(j, i, r);
		}
	} else if (k <= j->nrcpt) {
		if (!m->mail_failed) {
			if (r->code / 100 == 2) {
				m->accepted[k - 1] = 1;
				m->naccepted++;
			} else if (r->code == 452 && k > 1)
				set_result(j, k - 1, 0, "", "");  /* next txn */
			else
				result_from_reply(j, k - 1, r);
		}
	} else {
		/* The reply to DATA. */
		if (r->code == 354) {
			if (m->mail_failed || m->naccepted == 0) {
				/* RFC 2920 3.1: end an empty message. */
				m->state = M_DOT_DISCARD;
				mta_send(m, ".");
				return;
			}
			m->state = M_BODY;
			m->body_off = 0;
			m->body_bol = 1;
			mta_arm(m, gcfg->relay.data_timeout_ms);
			mta_body_fill(m);
			return;
		}
		if (!m->mail_failed && m->naccepted > 0)
			for (int i = 0; i < j->nrcpt; i++)
				if (m->accepted[i])
					result_from_reply(j, i, r);
		m->state = M_RSET;
		mta_send(m, "RSET");
		return;
	}
	if (!m->caps.pipelining) {
		if (k == 0 && m->mail_failed) {
			m->state = M_RSET;
			mta_send(m, "RSET");
			return;
		}
		if (k == j->nrcpt && m->naccepted == 0) {
			m->state = M_RSET;	/* nobody to send to */
			mta_send(m, "RSET");
			return;
		}
		send_next_command(m);
	}
}

static void
dot_reply(struct mta *m, const struct smtp_reply *r)
{
	struct job *j = m->job;

	for (int i = 0; i < j->nrcpt; i++)
		if (m->accepted[i])
			result_from_reply(j, i, r);
	m->messages++;
	if (m->messages >= m->dest->per_conn) {
		/* Enough on this connection: report, then QUIT. */
		m->job = NULL;
		free(m->accepted);
		m->accepted = NULL;
		m->state = M_QUIT;
		mta_arm(m, gcfg->relay.command_timeout_ms);
		mta_send(m, "QUIT");
		conn_close_after_flush(m->c);
		dest_job_done(j);
		return;
	}
	mta_session_finish_job(m);
}

void
mta_session_reply(struct mta *m, const struct smtp_reply *r)
{
	char why[REPLY_TEXT_MAX + 200];

	switch (m->state) {
	case M_GREETING:
		if (r->code / 100 != 2) {
			snprintf(why, sizeof(why), "%s[%s] refused to talk to "
			    "us: %d %s", mta_host(m), m->hop.ip, r->code,
			    r->text);
			mta_next_target(m, why);
			return;
		}
		m->state = M_EHLO;
		mta_send(m, "EHLO %s", m->helo);
		mta_arm(m, gcfg->relay.command_timeout_ms);
		return;
	case M_EHLO:
		if (r->code / 100 == 2) {
			m->esmtp = 1;
			ehlo_parse(r, &m->caps);
			mta_tls_after_ehlo(m);
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
		return;
	case M_HELO:
		if (r->code / 100 != 2) {
			snprintf(why, sizeof(why), "%s[%s] refused HELO: %d %s",
			    mta_host(m), m->hop.ip, r->code, r->text);
			mta_next_target(m, why);
			return;
		}
		mta_tls_after_ehlo(m);
		return;
	case M_STARTTLS:
		mta_tls_reply(m, r);
		return;
	case M_AUTH_LOGIN_USER:
	case M_AUTH:
	case M_AUTH_LOGIN_PASS:
		mta_auth_reply(m, r);
		return;
	case M_TXN:
		txn_reply(m, r);
		return;
	case M_DOT:
		dot_reply(m, r);
		return;
	case M_DOT_DISCARD:
	case M_RSET:
		if (r->code / 100 != 2 && m->state == M_RSET) {
			snprintf(why, sizeof(why), "%s[%s] refused RSET: %d %s",
			    mta_host(m), m->hop.ip, r->code, r->text);
			mta_fail(m, why);
			return;
		}
		mta_session_finish_job(m);
		return;
	case M_BODY:
		/* A reply before we finished: the server gave up on us. */
		for (int i = 0; i < m->job->nrcpt; i++)
			if (m->accepted[i])
				result_from_reply(m->job, i, r);
		mta_fail(m, "reply during message body");
		return;
	case M_READY:
	case M_QUIT:
		/* Unsolicited (e.g. 421 on an idle connection), or 221. */
		conn_close(m->c);
		return;
	default:
		return;
	}
}
