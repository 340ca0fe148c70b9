/*
 * http.c - HTTP listeners on libmicrohttpd, driven by gwd's loop (see
 * http.h).
 * Standards: RFC 9110, RFC 9112 (through MHD); TLS 1.2 and 1.3 only,
 * AEAD ciphers with forward secrecy (MHD's TLS is GnuTLS).
 * Exposure: HTTP from anyone who reaches a listener, without
 * authentication.  MHD parses it, within CONN_MEMORY bytes of headers
 * per connection; the handlers bound what they read of a body.  Each
 * connection is closed its site's idle_timeout after it connected, a
 * request began or an answer was sent, whichever came last: a keep-alive
 * client that keeps asking is served on, while a slow one cannot hold a
 * connection longer by trickling bytes (the deadline moves only with
 * whole request lines and answers).  At most `connections` are held,
 * and none while descriptors run short (admin_listen.c).
 * Diagnostics: http_bind()/http_start() say why at start-up; MHD's own
 * complaints go to the log at debug level; dies only when memory runs
 * out.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin_listen.h"
#include "cidr.h"
#include "gwd.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "util.h"

/* Request line and headers, and MHD's read buffer: an HTTP request to
 * gwd is a few hundred bytes; more is answered 431 by MHD. */
#define CONN_MEMORY	(16 * 1024)
/* Above any `connections` setting (common/config.c's bounds). */
#define CONN_LIMIT	100001
/* GnuTLS: TLS 1.3 and 1.2, AEAD ciphers, ECDHE only (TESTING.md). */
#define TLS_PRIORITIES	"SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:" \
	"-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:" \
	"-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-MAC-ALL:+AEAD:%SERVER_PRECEDENCE"

struct http_server {
	const struct http_site	*site;
	struct admin_listener	 al;	/* its accept (server_of()) */
	struct MHD_Daemon	*d;
	struct ev_io		 io;	/* MHD's epoll descriptor */
	struct ev_timer		 tick;	/* MHD_get_timeout() */
	int			 nconn;	/* connections MHD holds now */
	char			*cert, *key;	/* PEM, for MHD (TLS) */
};

/* One connection: its descriptor and its deadline. */
struct http_conn {
	struct http_server	*srv;
	int			 fd;
	struct ev_timer		 deadline;
};

static void	 http_take(struct admin_listener *, int fd);

static struct http_server *
server_of(struct admin_listener *l)
{
	return (struct http_server *)((char *)l -
	    offsetof(struct http_server, al));
}

/* Run MHD, then wake again when it says. */
static void
http_run(struct http_server *srv)
{
	MHD_UNSIGNED_LONG_LONG ms;

	MHD_run(srv->d);
	if (MHD_get_timeout(srv->d, &ms) == MHD_YES)
		timer_add(&srv->tick, ms > 60000 ? 60000 : (int64_t)ms);
	else
		timer_del(&srv->tick);
}

static void
http_on_io(struct ev_io *io, int revents)
{
	http_run(io->arg);
}

static void
http_on_tick(struct ev_timer *t)
{
	http_run(t->arg);
}

void
http_kick(struct http_server *srv)
{
	timer_add(&srv->tick, 0);
}

void
http_stop_accepting(struct http_server *srv)
{
	admin_listen_stop(&srv->al);
}

/* The deadline: shut the socket; MHD sees it at once and closes. */
static void
http_deadline(struct ev_timer *t)
{
	struct http_conn *hc = t->arg;

	shutdown(hc->fd, SHUT_RDWR);
	http_kick(hc->srv);
}

/* A request began or was answered on c: its deadline starts again. */
static void
http_active(struct http_server *srv, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;
	struct http_conn *hc;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci != NULL && (hc = ci->socket_context) != NULL && hc->fd != -1)
		timer_add(&hc->deadline, srv->site->idle_ms());
}

/* MHD has a request line (the URI log hook is the first word of each
 * request); *req_cls stays NULL for the handler. */
static void *
http_began(void *cls, const char *uri, struct MHD_Connection *c)
{
	http_active(cls, c);
	return NULL;
}

static void
http_completed(void *cls, struct MHD_Connection *c, void **req_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;

	http_active(srv, c);
	if (srv->site->completed != NULL)
		srv->site->completed(cls, c, req_cls, toe);
}

static void
http_notify(void *cls, struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	struct http_server *srv = cls;
	struct http_conn *hc;
	const union MHD_ConnectionInfo *ci;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		hc = xcalloc(1, sizeof(*hc));
		hc->srv = srv;
		ci = MHD_get_connection_info(c,
		    MHD_CONNECTION_INFO_CONNECTION_FD);
		hc->fd = ci ? ci->connect_fd : -1;
		timer_init(&hc->deadline, http_deadline, hc);
		if (hc->fd != -1)
			timer_add(&hc->deadline, srv->site->idle_ms());
		srv->nconn++;
		*socket_context = hc;
	} else if ((hc = *socket_context) != NULL) {
		timer_del(&hc->deadline);
		srv->nconn--;
		free(hc);
		*socket_context = NULL;
	}
}

static void
http_take(struct admin_listener *l, int fd)
{
	struct http_server *srv = server_of(l);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (srv->nconn >= srv->site->connections()) {
		admin_listen_refuse(l, fd, "connections setting reached");
		return;
	}
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1) {
		close(fd);
		return;
	}
	/* MHD owns fd now, and closes it even when this fails. */
	if (MHD_add_connection(srv->d, fd, (struct sockaddr *)&ss, len) !=
	    MHD_YES)
		log_debug("%s: connection not taken: %s", l->name,
		    strerror(errno));
	http_run(srv);
}

static void
http_log(void *cls, const char *fmt, va_list ap)
{
	struct http_server *srv = cls;
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\r\n")] = '\0';
	log_debug("%s: %s", srv->site->setting, msg);
}

/* A whole PEM file, for MHD's in-memory options. */
static char *
read_pem(const char *path, const char *what, char *err, size_t errsz)
{
	FILE *f;
	char *p = NULL;
	size_t n = 0;
	ssize_t r;

	if ((f = fopen(path, "re")) == NULL) {
		snprintf(err, errsz, "%s %s: %s", what, path, strerror(errno));
		return NULL;
	}
	r = getdelim(&p, &n, '\0', f);
	fclose(f);
	if (r <= 0) {
		free(p);
		snprintf(err, errsz, "%s %s: empty or unreadable", what, path);
		return NULL;
	}
	return p;
}

struct http_server *
http_bind(const struct http_site *site, char *err, size_t errsz)
{
	struct http_server *srv;
	struct sockaddr_storage ss;
	socklen_t len;
	const char *addr = site->address();
	int fd, one = 1;

	err[0] = '\0';
	if (addr == NULL || addr[0] == '\0')
		return NULL;
	if (sockaddr_parse(addr, site->default_port, &ss, &len) == -1) {
		snprintf(err, errsz, "%s: %s: \"%s\" is not an address "
		    "(IP:port or [IPv6]:port)", gcfg->path, site->setting,
		    addr);
		return NULL;
	}
	srv = xcalloc(1, sizeof(*srv));
	srv->site = site;
	if (site->tls && ((srv->cert = read_pem(gcfg->tls.certificate,
	    "tls.certificate", err, errsz)) == NULL ||
	    (srv->key = read_pem(gcfg->tls.key, "tls.key", err, errsz)) ==
	    NULL))
		goto fail;
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errsz, "socket: %s", strerror(errno));
		goto fail;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, 128) == -1) {
		snprintf(err, errsz, "%s %s: %s", site->setting, addr,
		    strerror(errno));
		close(fd);
		goto fail;
	}
	srv->al.name = site->setting;
	srv->al.fd = fd;
	srv->al.take = http_take;
	srv->al.busy = site->busy;
	return srv;
fail:
	free(srv->cert);
	free(srv->key);
	free(srv);
	return NULL;
}

int
http_start(struct http_server *srv, char *err, size_t errsz)
{
	const struct http_site *site = srv->site;
	const union MHD_DaemonInfo *di;
	unsigned flags = MHD_USE_EPOLL | MHD_USE_NO_LISTEN_SOCKET |
	    MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	unsigned timeout = (unsigned)((site->idle_ms() + 999) / 1000);
	struct MHD_OptionItem tls[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, srv->cert },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, srv->key },
		{ MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES },
		{ MHD_OPTION_END, 0, NULL },
	};

	if (site->tls)
		flags |= MHD_USE_TLS;
	/* MHD's limits back gwd's: its idle timeout under gwd's deadline,
	 * and a connection limit no live raise of `connections` (checked
	 * in http_take(), the cap that counts) can reach. */
	srv->d = MHD_start_daemon(flags, 0, NULL, NULL, site->handler, srv,
	    MHD_OPTION_EXTERNAL_LOGGER, http_log, srv,
	    MHD_OPTION_NOTIFY_CONNECTION, http_notify, srv,
	    MHD_OPTION_NOTIFY_COMPLETED, http_completed, srv,
	    MHD_OPTION_URI_LOG_CALLBACK, http_began, srv,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONN_LIMIT,
	    MHD_OPTION_CONNECTION_TIMEOUT, timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
	    MHD_OPTION_ARRAY, site->tls ? tls : tls + 3,
	    MHD_OPTION_END);
	if (srv->d == NULL ||
	    (di = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_EPOLL_FD)) ==
	    NULL) {
		snprintf(err, errsz, "%s: cannot start the HTTP server%s",
		    site->setting, site->tls ? " (is tls.key the key of "
		    "tls.certificate?)" : "");
		return -1;
	}
	io_init(&srv->io, di->epoll_fd, http_on_io, srv);
	io_set(&srv->io, EV_READ);
	timer_init(&srv->tick, http_on_tick, srv);
	admin_listen_start(&srv->al);
	log_info("%s on %s://%s/", site->setting, site->tls ? "https" :
	    "http", site->address());
	return 0;
}

enum MHD_Result
http_reply(struct MHD_Connection *c, unsigned status, const char *ctype,
    const char *body, size_t len, int flags)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if ((r = MHD_create_response_from_buffer(len, (void *)body,
	    MHD_RESPMEM_MUST_COPY)) == NULL)
		return MHD_NO;
	if (ctype)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (flags & HTTP_CLOSE) {
		MHD_set_response_options(r, MHD_RF_HTTP_1_0_SERVER,
		    MHD_RO_END);
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION,
		    "close");
	}
	if (flags & HTTP_NOSTORE) {
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
		    "no-store");
		MHD_add_response_header(r, "X-Content-Type-Options",
		    "nosniff");
		MHD_add_response_header(r, "Content-Security-Policy",
		    "default-src 'none'; form-action 'self'; "
		    "frame-ancestors 'none'");
		MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	}
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}
