/*
 * admin_listen.h - accepting for the listeners that are not SMTP: the
 * control socket (control.c; one request line, one answer, then the
 * close) and the HTTP listeners (http.c hands each connection to
 * libmicrohttpd).  None takes the descriptors SMTP needs.
 */
#ifndef GW_ADMIN_LISTEN_H
#define GW_ADMIN_LISTEN_H

#include <stdint.h>

#include "conn.h"
#include "ctlproto.h"
#include "loop.h"

/* A request line, control or HTTP (ctlproto.h: the clients keep to it). */
#define REQ_MAX		CTL_REQ_MAX

struct admin_listener {
	const char	*name;		/* its setting, for the log */
	int		 fd;		/* -1: not listening */
	/* A new connection: take it, or close fd. */
	void		(*take)(struct admin_listener *, int fd);
	/* Written to a refused connection before the close, or NULL. */
	const char	*busy;
	struct ev_io	 io;
	struct ev_timer	 resume;	/* after EMFILE: accept again */
	uint64_t	 refused;	/* since the last warning */
	int64_t		 warned;	/* loop_now() of that warning */
};

/* Accept on l->fd (when it is not -1) from the loop. */
void	 admin_listen_start(struct admin_listener *);
/* Stop accepting and close l->fd. */
void	 admin_listen_stop(struct admin_listener *);
/* Answer (l->busy) and close fd; a line in the log now and then. */
void	 admin_listen_refuse(struct admin_listener *, int fd,
	    const char *why);
/* The first line, once complete, without its CRLF; else NULL (and the
 * conn closed at EOF or when the line outgrows REQ_MAX). */
char	*admin_listen_line(struct conn *);

#endif
