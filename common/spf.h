/*
 * spf.h - the pure parts of `gwctl domain check`: SPF terms (RFC 7208
 * 4.6.1, 5) and DMARC's organisational domain, alignment and tags
 * (RFC 7489 3.1, 6.3), simplified as said below.
 *
 * Pure and hostile-input safe: records come from DNS.
 */
#ifndef GW_SPF_H
#define GW_SPF_H

#include <stddef.h>

enum spf_qual { SPF_Q_PASS, SPF_Q_FAIL, SPF_Q_SOFTFAIL, SPF_Q_NEUTRAL };

enum spf_mech { SPF_M_ALL, SPF_M_IP4, SPF_M_IP6, SPF_M_A, SPF_M_MX,
	SPF_M_INCLUDE, SPF_M_REDIRECT, SPF_M_MODIFIER, SPF_M_OTHER };

#define SPF_DOMAIN_MAX	255

struct spf_term {
	enum spf_qual	qual;
	enum spf_mech	mech;
	char		domain[SPF_DOMAIN_MAX + 1];	/* a, mx, include,
							   redirect: the target */
	int		family;		/* ip4, ip6: AF_INET, AF_INET6 */
	unsigned char	addr[16];
	int		bits4, bits6;	/* a, mx, ip4, ip6: the prefixes */
};

/*
 * One term t of a record ("-ip4:192.0.2.0/24", "a:h/24//64", "mx",
 * "include:d", "redirect=d", "~all"); domain is the record's own, the
 * target of "a" and "mx" without one.  0 with *out; -1 when the term is
 * not valid (a prefix out of range or not a number, an empty or too long
 * target, a target with a macro, which is not expanded).  ptr, exists
 * and anything unknown give SPF_M_OTHER, other modifiers (exp=)
 * SPF_M_MODIFIER.
 */
int	spf_term_parse(const char *t, const char *domain, struct spf_term *out);

/* Is the address (family, 4 or 16 bytes) in net/bits4 (IPv4) or
 * net/bits6 (IPv6) of that family?  1 or 0. */
int	spf_addr_in(int family, const unsigned char *ip, int net_family,
	    const unsigned char *net, int bits4, int bits6);

/* The organisational domain taken as the last two labels of d (not the
 * Public Suffix List: wrong under co.uk and the like), a pointer into d. */
const char *dmarc_org_domain(const char *d);

/* Do a and b align: the same name (strict), or the same organisational
 * domain (relaxed)?  Case-insensitive; 1 or 0. */
int	dmarc_aligned(const char *a, const char *b, int strict);

/* The value of tag in the DMARC record rec ("v=DMARC1; p=none; ..."),
 * blanks trimmed, into out; "" when absent.  The last one wins. */
void	dmarc_tag(const char *rec, const char *tag, char *out, size_t n);

#endif
