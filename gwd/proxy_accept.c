/*
 * proxy_accept.c - a listener behind a load balancer (proxy_protocol =
 * true): the PROXY header its proxy sends first is read here, before the
 * connection becomes a session, so everything that looks at a session's
 * address (limits per address, blocks after failed AUTHs, IP
 * allowlists, the audit trail, our Received:) sees the client the proxy
 * reports.
 * Standards: HAProxy's "The PROXY protocol" versions 1 and 2.
 * Exposure: a peer outside the listener's trusted_proxies is closed
 * before a byte is read; a trusted one's header is parsed by
 * common/proxyproto.c.  Nothing is read past the header: the client's
 * first bytes (on an implicit-TLS port its ClientHello) stay in the
 * socket for the session.
 * Diagnostics: each refusal is a log line with the peer and the reason,
 * counted in gw_proxy_refused_total{reason}: untrusted (not in
 * trusted_proxies), malformed, missing (closed or silent before a whole
 * header came).
 *
 * Reading: peek at what is there, parse it after what was taken
 * already; a header that is not complete yet owns every byte peeked
 * (proxyproto.h), so those are taken and the rest waited for; a
 * complete one takes exactly its own length.  The loop is level-
 * triggered, and bytes left unread are always the client's, which the
 * session reads: nothing spins.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "cidr.h"
#include "gwd.h"
#include "log.h"
#include "metrics.h"
#include "proxyproto.h"
#include "session.h"
#include "session_priv.h"
#include "util.h"

#define PROXY_TIMEOUT_MS	5000	/* a proxy sends it at once */
#define PEEK_CHUNK		4096

struct proxy_wait {
	struct listener		*l;
	int			 fd;
	char			 ip[INET6_ADDRSTRLEN];	/* the proxy's */
	struct ev_io		 io;
	struct ev_timer		 timer;
	struct buf		 hdr;		/* taken so far */
	struct proxy_wait	*prev, *next;
};

static struct proxy_wait	*waits;
static int			 nwaits;

static const char *const reason_names[GM_PROXY_COUNT] = {
	"untrusted", "malformed", "missing"
};

static void
wait_free(struct proxy_wait *w)
{
	io_del(&w->io);
	timer_del(&w->timer);
	buf_free(&w->hdr);
	if (w->prev)
		w->prev->next = w->next;
	else
		waits = w->next;
	if (w->next)
		w->next->prev = w->prev;
	nwaits--;
	free(w);
}

static void
wait_free_close(struct proxy_wait *w)
{
	int fd = w->fd;

	wait_free(w);
	close(fd);
}

static void
refuse(struct proxy_wait *w, enum gm_proxy reason, const char *why)
{
	gm.proxy_refused[reason]++;
	log_warnx("listener=%d ip=%s PROXY header refused reason=%s: %s",
	    w->l->cfg->port, w->ip, reason_names[reason], why);
	wait_free_close(w);
}

/* The header is in: the connection is a session now, with the client's
 * address (or, for LOCAL, the proxy's own). */
static void
proxy_done(struct proxy_wait *w, const struct proxy_hdr *h)
{
	struct listener *l = w->l;
	int fd = w->fd;
	char client[INET6_ADDRSTRLEN];

	if (!h->local)
		sockaddr_ntop((const struct sockaddr *)&h->src, client,
		    sizeof(client));
	log_debug("listener=%d ip=%s PROXY v%d %s%s", l->cfg->port, w->ip,
	    h->version, h->local ? "local" : "client=", h->local ? "" :
	    client);
	wait_free(w);
	listener_admit(l, fd, h->local ? NULL : &h->src);
}

/* Take n bytes the peek showed (they are there: only we read fd). */
static int
take(int fd, size_t n)
{
	char sink[PEEK_CHUNK];
	ssize_t r;

	while (n > 0) {
		r = read(fd, sink, n < sizeof(sink) ? n : sizeof(sink));
		if (r <= 0)
			return -1;
		n -= (size_t)r;
	}
	return 0;
}

static void
proxy_read(struct ev_io *io, int revents)
{
	struct proxy_wait *w = io->arg;
	char peek[PEEK_CHUNK];
	size_t have = buf_len(&w->hdr), room = PROXY_MAX - have;
	struct proxy_hdr h;
	const char *why;
	ssize_t n;
	int r;

	n = recv(w->fd, peek, room < sizeof(peek) ? room : sizeof(peek),
	    MSG_PEEK);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		refuse(w, GM_PROXY_MISSING, n == 0 ? "closed before the "
		    "header" : strerror(errno));
		return;
	}
	if (buf_append(&w->hdr, peek, (size_t)n) == -1) {
		refuse(w, GM_PROXY_MALFORMED, "longer than a header can be");
		return;
	}
	r = proxy_parse(buf_ptr(&w->hdr), buf_len(&w->hdr), &h, &why);
	if (r == -1) {
		refuse(w, GM_PROXY_MALFORMED, why);
		return;
	}
	/* Incomplete: all of it is header; complete: only its own bytes. */
	if (take(w->fd, r == 0 ? (size_t)n : (size_t)r - have) == -1) {
		refuse(w, GM_PROXY_MISSING, "read failed");
		return;
	}
	if (r > 0)
		proxy_done(w, &h);
}

static void
proxy_timeout(struct ev_timer *t)
{
	struct proxy_wait *w = t->arg;

	refuse(w, GM_PROXY_MISSING, buf_len(&w->hdr) ? "incomplete header "
	    "at the deadline" : "no header at the deadline");
}

static int
trusted(const struct gw_listen *lc, const struct sockaddr *sa)
{
	for (int i = 0; i < lc->nproxies; i++)
		if (cidr_match(&lc->proxies[i], sa))
			return 1;
	return 0;
}

void
proxy_accept(struct listener *l, int fd)
{
	struct proxy_wait *w = xcalloc(1, sizeof(*w));
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int64_t ms = gcfg->limits.idle_timeout_ms;

	w->l = l;
	w->fd = fd;
	buf_init(&w->hdr, PROXY_MAX);
	io_init(&w->io, fd, proxy_read, w);
	timer_init(&w->timer, proxy_timeout, w);
	w->next = waits;
	if (waits)
		waits->prev = w;
	waits = w;
	nwaits++;
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == -1) {
		gw_strlcpy(w->ip, "unknown", sizeof(w->ip));
		refuse(w, GM_PROXY_UNTRUSTED, strerror(errno));
		return;
	}
	sockaddr_ntop((struct sockaddr *)&ss, w->ip, sizeof(w->ip));
	if (!trusted(l->cfg, (struct sockaddr *)&ss)) {
		refuse(w, GM_PROXY_UNTRUSTED, "not in trusted_proxies");
		return;
	}
	/* Headers not yet in count as connections: a proxy opening many
	 * and sending nothing is held to limits.connections too. */
	if (nwaits + sessions_count() > gcfg->limits.connections) {
		log_warnx("listener=%d ip=%s closed: too many connections",
		    l->cfg->port, w->ip);
		wait_free_close(w);
		return;
	}
	io_set(&w->io, EV_READ);
	timer_add(&w->timer, ms < PROXY_TIMEOUT_MS ? ms : PROXY_TIMEOUT_MS);
}

void
proxy_close_all(void)
{
	while (waits)
		wait_free_close(waits);
}
