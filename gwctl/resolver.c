/*
 * resolver.c - a small blocking DNS stub for `gwctl dkim check` and
 * `gwctl domain check`.
 *
 * Asks the servers gwd would ask (dns.resolver, else the nameservers of
 * /etc/resolv.conf) one at a time, dns.attempts rounds of dns.timeout
 * each; UDP first, TCP when the answer is truncated.
 * Standards: RFC 1035 4.2 (UDP, TCP with a length prefix), RFC 7766.
 * Exposure: answers come from the network; they are parsed by
 * common/dns_pkt.c, and one that does not match the question (id, name,
 * type) is ignored and the wait goes on.
 * Diagnostics: never dies (memory aside); a lookup no server answers is
 * EX_UNAVAILABLE, said with each server asked and why it failed: no
 * answer in time, or what the system said (network unreachable,
 * connection refused...), never a timeout for what was not one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <unistd.h>

#include "buf.h"
#include "cidr.h"
#include "dns_pkt.h"
#include "gwctl.h"
#include "log.h"
#include "util.h"

#define RESOLVER_MAX	GW_MAX_RESOLVERS
#define RESOLVER_QMAX	600

struct resolver_server {
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			 name[INET6_ADDRSTRLEN + 16];
	const char		*why;	/* its last failure, or NULL */
};

#define RESOLVER_TIMEOUT	"no answer in time"

struct resolver_query {
	const char	*name;
	uint16_t	 qtype;
	uint16_t	 id;
	unsigned char	 pkt[RESOLVER_QMAX];
	int		 len;
	int64_t		 deadline;	/* mono_ms() */
};

/* The servers gwd would ask, each with its name for messages. */
static int
resolver_servers(struct ctx *ctx, struct resolver_server *srv, int *n)
{
	struct sockaddr_storage ss[RESOLVER_MAX];
	socklen_t len[RESOLVER_MAX];
	char host[INET6_ADDRSTRLEN];

	*n = config_dns_servers(&ctx->cfg, ss, len, RESOLVER_MAX);
	if (*n == 0) {
		log_warnx("no DNS resolver: set dns.resolver in %s",
		    ctx->cfg.path);
		return EX_CONFIG;
	}
	for (int i = 0; i < *n; i++) {
		int v6 = ss[i].ss_family == AF_INET6;

		memset(&srv[i], 0, sizeof(srv[i]));
		srv[i].ss = ss[i];
		srv[i].len = len[i];
		sockaddr_ntop((struct sockaddr *)&ss[i], host, sizeof(host));
		snprintf(srv[i].name, sizeof(srv[i].name), "%s%s%s:%d",
		    v6 ? "[" : "", host, v6 ? "]" : "", ntohs(v6 ?
		    ((struct sockaddr_in6 *)&ss[i])->sin6_port :
		    ((struct sockaddr_in *)&ss[i])->sin_port));
	}
	return EX_OK;
}

/* Wait for `events` on fd until the deadline; 0, or -1 (timed out). */
static int
resolver_wait(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int64_t left;
	int r;

	for (;;) {
		if ((left = deadline - mono_ms()) <= 0)
			return -1;
		r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (r > 0)
			return 0;
		if (r == -1 && errno != EINTR)
			return -1;
	}
}

/*
 * A truncated answer may come without its question section (dnslib
 * does this, as did old servers), which dns_parse_answer() rightly
 * refuses.  Our id with QR and TC set is enough to go to TCP: a forged
 * one costs a TCP query, nothing more.
 */
static int
resolver_bare_tc(const unsigned char *p, size_t n, uint16_t id)
{
	return n >= 12 && (uint16_t)(p[0] << 8 | p[1]) == id &&
	    (p[2] & 0x80) && (p[2] & 0x02) && p[4] == 0 && p[5] == 0;
}

/* Why a socket call failed, in the words an admin looks up. */
static const char *
resolver_errno(int e)
{
	switch (e) {
	case ENETUNREACH:
		return "network unreachable (no route to it)";
	case EHOSTUNREACH:
		return "host unreachable";
	case ECONNREFUSED:
		return "connection refused (nothing listens there)";
	case EACCES:
	case EPERM:
		return "not permitted (a firewall?)";
	default:
		return strerror(e);
	}
}

static int
resolver_udp(struct resolver_server *srv, struct resolver_query *q,
    struct dns_answer *ans)
{
	unsigned char pkt[4096];
	ssize_t n;
	int fd, r = -1;

	srv->why = RESOLVER_TIMEOUT;
	if ((fd = socket(srv->ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) ==
	    -1) {
		srv->why = resolver_errno(errno);
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)&srv->ss, srv->len) == -1 ||
	    send(fd, q->pkt, (size_t)q->len, 0) != q->len) {
		srv->why = resolver_errno(errno);
		goto done;
	}
	/* Forged or stale answers are skipped; the deadline still holds. */
	while (resolver_wait(fd, POLLIN, q->deadline) == 0) {
		if ((n = recv(fd, pkt, sizeof(pkt), 0)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			/* e.g. ECONNREFUSED: nobody there */
			srv->why = resolver_errno(errno);
			break;
		}
		if (dns_parse_answer(pkt, (size_t)n, q->id, q->name, q->qtype,
		    ans) == 0) {
			r = 0;
			break;
		}
		if (resolver_bare_tc(pkt, (size_t)n, q->id)) {
			memset(ans, 0, sizeof(*ans));
			ans->tc = 1;
			r = 0;
			break;
		}
	}
done:
	close(fd);
	return r;
}

/* Read exactly n bytes before the deadline. */
static int
resolver_read(int fd, unsigned char *p, size_t n, int64_t deadline)
{
	ssize_t got;

	while (n > 0) {
		if (resolver_wait(fd, POLLIN, deadline) == -1)
			return -1;
		if ((got = read(fd, p, n)) == -1 && (errno == EINTR ||
		    errno == EAGAIN))
			continue;
		if (got <= 0)
			return -1;
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

static int
resolver_tcp(struct resolver_server *srv, struct resolver_query *q,
    struct dns_answer *ans)
{
	unsigned char out[RESOLVER_QMAX + 2], lenbuf[2], *pkt = NULL;
	socklen_t elen = sizeof(int);
	size_t n;
	int fd, err = 0, r = -1;

	srv->why = RESOLVER_TIMEOUT;
	if ((fd = socket(srv->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1) {
		srv->why = resolver_errno(errno);
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)&srv->ss, srv->len) == -1 &&
	    (errno != EINPROGRESS || resolver_wait(fd, POLLOUT,
	    q->deadline) == -1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
	    &elen) == -1 || err != 0)) {
		if (errno != EINPROGRESS)
			srv->why = resolver_errno(errno);
		else if (err != 0)
			srv->why = resolver_errno(err);
		goto done;
	}
	out[0] = (unsigned char)(q->len >> 8);
	out[1] = (unsigned char)(q->len & 0xff);
	memcpy(out + 2, q->pkt, (size_t)q->len);
	/* A few hundred bytes fit in any fresh socket's send buffer. */
	if (send(fd, out, (size_t)q->len + 2, MSG_NOSIGNAL) != q->len + 2 ||
	    resolver_read(fd, lenbuf, 2, q->deadline) == -1)
		goto done;
	n = (size_t)lenbuf[0] << 8 | lenbuf[1];
	pkt = xmalloc(n ? n : 1);
	if (resolver_read(fd, pkt, n, q->deadline) == 0 &&
	    dns_parse_answer(pkt, n, q->id, q->name, q->qtype, ans) == 0)
		r = 0;
done:
	free(pkt);
	close(fd);
	return r;
}

/* One server, one attempt: 0 with *ans, or -1 with srv->why. */
static int
resolver_ask(struct resolver_server *srv, struct resolver_query *q,
    int64_t timeout_ms, struct dns_answer *ans)
{
	random_bytes(&q->id, sizeof(q->id));
	if ((q->len = dns_build_query(q->id, q->name, q->qtype, q->pkt,
	    sizeof(q->pkt))) == -1) {
		srv->why = "the name cannot be asked";
		return -1;
	}
	q->deadline = mono_ms() + timeout_ms;
	if (resolver_udp(srv, q, ans) == -1)
		return -1;
	if (!ans->tc)
		return 0;
	log_debug("%s: truncated answer from %s; asking over TCP", q->name,
	    srv->name);
	q->deadline = mono_ms() + timeout_ms;
	return resolver_tcp(srv, q, ans);
}

/*
 * Look (name, qtype) up.  EX_OK with *ans (its rcode may be NXDOMAIN);
 * EX_UNAVAILABLE when no server gave an answer (no answer in time, the
 * network unreachable, SERVFAIL, REFUSED...), after saying what each
 * server's last attempt met; EX_CONFIG when dns.resolver is wrong.
 */
int
resolver_query(struct ctx *ctx, const char *name, uint16_t qtype,
    struct dns_answer *ans)
{
	struct resolver_server srv[RESOLVER_MAX];
	struct resolver_query q = { .name = name, .qtype = qtype };
	struct buf b;
	int n, r, attempts;

	if ((r = ctx_config(ctx)) != EX_OK ||
	    (r = resolver_servers(ctx, srv, &n)) != EX_OK)
		return r;
	attempts = ctx->cfg.dns.attempts > 0 ? ctx->cfg.dns.attempts : 1;
	for (int a = 0; a < attempts; a++)
		for (int i = 0; i < n; i++) {
			if (resolver_ask(&srv[i], &q, ctx->cfg.dns.timeout_ms,
			    ans) == -1)
				continue;
			if (ans->rcode == DNS_RCODE_NOERROR ||
			    ans->rcode == DNS_RCODE_NXDOMAIN)
				return EX_OK;
			srv[i].why = ans->rcode == DNS_RCODE_SERVFAIL ?
			    "SERVFAIL" : ans->rcode == DNS_RCODE_REFUSED ?
			    "REFUSED" : "an error answer";
		}
	buf_init(&b, 4096);
	for (int i = 0; i < n; i++)
		buf_printf(&b, "%s%s: %s", i ? "; " : "", srv[i].name,
		    srv[i].why ? srv[i].why : RESOLVER_TIMEOUT);
	log_warnx("DNS lookup of %s failed: %s (dns.timeout %lldms, %d "
	    "attempt%s)", name, buf_cstr(&b),
	    (long long)ctx->cfg.dns.timeout_ms, attempts,
	    attempts == 1 ? "" : "s");
	buf_free(&b);
	return EX_UNAVAILABLE;
}
