/*
 * dns.c - asynchronous stub resolver.
 * Standards: RFC 1035 (UDP and TCP transport), RFC 7766 (TCP),
 * RFC 5452 (random ids and ports against spoofing).
 * Exposure: parses answers from the network (through dns_pkt.c); an
 * answer that does not match the question is ignored, not trusted.
 * Diagnostics: dies only when memory runs out; dns_init() returns -1
 * with the reason in err, and a query that fails, times out or gets an
 * answer that does not parse calls back with its dns_status.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns.h"
#include "log.h"
#include "loop.h"
#include "util.h"

#define MAX_SERVERS	GW_MAX_RESOLVERS

static struct sockaddr_storage	 servers[MAX_SERVERS];
static socklen_t		 serverlen[MAX_SERVERS];
static int			 nservers;
static int64_t			 timeout_ms;
static int			 attempts;

struct dns_req {
	char		 name[DNS_NAME_MAX + 2];
	uint16_t	 qtype;
	uint16_t	 id;
	dns_cb		 cb;
	void		*arg;
	int		 try;		/* attempts made so far */
	int		 fd;
	int		 tcp;
	struct ev_io	 io;
	struct ev_timer	 timer;		/* per attempt */
	struct ev_timer	 later;		/* deliver the result from the loop */
	unsigned char	 qbuf[600];
	int		 qlen;
	unsigned char	*tbuf;		/* TCP: 2-byte length + message */
	size_t		 tlen, tgot, tsent;
	enum dns_status	 status;
	struct dns_answer *ans;
	char		 why[128];
};

const char *
dns_status_name(enum dns_status s)
{
	static const char *const names[] = { "ok", "nodata", "nxdomain",
	    "tempfail" };

	return names[s];
}

/*
 * Also on SIGHUP: nothing changes unless the new settings name a
 * resolver.  A query in flight picks its next server by index when it
 * retries, so it simply goes on with the new list.
 */
int
dns_init(const struct gw_config *cfg, char *err, size_t errsz)
{
	struct sockaddr_storage ss[MAX_SERVERS];
	socklen_t len[MAX_SERVERS];
	int n;

	if ((n = config_dns_servers(cfg, ss, len, MAX_SERVERS)) == 0) {
		snprintf(err, errsz, "no DNS resolver: set dns.resolver");
		return -1;
	}
	memcpy(servers, ss, sizeof(servers));
	memcpy(serverlen, len, sizeof(serverlen));
	nservers = n;
	timeout_ms = cfg->dns.timeout_ms;
	attempts = cfg->dns.attempts;
	return 0;
}

static void
req_close_fd(struct dns_req *r)
{
	if (r->fd != -1) {
		io_del(&r->io);
		close(r->fd);
		r->fd = -1;
	}
	free(r->tbuf);
	r->tbuf = NULL;
}

static void
req_free(struct dns_req *r)
{
	req_close_fd(r);
	timer_del(&r->timer);
	timer_del(&r->later);
	free(r->ans);
	free(r);
}

static void
deliver(struct ev_timer *t)
{
	struct dns_req *r = t->arg;

	if (r->cb)
		r->cb(r->arg, r->status, r->ans, r->why);
	req_free(r);
}

static void
finish(struct dns_req *r, enum dns_status st, const char *why)
{
	req_close_fd(r);
	timer_del(&r->timer);
	r->status = st;
	snprintf(r->why, sizeof(r->why), "%s", why);
	timer_add(&r->later, 0);
}

static int
answer_has_type(const struct dns_answer *a, uint16_t t)
{
	switch (t) {
	case DNS_T_MX:
		return a->nmx > 0;
	case DNS_T_A:
	case DNS_T_AAAA:
		return a->naddr > 0;
	case DNS_T_TXT:
		return a->ntxt > 0;
	case DNS_T_TLSA:
		return a->ntlsa > 0 || a->tlsa_skipped > 0;
	default:
		return 0;
	}
}

static void start_attempt(struct dns_req *);
static void start_tcp(struct dns_req *);

/* An answer matched the question: decide. */
static void
handle_answer(struct dns_req *r)
{
	struct dns_answer *a = r->ans;
	char why[64];

	if (a->tc && !r->tcp) {
		start_tcp(r);
		return;
	}
	switch (a->rcode) {
	case DNS_RCODE_NOERROR:
		finish(r, answer_has_type(a, r->qtype) ? DNS_OK : DNS_NODATA,
		    "");
		return;
	case DNS_RCODE_NXDOMAIN:
		finish(r, DNS_NXDOMAIN, "NXDOMAIN");
		return;
	default:
		snprintf(why, sizeof(why), "rcode %d", a->rcode);
		snprintf(r->why, sizeof(r->why), "%s", why);
		/* SERVFAIL and friends: another try, maybe another server. */
		start_attempt(r);
		return;
	}
}

static void
udp_read(struct ev_io *io, int revents)
{
	struct dns_req *r = io->arg;
	unsigned char pkt[4096];
	ssize_t n;

	while ((n = recv(r->fd, pkt, sizeof(pkt), 0)) >= 0) {
		if (dns_parse_answer(pkt, (size_t)n, r->id, r->name, r->qtype,
		    r->ans) == 0) {
			handle_answer(r);
			return;
		}
		/* Not ours or garbage: keep waiting for the real one. */
	}
	if (errno != EAGAIN && errno != EINTR) {
		snprintf(r->why, sizeof(r->why), "recv: %s", strerror(errno));
		start_attempt(r);
	}
}

static void
tcp_io(struct ev_io *io, int revents)
{
	struct dns_req *r = io->arg;
	ssize_t n;

	if (r->tsent < (size_t)r->qlen + 2) {
		unsigned char out[602];

		out[0] = (unsigned char)(r->qlen >> 8);
		out[1] = (unsigned char)r->qlen;
		memcpy(out + 2, r->qbuf, (size_t)r->qlen);
		n = send(r->fd, out + r->tsent, (size_t)r->qlen + 2 - r->tsent,
		    MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINPROGRESS ||
			    errno == ENOTCONN)
				return;
			snprintf(r->why, sizeof(r->why), "tcp: %s",
			    strerror(errno));
			start_attempt(r);
			return;
		}
		r->tsent += (size_t)n;
		if (r->tsent == (size_t)r->qlen + 2)
			io_set(&r->io, EV_READ);
		return;
	}
	if (r->tbuf == NULL) {
		r->tlen = 2;
		r->tbuf = xmalloc(65537);
	}
	while (r->tgot < r->tlen) {
		n = recv(r->fd, r->tbuf + r->tgot, r->tlen - r->tgot, 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			snprintf(r->why, sizeof(r->why), "tcp: connection "
			    "closed");
			start_attempt(r);
			return;
		}
		if (n < 0)
			return;
		r->tgot += (size_t)n;
		if (r->tgot == 2 && r->tlen == 2) {
			r->tlen = 2 + (((size_t)r->tbuf[0] << 8) | r->tbuf[1]);
			if (r->tlen == 2) {
				start_attempt(r);
				return;
			}
		}
	}
	if (dns_parse_answer(r->tbuf + 2, r->tlen - 2, r->id, r->name,
	    r->qtype, r->ans) == 0) {
		r->ans->tc = 0;
		handle_answer(r);
	} else {
		snprintf(r->why, sizeof(r->why), "malformed TCP answer");
		start_attempt(r);
	}
}

static void
attempt_timeout(struct ev_timer *t)
{
	struct dns_req *r = t->arg;

	snprintf(r->why, sizeof(r->why), "timeout");
	start_attempt(r);
}

static int
open_socket(struct dns_req *r, const struct sockaddr_storage *sa,
    socklen_t len, int type)
{
	r->fd = socket(sa->ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->fd == -1)
		return -1;
	/* connect() filters answers to the server's address and port. */
	if (connect(r->fd, (const struct sockaddr *)sa, len) == -1 &&
	    errno != EINPROGRESS) {
		close(r->fd);
		r->fd = -1;
		return -1;
	}
	return 0;
}

static void
start_tcp(struct dns_req *r)
{
	int s = (r->try - 1) % nservers;

	req_close_fd(r);
	r->tcp = 1;
	r->tsent = r->tgot = 0;
	if (open_socket(r, &servers[s], serverlen[s], SOCK_STREAM) == -1) {
		finish(r, DNS_TEMPFAIL, "tcp socket failed");
		return;
	}
	io_init(&r->io, r->fd, tcp_io, r);
	io_set(&r->io, EV_WRITE);
	timer_add(&r->timer, timeout_ms);
}

static void
start_attempt(struct dns_req *r)
{
	uint16_t id;
	int s;

	req_close_fd(r);
	if (r->try >= attempts * nservers) {
		finish(r, DNS_TEMPFAIL, r->why[0] ? r->why : "no answer");
		return;
	}
	s = r->try % nservers;
	r->try++;
	r->tcp = 0;
	random_bytes(&id, sizeof(id));
	r->id = id;
	r->qlen = dns_build_query(r->id, r->name, r->qtype, r->qbuf,
	    sizeof(r->qbuf));
	if (r->qlen < 0) {
		finish(r, DNS_NXDOMAIN, "invalid name");
		return;
	}
	if (open_socket(r, &servers[s], serverlen[s], SOCK_DGRAM) == -1 ||
	    send(r->fd, r->qbuf, (size_t)r->qlen, 0) == -1) {
		snprintf(r->why, sizeof(r->why), "send: %s", strerror(errno));
		req_close_fd(r);
		timer_add(&r->timer, 10);	/* try the next one soon */
		return;
	}
	io_init(&r->io, r->fd, udp_read, r);
	io_set(&r->io, EV_READ);
	timer_add(&r->timer, timeout_ms);
}

struct dns_req *
dns_query(const char *name, uint16_t qtype, dns_cb cb, void *arg)
{
	struct dns_req *r = xcalloc(1, sizeof(*r));

	r->fd = -1;
	r->cb = cb;
	r->arg = arg;
	r->qtype = qtype;
	r->ans = xcalloc(1, sizeof(*r->ans));
	gw_strlcpy(r->name, name, sizeof(r->name));
	timer_init(&r->timer, attempt_timeout, r);
	timer_init(&r->later, deliver, r);
	start_attempt(r);
	return r;
}

void
dns_cancel(struct dns_req *r)
{
	if (r)
		req_free(r);
}
