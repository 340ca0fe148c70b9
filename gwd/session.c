/*
 * session.c - inbound SMTP: a session's life.  Bytes in, framed into
 * command lines (or SASL responses, or DATA, or BDAT chunks), replies
 * out, deadlines.
 * The commands are smtp_cmd.c's, AUTH is sasl.c's, the end of DATA is
 * data_end.c's, replies and refusals session_reply.c's; listener.c lets
 * sessions in.
 * Standards: RFC 5321, RFC 3207 (STARTTLS), RFC 2920 (PIPELINING),
 * RFC 2034/3463 (enhanced status codes), RFC 3030 (CHUNKING).
 * Exposure: parses untrusted input from unauthenticated clients.  Nothing
 * a client sends may end the process: bad bytes get a reply.
 * Diagnostics: dies only when memory for a new session runs out
 * (xcalloc).
 *
 * Replies are appended to the conn and leave together before the loop
 * sleeps, so pipelined answers go in one write.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "cluster.h"
#include "gwd.h"
#include "hmap.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"
#include "queue.h"
#include "session.h"
#include "session_priv.h"
#include "store.h"
#include "util.h"

#define IN_MAX		(64 * 1024)
#define OUT_MAX		(1024 * 1024)
#define OUT_HIGH	(64 * 1024)	/* stop reading commands above this */

uint64_t		 session_memory;
static struct session	*sessions;
static int		 nsessions;
static struct hmap	 per_ip;		/* ip -> (intptr_t) count */
static uint64_t		 next_id;

static void session_process(struct session *);
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

void
session_arm(struct session *s, int64_t ms)
{
	timer_add(&s->timer, ms);
}

void
session_tx_reset(struct session *s)
{
	if (s->tx.cq_held)	/* not spent: the next transaction's */
		cluster_quota_return(s->subaccount);
	tx_free(&s->tx);
	session_mem_update(s);
}

/*
 * What the session holds, in session_memory: the capacity of its buffers
 * (what malloc handed out, used or not): the message so far, the input
 * and the replies not yet sent.  Called wherever one may have grown;
 * they shrink only when freed.  (OpenSSL's own buffers are not seen.)
 */
void
session_mem_update(struct session *s)
{
	size_t now = s->tx.data.cap + s->c->in.cap + s->c->out.cap;

	session_memory = session_memory - s->mem + now;
	s->mem = now;
}

/* A message is coming in: DATA, or BDAT chunks (between them too). */
static int
session_receiving(const struct session *s)
{
	return s->state == SS_DATA || s->state == SS_BDAT ||
	    (s->tx.bdat && s->state == SS_CMD);
}

/*
 * Past limits.memory while messages arrive: close the sessions receiving
 * the largest messages, one by one, until the total fits again.  The
 * largest rather than the one that happened to cross the line: a small
 * message from another client is not cut off because someone else holds
 * the memory.  Each gets 421 4.3.1 (temporary: the client sends again
 * later) and its message so far is freed at once.  Sessions not in DATA
 * hold little and are left alone; new DATA commands get 452 meanwhile.
 * Returns 1 when cur was closed.
 */
static int
session_shed(struct session *cur)
{
	int closed_cur = 0;

	while (session_memory > gcfg->limits.memory) {
		struct session *big = NULL;

		for (struct session *s = sessions; s; s = s->next)
			if (session_receiving(s) && (big == NULL ||
			    s->mem > big->mem))
				big = s;
		if (big == NULL)
			break;
		log_warnx("session=%016llx ip=%s limits.memory reached: %llu "
		    "bytes held, limit %llu; closing the session holding the "
		    "most (%zu bytes)", (unsigned long long)big->id, big->ip,
		    (unsigned long long)session_memory,
		    (unsigned long long)gcfg->limits.memory, big->mem);
		gm.memory_closed_total++;
		session_refuse(big, NULL, NULL, BC_NONE, "421 4.3.1 %s Error: "
		    "too much mail is being received at once; try again later",
		    gcfg->hostname);
		session_close(big, "memory limit");
		session_tx_reset(big);
		if (big == cur)
			closed_cur = 1;
	}
	return closed_cur;
}

/*
 * Back to reading commands after a pause (a credential check, a slow
 * 535, a commit) or a refused message: the idle deadline again, and
 * whatever the client pipelined meanwhile.
 */
void
session_resume(struct session *s)
{
	if (s->state == SS_CLOSING)
		return;
	s->state = SS_CMD;
	session_arm(s, gcfg->limits.idle_timeout_ms);
	conn_pause_read(s->c, 0);
}

static void
greet(struct session *s)
{
	session_reply(s, "220 %s ESMTP gw", gcfg->hostname);
	s->state = SS_CMD;
	session_arm(s, gcfg->limits.idle_timeout_ms);
}

/* After STARTTLS: the 220 is out; anything else the client sent in
 * plaintext is dropped by conn_starttls (CVE-2011-0411). */
static void
session_drain(struct conn *c)
{
	struct session *s = c->arg;

	if (s->state == SS_STARTTLS && buf_len(&c->out) == 0) {
		s->state = SS_TLS_HANDSHAKE;
		session_arm(s, gcfg->limits.idle_timeout_ms);
		if (conn_starttls(c, server_tls, 1, NULL) == -1)
			session_close(s, c->error);
		return;
	}
	if (s->state == SS_CMD || s->state == SS_SASL || s->state == SS_DATA ||
	    s->state == SS_BDAT)
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
	s->key_id[0] = '\0';
	session_tx_reset(s);
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
	session_arm(s, gcfg->limits.idle_timeout_ms);
}

const struct subaccount *
session_account(struct session *s)
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
data_step(struct session *s)
{
	struct conn *c = s->c;
	struct tx *t = &s->tx;
	size_t used;

	used = data_feed(&t->dp, buf_ptr(&c->in), buf_len(&c->in), &t->data);
	buf_consume(&c->in, used);
	/* The limit holds as bytes arrive, not only at the next DATA. */
	session_mem_update(s);
	if (session_memory > gcfg->limits.memory && session_shed(s))
		return;
	if (t->dp.done)
		data_end(s);
}

/*
 * A BDAT chunk: exactly its octets, through the same checks as DATA
 * (data_init_chunks), or skipped when the BDAT is refused.  Whatever
 * follows the chunk is a command again.
 */
static void
bdat_step(struct session *s)
{
	struct conn *c = s->c;
	struct tx *t = &s->tx;
	size_t n = buf_len(&c->in);

	if (n > t->bdat_left)
		n = (size_t)t->bdat_left;
	if (t->bdat_refusal == NULL)
		data_feed(&t->dp, buf_ptr(&c->in), n, &t->data);
	buf_consume(&c->in, n);
	t->bdat_left -= n;
	session_mem_update(s);
	if (session_memory > gcfg->limits.memory && session_shed(s))
		return;
	if (t->bdat_left == 0)
		smtp_bdat_chunk_end(s);
}

static void
session_process(struct session *s)
{
	struct conn *c = s->c;

	while (!c->dead && !c->closing) {
		const char *line;
		size_t len, used, max;
		enum line_status ls;

		if (s->state == SS_DATA || s->state == SS_BDAT) {
			if (buf_len(&c->in) == 0)
				break;
			if (s->state == SS_DATA)
				data_step(s);
			else
				bdat_step(s);
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
				s->state = SS_CMD;
				session_bad_command(s, "500 5.5.6 Error: "
				    "authentication exchange line too long");
			} else
				session_bad_command(s, "500 5.5.2 Error: line "
				    "too long");
			continue;
		}
		if (ls == LINE_BARE) {
			session_reply(s, "500 5.5.2 Error: bare CR or LF "
			    "received (commands must end in CRLF)");
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
			smtp_dispatch(s, line, len);
		if (s->state == SS_CMD && !c->dead)
			session_arm(s, gcfg->limits.idle_timeout_ms);
	}
	if (!c->dead && !c->closing && c->eof && buf_len(&c->in) == 0 &&
	    s->state != SS_WAIT)
		session_close(s, s->state == SS_DATA ?
		    "lost connection in DATA" : s->state == SS_BDAT ?
		    "lost connection in BDAT" : "client disconnected");
	session_mem_update(s);
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

	session_reply(s, "421 4.4.2 %s Error: timeout exceeded",
	    gcfg->hostname);
	session_close(s, s->state == SS_DATA ? "timeout in DATA" :
	    s->state == SS_BDAT ? "timeout in BDAT" : "timeout");
}

/* The conn broke (a reset, a TLS record that failed its check): the
 * session's last line, as session_close() writes it. */
static void
session_error(struct conn *c)
{
	struct session *s = c->arg;

	log_info("session=%016llx ip=%s close reason=\"%s\" accepted=%d",
	    (unsigned long long)s->id, s->ip, c->error, s->accepted);
}

void
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
	cluster_quota_cancel(s);
	if (s->op)
		s->op->arg = NULL;	/* the commit completes without us */
	session_tx_reset(s);
	free(s->helo_name);
	free(s->sasl_user);
	/* The conn frees its buffers after this call. */
	session_memory -= s->mem;
	s->mem = 0;
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

struct session *
session_new(struct listener *l, int fd, const struct sockaddr_storage *client)
{
	struct session *s = xcalloc(1, sizeof(*s));

	s->id = ++next_id;
	s->l = l;
	s->state = SS_CMD;
	timer_init(&s->timer, session_timeout, s);
	sasl_init(s);
	if ((s->c = conn_new(fd, &session_ops, s, IN_MAX, OUT_MAX)) == NULL) {
		log_warn("accept: conn_new");
		close(fd);
		free(s);
		return NULL;
	}
	/* Behind a proxy, the client it reported is the peer for every
	 * check and record (allowlists, limits, audit, Received:). */
	if (client) {
		s->c->peer = *client;
		s->c->peerlen = client->ss_family == AF_INET6 ?
		    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
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
	return s;
}

/* A session let in: greet, or on 465 wait for the client's TLS. */
void
session_start(struct session *s)
{
	if (s->l->cfg->tls == LISTEN_IMPLICIT) {
		s->state = SS_TLS_HANDSHAKE;
		session_arm(s, gcfg->limits.idle_timeout_ms);
		if (conn_starttls(s->c, server_tls, 1, NULL) == -1)
			session_close(s, s->c->error);
		return;
	}
	greet(s);
}

void
sessions_init(void)
{
	hmap_init(&per_ip);
}

/* Sessions open from this address, this one included. */
int
sessions_from(const char *ip)
{
	return (int)(intptr_t)hmap_get(&per_ip, ip);
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
			session_reply(s, "421 4.3.2 %s Service shutting down",
			    gcfg->hostname);
		session_close(s, "shutdown");
	}
}

int
sessions_count(void)
{
	return nsessions;
}

uint64_t
sessions_memory(void)
{
	return session_memory;
}
