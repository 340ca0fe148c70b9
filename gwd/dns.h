/*
 * dns.h - an asynchronous stub resolver on the event loop.  It asks the
 * configured recursive resolvers (dns.resolver, else /etc/resolv.conf),
 * over UDP with a fallback to TCP for truncated answers.  No cache: the
 * callers keep what they need, for as long as the answer's TTLs say
 * (struct dns_answer; sts.c does).
 */
#ifndef GW_DNS_H
#define GW_DNS_H

#include <stdint.h>

#include "config.h"
#include "dns_pkt.h"

enum dns_status {
	DNS_OK,		/* records of the type asked are in the answer */
	DNS_NODATA,	/* the name exists, no records of that type */
	DNS_NXDOMAIN,	/* the name does not exist */
	DNS_TEMPFAIL	/* SERVFAIL, REFUSED, timeout, garbage */
};

struct dns_req;
typedef void (*dns_cb)(void *arg, enum dns_status,
	    const struct dns_answer *, const char *why);

int	 dns_init(const struct gw_config *, char *err, size_t errsz);
/* The callback always runs later, from the loop, never inside this. */
struct dns_req *dns_query(const char *name, uint16_t qtype, dns_cb,
	    void *arg);
void	 dns_cancel(struct dns_req *);
const char *dns_status_name(enum dns_status);

#endif
