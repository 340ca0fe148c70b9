/*
 * route.h - where mail for a destination goes: the smarthost, or the MX
 * hosts of a domain in preference order with their addresses.
 * Standards: RFC 5321 5.1 (MX, implicit MX), RFC 7505 (null MX).
 */
#ifndef GW_ROUTE_H
#define GW_ROUTE_H

#include <sys/socket.h>

#include "dns_pkt.h"
#include "mtasts.h"

#define ROUTE_MAX_TARGETS	32
#define ROUTE_MAX_MX		10
#define ROUTE_MAX_TLSA		4

struct target {
	char			 host[256];	/* MX host (or smarthost) */
	struct sockaddr_storage	 sa;
	socklen_t		 salen;
	int			 shi;		/* smarthost: its list entry */
	int			 hi;		/* its host: route_result.dane */
};

/*
 * DANE for SMTP (RFC 7672), per host, when dns.dnssec trusts the
 * resolver's AD bit.  Records are looked up at _PORT._tcp.HOST when the
 * MX answer (or, without MX, the host's) and the host's addresses were
 * validated.
 */
enum dane_state {
	DANE_NONE,	/* no DANE: no secure TLSA records (or dnssec off) */
	DANE_ON,	/* TLS and a certificate a record matches, or nothing */
	DANE_UNUSABLE,	/* secure records, none usable: TLS, unauthenticated
			   (RFC 7672 2.2) */
	DANE_FAILED	/* the TLSA lookup failed: not this host for now */
};

struct route_dane {
	enum dane_state		 state;
	int			 ntlsa;
	struct dns_tlsa		 tlsa[ROUTE_MAX_TLSA];
};

enum route_status { ROUTE_OK, ROUTE_TEMPFAIL, ROUTE_PERMFAIL };

struct route_result {
	enum route_status	 status;
	int			 code;		/* 4xx/5xx for failures */
	char			 enh[16];	/* "5.1.10" */
	char			 text[256];
	struct target		 targets[ROUTE_MAX_TARGETS];
	int			 ntargets;
	struct route_dane	 dane[ROUTE_MAX_MX];	/* by target.hi */
	int			 mx_secure;	/* the MX answer validated
						   (dns.dnssec) */
	/* MTA-STS (mta_sts.enable, MX routes only): the domain's policy
	 * when sts_on; sts_why says why there is none when a lookup or
	 * fetch failed ("" when the domain publishes none). */
	int			 sts_on;
	struct mtasts_policy	 sts;
	char			 sts_why[200];
};

struct route_req;
struct shlist;
typedef void (*route_cb)(void *arg, const struct route_result *);

/* The MX hosts of `domain` (targets get `port`), or (domain NULL) the
 * hosts of the smarthost list `sh` with their own ports, each target
 * naming its entry (shi), in list order.  MX addresses mxguard.h
 * refuses are left out; when that leaves none, 554 5.4.6 (a loop). */
struct route_req *route_resolve(const char *domain, const struct shlist *sh,
	    int port, route_cb, void *arg);
void	 route_cancel(struct route_req *);

#endif
