/*
 * cidr.c - IP networks and matching peers against them.
 * Diagnostics: never dies; text that is not an address or network
 * returns -1.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "util.h"

int
cidr_parse(const char *s, struct cidr *c)
{
	char tmp[INET6_ADDRSTRLEN + 8], *slash, *end;
	long bits;
	int max;

	if (gw_strlcpy(tmp, s, sizeof(tmp)) >= sizeof(tmp))
		return -1;
	memset(c, 0, sizeof(*c));
	if ((slash = strchr(tmp, '/')) != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET, tmp, c->addr) == 1) {
		c->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, tmp, c->addr) == 1) {
		c->family = AF_INET6;
		max = 128;
	} else
		return -1;
	c->bits = max;
	if (slash) {
		if (*slash < '0' || *slash > '9')
			return -1;
		bits = strtol(slash, &end, 10);
		if (*end || bits < 0 || bits > max)
			return -1;
		c->bits = (int)bits;
	}
	/* Clear host bits so "192.0.2.7/24" is stored as 192.0.2.0/24. */
	for (int i = 0; i < max / 8; i++) {
		int keep = c->bits - i * 8;

		if (keep >= 8)
			continue;
		c->addr[i] &= keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));
	}
	return 0;
}

int
cidr_host_bits(const char *s, const struct cidr *c)
{
	char tmp[INET6_ADDRSTRLEN + 8];
	unsigned char raw[16];
	size_t n = strcspn(s, "/");

	if (n >= sizeof(tmp))
		return 0;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (inet_pton(c->family, tmp, raw) != 1)
		return 0;
	return memcmp(raw, c->addr, c->family == AF_INET ? 4 : 16) != 0;
}

void
cidr_format(const struct cidr *c, char *out, size_t n)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(c->family, c->addr, a, sizeof(a));
	if (c->bits == (c->family == AF_INET ? 32 : 128))
		snprintf(out, n, "%s", a);
	else
		snprintf(out, n, "%s/%d", a, c->bits);
}

static int
prefix_eq(const unsigned char *a, const unsigned char *b, int bits)
{
	int bytes = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)bytes) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a[bytes] ^ b[bytes]) & (0xff << (8 - rest))) == 0;
}

int
cidr_match(const struct cidr *c, const struct sockaddr *sa)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };
	const unsigned char *a;

	if (sa->sa_family == AF_INET) {
		a = (const unsigned char *)
		    &((const struct sockaddr_in *)sa)->sin_addr;
		return c->family == AF_INET && prefix_eq(a, c->addr, c->bits);
	}
	if (sa->sa_family != AF_INET6)
		return 0;
	a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	if (c->family == AF_INET6)
		return prefix_eq(a, c->addr, c->bits);
	return memcmp(a, mapped, 12) == 0 && prefix_eq(a + 12, c->addr,
	    c->bits);
}

void
sockaddr_ntop(const struct sockaddr *sa, char *out, size_t n)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    out, (socklen_t)n);
	} else if (sa->sa_family == AF_INET6) {
		const unsigned char *a =
		    ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;

		if (memcmp(a, mapped, 12) == 0)
			inet_ntop(AF_INET, a + 12, out, (socklen_t)n);
		else
			inet_ntop(AF_INET6, a, out, (socklen_t)n);
	} else
		snprintf(out, n, "unknown");
}

int
sockaddr_parse(const char *s, int defport, struct sockaddr_storage *ss,
    socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 8];
	const char *portp = NULL;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	long port = defport;
	char *end;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {			/* [::1]:5353 */
		const char *rb = strchr(s, ']');

		if (rb == NULL || (size_t)(rb - s - 1) >= sizeof(host))
			return -1;
		memcpy(host, s + 1, (size_t)(rb - s - 1));
		host[rb - s - 1] = '\0';
		if (rb[1] == ':')
			portp = rb + 2;
		else if (rb[1] != '\0')
			return -1;
	} else {
		const char *colon = strchr(s, ':');

		if (colon && strchr(colon + 1, ':'))	/* bare IPv6 */
			colon = NULL;
		if (gw_strlcpy(host, s, sizeof(host)) >= sizeof(host))
			return -1;
		if (colon) {
			host[colon - s] = '\0';
			portp = colon + 1;
		}
	}
	if (portp) {
		port = strtol(portp, &end, 10);
		if (*portp == '\0' || *end || port < 1 || port > 65535)
			return -1;
	}
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return 0;
	}
	return -1;
}
