/*
 * submitload.c - an SMTP submission load generator: what applications
 * do on port 587 (STARTTLS, AUTH PLAIN, one or a few messages per
 * connection), many sessions at once, on one epoll loop.
 * Standards: RFC 5321, RFC 3207 (STARTTLS), RFC 8314 (implicit TLS),
 * RFC 4954 / RFC 4616 (AUTH PLAIN), RFC 2920 (PIPELINING).
 * Exposure: a benchmark client; talks only to the server it is pointed at.
 * Diagnostics: exits 2 on bad arguments or when a socket, epoll or
 * OpenSSL cannot be set up; a session the server refuses or drops is
 * counted as failed (its reason on stderr, the first ten), never fatal,
 * and the exit status is 1 unless every message was accepted.
 *
 *   submitload [options] HOST:PORT
 *
 * Prints one key=value line: messages, accepted, failed, connections,
 * resumed (TLS sessions resumed), seconds, msg_per_s, p50_ms, p99_ms.
 * The latency of a message runs from connect() (the first message of a
 * connection) or from its MAIL command (the next ones) to the 250 after
 * its final dot.  Exit status 0 when every message was accepted.
 *
 * With --idle N it sends no mail: it opens N sessions (at most -s at a
 * time in the handshake), each to the end of EHLO after TLS, prints
 * "idle=N ready=K failed=F seconds=S" once all are there, and holds them
 * until its standard input closes or it gets SIGTERM; then it prints
 * "lost=L" (sessions the server closed meanwhile) and exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "mimeload.h"

enum tls_mode { TLS_STARTTLS, TLS_IMPLICIT, TLS_NONE };

enum state {
	S_FREE,		/* slot unused */
	S_CONNECT,	/* nonblocking connect in progress */
	S_HANDSHAKE,	/* TLS handshake */
	S_GREET,	/* waiting for 220 */
	S_EHLO,
	S_STARTTLS,
	S_AUTH,
	S_MAIL,
	S_RCPT,
	S_DATA,
	S_DOT,		/* message sent, waiting for its 250 */
	S_QUIT,
	S_IDLE		/* --idle: parked after EHLO */
};

#define IN_SIZE		8192
#define MAX_ERRORS_SHOWN 10

struct slot {
	enum state	 state;
	int		 fd;
	SSL		*ssl;
	int		 tls_want_write;
	int		 claimed;	/* messages this connection sends */
	int		 done;		/* of them, answered (either way) */
	int		 serial;	/* connection number, for Message-IDs */
	double		 t_conn;	/* connect() */
	double		 t_msg;		/* latency start of this message */
	double		 t_active;	/* last progress, for --timeout */
	uint32_t	 events;	/* what epoll watches now */
	char		 in[IN_SIZE];
	size_t		 inlen;
	char		*out;
	size_t		 outlen, outoff, outcap;
	char		 last[160];	/* last reply line, for errors */
};

static struct {
	const char	*target;
	int		 sessions;
	int		 messages;
	int		 per_conn;
	size_t		 size;
	enum tls_mode	 tls;
	const char	*auth;		/* user:password */
	int		 resume;
	int		 pipelining;
	const char	*from, *to, *helo;
	int		 idle;
	double		 timeout;
	int		 mime;		/* a multipart body (--mime) */
} opt = {
	.sessions = 10, .messages = 1000, .per_conn = 1, .size = 5120,
	.tls = TLS_STARTTLS, .from = "bench@example.com",
	.to = "rcpt@dest.test", .helo = "load.bench", .timeout = 60,
};

static struct sockaddr_storage	 dst;
static socklen_t		 dstlen;
static SSL_CTX			*ctx;
static SSL_SESSION		*saved;		/* for --resume */
static int			 ep;
static struct slot		*slots;
static int			 nslots;
static int			*freelist;
static int			 nfree;
static char			*authline;	/* "AUTH PLAIN ...\r\n" */
static char			*body;		/* shared body, ends ".\r\n" */
static size_t			 bodylen;
static double			*lat;
static int			 nlat;
static volatile sig_atomic_t	 stop;

/* Counters. */
static int	claimed_total, accepted, failed, conns, resumed, active;
static int	opening, nidle, idle_failed, lost, errors_shown;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *fmt, ...)
{
	va_list ap;

	fputs("submitload: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void *
xmalloc(size_t n)
{
	void *p = malloc(n);

	if (p == NULL)
		die("out of memory");
	return p;
}

static void
watch(struct slot *s, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.u32 =
	    (uint32_t)(s - slots) };

	if (ev == s->events)
		return;
	if (epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &e) == -1)
		die("epoll_ctl: %s", strerror(errno));
	s->events = ev;
}

static void
update(struct slot *s)
{
	uint32_t ev = EPOLLIN;

	if (s->state == S_FREE)
		return;
	if (s->state == S_CONNECT || s->tls_want_write ||
	    s->outoff < s->outlen)
		ev |= EPOLLOUT;
	watch(s, ev);
}

static void
slot_close(struct slot *s)
{
	if (s->ssl) {
		/* Without a close_notify OpenSSL marks the session (and the
		 * ticket saved from it) as not resumable. */
		if (s->state == S_QUIT)
			SSL_shutdown(s->ssl);
		SSL_free(s->ssl);
		s->ssl = NULL;
	}
	close(s->fd);		/* also leaves the epoll set */
	s->fd = -1;
	if (s->state != S_IDLE && s->claimed == 0 && opt.idle)
		opening--;
	s->state = S_FREE;
	s->outlen = s->outoff = s->inlen = 0;
	active--;
	freelist[nfree++] = (int)(s - slots);
}

/* Everything this connection still owed counts as failed. */
static void
fail(struct slot *s, const char *why)
{
	int owed = s->claimed - s->done;

	if (errors_shown < MAX_ERRORS_SHOWN) {
		errors_shown++;
		fprintf(stderr, "submitload: session failed (%s)%s%s\n", why,
		    s->last[0] ? ": " : "", s->last);
	}
	failed += owed;
	s->done = s->claimed;
	if (opt.idle) {
		if (s->state == S_IDLE) {
			nidle--;
			lost++;
		} else
			idle_failed++;
	}
	slot_close(s);
}

/* Queue bytes and try to send them at once. */
static int flush(struct slot *);

static void
send_bytes(struct slot *s, const char *p, size_t n)
{
	if (s->outoff == s->outlen)
		s->outoff = s->outlen = 0;
	if (s->outlen + n > s->outcap) {
		size_t cap = s->outcap ? s->outcap : 1024;

		while (cap < s->outlen + n)
			cap *= 2;
		if ((s->out = realloc(s->out, cap)) == NULL)
			die("out of memory");
		s->outcap = cap;
	}
	memcpy(s->out + s->outlen, p, n);
	s->outlen += n;
}

static void
sendf(struct slot *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
sendf(struct slot *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		die("command too long");
	send_bytes(s, line, (size_t)n);
}

/* -1 when the connection broke (the slot is closed). */
static int
flush(struct slot *s)
{
	while (s->outoff < s->outlen) {
		size_t n = s->outlen - s->outoff;
		ssize_t w;

		if (s->ssl) {
			int r, e;

			ERR_clear_error();
			r = SSL_write(s->ssl, s->out + s->outoff, (int)n);
			if (r > 0) {
				s->outoff += (size_t)r;
				s->tls_want_write = 0;
				continue;
			}
			e = SSL_get_error(s->ssl, r);
			if (e == SSL_ERROR_WANT_WRITE) {
				s->tls_want_write = 1;
				return 0;
			}
			if (e == SSL_ERROR_WANT_READ)
				return 0;
			fail(s, "TLS write");
			return -1;
		}
		w = write(s->fd, s->out + s->outoff, n);
		if (w > 0) {
			s->outoff += (size_t)w;
			continue;
		}
		if (w == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		fail(s, "write");
		return -1;
	}
	return 0;
}

static void
start_tls(struct slot *s)
{
	if ((s->ssl = SSL_new(ctx)) == NULL || SSL_set_fd(s->ssl, s->fd) != 1)
		die("SSL_new failed");
	SSL_set_connect_state(s->ssl);
	if (opt.resume && saved)
		SSL_set_session(s->ssl, saved);
	s->state = S_HANDSHAKE;
}

static void
begin_message(struct slot *s)
{
	if (s->done == s->claimed) {
		sendf(s, "QUIT\r\n");
		s->state = S_QUIT;
		return;
	}
	s->t_msg = s->done == 0 ? s->t_conn : now();
	sendf(s, "MAIL FROM:<%s>\r\n", opt.from);
	if (opt.pipelining)
		sendf(s, "RCPT TO:<%s>\r\nDATA\r\n", opt.to);
	s->state = S_MAIL;
}

static void
after_ehlo(struct slot *s)
{
	if (opt.tls == TLS_STARTTLS && s->ssl == NULL) {
		sendf(s, "STARTTLS\r\n");
		s->state = S_STARTTLS;
	} else if (opt.idle) {
		s->state = S_IDLE;
		opening--;
		nidle++;
	} else if (authline) {
		send_bytes(s, authline, strlen(authline));
		s->state = S_AUTH;
	} else
		begin_message(s);
}

static void
send_message(struct slot *s)
{
	/* Unique per message; the body is shared and ends with the dot. */
	sendf(s, "From: <%s>\r\nTo: <%s>\r\nSubject: load %d\r\n"
	    "Message-ID: <%d.%d.%d@submitload.bench>\r\n%s\r\n", opt.from,
	    opt.to, s->done, s->done, (int)getpid(), s->serial, opt.mime ?
	    MIMELOAD_HEAD : "");
	send_bytes(s, body, bodylen);
	s->state = S_DOT;
}

/* One whole reply: move the session on, or fail it. */
static void
on_reply(struct slot *s, int code)
{
	switch (s->state) {
	case S_GREET:
		if (code != 220)
			break;
		sendf(s, "EHLO %s\r\n", opt.helo);
		s->state = S_EHLO;
		return;
	case S_EHLO:
		if (code != 250)
			break;
		after_ehlo(s);
		return;
	case S_STARTTLS:
		if (code != 220)
			break;
		start_tls(s);
		return;
	case S_AUTH:
		if (code != 235)
			break;
		begin_message(s);
		return;
	case S_MAIL:
		if (code != 250)
			break;
		if (!opt.pipelining)
			sendf(s, "RCPT TO:<%s>\r\n", opt.to);
		s->state = S_RCPT;
		return;
	case S_RCPT:
		if (code != 250)
			break;
		if (!opt.pipelining)
			sendf(s, "DATA\r\n");
		s->state = S_DATA;
		return;
	case S_DATA:
		if (code != 354)
			break;
		send_message(s);
		return;
	case S_DOT:
		if (code != 250)
			break;
		lat[nlat++] = (now() - s->t_msg) * 1000;
		accepted++;
		s->done++;
		begin_message(s);
		return;
	case S_QUIT:
		slot_close(s);
		return;
	case S_IDLE:
		fail(s, "the server spoke to an idle session");
		return;
	default:
		break;
	}
	fail(s, "unexpected reply");
}

/* Hand over every complete reply in s->in. */
static void
parse_replies(struct slot *s)
{
	size_t off = 0;

	while (s->state != S_FREE) {
		char *nl = memchr(s->in + off, '\n', s->inlen - off);
		char *line = s->in + off;
		size_t n;

		if (nl == NULL)
			break;
		n = (size_t)(nl - line);
		off += n + 1;
		if (n > 0 && line[n - 1] == '\r')
			n--;
		snprintf(s->last, sizeof(s->last), "%.*s", (int)n, line);
		if (n < 3) {
			fail(s, "short reply line");
			return;
		}
		if (n > 3 && line[3] == '-')
			continue;
		on_reply(s, atoi(line));
	}
	if (s->state == S_FREE)
		return;
	memmove(s->in, s->in + off, s->inlen - off);
	s->inlen -= off;
	if (s->inlen == sizeof(s->in))
		fail(s, "reply line too long");
}

static void handshake(struct slot *);

static void
readable(struct slot *s)
{
	while (s->state != S_FREE && s->state != S_HANDSHAKE) {
		size_t room = sizeof(s->in) - s->inlen;
		ssize_t n;

		if (s->ssl) {
			int r, e;

			ERR_clear_error();
			errno = 0;
			r = SSL_read(s->ssl, s->in + s->inlen, (int)room);
			if (r <= 0) {
				e = SSL_get_error(s->ssl, r);
				if (e == SSL_ERROR_WANT_READ)
					return;
				if (e == SSL_ERROR_WANT_WRITE) {
					s->tls_want_write = 1;
					return;
				}
				n = e == SSL_ERROR_ZERO_RETURN ||
				    (e == SSL_ERROR_SYSCALL && errno == 0) ? 0 :
				    -1;
			} else
				n = r;
		} else {
			n = read(s->fd, s->in + s->inlen, room);
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				return;
		}
		if (n <= 0) {
			if (s->state == S_QUIT)
				slot_close(s);
			else
				fail(s, n == 0 ? "connection closed" :
				    "read error");
			return;
		}
		s->inlen += (size_t)n;
		parse_replies(s);
		if (s->state != S_FREE && flush(s) == -1)
			return;
	}
	if (s->state == S_HANDSHAKE)
		handshake(s);
}

static void
handshake(struct slot *s)
{
	int r, e;

	ERR_clear_error();
	r = SSL_do_handshake(s->ssl);
	if (r == 1) {
		s->tls_want_write = 0;
		if (SSL_session_reused(s->ssl))
			resumed++;
		if (opt.tls == TLS_IMPLICIT)
			s->state = S_GREET;
		else {
			sendf(s, "EHLO %s\r\n", opt.helo);
			s->state = S_EHLO;
		}
		if (flush(s) == -1)
			return;
		/* The greeting may have come with the last handshake
		 * flight: it is in OpenSSL's buffer, not the socket's. */
		readable(s);
		return;
	}
	e = SSL_get_error(s->ssl, r);
	if (e == SSL_ERROR_WANT_READ)
		s->tls_want_write = 0;
	else if (e == SSL_ERROR_WANT_WRITE)
		s->tls_want_write = 1;
	else {
		unsigned long le = ERR_peek_error();
		char msg[200];

		snprintf(msg, sizeof(msg), "TLS handshake: %s",
		    le ? ERR_reason_error_string(le) : "connection closed");
		fail(s, msg);
	}
}

static void
connected(struct slot *s)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		fail(s, strerror(err));
		return;
	}
	if (opt.tls == TLS_IMPLICIT) {
		start_tls(s);
		handshake(s);
	} else
		s->state = S_GREET;
}

static void
on_event(struct slot *s, uint32_t ev)
{
	s->t_active = now();
	if (s->state == S_CONNECT) {
		connected(s);
	} else if (s->state == S_HANDSHAKE) {
		handshake(s);
	} else {
		if ((ev & EPOLLOUT) && flush(s) == -1)
			return;
		if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
			readable(s);
	}
	if (s->state != S_FREE && s->state != S_HANDSHAKE &&
	    s->state != S_CONNECT && flush(s) == -1)
		return;
	update(s);
}

static void
open_one(void)
{
	struct slot *s = &slots[freelist[--nfree]];
	struct epoll_event e;
	int one = 1;

	memset(s, 0, offsetof(struct slot, in));
	s->fd = socket(dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (s->fd == -1)
		die("socket: %s", strerror(errno));
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!opt.idle) {
		s->claimed = opt.messages - claimed_total;
		if (s->claimed > opt.per_conn)
			s->claimed = opt.per_conn;
		claimed_total += s->claimed;
	} else
		opening++;
	s->state = S_CONNECT;
	s->t_conn = s->t_active = now();
	s->last[0] = '\0';
	active++;
	s->serial = ++conns;
	e.events = EPOLLOUT | EPOLLIN;
	e.data.u32 = (uint32_t)(s - slots);
	s->events = e.events;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &e) == -1)
		die("epoll_ctl: %s", strerror(errno));
	if (connect(s->fd, (struct sockaddr *)&dst, dstlen) == -1 &&
	    errno != EINPROGRESS)
		fail(s, strerror(errno));
}

static int
want_more(void)
{
	if (nfree == 0)
		return 0;
	if (opt.idle)
		return conns < opt.idle && opening < opt.sessions;
	return claimed_total < opt.messages && active < opt.sessions;
}

static void
check_timeouts(double t)
{
	for (int i = 0; i < nslots; i++) {
		struct slot *s = &slots[i];

		if (s->state != S_FREE && s->state != S_IDLE &&
		    t - s->t_active > opt.timeout)
			fail(s, "timeout");
	}
}

static int
new_session(SSL *ssl, SSL_SESSION *sess)
{
	if (saved)
		SSL_SESSION_free(saved);
	saved = sess;
	return 1;		/* we keep the reference */
}

static void
setup_tls(void)
{
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		die("SSL_CTX_new failed");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	if (opt.resume) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
		    SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(ctx, new_session);
	} else
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
}

static void
setup_auth(void)
{
	const char *colon = strchr(opt.auth, ':');
	size_t ulen, plen, rawlen;
	unsigned char *raw;
	char *b64;

	if (colon == NULL)
		die("--auth wants USER:PASSWORD");
	ulen = (size_t)(colon - opt.auth);
	plen = strlen(colon + 1);
	rawlen = ulen + plen + 2;	/* authzid "" NUL authcid NUL passwd */
	raw = xmalloc(rawlen);
	raw[0] = '\0';
	memcpy(raw + 1, opt.auth, ulen);
	raw[1 + ulen] = '\0';
	memcpy(raw + 2 + ulen, colon + 1, plen);
	b64 = xmalloc(4 * ((rawlen + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)b64, raw, (int)rawlen);
	authline = xmalloc(strlen(b64) + 16);
	sprintf(authline, "AUTH PLAIN %s\r\n", b64);
	free(raw);
	free(b64);
}

/* --mime: bench/mimeload.h's parts, then the dot. */
static void
setup_mime_body(void)
{
	body = xmalloc(opt.size + 4096 + 3);
	bodylen = mimeload_parts(body, opt.size);
	memcpy(body + bodylen, ".\r\n", 3);
	bodylen += 3;
}

/* The body: 76-octet lines up to about --size in all, then the dot. */
static void
setup_body(void)
{
	static const char line[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
	    "QRSTUVWXYZ0123456789 the load line\r\n";
	size_t want = opt.size > 200 ? opt.size - 200 : 0;	/* headers */
	size_t ll = sizeof(line) - 1, n = 0;

	body = xmalloc(want + ll + 4);
	while (n < want || n == 0) {
		memcpy(body + n, line, ll);
		n += ll;
	}
	memcpy(body + n, ".\r\n", 3);
	bodylen = n + 3;
}

static void
resolve(void)
{
	char host[256];
	const char *colon = strrchr(opt.target, ':');
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	size_t n;
	int r;

	if (colon == NULL || (n = (size_t)(colon - opt.target)) == 0 ||
	    n >= sizeof(host))
		die("target must be HOST:PORT");
	memcpy(host, opt.target, n);
	host[n] = '\0';
	if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
		memmove(host, host + 1, n - 2);
		host[n - 2] = '\0';
	}
	if ((r = getaddrinfo(host, colon + 1, &hints, &res)) != 0)
		die("%s: %s", opt.target, gai_strerror(r));
	memcpy(&dst, res->ai_addr, res->ai_addrlen);
	dstlen = res->ai_addrlen;
	freeaddrinfo(res);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
percentile(double p)
{
	int i;

	if (nlat == 0)
		return 0;
	i = (int)(p * nlat);
	return lat[i >= nlat ? nlat - 1 : i];
}

static void
on_signal(int sig)
{
	stop = 1;
}

static void
usage(void)
{
	fprintf(stderr,
"usage: submitload [options] HOST:PORT\n"
"  -s, --sessions N      concurrent sessions (default 10)\n"
"  -m, --messages N      messages in all (default 1000)\n"
"  -M, --per-conn N      messages per connection (default 1)\n"
"  -l, --size BYTES      message size (default 5120)\n"
"  -T, --tls MODE        starttls (default), implicit or none\n"
"  -a, --auth USER:PASS  AUTH PLAIN (after TLS, if any)\n"
"  -r, --resume          resume TLS sessions (tickets)\n"
"  -P, --pipelining      MAIL, RCPT and DATA in one write\n"
"  -f, --from ADDR       envelope and From: sender\n"
"  -t, --to ADDR         recipient\n"
"  -H, --helo NAME       EHLO name\n"
"      --idle N          open N sessions to EHLO after TLS and hold them\n"
"      --timeout SECONDS a session without progress this long fails\n"
"      --mime            a MIME message: quoted-printable text, base64\n"
"                        HTML and a base64 attachment (for content scans)\n");
	exit(64);
}

static int
posint(const char *s, const char *what)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 1 || v > 100000000)
		die("%s: not a positive number: %s", what, s);
	return (int)v;
}

static void
parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "sessions", required_argument, NULL, 's' },
		{ "messages", required_argument, NULL, 'm' },
		{ "per-conn", required_argument, NULL, 'M' },
		{ "size", required_argument, NULL, 'l' },
		{ "tls", required_argument, NULL, 'T' },
		{ "auth", required_argument, NULL, 'a' },
		{ "resume", no_argument, NULL, 'r' },
		{ "pipelining", no_argument, NULL, 'P' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "helo", required_argument, NULL, 'H' },
		{ "idle", required_argument, NULL, 'I' },
		{ "timeout", required_argument, NULL, 'W' },
		{ "mime", no_argument, NULL, 'X' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "s:m:M:l:T:a:rPf:t:H:", lo,
	    NULL)) != -1) {
		switch (c) {
		case 's': opt.sessions = posint(optarg, "sessions"); break;
		case 'm': opt.messages = posint(optarg, "messages"); break;
		case 'M': opt.per_conn = posint(optarg, "per-conn"); break;
		case 'l': opt.size = (size_t)posint(optarg, "size"); break;
		case 'T':
			if (strcmp(optarg, "starttls") == 0)
				opt.tls = TLS_STARTTLS;
			else if (strcmp(optarg, "implicit") == 0)
				opt.tls = TLS_IMPLICIT;
			else if (strcmp(optarg, "none") == 0)
				opt.tls = TLS_NONE;
			else
				die("--tls: starttls, implicit or none");
			break;
		case 'a': opt.auth = optarg; break;
		case 'r': opt.resume = 1; break;
		case 'P': opt.pipelining = 1; break;
		case 'f': opt.from = optarg; break;
		case 't': opt.to = optarg; break;
		case 'H': opt.helo = optarg; break;
		case 'I': opt.idle = posint(optarg, "idle"); break;
		case 'W': opt.timeout = posint(optarg, "timeout"); break;
		case 'X': opt.mime = 1; break;
		default: usage();
		}
	}
	if (optind != argc - 1)
		usage();
	opt.target = argv[optind];
}

/* --idle: hold the sessions until stdin closes or a signal comes. */
static void
hold_idle(double t0)
{
	struct epoll_event e = { .events = EPOLLIN, .data.u32 = UINT32_MAX };

	printf("idle=%d ready=%d failed=%d seconds=%.2f\n", opt.idle, nidle,
	    idle_failed, now() - t0);
	fflush(stdout);
	if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &e) == -1)
		stop = 1;	/* stdin is not pollable: wait for a signal */
}

int
main(int argc, char **argv)
{
	struct epoll_event evs[256];
	double t0, t1, last_check;
	int holding = 0;

	parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	resolve();
	if (opt.tls != TLS_NONE)
		setup_tls();
	if (opt.auth)
		setup_auth();
	if (opt.mime)
		setup_mime_body();
	else
		setup_body();
	nslots = opt.idle ? opt.idle : opt.sessions;
	slots = calloc((size_t)nslots, sizeof(*slots));
	freelist = xmalloc(sizeof(int) * (size_t)nslots);
	lat = xmalloc(sizeof(double) * (size_t)opt.messages);
	if (slots == NULL)
		die("out of memory");
	for (int i = nslots - 1; i >= 0; i--) {
		slots[i].fd = -1;
		freelist[nfree++] = i;
	}
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1: %s", strerror(errno));

	t0 = last_check = now();
	for (;;) {
		int n;

		while (!holding && want_more())
			open_one();
		if (opt.idle && !holding && nidle + idle_failed == opt.idle &&
		    opening == 0) {
			hold_idle(t0);
			holding = 1;
		}
		if (!opt.idle && active == 0)
			break;
		if (stop)
			break;
		n = epoll_wait(ep, evs, 256, 500);
		if (n == -1 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			uint32_t k = evs[i].data.u32;

			if (k == UINT32_MAX) {
				char b[256];

				if (read(0, b, sizeof(b)) <= 0)
					stop = 1;
				continue;
			}
			if (slots[k].state != S_FREE)
				on_event(&slots[k], evs[i].events);
		}
		if (now() - last_check >= 1) {
			last_check = now();
			check_timeouts(last_check);
		}
	}
	t1 = now();
	if (opt.idle) {
		printf("lost=%d\n", lost);
		return lost == 0 && idle_failed == 0 ? 0 : 1;
	}
	qsort(lat, (size_t)nlat, sizeof(double), cmp_double);
	printf("messages=%d accepted=%d failed=%d connections=%d resumed=%d "
	    "seconds=%.3f msg_per_s=%.1f p50_ms=%.2f p99_ms=%.2f\n",
	    opt.messages, accepted, failed, conns, resumed, t1 - t0,
	    accepted / (t1 - t0), percentile(0.50), percentile(0.99));
	return accepted == opt.messages ? 0 : 1;
}
