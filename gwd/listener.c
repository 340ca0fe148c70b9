/*
 * listener.c - inbound SMTP: the listening sockets, accept, and who is
 * let in (connection limits, addresses blocked after failed AUTHs).
 * Behind a load balancer, proxy_accept.c reads the PROXY header first.
 * Exposure: accepts connections from anyone the listen addresses reach;
 * binds as root before privileges are dropped, accepts unprivileged.
 * Diagnostics: listeners_bind() returns -1 with the file, line and
 * reason; accept errors are logged and the listener goes on.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "authguard.h"
#include "gwd.h"
#include "log.h"
#include "session.h"
#include "session_priv.h"

static struct listener	 listeners[GW_MAX_LISTEN];
static int		 nlisteners;
static int		 spare_fd = -1;		/* for 421 when out of fds */

/*
 * A new connection becomes a session, refused at once past a limit.  On
 * 465 the client speaks TLS first, so a refusal there is just a close;
 * elsewhere it is a 421 the client can log.  client: the address a
 * proxy reported (proxy_accept.c), NULL: the socket's peer.
 */
void
listener_admit(struct listener *l, int fd,
    const struct sockaddr_storage *client)
{
	struct session *s;
	int count;

	if ((s = session_new(l, fd, client)) == NULL)
		return;
	count = sessions_from(s->ip);
	if (sessions_count() > gcfg->limits.connections ||
	    count > gcfg->limits.connections_per_ip ||
	    authguard_ip_blocked(s->ip)) {
		const char *why = sessions_count() > gcfg->limits.connections ?
		    "too many connections" : count >
		    gcfg->limits.connections_per_ip ?
		    "too many connections from your address" :
		    "too many failed authentications; try again later";

		if (l->cfg->tls != LISTEN_IMPLICIT)
			session_reply(s, "421 4.7.0 %s Error: %s",
			    gcfg->hostname, why);
		session_close(s, why);
		return;
	}
	session_start(s);
}

/* Out of descriptors: free the spare, accept, refuse, close, re-arm. */
static void
refuse_no_fd(struct listener *l)
{
	static const char msg[] = "421 4.3.2 Error: too many connections; "
	    "try again later\r\n";
	int fd;

	if (spare_fd == -1)
		return;
	close(spare_fd);
	if ((fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC)) != -1) {
		if (l->cfg->tls != LISTEN_IMPLICIT &&
		    write(fd, msg, sizeof(msg) - 1) == -1)
			log_debug("refusal not sent: %s", strerror(errno));
		close(fd);
	}
	spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void
accept_cb(struct ev_io *io, int revents)
{
	struct listener *l = io->arg;

	/* Stopped by a callback earlier in this loop iteration (shutdown):
	 * its event was fetched already, its descriptor is gone. */
	if (l->fd == -1)
		return;
	for (int i = 0; i < 64; i++) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC);

		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				log_warnx("accept: out of file descriptors");
				refuse_no_fd(l);
				continue;
			}
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept");
			return;
		}
		if (l->cfg->proxy_protocol)
			proxy_accept(l, fd);	/* the header first */
		else
			listener_admit(l, fd, NULL);
	}
}

int
listeners_bind(char *err, size_t errsz)
{
	sessions_init();
	spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (int i = 0; i < gcfg->nlisten; i++) {
		struct gw_listen *lc = &gcfg->listen[i];
		struct listener *l = &listeners[nlisteners];
		struct addrinfo hints, *ai;
		char port[8];
		int fd, one = 1, r;

		memset(&hints, 0, sizeof(hints));
		hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE | AI_NUMERICSERV;
		hints.ai_socktype = SOCK_STREAM;
		snprintf(port, sizeof(port), "%d", lc->port);
		if ((r = getaddrinfo(lc->address, port, &hints, &ai)) != 0) {
			snprintf(err, errsz, "%s:%d: listen address \"%s\": %s",
			    gcfg->path, lc->line, lc->address,
			    gai_strerror(r));
			return -1;
		}
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd == -1) {
			snprintf(err, errsz, "socket: %s", strerror(errno));
			freeaddrinfo(ai);
			return -1;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof(one));
		/* A deep backlog: dropped SYNs cost clients a second each. */
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
		    listen(fd, 4096) == -1) {
			snprintf(err, errsz, "%s:%d: cannot listen on %s port "
			    "%d: %s", gcfg->path, lc->line, lc->address,
			    lc->port, strerror(errno));
			close(fd);
			freeaddrinfo(ai);
			return -1;
		}
		freeaddrinfo(ai);
		l->cfg = lc;
		l->fd = fd;
		nlisteners++;
		log_info("listening on %s port %d (%s%s%s%s)", lc->address,
		    lc->port, lc->tls == LISTEN_IMPLICIT ? "implicit TLS" :
		    "STARTTLS", lc->require_tls ? "" : ", TLS optional",
		    lc->ip_auth ? ", IP allowlists" : "",
		    lc->proxy_protocol ? ", PROXY protocol" : "");
	}
	return 0;
}

void
listeners_start(void)
{
	for (int i = 0; i < nlisteners; i++) {
		io_init(&listeners[i].io, listeners[i].fd, accept_cb,
		    &listeners[i]);
		io_set(&listeners[i].io, EV_READ);
	}
}

void
listeners_stop(void)
{
	for (int i = 0; i < nlisteners; i++) {
		io_del(&listeners[i].io);
		close(listeners[i].fd);
		listeners[i].fd = -1;
	}
	nlisteners = 0;
	proxy_close_all();
}
