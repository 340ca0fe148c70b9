/*
 * proxyproto.h - the PROXY protocol header a load balancer (HAProxy)
 * sends before the client's first byte: version 1 (one text line) and
 * version 2 (binary), parsed from bytes with no I/O.
 * Standards: HAProxy's "The PROXY protocol" versions 1 and 2
 * (doc/proxy-protocol.txt, 2020/03/05).
 */
#ifndef GW_PROXYPROTO_H
#define GW_PROXYPROTO_H

#include <sys/socket.h>

#include <stddef.h>

#define PROXY_V1_MAX	107		/* the whole line, CRLF included */
#define PROXY_V2_FIXED	16		/* signature, command, family, len */
#define PROXY_MAX	(PROXY_V2_FIXED + 65535)

struct proxy_hdr {
	int			 version;	/* 1 or 2 */
	/*
	 * 1: keep the connection's own addresses: a v2 LOCAL command (the
	 * proxy's health check), v1 "UNKNOWN", v2 UNSPEC or UNIX.
	 */
	int			 local;
	struct sockaddr_storage	 src;		/* the client (local == 0) */
	socklen_t		 srclen;
	struct sockaddr_storage	 dst;		/* where it connected to */
	socklen_t		 dstlen;
};

/*
 * A header at the start of p[0..len):
 *   > 0  its length: h is filled in, the client's bytes follow it;
 *     0  not complete yet: every one of the len bytes belongs to the
 *        header (a reader may consume them all and wait for more);
 *    -1  not a valid header (*errstr says why; nothing to wait for).
 */
int	proxy_parse(const void *p, size_t len, struct proxy_hdr *h,
	    const char **errstr);

#endif
