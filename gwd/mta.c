/*
 * mta.c - the delivery client: one outbound SMTP connection per struct
 * mta, reused for the next job to the same destination.
 * Standards: RFC 5321 (client), RFC 3207 (STARTTLS), RFC 2920
 * (PIPELINING), RFC 4954 (AUTH to a smarthost), RFC 1870 (SIZE),
 * RFC 6152 (8BITMIME).
 * Exposure: talks to remote servers that may be hostile; their replies
 * go through reply.c, which bounds lines, counts and memory.
 *
 * Setup walks the route's targets in order (MX preference, then
 * address): a refused connection, a 4xx/5xx greeting or a failed
 * required-TLS handshake moves on to the next.  When none is left the
 * destination is reported unreachable.
 *
 * TLS, per destination (relay.tls, or the routing rule's --tls):
 *   none           never STARTTLS.
 *   opportunistic  STARTTLS when offered, certificate not required to
 *                  verify; plaintext when not offered, and, as Postfix's
 *                  "may" does, the same host again in plaintext after a
 *                  failed handshake (the alternative is no mail at all
 *                  to a server with broken TLS, which is worse than the
 *                  plaintext that policy accepts anyway).
 *   required       TLS or no delivery (next target, then defer); the
 *                  certificate is not required to verify.
 *   verify         TLS with a certificate that chains to the CA store
 *                  and matches the MX or smarthost name (RFC 6125), else
 *                  no delivery.
 * Whatever the policy, the outcome (verified or not, and why) goes into
 * every delivery event.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "cidr.h"
#include "conn.h"
#include "gwd.h"
#include "log.h"
#include "loop.h"
#include "reply.h"
#include "schedule.h"
#include "store.h"
#include "tls.h"
#include "util.h"

#define MTA_IN_MAX	(64 * 1024)
#define MTA_OUT_MAX	(4 * 1024 * 1024)
#define BODY_CHUNK	(256 * 1024)	/* refill when below BODY_LOW */
#define BODY_LOW	(64 * 1024)

enum mstate {
	M_CONNECT, M_GREETING, M_EHLO, M_HELO, M_STARTTLS, M_TLS, M_AUTH,
	M_AUTH_LOGIN_USER, M_AUTH_LOGIN_PASS, M_READY, M_TXN, M_BODY, M_DOT,
	M_DOT_DISCARD, M_RSET, M_QUIT, M_FINISH
};

struct mta {
	struct dest		*dest;
	struct conn		*c;
	struct target		 targets[ROUTE_MAX_TARGETS];
	int			 ntargets;
	int			 ti;		/* current target */
	int			 retry_plain;	/* 1 asked, 2 doing: a target
						   again without STARTTLS */
	int			 authed;
	enum mstate		 state;
	struct reply_parser	 rp;
	struct ehlo_caps	 caps;
	int			 esmtp;
	int			 ready_once;
	struct ev_timer		 timer;
	struct job		*job;
	int			 reply_idx;	/* 0 MAIL, 1..n RCPT, n+1 DATA */
	int			 sent_idx;	/* commands sent (no pipelining) */
	int			 naccepted;
	int			*accepted;	/* per recipient */
	int			 mail_failed;
	size_t			 body_off;
	int			 body_bol;	/* at the start of a line */
	int			 messages;
	struct hop		 hop;		/* the current target */
	const struct dest_src	*src;		/* bound to; NULL: any */
	struct dest_src		 srcbuf;	/* src points here: the dest's
						   array goes on a policy
						   change */
	const char		*helo;		/* our name to the server */
	char			 lasterr[300];
	struct mta		*next_idle;
	struct mta		*prev_all, *next_all;
};

static struct mta	*all;
static int		 nmta;

static void mta_read(struct conn *);
static void mta_connected(struct conn *, int);
static void mta_tls(struct conn *, int);
static void mta_drain(struct conn *);
static void mta_error(struct conn *);
static void mta_closed(struct conn *);
static void next_target(struct mta *, const char *why);
static void mta_fail(struct mta *, const char *why);
static void give_up(struct mta *, const char *why);
static void mta_timeout(struct ev_timer *);
static void fill_body(struct mta *);

static const struct conn_ops mta_ops = {
	.on_read = mta_read,
	.on_tls = mta_tls,
	.on_connect = mta_connected,
	.on_drain = mta_drain,
	.on_error = mta_error,
	.on_close = mta_closed,
};

int
mta_count(void)
{
	return nmta;
}

void
mta_walk(void (*fn)(const struct dest *, const struct dest_src *, void *),
    void *arg)
{
	for (struct mta *m = all; m; m = m->next_all)
		fn(m->dest, m->src, arg);
}

struct mta *
mta_next_idle(struct mta *m)
{
	return m->next_idle;
}

void
mta_set_idle(struct mta *m, struct mta *next)
{
	m->next_idle = next;
}

static const char *
host_of(const struct mta *m)
{
	return m->ti < m->ntargets ? m->targets[m->ti].host : "?";
}

void
mta_audit_hop(struct audit_event *ev, const struct hop *h,
    const struct dest *d)
{
	if (h->host[0])
		ev->remote_host = xstrdup(h->host);
	if (h->ip[0])
		ev->remote_ip = xstrdup(h->ip);
	if (h->tls[0])
		ev->tls = xstrdup(h->tls);
	if (d != NULL)
		ev->tls_policy = tls_policy_name(d->tls);
	if (h->ip[0] == '\0')
		return;			/* never connected */
	ev->tls_verified = h->tls_verified;
	if (h->tls_note[0])
		ev->tls_note = xstrdup(h->tls_note);
}

/* How TLS went (or why there is none), for the audit log. */
static void
note_tls(struct mta *m, int verified, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
note_tls(struct mta *m, int verified, const char *fmt, ...)
{
	va_list ap;

	m->hop.tls_verified = verified;
	va_start(ap, fmt);
	vsnprintf(m->hop.tls_note, sizeof(m->hop.tls_note), fmt, ap);
	va_end(ap);
}

static void
send_line(struct mta *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
send_line(struct mta *m, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(&m->c->out, fmt, ap);
	va_end(ap);
	if (r == 0)
		r = buf_append(&m->c->out, "\r\n", 2);
	if (r == -1) {
		mta_fail(m, "output buffer full");
		return;
	}
	/* conn_write with nothing schedules the flush. */
	conn_write(m->c, "", 0);
}

static void
arm(struct mta *m, int64_t ms)
{
	timer_add(&m->timer, ms);
}

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
static void
finish_job(struct mta *m)
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
static void
job_lost(struct mta *m, const char *why)
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

/* Release the slot at the destination and forget this connection. */
static void
mta_free(struct mta *m)
{
	timer_del(&m->timer);
	dest_idle_remove(m->dest, m);
	if (m->prev_all)
		m->prev_all->next_all = m->next_all;
	else
		all = m->next_all;
	if (m->next_all)
		m->next_all->prev_all = m->prev_all;
	nmta--;
	dest_conn_closed(m->dest, m, m->ready_once);
	free(m);
}

/*
 * Something broke: close the connection.  mta_closed() then reports a
 * job in progress and frees m.  After this, m may be gone.
 */
static void
mta_fail(struct mta *m, const char *why)
{
	gw_strlcpy(m->lasterr, why, sizeof(m->lasterr));
	if (m->job)
		job_lost(m, why);
	if (m->c)
		conn_close(m->c);
}

/* Setup. */

static void
connect_target(struct mta *m)
{
	struct target *t = &m->targets[m->ti];
	struct hop *h = &m->hop;

	gw_strlcpy(h->host, t->host, sizeof(h->host));
	sockaddr_ntop((struct sockaddr *)&t->sa, h->ip, sizeof(h->ip));
	h->tls[0] = '\0';
	h->tls_verified = -1;
	if (m->retry_plain != 2)	/* a plaintext retry says why */
		h->tls_note[0] = '\0';
	m->state = M_CONNECT;
	m->esmtp = 0;
	memset(&m->caps, 0, sizeof(m->caps));
	reply_parser_init(&m->rp);
	m->c = conn_connect((struct sockaddr *)&t->sa, t->salen,
	    m->src ? (struct sockaddr *)&m->src->sa : NULL,
	    m->src ? m->src->salen : 0, &mta_ops, m, MTA_IN_MAX, MTA_OUT_MAX);
	if (m->c == NULL) {
		char why[160];

		snprintf(why, sizeof(why), "connect to %s[%s]: %s", t->host,
		    h->ip, strerror(errno));
		next_target(m, why);
		return;
	}
	m->c->drain_mark = BODY_LOW;
	arm(m, gcfg->relay.connect_timeout_ms);
}

/*
 * The connection failed.  Once a session got going (a job ran, or the
 * server said hello), that is the destination's failure; before that,
 * try the next target.  After this, m may be gone.
 */
static void
give_up(struct mta *m, const char *why)
{
	if (m->job || m->ready_once)
		mta_fail(m, why);
	else
		next_target(m, why);
}

/*
 * This target did not work out (only during setup, never with a job):
 * close it and try the next one.  When none is left, the destination is
 * unreachable for now.  After this, m may be gone.
 */
static void
next_target(struct mta *m, const char *why)
{
	struct conn *c = m->c;

	gw_strlcpy(m->lasterr, why, sizeof(m->lasterr));
	log_info("dest=%s %s", m->dest->name, why);
	m->c = NULL;			/* mta_closed ignores the old conn */
	timer_del(&m->timer);
	if (c)
		conn_close(c);
	if (m->retry_plain == 1)
		m->retry_plain = 2;	/* same target, without STARTTLS */
	else {
		m->retry_plain = 0;
		m->ti++;
	}
	m->authed = 0;
	if (m->ti < m->ntargets) {
		connect_target(m);
		return;
	}
	m->state = M_QUIT;
	dest_conn_failed(m->dest, 451, "4.4.1", m->lasterr, &m->hop);
	mta_free(m);
}

void
mta_start(struct dest *d, const struct route_result *route)
{
	struct mta *m = xcalloc(1, sizeof(*m));
	const struct dest_src *src;

	m->dest = d;
	/* An IP pool's addresses take turns, each with its HELO name. */
	if ((src = dest_src_next(d)) != NULL) {
		m->srcbuf = *src;
		m->src = &m->srcbuf;
		m->helo = m->src->helo;
	} else
		m->helo = gcfg->hostname;
	m->ntargets = route->ntargets;
	memcpy(m->targets, route->targets, sizeof(struct target) *
	    (size_t)route->ntargets);
	timer_init(&m->timer, mta_timeout, m);
	m->next_all = all;
	if (all)
		all->prev_all = m;
	all = m;
	nmta++;
	m->ti = 0;
	connect_target(m);
}

static void
mta_timeout(struct ev_timer *t)
{
	struct mta *m = t->arg;
	char why[600];

	switch (m->state) {
	case M_READY:
		/* Idle long enough: say goodbye. */
		dest_idle_remove(m->dest, m);
		m->state = M_QUIT;
		send_line(m, "QUIT");
		conn_close_after_flush(m->c);
		return;
	case M_QUIT:
		conn_close(m->c);
		return;
	case M_FINISH:
		finish_job(m);
		return;
	default:
		snprintf(why, sizeof(why), "timeout talking to %s[%s]",
		    host_of(m), m->hop.ip);
		give_up(m, why);
	}
}

static void
mta_connected(struct conn *c, int ok)
{
	struct mta *m = c->arg;
	char why[600];

	if (!ok) {
		snprintf(why, sizeof(why), "connect to %s[%s]: %s",
		    host_of(m), m->hop.ip, c->error);
		next_target(m, why);
		return;
	}
	m->state = M_GREETING;
	arm(m, gcfg->relay.command_timeout_ms);
}

/* The session is usable: authenticate if asked, then take work. */
static void
become_ready(struct mta *m)
{
	if (m->dest->auth && gcfg->relay.username &&
	    !m->authed) {
		/* config.c bounds each credential to RELAY_CRED_MAX; the
		 * encoder checks the room again. */
		char raw[2 * RELAY_CRED_MAX + 2];
		char b64[BASE64_ENCODED_SIZE(sizeof(raw))];
		size_t ul = strlen(gcfg->relay.username),
		    pl = strlen(gcfg->relay.password);

		if (!conn_tls_active(m->c)) {
			next_target(m, "refusing to send credentials to the "
			    "smarthost without TLS");
			return;
		}
		if (m->caps.auth_plain && ul + pl + 2 <= sizeof(raw)) {
			raw[0] = '\0';
			memcpy(raw + 1, gcfg->relay.username, ul);
			raw[ul + 1] = '\0';
			memcpy(raw + ul + 2, gcfg->relay.password, pl);
			base64_encode(raw, ul + pl + 2, b64, sizeof(b64));
			m->state = M_AUTH;
			send_line(m, "AUTH PLAIN %s", b64);
			arm(m, gcfg->relay.command_timeout_ms);
			return;
		}
		if (m->caps.auth_login) {
			if (base64_encode(gcfg->relay.username, ul, b64,
			    sizeof(b64)) == -1) {
				next_target(m, "relay.username is too long");
				return;
			}
			m->state = M_AUTH_LOGIN_USER;
			send_line(m, "AUTH LOGIN %s", b64);
			arm(m, gcfg->relay.command_timeout_ms);
			return;
		}
		next_target(m, "the smarthost offers no AUTH PLAIN or LOGIN");
		return;
	}
	m->state = M_READY;
	timer_del(&m->timer);
	if (!m->ready_once) {
		m->ready_once = 1;
		dest_conn_up(m->dest);
	}
	dest_conn_ready(m->dest, m);
}

static void
mta_tls(struct conn *c, int ok)
{
	struct mta *m = c->arg;
	const char *bad = tls_client_verify_error(c->ssl);
	char why[600];

	if (!ok && bad != NULL && m->dest->tls == TLSP_VERIFY) {
		note_tls(m, 0, "%s", bad);
		snprintf(why, sizeof(why), "TLS certificate of %s[%s] not "
		    "verified: %s", host_of(m), m->hop.ip, bad);
		next_target(m, why);
		return;
	}
	if (!ok) {
		const char *e = c->error;

		if (strncmp(e, "TLS handshake: ", 15) == 0)
			e += 15;
		note_tls(m, -1, "TLS handshake failed: %s", e);
		snprintf(why, sizeof(why), "TLS handshake with %s[%s] failed: "
		    "%s", host_of(m), m->hop.ip, e);
		/* Opportunistic: the same host again, in plaintext. */
		if (m->dest->tls == TLSP_MAY && m->retry_plain == 0)
			m->retry_plain = 1;
		next_target(m, why);
		return;
	}
	conn_tls_desc(c, m->hop.tls, sizeof(m->hop.tls));
	if (tls_client_verified(c->ssl, &bad))
		note_tls(m, 1, "%s", "");
	else
		note_tls(m, 0, "%s", bad);
	/* The handshake refused such a certificate already; this is the
	 * check that keeps it so before MAIL, whatever changes there. */
	if (m->dest->tls == TLSP_VERIFY && m->hop.tls_verified != 1) {
		snprintf(why, sizeof(why), "TLS certificate of %s[%s] not "
		    "verified: %s", host_of(m), m->hop.ip, bad);
		next_target(m, why);
		return;
	}
	m->state = M_EHLO;
	send_line(m, "EHLO %s", m->helo);
	arm(m, gcfg->relay.command_timeout_ms);
}

static void
after_ehlo(struct mta *m)
{
	int want_tls = m->dest->tls != TLSP_NONE && m->retry_plain != 2;

	if (!conn_tls_active(m->c) && want_tls && m->caps.starttls) {
		m->state = M_STARTTLS;
		send_line(m, "STARTTLS");
		arm(m, gcfg->relay.command_timeout_ms);
		return;
	}
	if (!conn_tls_active(m->c) && m->dest->tls >= TLSP_ENCRYPT) {
		char why[600];

		note_tls(m, -1, "STARTTLS not offered");
		snprintf(why, sizeof(why), "TLS is required, but %s[%s] does "
		    "not offer STARTTLS", host_of(m), m->hop.ip);
		next_target(m, why);
		return;
	}
	if (!conn_tls_active(m->c) && want_tls)
		note_tls(m, -1, "STARTTLS not offered");
	become_ready(m);
}

static void
start_tls(struct mta *m)
{
	char why[600];

	/* SNI and the name to match are set by tls_client_prepare(). */
	if (conn_starttls(m->c, client_tls, 0, NULL) == -1) {
		next_target(m, m->c->error);
		return;
	}
	if (tls_client_prepare(m->c->ssl, host_of(m), m->dest->tls) == -1) {
		snprintf(why, sizeof(why), "TLS setup for %s[%s] failed: "
		    "cannot check the name \"%s\"", host_of(m), m->hop.ip,
		    host_of(m));
		next_target(m, why);
		return;
	}
	m->state = M_TLS;
	arm(m, gcfg->relay.command_timeout_ms);
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
	arm(m, gcfg->relay.command_timeout_ms);
	/* With PIPELINING: the whole envelope and DATA in one write. */
	do {
		int k = m->sent_idx;

		if (k == 0) {
			char size[40] = "";

			/* Only to a server that offered SIZE (RFC 1870 6). */
			if (m->caps.size_ext)
				snprintf(size, sizeof(size), " SIZE=%zu",
				    msg->size);
			send_line(m, "MAIL FROM:<%s>%s%s", msg->sender, size,
			    (msg->flags & QMSG_8BIT) && m->caps.eightbitmime ?
			    " BODY=8BITMIME" : "");
		} else if (k <= j->nrcpt)
			send_line(m, "RCPT TO:<%s>", j->rcpt[k - 1]->addr);
		else
			send_line(m, "DATA");
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
		send_line(m, "RCPT TO:<%s>", j->rcpt[m->sent_idx - 1]->addr);
	else
		send_line(m, "DATA");
	m->sent_idx++;
}

static void
txn_reply(struct mta *m, const struct smtp_reply *r)
{
	struct job *j = m->job;
	int k = m->reply_idx++;

	arm(m, gcfg->relay.command_timeout_ms);
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
				send_line(m, ".");
				return;
			}
			m->state = M_BODY;
			m->body_off = 0;
			m->body_bol = 1;
			arm(m, gcfg->relay.data_timeout_ms);
			fill_body(m);
			return;
		}
		if (!m->mail_failed && m->naccepted > 0)
			for (int i = 0; i < j->nrcpt; i++)
				if (m->accepted[i])
					result_from_reply(j, i, r);
		m->state = M_RSET;
		send_line(m, "RSET");
		return;
	}
	if (!m->caps.pipelining) {
		if (k == 0 && m->mail_failed) {
			m->state = M_RSET;
			send_line(m, "RSET");
			return;
		}
		if (k == j->nrcpt && m->naccepted == 0) {
			m->state = M_RSET;	/* nobody to send to */
			send_line(m, "RSET");
			return;
		}
		send_next_command(m);
	}
}

/* Dot-stuff the body into the output, a chunk at a time. */
static void
fill_body(struct mta *m)
{
	struct qmsg *msg = m->job->msg;
	struct buf *out = &m->c->out;
	const char *b = msg->body;
	size_t len = msg->bodylen;

	while (m->body_off < len && buf_len(out) < BODY_CHUNK) {
		const char *p = b + m->body_off;
		size_t rest = len - m->body_off, n;
		const char *lf;

		if (m->body_bol && *p == '.' && buf_append(out, ".", 1) == -1)
			goto full;
		lf = memchr(p, '\n', rest);
		n = lf ? (size_t)(lf - p) + 1 : rest;
		if (buf_append(out, p, n) == -1)
			goto full;
		m->body_off += n;
		m->body_bol = lf != NULL;
	}
	if (m->body_off == len) {
		/* The end in the same write as the last bytes (no stall on a
		 * delayed ACK between them). */
		if (!m->body_bol && buf_append(out, "\r\n", 2) == -1)
			goto full;
		if (buf_append(out, ".\r\n", 3) == -1)
			goto full;
		m->state = M_DOT;
		arm(m, gcfg->relay.data_timeout_ms);
	}
	conn_write(m->c, "", 0);
	return;
full:
	mta_fail(m, "output buffer full");
}

static void
mta_drain(struct conn *c)
{
	struct mta *m = c->arg;

	if (m->state == M_BODY)
		fill_body(m);
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
		arm(m, gcfg->relay.command_timeout_ms);
		send_line(m, "QUIT");
		conn_close_after_flush(m->c);
		dest_job_done(j);
		return;
	}
	finish_job(m);
}

static void
handle_reply(struct mta *m, const struct smtp_reply *r)
{
	char why[REPLY_TEXT_MAX + 200];

	switch (m->state) {
	case M_GREETING:
		if (r->code / 100 != 2) {
			snprintf(why, sizeof(why), "%s[%s] refused to talk to "
			    "us: %d %s", host_of(m), m->hop.ip, r->code,
			    r->text);
			next_target(m, why);
			return;
		}
		m->state = M_EHLO;
		send_line(m, "EHLO %s", m->helo);
		arm(m, gcfg->relay.command_timeout_ms);
		return;
	case M_EHLO:
		if (r->code / 100 == 2) {
			m->esmtp = 1;
			ehlo_parse(r, &m->caps);
			after_ehlo(m);
			return;
		}
		if (conn_tls_active(m->c)) {
			snprintf(why, sizeof(why), "%s[%s] refused EHLO after "
			    "STARTTLS: %d %s", host_of(m), m->hop.ip, r->code,
			    r->text);
			next_target(m, why);
			return;
		}
		m->state = M_HELO;
		send_line(m, "HELO %s", m->helo);
		return;
	case M_HELO:
		if (r->code / 100 != 2) {
			snprintf(why, sizeof(why), "%s[%s] refused HELO: %d %s",
			    host_of(m), m->hop.ip, r->code, r->text);
			next_target(m, why);
			return;
		}
		after_ehlo(m);
		return;
	case M_STARTTLS:
		if (r->code == 220) {
			start_tls(m);
			return;
		}
		if (m->dest->tls == TLSP_MAY) {
			m->caps.starttls = 0;
			note_tls(m, -1, "STARTTLS refused: %d", r->code);
			become_ready(m);
			return;
		}
		snprintf(why, sizeof(why), "%s[%s] refused STARTTLS: %d %s",
		    host_of(m), m->hop.ip, r->code, r->text);
		next_target(m, why);
		return;
	case M_AUTH_LOGIN_USER:
		if (r->code == 334) {
			char b64[BASE64_ENCODED_SIZE(RELAY_CRED_MAX)];

			if (base64_encode(gcfg->relay.password,
			    strlen(gcfg->relay.password), b64, sizeof(b64)) ==
			    -1) {
				next_target(m, "relay.password is too long");
				return;
			}
			m->state = M_AUTH_LOGIN_PASS;
			send_line(m, "%s", b64);
			return;
		}
		/* FALLTHROUGH */
	case M_AUTH:
	case M_AUTH_LOGIN_PASS:
		if (r->code == 235) {
			m->authed = 1;
			become_ready(m);
			return;
		}
		snprintf(why, sizeof(why), "authentication to %s[%s] failed: "
		    "%d %s", host_of(m), m->hop.ip, r->code, r->text);
		next_target(m, why);
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
			    host_of(m), m->hop.ip, r->code, r->text);
			mta_fail(m, why);
			return;
		}
		finish_job(m);
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

/*
 * Handlers may close the conn (and free m with it): test c->dead, which
 * stays readable until the loop turn ends, before touching m again.
 */
static void
mta_read(struct conn *c)
{
	struct mta *m = c->arg;
	char why[600];

	while (!c->dead && m->c == c && buf_len(&c->in) > 0) {
		struct smtp_reply r;
		size_t used;
		enum reply_result rr = reply_feed(&m->rp, buf_ptr(&c->in),
		    buf_len(&c->in), &used);

		buf_consume(&c->in, used);
		if (rr == REPLY_MORE)
			break;
		if (rr == REPLY_ERROR) {
			snprintf(why, sizeof(why), "malformed reply from %s[%s]:"
			    " %s", host_of(m), m->hop.ip, m->rp.error);
			give_up(m, why);
			return;
		}
		r = m->rp.r;
		reply_parser_init(&m->rp);
		handle_reply(m, &r);
	}
	if (!c->dead && m->c == c && c->eof) {
		snprintf(why, sizeof(why), "%s[%s] closed the connection",
		    host_of(m), m->hop.ip);
		give_up(m, why);
	}
}

static void
mta_error(struct conn *c)
{
	struct mta *m = c->arg;
	char why[600];

	if (m->c != c)
		return;
	snprintf(why, sizeof(why), "%s[%s]: %s", host_of(m), m->hop.ip,
	    c->error);
	gw_strlcpy(m->lasterr, why, sizeof(m->lasterr));
}

/*
 * The conn is gone.  Stale conns (a target we moved away from) are
 * ignored; for the current one, finish whatever was under way.
 */
static void
mta_closed(struct conn *c)
{
	struct mta *m = c->arg;
	const char *why;

	if (m->c != c)
		return;
	m->c = NULL;
	timer_del(&m->timer);
	why = m->lasterr[0] ? m->lasterr : "connection closed";
	if (m->job) {
		struct job *j = m->job;

		job_lost(m, why);
		m->job = NULL;
		free(m->accepted);
		m->accepted = NULL;
		dest_job_done(j);
	} else if (!m->ready_once && m->state != M_QUIT) {
		next_target(m, why);	/* closed during setup */
		return;
	}
	mta_free(m);
}

void
mta_shutdown(struct mta *m)
{
	if (m->c && m->state == M_READY) {
		m->state = M_QUIT;
		send_line(m, "QUIT");
		conn_close_after_flush(m->c);
	}
}
