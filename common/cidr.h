/*
 * cidr.h - IP networks ("192.0.2.0/24", "2001:db8::/32", a bare address)
 * and matching a peer address against them.  IPv4-mapped IPv6 peers
 * (::ffff:192.0.2.1) match IPv4 networks.
 */
#ifndef GW_CIDR_H
#define GW_CIDR_H

#include <sys/socket.h>

struct cidr {
	int		family;		/* AF_INET or AF_INET6 */
	unsigned char	addr[16];
	int		bits;
};

int	cidr_parse(const char *, struct cidr *);	/* 0 or -1 */
/* 1 when the text had host bits set past its prefix ("10.1.2.3/8"),
 * which cidr_parse() cleared in c; 0 when not (or not a network). */
int	cidr_host_bits(const char *, const struct cidr *c);
void	cidr_format(const struct cidr *, char *, size_t);  /* canonical */
int	cidr_match(const struct cidr *, const struct sockaddr *);
/* Peer address as text without IPv4-mapping ("192.0.2.1"). */
void	sockaddr_ntop(const struct sockaddr *, char *, size_t);
/* "IP", "IP:port" or "[IPv6]:port" (a bare IPv6 address takes defport):
 * 0 with the address and its length filled in, or -1. */
int	sockaddr_parse(const char *, int defport, struct sockaddr_storage *,
	    socklen_t *);

#endif
