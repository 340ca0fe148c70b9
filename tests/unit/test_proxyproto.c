// sources:
/*
 * test_proxyproto.c - PROXY protocol v1 and v2 headers: what is taken,
 * the client address it gives, and the verdict on every malformed shape
 * (truncated, over-long, bad signature, family or command, lengths that
 * lie, ports that are not numbers).  A valid header cut short anywhere
 * is "not complete yet", never an error: the reader waits for the rest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "cidr.h"
#include "proxyproto.h"

#define OK	1		/* complete: the whole header taken */
#define MORE	0
#define BAD	(-1)

static const unsigned char sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* A v2 header: signature, ver_cmd, fam, the length said (len), then
 * body[0..n).  Returns its size. */
static size_t
v2(unsigned char *out, int ver_cmd, int fam, unsigned len,
    const void *body, size_t n)
{
	memcpy(out, sig, 12);
	out[12] = (unsigned char)ver_cmd;
	out[13] = (unsigned char)fam;
	out[14] = (unsigned char)(len >> 8);
	out[15] = (unsigned char)len;
	if (n)
		memcpy(out + 16, body, n);
	return 16 + n;
}

static const unsigned char tcp4[12] = {
	192, 0, 2, 1,  198, 51, 100, 2,  0xdc, 0x04,  0x02, 0x4b
};					/* :56324 -> :587 */

/* Every prefix of a valid header is "more", never an error. */
static void
assert_prefixes_wait(const void *p, size_t total)
{
	struct proxy_hdr h;
	const char *err;

	for (size_t i = 0; i < total; i++) {
		int r = proxy_parse(p, i, &h, &err);

		if (r != 0)
			fail_msg("prefix of %zu of %zu bytes: %d (%s)", i,
			    total, r, err ? err : "");
	}
}

static void
assert_src(const struct proxy_hdr *h, const char *ip, int port)
{
	char got[INET6_ADDRSTRLEN];
	int p;

	sockaddr_ntop((const struct sockaddr *)&h->src, got, sizeof(got));
	assert_string_equal(got, ip);
	p = h->src.ss_family == AF_INET ?
	    ntohs(((const struct sockaddr_in *)&h->src)->sin_port) :
	    ntohs(((const struct sockaddr_in6 *)&h->src)->sin6_port);
	assert_int_equal(p, port);
}

static void
test_v1(void **state)
{
	static const struct {
		const char	*in;
		int		 verdict;
		const char	*ip;	/* the client; NULL: local */
		int		 port;
	} cases[] = {
		{ "PROXY TCP4 192.0.2.1 198.51.100.2 56324 587\r\n", OK,
		    "192.0.2.1", 56324 },
		{ "PROXY TCP4 192.0.2.1 198.51.100.2 0 65535\r\n", OK,
		    "192.0.2.1", 0 },
		{ "PROXY TCP6 2001:db8::1 2001:db8::2 1 465\r\n", OK,
		    "2001:db8::1", 1 },
		{ "PROXY TCP6 ::ffff:192.0.2.9 ::1 2525 2525\r\n", OK,
		    "192.0.2.9", 2525 },
		{ "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
		    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
		    OK, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535 },
		{ "PROXY UNKNOWN\r\n", OK, NULL, 0 },
		{ "PROXY UNKNOWN whatever follows 1 2\r\n", OK, NULL, 0 },
		/* Truncated: wait for the rest. */
		{ "", MORE, NULL, 0 },
		{ "P", MORE, NULL, 0 },
		{ "PROXY", MORE, NULL, 0 },
		{ "PROXY TCP4 192.0.2.1 198.51.100.2 56324 58", MORE, NULL, 0 },
		{ "PROXY TCP4 192.0.2.1 198.51.100.2 56324 587\r", MORE, NULL,
		    0 },
		/* Not a PROXY line at all. */
		{ "EHLO client.example\r\n", BAD, NULL, 0 },
		{ "GET / HTTP/1.1\r\n", BAD, NULL, 0 },
		{ "proxy TCP4 192.0.2.1 198.51.100.2 1 2\r\n", BAD, NULL, 0 },
		{ " PROXY TCP4 192.0.2.1 198.51.100.2 1 2\r\n", BAD, NULL, 0 },
		{ "PROXYTCP4 192.0.2.1 198.51.100.2 1 2\r\n", BAD, NULL, 0 },
		/* Fields. */
		{ "PROXY \r\n", BAD, NULL, 0 },
		{ "PROXY TCP5 192.0.2.1 198.51.100.2 1 2\r\n", BAD, NULL, 0 },
		{ "PROXY tcp4 192.0.2.1 198.51.100.2 1 2\r\n", BAD, NULL, 0 },
		{ "PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n", BAD, NULL, 0 },
		{ "PROXY  TCP4 192.0.2.1 198.51.100.2 1 2\r\n", BAD, NULL, 0 },
		{ "PROXY TCP4  192.0.2.1 198.51.100.2 1 2\r\n", BAD, NULL, 0 },
		{ "PROXY TCP4 192.0.2.1 198.51.100.2 1\r\n", BAD, NULL, 0 },
		{ "PROXY TCP4 192.0.2.1 198.51.100.2 1 2 3\r\n", BAD, NULL, 0 },
		{ "PROXY TCP4 192.0.2.1 198.51.100.2 1 2 \r\n", BAD, NULL, 0 },
		{ "PROXY TCP4 192.0.2.1 198.51.100.2 1 2\t\r\n", BAD, NULL, 0 },
		{ "PROXY TCP4\r\n", BAD, NULL, 0 },
		/* Addresses of the wrong family or not addresses. */
		{ "PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n", BAD, NULL, 0 },
		{ "PROXY TCP6 192.0.2.1 2001:db8::2 1 2\r\n", BAD, NULL, 0 },
		{ "PROXY TCP4 192.0.2.256 198.51.100.2 1 2\r\n", BAD, NULL, 0 },
		{ "PROXY TCP4 192.0.2 198.51.100.2 1 2\r\n", BAD, NULL, 0 },
		{ "PROXY TCP4 192.000.2.1 198.51.100.2 1 2\r\n", BAD, NULL, 0 },
		{ "PROXY TCP4 host.example 198.51.100.2 1 2\r\n", BAD, NULL, 0 },
		{ "PROXY TCP6 [2001:db8::1] 2001:db8::2 1 2\r\n", BAD, NULL, 0 },
		{ "PROXY TCP6 fe80::1%eth0 2001:db8::2 1 2\r\n", BAD, NULL, 0 },
		{ "PROXY TCP6 2001:db8:::1 2001:db8::2 1 2\r\n", BAD, NULL, 0 },
		/* Ports. */
		{ "PROXY TCP4 192.0.2.1 198.51.100.2 65536 587\r\n", BAD, NULL,
		    0 },
		{ "PROXY TCP4 192.0.2.1 198.51.100.2 100000 587\r\n", BAD, NULL,
		    0 },
		{ "PROXY TCP4 192.0.2.1 198.51.100.2 abc 587\r\n", BAD, NULL,
		    0 },
		{ "PROXY TCP4 192.0.2.1 198.51.100.2 -1 587\r\n", BAD, NULL, 0 },
		{ "PROXY TCP4 192.0.2.1 198.51.100.2 +1 587\r\n", BAD, NULL, 0 },
		{ "PROXY TCP4 192.0.2.1 198.51.100.2 0x10 587\r\n", BAD, NULL,
		    0 },
		{ "PROXY TCP4 192.0.2.1 198.51.100.2 1e3 587\r\n", BAD, NULL,
		    0 },
		{ "PROXY TCP4 192.0.2.1 198.51.100.2 18446744073709551617 587"
		    "\r\n", BAD, NULL, 0 },
		/* Line ends and bytes. */
		{ "PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n", BAD, NULL, 0 },
		{ "PROXY TCP4 192.0.2.1 198.51.100.2 1 2\rX", BAD, NULL, 0 },
		{ "PROXY TCP4 192.0.2.1 198.51.100.2 1 2\r\r\n", BAD, NULL, 0 },
		{ "PROXY TCP4 192.0.2.1\x80 198.51.100.2 1 2\r\n", BAD, NULL,
		    0 },
		{ "PROXY UNKNOWN \x7f\r\n", BAD, NULL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct proxy_hdr h;
		const char *err;
		size_t n = strlen(cases[i].in);
		int r = proxy_parse(cases[i].in, n, &h, &err);

		if ((cases[i].verdict == OK && r != (int)n) ||
		    (cases[i].verdict != OK && r != cases[i].verdict))
			fail_msg("case %zu \"%s\": %d (%s)", i, cases[i].in, r,
			    err ? err : "");
		if (r == BAD)
			assert_non_null(err);
		if (cases[i].verdict != OK)
			continue;
		assert_int_equal(h.version, 1);
		assert_prefixes_wait(cases[i].in, n);
		if (cases[i].ip == NULL) {
			assert_int_equal(h.local, 1);
			continue;
		}
		assert_int_equal(h.local, 0);
		assert_src(&h, cases[i].ip, cases[i].port);
	}
}

/* A NUL inside the line (strlen cannot carry it). */
static void
test_v1_nul(void **state)
{
	static const char in[] = "PROXY TCP4 192.0.2.1\0 198.51.100.2 1 2\r\n";
	struct proxy_hdr h;
	const char *err;

	assert_int_equal(proxy_parse(in, sizeof(in) - 1, &h, &err), BAD);
}

/* 107 bytes with the CR LF is the longest line; a byte more is refused,
 * and so are 107 bytes without a CR LF (no waiting past the bound). */
static void
test_v1_length(void **state)
{
	char line[300];
	struct proxy_hdr h;
	const char *err;

	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	memcpy(line + 105, "\r\n", 2);
	assert_int_equal(proxy_parse(line, 107, &h, &err), 107);
	assert_int_equal(h.local, 1);
	assert_int_equal(proxy_parse(line, sizeof(line), &h, &err), 107);

	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	memcpy(line + 106, "\r\n", 2);
	assert_int_equal(proxy_parse(line, 106, &h, &err), MORE);
	assert_int_equal(proxy_parse(line, 107, &h, &err), BAD);
	assert_int_equal(proxy_parse(line, 108, &h, &err), BAD);
	assert_non_null(strstr(err, "107"));

	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY TCP4 ", 11);
	assert_int_equal(proxy_parse(line, 106, &h, &err), MORE);
	assert_int_equal(proxy_parse(line, 107, &h, &err), BAD);
	assert_int_equal(proxy_parse(line, sizeof(line), &h, &err), BAD);
}

static void
test_v2_tcp(void **state)
{
	unsigned char b[256], body[64];
	struct proxy_hdr h;
	const char *err;
	size_t n;

	n = v2(b, 0x21, 0x11, 12, tcp4, 12);
	memcpy(b + n, "EHLO x\r\n", 8);	/* the client's bytes follow */
	assert_int_equal(proxy_parse(b, n + 8, &h, &err), 28);
	assert_int_equal(h.version, 2);
	assert_int_equal(h.local, 0);
	assert_src(&h, "192.0.2.1", 56324);
	assert_int_equal(ntohs(((struct sockaddr_in *)&h.dst)->sin_port),
	    587);
	assert_prefixes_wait(b, n);

	memset(body, 0, sizeof(body));
	inet_pton(AF_INET6, "2001:db8::5", body);
	inet_pton(AF_INET6, "2001:db8::25", body + 16);
	body[32] = 0x30; body[33] = 0x39;		/* 12345 */
	body[34] = 0x01; body[35] = 0xd1;		/* 465 */
	n = v2(b, 0x21, 0x21, 36, body, 36);
	assert_int_equal(proxy_parse(b, n, &h, &err), 52);
	assert_src(&h, "2001:db8::5", 12345);
	assert_prefixes_wait(b, n);

	/* IPv4-mapped in a TCP6 block: the IPv4 client. */
	memset(body, 0, 36);
	inet_pton(AF_INET6, "::ffff:192.0.2.77", body);
	n = v2(b, 0x21, 0x21, 36, body, 36);
	assert_int_equal(proxy_parse(b, n, &h, &err), 52);
	assert_src(&h, "192.0.2.77", 0);
}

/* TLVs (ALPN, authority, NOOP padding, an unknown type) are skipped, but
 * must fill the rest of the header exactly. */
static void
test_v2_tlvs(void **state)
{
	unsigned char b[256], body[64];
	static const unsigned char tlvs[] = {
		0x01, 0x00, 0x02, 'h', '2',
		0x02, 0x00, 0x0b, 'm', 'x', '.', 'e', 'x', 'a', 'm', 'p', 'l',
		    'e', '.',
		0x04, 0x00, 0x00,
		0xee, 0x00, 0x01, 0xff,
	};
	struct proxy_hdr h;
	const char *err;
	size_t n;

	memcpy(body, tcp4, 12);
	memcpy(body + 12, tlvs, sizeof(tlvs));
	n = v2(b, 0x21, 0x11, 12 + sizeof(tlvs), body, 12 + sizeof(tlvs));
	assert_int_equal(proxy_parse(b, n, &h, &err), (int)n);
	assert_src(&h, "192.0.2.1", 56324);
	assert_prefixes_wait(b, n);

	/* One or two bytes left over: not even a TLV's type and length. */
	for (size_t extra = 1; extra <= 2; extra++) {
		n = v2(b, 0x21, 0x11, (unsigned)(12 + extra), body,
		    12 + extra);
		assert_int_equal(proxy_parse(b, n, &h, &err), BAD);
	}
	/* A TLV saying 5 bytes where the header has 2 left. */
	memcpy(body + 12, "\x01\x00\x05xy", 5);
	n = v2(b, 0x21, 0x11, 17, body, 17);
	assert_int_equal(proxy_parse(b, n, &h, &err), BAD);
	assert_non_null(strstr(err, "TLV"));
	/* The last TLV one byte short of its length. */
	memcpy(body + 12, "\x01\x00\x03xy", 5);
	n = v2(b, 0x21, 0x11, 17, body, 17);
	assert_int_equal(proxy_parse(b, n, &h, &err), BAD);
}

/* The largest header there can be: 65535 bytes after the fixed part,
 * one TLV holding most of it.  Cut short, it waits. */
static void
test_v2_largest(void **state)
{
	unsigned char *b = calloc(1, PROXY_MAX + 10);
	struct proxy_hdr h;
	const char *err;

	assert_non_null(b);
	v2(b, 0x21, 0x11, 0xffff, tcp4, 12);
	b[28] = 0x04;				/* NOOP */
	b[29] = (unsigned char)((0xffff - 15) >> 8);
	b[30] = (unsigned char)(0xffff - 15);
	assert_int_equal(proxy_parse(b, PROXY_MAX + 10, &h, &err), PROXY_MAX);
	assert_int_equal(proxy_parse(b, PROXY_MAX - 1, &h, &err), MORE);
	/* A length that says more than ever comes: waits (the reader's
	 * deadline ends it), never reads past what it was given. */
	assert_int_equal(proxy_parse(b, 100, &h, &err), MORE);
	free(b);
}

static void
test_v2_local(void **state)
{
	unsigned char b[512], body[256];
	struct proxy_hdr h;
	const char *err;
	size_t n;

	/* A health check: LOCAL, no addresses. */
	n = v2(b, 0x20, 0x00, 0, NULL, 0);
	assert_int_equal(proxy_parse(b, n, &h, &err), 16);
	assert_int_equal(h.local, 1);
	/* LOCAL with a block: skipped unread, whatever its family. */
	memset(body, 0xab, sizeof(body));
	n = v2(b, 0x20, 0x11, 12, tcp4, 12);
	assert_int_equal(proxy_parse(b, n, &h, &err), 28);
	assert_int_equal(h.local, 1);
	n = v2(b, 0x20, 0xff, 5, body, 5);
	assert_int_equal(proxy_parse(b, n, &h, &err), 21);
	assert_int_equal(h.local, 1);
	/* PROXY with UNSPEC or UNIX: nothing to use as a client address. */
	n = v2(b, 0x21, 0x00, 0, NULL, 0);
	assert_int_equal(proxy_parse(b, n, &h, &err), 16);
	assert_int_equal(h.local, 1);
	n = v2(b, 0x21, 0x31, 216, body, 216);
	assert_int_equal(proxy_parse(b, n, &h, &err), 232);
	assert_int_equal(h.local, 1);
}

static void
test_v2_bad(void **state)
{
	static const struct {
		const char	*what;
		int		 ver_cmd, fam;
		unsigned	 len;
		size_t		 n;	/* body bytes present */
	} cases[] = {
		{ "version 1", 0x11, 0x11, 12, 12 },
		{ "version 3", 0x31, 0x11, 12, 12 },
		{ "version 0", 0x01, 0x11, 12, 12 },
		{ "command 2", 0x22, 0x11, 12, 12 },
		{ "command 15", 0x2f, 0x11, 12, 12 },
		{ "family 4", 0x21, 0x41, 12, 12 },
		{ "family 15", 0x21, 0xf1, 12, 12 },
		{ "UDP over IPv4", 0x21, 0x12, 12, 12 },
		{ "UDP over IPv6", 0x21, 0x22, 36, 36 },
		{ "transport unspecified", 0x21, 0x10, 12, 12 },
		{ "transport 3", 0x21, 0x13, 12, 12 },
		{ "IPv4 block of 11", 0x21, 0x11, 11, 11 },
		{ "IPv4 block of 0", 0x21, 0x11, 0, 0 },
		{ "IPv6 block of 35", 0x21, 0x21, 35, 35 },
		{ "IPv6 length, IPv4 block", 0x21, 0x21, 12, 12 },
		{ "UNIX block of 215", 0x21, 0x31, 215, 215 },
		/* Refused from the fixed part alone, before the body. */
		{ "version 1, no body yet", 0x11, 0x11, 12, 0 },
		{ "short block, no body yet", 0x21, 0x11, 4, 0 },
	};
	unsigned char b[512], body[256];
	struct proxy_hdr h;
	const char *err;

	memset(body, 0, sizeof(body));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = v2(b, cases[i].ver_cmd, cases[i].fam, cases[i].len,
		    body, cases[i].n);
		int r = proxy_parse(b, n, &h, &err);

		if (r != BAD)
			fail_msg("%s: %d", cases[i].what, r);
		assert_non_null(err);
	}
}

static void
test_v2_signature(void **state)
{
	unsigned char b[64];
	struct proxy_hdr h;
	const char *err;
	size_t n;

	n = v2(b, 0x21, 0x11, 12, tcp4, 12);
	/* Each signature byte wrong in turn: refused as soon as seen. */
	for (size_t i = 0; i < 12; i++) {
		b[i] ^= 0x20;
		assert_int_equal(proxy_parse(b, n, &h, &err), BAD);
		assert_int_equal(proxy_parse(b, i + 1, &h, &err), BAD);
		b[i] ^= 0x20;
	}
	/* A truncated signature waits. */
	for (size_t i = 0; i < 12; i++)
		assert_int_equal(proxy_parse(b, i, &h, &err), MORE);
	/* A bare CR LF (a client talking first) is a v2 prefix too, but
	 * the third byte decides. */
	assert_int_equal(proxy_parse("\r\nQUIT\r\n", 8, &h, &err), BAD);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1),
		cmocka_unit_test(test_v1_nul),
		cmocka_unit_test(test_v1_length),
		cmocka_unit_test(test_v2_tcp),
		cmocka_unit_test(test_v2_tlvs),
		cmocka_unit_test(test_v2_largest),
		cmocka_unit_test(test_v2_local),
		cmocka_unit_test(test_v2_bad),
		cmocka_unit_test(test_v2_signature),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
