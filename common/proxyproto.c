/*
 * proxyproto.c - PROXY protocol v1 and v2 headers, from bytes.
 * Standards: HAProxy's "The PROXY protocol" versions 1 and 2.
 * Exposure: parses bytes a peer sent before anything else; the caller
 * hands over only what came from a trusted proxy, but nothing here
 * trusts the bytes: every length is checked against what is there, a
 * v1 line is bounded at 107 bytes, v2 TLVs are walked (never read) and
 * must fill the header exactly.
 * Diagnostics: never dies; a bad header returns -1 with a static reason.
 *
 * The caller reads the header in pieces (it must not read the client's
 * first bytes, e.g. a TLS ClientHello on an implicit-TLS port), so a
 * prefix that can still become a header is "not complete yet" (0), and
 * a prefix that cannot is refused at once, before more is waited for.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "proxyproto.h"

static const unsigned char v2sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};
static const char v1sig[] = "PROXY ";

/* p[0..len) starts like sig[0..siglen): 1, else 0. */
static int
prefix_of(const unsigned char *p, size_t len, const void *sig, size_t siglen)
{
	return memcmp(p, sig, len < siglen ? len : siglen) == 0;
}

static unsigned
be16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* A v1 port: 1 to 5 decimal digits, at most 65535; -1 when not. */
static long
v1_port(const char *s)
{
	long v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v > 65535 ? -1 : v;
}

/* An address and port of the family into ss; 0, or -1 when either is
 * not valid text. */
static int
v1_sockaddr(int family, const char *addr, const char *port,
    struct sockaddr_storage *ss, socklen_t *len)
{
	long pv = v1_port(port);

	memset(ss, 0, sizeof(*ss));
	if (pv < 0)
		return -1;
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
			return -1;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)pv);
		*len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1)
			return -1;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)pv);
		*len = sizeof(*s6);
	}
	return 0;
}

/*
 * "PROXY TCP4 192.0.2.1 198.51.100.1 56324 587\r\n": fields apart by
 * exactly one space; "PROXY UNKNOWN" with anything after it up to the
 * CRLF keeps the connection's own addresses.
 */
static int
parse_v1(const unsigned char *p, size_t len, struct proxy_hdr *h,
    const char **errstr)
{
	char line[PROXY_V1_MAX + 1], *f[6], *s;
	size_t n, end, nf = 0;
	int family;

	/* Only printable ASCII before the CR LF: garbage is refused as it
	 * comes, not after 107 bytes of it. */
	n = len < PROXY_V1_MAX ? len : PROXY_V1_MAX;
	for (end = 0; end < n; end++) {
		if (p[end] == '\r')
			break;
		if (p[end] < 0x20 || p[end] > 0x7e) {
			*errstr = "v1: a control or non-ASCII byte in the line";
			return -1;
		}
	}
	if (end == n && len < PROXY_V1_MAX)
		return 0;
	if (end == n || end + 2 > PROXY_V1_MAX) {
		*errstr = "v1: no CR LF within 107 bytes";
		return -1;
	}
	if (end + 1 == len)
		return 0;			/* the LF may come yet */
	if (p[end + 1] != '\n') {
		*errstr = "v1: CR without LF";
		return -1;
	}
	memcpy(line, p, end);
	line[end] = '\0';
	for (s = line + sizeof(v1sig) - 1; nf < 6; s++) {
		f[nf++] = s;
		if ((s = strchr(s, ' ')) == NULL)
			break;
		*s = '\0';
	}
	memset(h, 0, sizeof(*h));
	h->version = 1;
	if (strcmp(f[0], "UNKNOWN") == 0) {
		h->local = 1;
		return (int)end + 2;
	}
	if (strcmp(f[0], "TCP4") == 0)
		family = AF_INET;
	else if (strcmp(f[0], "TCP6") == 0)
		family = AF_INET6;
	else {
		*errstr = "v1: protocol not TCP4, TCP6 or UNKNOWN";
		return -1;
	}
	if (nf != 5 || s != NULL) {
		*errstr = "v1: not exactly two addresses and two ports";
		return -1;
	}
	if (v1_sockaddr(family, f[1], f[3], &h->src, &h->srclen) == -1 ||
	    v1_sockaddr(family, f[2], f[4], &h->dst, &h->dstlen) == -1) {
		*errstr = "v1: an address or port that is not valid";
		return -1;
	}
	return (int)end + 2;
}

/* Type, 16-bit length, value, to the end of the header exactly. */
static int
v2_tlvs_fit(const unsigned char *p, size_t n)
{
	while (n > 0) {
		size_t tl;

		if (n < 3)
			return -1;
		tl = 3 + be16(p + 1);
		if (tl > n)
			return -1;
		p += tl;
		n -= tl;
	}
	return 0;
}

static void
v2_addrs(int family, const unsigned char *a, struct proxy_hdr *h)
{
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&h->src;
		struct sockaddr_in *d = (struct sockaddr_in *)&h->dst;

		s->sin_family = d->sin_family = AF_INET;
		memcpy(&s->sin_addr, a, 4);
		memcpy(&d->sin_addr, a + 4, 4);
		memcpy(&s->sin_port, a + 8, 2);		/* network order */
		memcpy(&d->sin_port, a + 10, 2);
		h->srclen = h->dstlen = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&h->src;
		struct sockaddr_in6 *d = (struct sockaddr_in6 *)&h->dst;

		s->sin6_family = d->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, a, 16);
		memcpy(&d->sin6_addr, a + 16, 16);
		memcpy(&s->sin6_port, a + 32, 2);
		memcpy(&d->sin6_port, a + 34, 2);
		h->srclen = h->dstlen = sizeof(*s);
	}
}

/*
 * Signature, version 2 and command (LOCAL, PROXY), family and transport,
 * the length of the rest; then the addresses and TLVs.  A LOCAL command
 * or an UNSPEC family has a block we do not look into.
 */
static int
parse_v2(const unsigned char *p, size_t len, struct proxy_hdr *h,
    const char **errstr)
{
	static const size_t addrlen[4] = { 0, 12, 36, 216 };
	unsigned cmd, fam, proto;
	size_t body, total;

	if (len < PROXY_V2_FIXED)
		return 0;
	if (p[12] >> 4 != 2) {
		*errstr = "v2: version is not 2";
		return -1;
	}
	cmd = p[12] & 0x0f;
	fam = p[13] >> 4;
	proto = p[13] & 0x0f;
	body = be16(p + 14);
	total = PROXY_V2_FIXED + body;
	if (cmd > 1) {
		*errstr = "v2: command neither LOCAL nor PROXY";
		return -1;
	}
	if (cmd == 1 && fam > 3) {
		*errstr = "v2: unknown address family";
		return -1;
	}
	if (cmd == 1 && fam != 0 && proto != 1) {
		*errstr = "v2: transport is not a stream (TCP)";
		return -1;
	}
	if (cmd == 1 && body < addrlen[fam]) {
		*errstr = "v2: length too short for the addresses";
		return -1;
	}
	if (len < total)
		return 0;
	memset(h, 0, sizeof(*h));
	h->version = 2;
	if (cmd == 0 || fam == 0 || fam == 3) {
		/* LOCAL: the proxy speaking for itself (a health check);
		 * UNSPEC, UNIX: nothing we can use as a client address. */
		h->local = 1;
		return (int)total;
	}
	if (v2_tlvs_fit(p + PROXY_V2_FIXED + addrlen[fam],
	    body - addrlen[fam]) == -1) {
		*errstr = "v2: a TLV runs past the end of the header";
		return -1;
	}
	v2_addrs(fam == 1 ? AF_INET : AF_INET6, p + PROXY_V2_FIXED, h);
	return (int)total;
}

int
proxy_parse(const void *buf, size_t len, struct proxy_hdr *h,
    const char **errstr)
{
	const unsigned char *p = buf;

	*errstr = NULL;
	if (len == 0)
		return 0;
	if (prefix_of(p, len, v2sig, sizeof(v2sig)))
		return len < sizeof(v2sig) ? 0 : parse_v2(p, len, h, errstr);
	if (prefix_of(p, len, v1sig, sizeof(v1sig) - 1))
		return len < sizeof(v1sig) - 1 ? 0 :
		    parse_v1(p, len, h, errstr);
	*errstr = "no PROXY protocol signature";
	return -1;
}
