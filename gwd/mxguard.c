/*
 * mxguard.c - addresses MX delivery must never connect to (mxguard.h).
 * Standards: RFC 6890 (special-purpose addresses), RFC 4291 2.5.5.2
 * (IPv4-mapped IPv6), RFC 5321 5.1 (an MX that is this host).
 * Exposure: judges addresses taken from DNS answers, which are
 * untrusted; reads gwd's listener settings and the host's interfaces.
 *
 * Connecting to 0.0.0.0 or :: reaches this host on Linux, so the
 * unspecified addresses count as "this host" too, and are never allowed.
 * Diagnostics: never dies; mxguard_refuse() returns why an address is
 * refused, or NULL, and interfaces it cannot list (getifaddrs failing)
 * count as none.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "gwd.h"
#include "mxguard.h"

/* The IPv4 address of sa (an IPv4-mapped IPv6 one too), host order. */
static int
v4_of(const struct sockaddr *sa, uint32_t *a)
{
	const struct in6_addr *a6;
	uint32_t v;

	if (sa->sa_family == AF_INET) {
		*a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
		return 0;
	}
	if (sa->sa_family != AF_INET6)
		return -1;
	a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (!IN6_IS_ADDR_V4MAPPED(a6))
		return -1;
	memcpy(&v, a6->s6_addr + 12, 4);
	*a = ntohl(v);
	return 0;
}

enum mxguard_kind
mxguard_kind(const struct sockaddr *sa)
{
	const struct in6_addr *a6;
	uint32_t a;

	if (v4_of(sa, &a) == 0) {
		if (a >> 24 == 0)		/* 0.0.0.0/8, "this network" */
			return MXG_UNSPECIFIED;
		if (a >> 24 == 127)
			return MXG_LOOPBACK;
		if (a == 0xffffffffu)
			return MXG_BROADCAST;
		if (a >> 28 == 0xe)		/* 224.0.0.0/4 */
			return MXG_MULTICAST;
		return MXG_OK;
	}
	if (sa->sa_family != AF_INET6)
		return MXG_UNSPECIFIED;		/* no address at all */
	a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (IN6_IS_ADDR_UNSPECIFIED(a6))
		return MXG_UNSPECIFIED;
	if (IN6_IS_ADDR_LOOPBACK(a6))
		return MXG_LOOPBACK;
	if (IN6_IS_ADDR_MULTICAST(a6))
		return MXG_MULTICAST;
	return MXG_OK;
}

/* The same address (ports aside), IPv4-mapped IPv6 equal to IPv4. */
static int
same_addr(const struct sockaddr *x, const struct sockaddr *y)
{
	uint32_t a = 0, b = 0;
	int x4, y4;

	if (x == NULL || y == NULL)
		return 0;
	x4 = v4_of(x, &a) == 0;
	y4 = v4_of(y, &b) == 0;
	if (x4 || y4)
		return x4 && y4 && a == b;
	return x->sa_family == AF_INET6 && y->sa_family == AF_INET6 &&
	    memcmp(&((const struct sockaddr_in6 *)x)->sin6_addr,
	    &((const struct sockaddr_in6 *)y)->sin6_addr,
	    sizeof(struct in6_addr)) == 0;
}

static int
port_of(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
}

/* sa is an address of one of this host's interfaces (broadcast: one of
 * their broadcast addresses). */
static int
on_interface(const struct sockaddr *sa, const struct ifaddrs *ifs,
    int broadcast)
{
	for (const struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		const struct sockaddr *a = broadcast ? i->ifa_broadaddr :
		    i->ifa_addr;

		if (broadcast && !(i->ifa_flags & IFF_BROADCAST))
			continue;
		if (same_addr(sa, a))
			return 1;
	}
	return 0;
}

/* A listener's configured address (*wild: a wildcard); 0 or -1. */
static int
listen_addr(const struct gw_listen *l, struct sockaddr_storage *ss,
    int *wild)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, l->address, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		*wild = s4->sin_addr.s_addr == htonl(INADDR_ANY);
		return 0;
	}
	if (inet_pton(AF_INET6, l->address, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		*wild = IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr);
		return 0;
	}
	return -1;
}

/* Which listener of gwd sa reaches: by address alone, or (exact) by
 * address and port.  A wildcard listener has every local address. */
static int
is_listener(const struct sockaddr *sa, const struct ifaddrs *ifs, int exact)
{
	struct sockaddr_storage ss;
	int wild;

	for (int i = 0; i < gcfg->nlisten; i++) {
		const struct gw_listen *l = &gcfg->listen[i];

		if (listen_addr(l, &ss, &wild) == -1)
			continue;
		if (exact && l->port != port_of(sa))
			continue;
		if (wild ? on_interface(sa, ifs, 0) ||
		    mxguard_kind(sa) == MXG_LOOPBACK :
		    same_addr(sa, (struct sockaddr *)&ss))
			return 1;
	}
	return 0;
}

const char *
mxguard_refuse(const struct sockaddr *sa, int allow_loopback)
{
	struct ifaddrs *ifs = NULL;
	const char *why = NULL;

	switch (mxguard_kind(sa)) {
	case MXG_UNSPECIFIED:
		return "unspecified address";
	case MXG_BROADCAST:
		return "broadcast address";
	case MXG_MULTICAST:
		return "multicast address";
	case MXG_LOOPBACK:
		if (!allow_loopback)
			return "loopback address";
		break;
	case MXG_OK:
		break;
	}
	/* Without the interfaces, a wildcard listener has loopback only. */
	if (getifaddrs(&ifs) == -1)
		ifs = NULL;
	if (on_interface(sa, ifs, 1))
		why = "broadcast address";
	else if (is_listener(sa, ifs, 1))
		why = "gwd's own listener";
	else if (!allow_loopback && is_listener(sa, ifs, 0))
		why = "address gwd listens on";
	if (ifs)
		freeifaddrs(ifs);
	return why;
}
