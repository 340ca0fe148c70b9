/*
 * dns_pkt.h - DNS messages: build a query, parse an answer (RFC 1035,
 * RFC 3596 AAAA, RFC 6891 EDNS0, RFC 7505 null MX, RFC 6698 TLSA, the
 * AD bit of RFC 4035 and RFC 6840).
 *
 * Pure and hostile-input safe: answers come from the network.  Name
 * compression pointers are followed with a hop limit, every read is
 * bounds-checked, counts are capped.
 */
#ifndef GW_DNS_PKT_H
#define GW_DNS_PKT_H

#include <stddef.h>
#include <stdint.h>

#define DNS_T_A		1
#define DNS_T_CNAME	5
#define DNS_T_SOA	6
#define DNS_T_MX	15
#define DNS_T_TXT	16
#define DNS_T_AAAA	28
#define DNS_T_TLSA	52

#define DNS_RCODE_NOERROR	0
#define DNS_RCODE_FORMERR	1
#define DNS_RCODE_SERVFAIL	2
#define DNS_RCODE_NXDOMAIN	3
#define DNS_RCODE_REFUSED	5

#define DNS_NAME_MAX	255
#define DNS_MAX_MX	16
#define DNS_MAX_ADDR	16
#define DNS_MAX_TXT	8
#define DNS_TXT_MAX	4096
#define DNS_MAX_TLSA	8
#define DNS_TLSA_DATA_MAX 64	/* a SHA-512 digest */

struct dns_mx {
	uint16_t	pref;
	char		host[DNS_NAME_MAX + 1];	/* "" for the root: null MX */
};

struct dns_addr {
	int		family;		/* AF_INET or AF_INET6 */
	unsigned char	addr[16];
};

/* RFC 6698 2.1: certificate usage, selector, matching type, data. */
struct dns_tlsa {
	uint8_t		usage;
	uint8_t		selector;
	uint8_t		mtype;
	uint8_t		len;
	unsigned char	data[DNS_TLSA_DATA_MAX];
};

struct dns_answer {
	int		rcode;
	int		tc;		/* truncated: retry over TCP */
	int		aa;
	int		ad;		/* the resolver validated it (DNSSEC) */
	int		nmx;
	struct dns_mx	mx[DNS_MAX_MX];
	int		naddr;
	struct dns_addr	addr[DNS_MAX_ADDR];
	int		ntxt;
	/* Each TXT RR's character-strings concatenated, NUL-terminated. */
	char		txt[DNS_MAX_TXT][DNS_TXT_MAX + 1];
	char		cname[DNS_NAME_MAX + 1];	/* last CNAME target */
	int		ntlsa;
	struct dns_tlsa	tlsa[DNS_MAX_TLSA];
	int		tlsa_skipped;	/* too long to keep, or past the cap */
	/*
	 * How long the answer may be kept, in seconds (RFC 1035 3.2.1,
	 * RFC 2181 8: a TTL with the top bit set counts as 0); -1: the
	 * answer does not say.  ttl: the least TTL of the records of the
	 * asked type and of the CNAMEs followed to them.  neg_ttl, for an
	 * answer with no such record (NXDOMAIN, NODATA): RFC 2308 5's,
	 * the least of the TTL and MINIMUM field of the authority
	 * section's SOA for the name, and of the CNAMEs followed.
	 */
	int64_t		ttl;
	int64_t		neg_ttl;
};

/*
 * Write a query for (name, qtype) with id, RD and AD set, plus an EDNS0 OPT
 * record advertising a 1232-byte UDP payload.  name may end in '.'.
 * Returns the packet length, or -1 when name is not a valid name or out
 * (outsz) is too small.  512 bytes is always enough.
 */
int	dns_build_query(uint16_t id, const char *name, uint16_t qtype,
	    unsigned char *out, size_t outsz);

/*
 * Parse an answer to the query (id, name, qtype).  Returns 0 and fills
 * *ans; -1 when the packet is malformed, is not a response, or does not
 * match the id, question name (case-insensitive) or type.  Records of
 * the asked type are collected from the answer section when their owner
 * is the name asked or a CNAME target reached from it (chains of at most
 * 8); MX hosts are lower-cased without the trailing dot; the null MX
 * target "." gives host "".  Beyond the caps, records are ignored.  An
 * SOA in the authority section that is not the name's, or does not
 * parse, leaves neg_ttl at -1 and the answer otherwise intact.
 */
int	dns_parse_answer(const unsigned char *pkt, size_t len, uint16_t id,
	    const char *name, uint16_t qtype, struct dns_answer *ans);

#endif
