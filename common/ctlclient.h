/*
 * ctlclient.h - the client side of gwd's control socket, for gwctl and
 * gwtop: one request line (with the protocol version word, ctlproto.h)
 * in, the whole reply up to gwd's close out, within a deadline.
 * Diagnostics: never dies; -1 with errno: ENOENT or ECONNREFUSED (gwd
 * not running), EACCES, ENAMETOOLONG (the path), EAGAIN (gwd did not
 * accept in time), EINVAL (a request with a newline, or too long),
 * ETIMEDOUT (no whole reply in time), EMSGSIZE (the reply would pass
 * the buffer's maximum: never cut short silently).
 */
#ifndef GW_CTLCLIENT_H
#define GW_CTLCLIENT_H

struct buf;

/* Connected to path with req sent, within ms; the fd, or -1. */
int	 ctlclient_open(const char *path, const char *req, int ms);
/* Append everything gwd writes until it closes to reply, within ms of
 * the call: 0, or -1 (what arrived stays in reply). */
int	 ctlclient_read(int fd, struct buf *reply, int ms);
/* Both, then close: 0 or -1.  *connected (if not NULL) says whether
 * gwd accepted the connection, which a timeout alone does not tell. */
int	 ctlclient_ask(const char *path, const char *req, struct buf *reply,
	    int ms, int *connected);

#endif
