/*
 * mta.c - the delivery client: one outbound SMTP connection per struct
 * mta, reused for the next job to the same destination.  This file is
 * a connection's life: the walk along the route's targets, timers, I/O,
 * the end; the hop of an attempt and its record in the audit log.  The
 * dialogue is mta_session.c's (mta_priv.h lists the parts).
 * Standards: RFC 5321 5.1 (trying the MX hosts in order).
 * Exposure: talks to remote servers that may be hostile; their replies
 * go through reply.c, which bounds lines, counts and memory.
 * Diagnostics: dies only when memory for a connection runs out
 * (xcalloc); a failure of the network or of a server becomes the
 * outcome of the job or of the destination.
 *
 * Setup walks the route's targets in order (MX preference, then
 * address; for a smarthost list, the order smarthost.c gives it from
 * the hosts' priorities, weights and health): a refused connection, a
 * 4xx/5xx greeting or a failed required-TLS handshake moves on to the
 * next.  Whether a smarthost connected and greeted is its health's
 * business too (mta_health).  When none is left the
 * destination is reported unreachable (451 4.4.1), or, after a 4xx
 * greeting, with that reply, so a 421 slows it down (throttle.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "gwd.h"
#include "log.h"
#include "mta_priv.h"
#include "shlist.h"
#include "smarthost.h"
#include "store.h"
#include "tls_count.h"
#include "util.h"

static struct mta	*all;
static int		 nmta;

static void mta_read(struct conn *);
static void mta_connected(struct conn *, int);
static void mta_drain(struct conn *);
static void mta_error(struct conn *);
static void mta_closed(struct conn *);
static void give_up(struct mta *, const char *why);
static void mta_timeout(struct ev_timer *);

static const struct conn_ops mta_ops = {
	.on_read = mta_read,
	.on_tls = mta_tls_done,
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

const char *
mta_host(const struct mta *m)
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
	if (h->tls_policy != NULL)
		ev->tls_policy = h->tls_policy;
	else if (d != NULL)
		ev->tls_policy = tls_policy_name(d->tls);
	if (h->ip[0] == '\0')
		return;			/* never connected */
	ev->tls_verified = h->tls_verified;
	if (h->tls_note[0])
		ev->tls_note = xstrdup(h->tls_note);
}

void
mta_send(struct mta *m, const char *fmt, ...)
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

void
mta_arm(struct mta *m, int64_t ms)
{
	timer_add(&m->timer, ms);
}

/*
 * A connection is kept for the next job relay.idle_time, and never
 * beyond relay.connection_lifetime from its start: the timer then says
 * QUIT (mta_timeout).  A receiver's new configuration (a reload, a
 * new smtpd) is seen by the next connection, and nobody waits for the
 * receiver's own timeout to free a process or a slot there.
 */
void
mta_arm_idle(struct mta *m)
{
	int64_t left = m->born_ms + gcfg->relay.connection_lifetime_ms -
	    loop_now();

	if (left < 0)
		left = 0;
	mta_arm(m, left < gcfg->relay.idle_ms ? left : gcfg->relay.idle_ms);
}

/* Whether the connection has done enough (messages, or time) to take
 * no more jobs once its transaction is over. */
int
mta_worn_out(const struct mta *m)
{
	return m->messages >= m->dest->per_conn ||
	    loop_now() - m->born_ms >= gcfg->relay.connection_lifetime_ms;
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
void
mta_fail(struct mta *m, const char *why)
{
	gw_strlcpy(m->lasterr, why, sizeof(m->lasterr));
	if (m->job)
		mta_session_job_lost(m, why);
	if (m->c)
		conn_close(m->c);
}

/* Setup. */

/* A smarthost's connection came up (ok) or did not: its health. */
void
mta_health(struct mta *m, int ok, const char *why)
{
	const struct dest *d = m->dest;

	if (d->domain == NULL && d->sh && m->ti < m->ntargets &&
	    m->targets[m->ti].shi < d->sh->n)
		smarthost_outcome(&d->sh->e[m->targets[m->ti].shi], ok, why);
}

/*
 * The DANE state of the current target when it rules the attempt (not
 * under tls "none", which an admin chose knowingly), else NULL.
 */
const struct route_dane *
mta_dane(const struct mta *m)
{
	const struct route_dane *d;

	if (m->ti >= m->ntargets || m->dest->tls == TLSP_NONE)
		return NULL;
	d = &m->dane[m->targets[m->ti].hi];
	return d->state == DANE_NONE ? NULL : d;
}

/*
 * The MTA-STS policy that rules the current target (testing or
 * enforce), else NULL: not for a host with DANE records (DANE takes
 * precedence, RFC 8461 2), nor under tls "none".
 */
const struct mtasts_policy *
mta_sts(const struct mta *m)
{
	if (!m->sts_on || m->sts.mode == MTASTS_NONE ||
	    m->dest->tls == TLSP_NONE || m->ti >= m->ntargets ||
	    mta_dane(m) != NULL)
		return NULL;
	return &m->sts;
}

int
mta_sts_enforce(const struct mta *m)
{
	const struct mtasts_policy *p = mta_sts(m);

	return p != NULL && p->mode == MTASTS_ENFORCE;
}

static void
connect_target(struct mta *m)
{
	struct target *t = &m->targets[m->ti];
	struct hop *h = &m->hop;
	const struct route_dane *dn = mta_dane(m);

	gw_strlcpy(h->host, t->host, sizeof(h->host));
	sockaddr_ntop((struct sockaddr *)&t->sa, h->ip, sizeof(h->ip));
	h->tls[0] = '\0';
	h->tls_verified = -1;
	h->tls_policy = dn != NULL ? "dane" : mta_sts(m) != NULL ? "mta-sts" :
	    NULL;
	m->dane_active = 0;
	/* RFC 8460 4.3.2.1: while the domain's policy cannot be had, each
	 * session fails as its fetch did (sts.c counts the fetch itself only
	 * when a cached policy still applies to the sessions). */
	if (h->tls_policy == NULL && m->sts_failed[0] != '\0' && dn == NULL &&
	    m->dest->tls != TLSP_NONE)
		tls_count_session(m->dest->domain, "mta-sts", 0, m->sts_failed,
		    NULL, t->host, h->ip);
	if (m->retry_plain != 2)	/* a plaintext retry says why */
		h->tls_note[0] = '\0';
	if (dn != NULL && dn->state == DANE_FAILED) {
		char why[400];

		mta_tls_note(m, -1, "dane: TLSA lookup failed");
		mta_tls_report(m);
		snprintf(why, sizeof(why), "TLSA records of %s could not be "
		    "looked up (DNSSEC): not delivering to it without them",
		    t->host);
		mta_next_target(m, why);
		return;
	}
	/* RFC 8461 4.1: under enforce, only MX hosts the policy names. */
	if (mta_sts_enforce(m) && !mtasts_mx_match(&m->sts, t->host)) {
		char why[400];

		mta_tls_note(m, -1, "mta-sts enforce: MX host not in the "
		    "policy");
		mta_tls_report(m);
		snprintf(why, sizeof(why), "MX host %s is not one the MTA-STS "
		    "policy of %s allows (enforce)", t->host, m->dest->domain);
		mta_next_target(m, why);
		return;
	}
	m->state = M_CONNECT;
	m->born_ms = loop_now();
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
		mta_next_target(m, why);
		return;
	}
	m->c->drain_mark = BODY_LOW;
	mta_arm(m, gcfg->relay.connect_timeout_ms);
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
		mta_next_target(m, why);
}

/*
 * This target did not work out (only during setup, never with a job):
 * close it and try the next one.  When none is left, the destination is
 * unreachable for now.  After this, m may be gone.
 */
void
mta_next_target(struct mta *m, const char *why)
{
	struct conn *c = m->c;
	/* A 4xx greeting (421 "too many connections") is the server's word
	 * on us, and goes on as it said, not as a routing failure. */
	int code = m->greet_code ? m->greet_code : 451;
	char status[sizeof(m->greet_status)];

	gw_strlcpy(status, m->greet_code ? m->greet_status : "4.4.1",
	    sizeof(status));
	m->greet_code = 0;

	gw_strlcpy(m->lasterr, why, sizeof(m->lasterr));
	log_info("dest=%s %s", m->dest->name, why);
	/* Not connected, or not greeted: the host's failure (a refusal
	 * later in the setup, of TLS or AUTH, is about us, not its health). */
	if (m->state == M_CONNECT || m->state == M_GREETING)
		mta_health(m, 0, why);
	if (m->ntried < (int)nitems(m->tried)) {
		struct hop_fail *f = &m->tried[m->ntried++];

		gw_strlcpy(f->host, m->hop.host, sizeof(f->host));
		gw_strlcpy(f->ip, m->hop.ip, sizeof(f->ip));
		gw_strlcpy(f->why, why, sizeof(f->why));
	}
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
	dest_conn_failed(m->dest, code, status, m->lasterr, &m->hop, m->tried,
	    m->ntried);
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
	memcpy(m->dane, route->dane, sizeof(m->dane));
	m->mx_secure = route->mx_secure;
	m->sts_on = route->sts_on;
	m->sts = route->sts;
	if (!route->sts_on && strncmp(route->sts_why, "policy ", 7) == 0)
		gw_strlcpy(m->sts_failed, route->sts_why,
		    sizeof(m->sts_failed));
	if (d->domain == NULL && d->sh)
		smarthost_order(d->sh, m->targets, &m->ntargets);
	timer_init(&m->timer, mta_timeout, m);
	m->next_all = all;
	if (all)
		all->prev_all = m;
	all = m;
	nmta++;
	m->ti = 0;
	m->hop.started_ms = loop_now();
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
		mta_session_quit(m);
		return;
	case M_QUIT:
		conn_close(m->c);
		return;
	case M_FINISH:
		mta_session_finish_job(m);
		return;
	default:
		snprintf(why, sizeof(why), "timeout talking to %s[%s]",
		    mta_host(m), m->hop.ip);
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
		    mta_host(m), m->hop.ip, c->error);
		mta_next_target(m, why);
		return;
	}
	m->state = M_GREETING;
	mta_arm(m, gcfg->relay.command_timeout_ms);
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
			snprintf(why, sizeof(why), "malformed reply from "
			    "%s[%s]: %s", mta_host(m), m->hop.ip, m->rp.error);
			give_up(m, why);
			return;
		}
		r = m->rp.r;
		reply_parser_init(&m->rp);
		mta_session_reply(m, &r);
	}
	if (!c->dead && m->c == c && c->eof) {
		snprintf(why, sizeof(why), "%s[%s] closed the connection",
		    mta_host(m), m->hop.ip);
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
	snprintf(why, sizeof(why), "%s[%s]: %s", mta_host(m), m->hop.ip,
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
	if (m->job)
		mta_session_abort(m, why);
	else if (!m->ready_once && m->state != M_QUIT) {
		mta_next_target(m, why);	/* closed during setup */
		return;
	}
	mta_free(m);
}

static void
mta_drain(struct conn *c)
{
	struct mta *m = c->arg;

	if (m->state == M_BODY)
		mta_body_fill(m);
}

void
mta_shutdown(struct mta *m)
{
	if (m->c && m->state == M_READY)
		mta_session_quit(m);
}
