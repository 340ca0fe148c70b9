/*
 * admin_listen.c - accepting on the control socket and the HTTP
 * listeners (admin_listen.h), and reading the control socket's one
 * request line.
 * Exposure: the HTTP listeners are reached by anyone metrics.listen or
 * http.listen lets in, without authentication (http.c bounds them); the
 * control request line is bounded (REQ_MAX) and nothing after it is
 * read.
 * Diagnostics: nothing fatal; refused connections are logged at most
 * once a minute, with their number.
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "admin_listen.h"
#include "log.h"

/*
 * Descriptors.  The metrics listener has no authentication, so it must
 * never take what SMTP needs (issue 19: 291 idle connections to it used
 * up a limit of 256, and then every SMTP client was refused).  So no
 * metrics or control connection is kept while fewer than a quarter of
 * RLIMIT_NOFILE descriptors are free (and http.c caps its clients in
 * number and time).  accept() hands out the lowest free
 * descriptor, so when it returns N, 0..N are all in use.
 */
static int	 fd_limit;	/* RLIMIT_NOFILE's soft limit */

static int
fd_reserve_reached(int fd)
{
	return fd_limit > 0 && fd >= fd_limit - fd_limit / 4;
}

/*
 * Answer (HTTP: a 503 in one small write to a fresh socket) and close.
 * What the client already sent is read first: closing with unread input
 * sends RST, and an RST can make the client drop the 503 unread.
 */
void
admin_listen_refuse(struct admin_listener *l, int fd, const char *why)
{
	char in[REQ_MAX];

	if (l->busy) {
		for (int i = 0; i < 4 && recv(fd, in, sizeof(in),
		    MSG_DONTWAIT) > 0; i++)
			;
		if (write(fd, l->busy, strlen(l->busy)) == -1)
			log_debug("%s: refusal not sent: %s", l->name,
			    strerror(errno));
	}
	close(fd);
	/* A flood must not flood the log too: a line a minute at most. */
	l->refused++;
	if (l->warned == 0 || loop_now() - l->warned >= 60000) {
		log_warnx("%s: refused %llu connection%s: %s", l->name,
		    (unsigned long long)l->refused, l->refused == 1 ? "" : "s",
		    why);
		l->refused = 0;
		l->warned = loop_now();
	}
}

/* Out of descriptors: the pending connection stays in the backlog and
 * would wake the loop at once, again and again; look again in a second. */
static void
accept_resume(struct ev_timer *t)
{
	struct admin_listener *l = t->arg;

	if (l->fd != -1)
		io_set(&l->io, EV_READ);
}

static void
accept_cb(struct ev_io *io, int revents)
{
	struct admin_listener *l = io->arg;
	int fd;

	while ((fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) != -1) {
		if (fd_reserve_reached(fd)) {
			admin_listen_refuse(l, fd, "descriptors kept for SMTP");
			continue;
		}
		l->take(l, fd);
	}
	if (errno == EMFILE || errno == ENFILE) {
		io_set(&l->io, 0);
		timer_add(&l->resume, 1000);
	}
}

char *
admin_listen_line(struct conn *c)
{
	char *p = buf_ptr(&c->in), *nl;
	size_t n = buf_len(&c->in);

	if (c->closing)
		return NULL;
	nl = n ? memchr(p, '\n', n) : NULL;
	if (nl == NULL) {
		if (c->eof || n >= REQ_MAX - 1)
			conn_close(c);
		return NULL;
	}
	*nl = '\0';
	if (nl > p && nl[-1] == '\r')
		nl[-1] = '\0';
	return p;
}

void
admin_listen_start(struct admin_listener *l)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		fd_limit = rl.rlim_cur > INT_MAX ? INT_MAX : (int)rl.rlim_cur;
	timer_init(&l->resume, accept_resume, l);
	if (l->fd != -1) {
		io_init(&l->io, l->fd, accept_cb, l);
		io_set(&l->io, EV_READ);
	}
}

void
admin_listen_stop(struct admin_listener *l)
{
	timer_del(&l->resume);
	if (l->fd != -1) {
		io_del(&l->io);
		close(l->fd);
		l->fd = -1;
	}
}
