/*
 * mxguard.h - addresses MX delivery must never connect to: nowhere
 * (unspecified), everyone (broadcast, multicast), or back to this host
 * (loopback, gwd's own listeners).  DNS is untrusted: a domain whose MX
 * points there would make gwd deliver to itself or to whatever else
 * listens on this machine.  Smarthosts are configured by the admin and
 * are not checked.
 */
#ifndef GW_MXGUARD_H
#define GW_MXGUARD_H

#include <sys/socket.h>

enum mxguard_kind {
	MXG_OK, MXG_UNSPECIFIED, MXG_LOOPBACK, MXG_BROADCAST, MXG_MULTICAST
};

/* What kind of address sa is, from the address alone (IPv4-mapped IPv6
 * addresses as their IPv4 address).  Pure. */
enum mxguard_kind mxguard_kind(const struct sockaddr *sa);

/*
 * Why MX delivery must not connect to sa (its port included), or NULL.
 * Unspecified, broadcast (255.255.255.255 and each interface's) and
 * multicast addresses always; loopback addresses and the addresses gwd
 * listens on (every local address for a wildcard listener) unless
 * allow_loopback; and, even then, one of gwd's own listeners exactly
 * (address and port).
 */
const char *mxguard_refuse(const struct sockaddr *sa, int allow_loopback);

#endif
