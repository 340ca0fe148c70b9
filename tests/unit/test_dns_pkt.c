// sources:
/*
 * test_dns_pkt.c - query bytes, and answers built by hand: compression,
 * null MX, CNAME chains, caps, TTLs (RFC 2308's for negative answers),
 * and the hostile cases (pointer loops, forward pointers, truncation at
 * every length).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "dns_pkt.h"

#define ID	0x1234

/* A packet builder: just enough to write answers by hand. */
struct pb {
	unsigned char	b[8192];
	size_t		n;
};

static void
pb8(struct pb *p, unsigned int v)
{
	p->b[p->n++] = (unsigned char)v;
}

static void
pb16(struct pb *p, unsigned int v)
{
	pb8(p, v >> 8 & 0xff);
	pb8(p, v & 0xff);
}

static void
pbmem(struct pb *p, const void *m, size_t n)
{
	memcpy(p->b + p->n, m, n);
	p->n += n;
}

/* Labels of text, without the root byte, so a pointer may follow. */
static void
pblabels(struct pb *p, const char *text)
{
	const char *dot;

	while (*text != '\0') {
		if ((dot = strchr(text, '.')) == NULL)
			dot = text + strlen(text);
		pb8(p, (unsigned int)(dot - text));
		pbmem(p, text, (size_t)(dot - text));
		text = *dot ? dot + 1 : dot;
	}
}

/* A whole uncompressed name. */
static void
pbname(struct pb *p, const char *text)
{
	pblabels(p, text);
	pb8(p, 0);
}

static void
pbptr(struct pb *p, size_t off)
{
	pb16(p, 0xc000 | (unsigned int)off);
}

/* Header (QR, RD, RA set, plus f2/f3), then the question at offset 12. */
static void
pb_start(struct pb *p, uint16_t id, unsigned int f2, unsigned int rcode,
    unsigned int an, const char *qname, uint16_t qtype)
{
	p->n = 0;
	pb16(p, id);
	pb8(p, 0x81 | f2);
	pb8(p, 0x80 | rcode);
	pb16(p, 1);
	pb16(p, an);
	pb16(p, 0);
	pb16(p, 0);
	pbname(p, qname);
	pb16(p, qtype);
	pb16(p, 1);
}

static uint32_t rr_ttl = 300;	/* the TTL pb_rr() writes */

/* Type, class IN, TTL, and a placeholder rdlength: returns its offset. */
static size_t
pb_rr(struct pb *p, uint16_t type)
{
	size_t at;

	pb16(p, type);
	pb16(p, 1);
	pb16(p, rr_ttl >> 16);
	pb16(p, rr_ttl & 0xffff);
	at = p->n;
	pb16(p, 0);
	return at;
}

static void
pb_rdend(struct pb *p, size_t at)
{
	size_t len = p->n - at - 2;

	p->b[at] = (unsigned char)(len >> 8);
	p->b[at + 1] = (unsigned char)len;
}

static void
pb_mx(struct pb *p, unsigned int pref, const char *host)
{
	size_t at;

	pbptr(p, 12);
	at = pb_rr(p, DNS_T_MX);
	pb16(p, pref);
	pbname(p, host);
	pb_rdend(p, at);
}

static void
pb_a(struct pb *p, const char *owner, const unsigned char a[4])
{
	size_t at;

	if (owner == NULL)
		pbptr(p, 12);
	else
		pbname(p, owner);
	at = pb_rr(p, DNS_T_A);
	pbmem(p, a, 4);
	pb_rdend(p, at);
}

static void
pb_cname(struct pb *p, const char *owner, const char *target)
{
	size_t at;

	pbname(p, owner);
	at = pb_rr(p, DNS_T_CNAME);
	pbname(p, target);
	pb_rdend(p, at);
}

/* An SOA of zone in the authority section (after the answers): the
 * offset of its rdlength. */
static size_t
pb_soa(struct pb *p, const char *zone, uint32_t minimum)
{
	size_t at;

	pbname(p, zone);
	at = pb_rr(p, DNS_T_SOA);
	pbname(p, "ns.invalid");
	pbname(p, "hostmaster.invalid");
	for (int i = 0; i < 4; i++) {	/* serial refresh retry expire */
		pb16(p, 0);
		pb16(p, 7);
	}
	pb16(p, minimum >> 16);
	pb16(p, minimum & 0xffff);
	pb_rdend(p, at);
	p->b[9]++;			/* NSCOUNT */
	return at;
}

static struct dns_answer ans;	/* ~36 KB: keep it off the stack */

static void
test_query(void **state)
{
	static const unsigned char want[] = {
		0x12, 0x34, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 1,
		7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
		0, 15, 0, 1,
		0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0,
	};
	unsigned char out[512];
	char big[300];
	int n;

	n = dns_build_query(ID, "Example.COM.", DNS_T_MX, out, sizeof(out));
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(dns_build_query(ID, "example.com", DNS_T_MX, out,
	    sizeof(out)), sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	/* Too small a buffer by one byte. */
	assert_int_equal(dns_build_query(ID, "example.com", DNS_T_MX, out,
	    sizeof(want) - 1), -1);

	/* The root: a single zero byte. */
	assert_int_equal(dns_build_query(ID, ".", DNS_T_A, out, sizeof(out)),
	    12 + 1 + 4 + 11);
	assert_int_equal(out[12], 0);

	assert_int_equal(dns_build_query(ID, "a..b", DNS_T_A, out,
	    sizeof(out)), -1);
	assert_int_equal(dns_build_query(ID, ".a", DNS_T_A, out,
	    sizeof(out)), -1);
	assert_int_equal(dns_build_query(ID, "a.b..", DNS_T_A, out,
	    sizeof(out)), -1);
	assert_int_equal(dns_build_query(ID, "..", DNS_T_A, out,
	    sizeof(out)), -1);
	assert_int_equal(dns_build_query(ID, "a b.test", DNS_T_A, out,
	    sizeof(out)), -1);

	/* Labels: 63 is fine, 64 is not. */
	memset(big, 'a', 64);
	big[63] = '\0';
	assert_true(dns_build_query(ID, big, DNS_T_A, out, sizeof(out)) > 0);
	big[63] = 'a';
	big[64] = '\0';
	assert_int_equal(dns_build_query(ID, big, DNS_T_A, out, sizeof(out)),
	    -1);

	/* Total: 253 text bytes is 255 on the wire; 254 is too many. */
	for (n = 0; n < 253; n++)
		big[n] = n % 2 ? '.' : 'a';
	big[253] = '\0';
	assert_int_equal(dns_build_query(ID, big, DNS_T_A, out, sizeof(out)),
	    12 + 255 + 4 + 11);
	big[253] = '.';
	big[254] = '\0';	/* a trailing dot does not count */
	assert_true(dns_build_query(ID, big, DNS_T_A, out, sizeof(out)) > 0);
	big[254] = 'a';
	big[255] = '\0';
	assert_int_equal(dns_build_query(ID, big, DNS_T_A, out, sizeof(out)),
	    -1);
}

/* Two MX: one compressed against the question, one spelled out. */
static void
build_mx(struct pb *p)
{
	size_t at;

	pb_start(p, ID, 0x04, 0, 2, "example.com", DNS_T_MX);
	pbptr(p, 12);
	at = pb_rr(p, DNS_T_MX);
	pb16(p, 10);
	pblabels(p, "MX1");
	pbptr(p, 12);
	pb_rdend(p, at);
	pb_mx(p, 20, "Mail.Example.NET");
}

static void
test_mx(void **state)
{
	struct pb p;

	build_mx(&p);
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "EXAMPLE.com.",
	    DNS_T_MX, &ans), 0);
	assert_int_equal(ans.rcode, DNS_RCODE_NOERROR);
	assert_true(ans.aa);
	assert_false(ans.tc);
	assert_int_equal(ans.nmx, 2);
	assert_int_equal(ans.mx[0].pref, 10);
	assert_string_equal(ans.mx[0].host, "mx1.example.com");
	assert_int_equal(ans.mx[1].pref, 20);
	assert_string_equal(ans.mx[1].host, "mail.example.net");
	assert_int_equal(ans.naddr, 0);
	assert_string_equal(ans.cname, "");
}

static void
test_null_mx(void **state)
{
	struct pb p;

	pb_start(&p, ID, 0, 0, 1, "example.org", DNS_T_MX);
	pb_mx(&p, 0, "");
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "example.org",
	    DNS_T_MX, &ans), 0);
	assert_int_equal(ans.nmx, 1);
	assert_int_equal(ans.mx[0].pref, 0);
	assert_string_equal(ans.mx[0].host, "");
	assert_false(ans.aa);
}

static void
test_cname_chain(void **state)
{
	static const unsigned char a1[4] = { 192, 0, 2, 1 };
	static const unsigned char a2[4] = { 198, 51, 100, 7 };
	struct pb p;

	/* Out of order, with a stray A that must not be collected. */
	pb_start(&p, ID, 0, 0, 4, "www.example.com", DNS_T_A);
	pb_a(&p, "b.example.org", a1);
	pb_cname(&p, "a.example.net", "B.example.org");
	pb_a(&p, "other.test", a2);
	pb_cname(&p, "WWW.example.com", "a.example.net");
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "www.example.com",
	    DNS_T_A, &ans), 0);
	assert_string_equal(ans.cname, "b.example.org");
	assert_int_equal(ans.naddr, 1);
	assert_int_equal(ans.addr[0].family, AF_INET);
	assert_memory_equal(ans.addr[0].addr, a1, 4);

	/* Asking for the CNAME itself: one step. */
	pb_start(&p, ID, 0, 0, 2, "www.example.com", DNS_T_CNAME);
	pb_cname(&p, "www.example.com", "a.example.net");
	pb_cname(&p, "a.example.net", "b.example.org");
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "www.example.com",
	    DNS_T_CNAME, &ans), 0);
	assert_string_equal(ans.cname, "a.example.net");
}

/* c0 -> c1 -> ... -> c<hops>, and an A record at the end. */
static void
build_chain(struct pb *p, int hops)
{
	static const unsigned char a1[4] = { 192, 0, 2, 9 };
	char o[32], t[32];
	int i;

	pb_start(p, ID, 0, 0, (unsigned int)hops + 1, "c0.test", DNS_T_A);
	for (i = 0; i < hops; i++) {
		snprintf(o, sizeof(o), "c%d.test", i);
		snprintf(t, sizeof(t), "c%d.test", i + 1);
		pb_cname(p, o, t);
	}
	pb_a(p, t, a1);
}

static void
test_cname_limit(void **state)
{
	struct pb p;

	build_chain(&p, 8);
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "c0.test", DNS_T_A,
	    &ans), 0);
	assert_string_equal(ans.cname, "c8.test");
	assert_int_equal(ans.naddr, 1);

	build_chain(&p, 9);
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "c0.test", DNS_T_A,
	    &ans), 0);
	assert_string_equal(ans.cname, "c8.test");
	assert_int_equal(ans.naddr, 0);

	/* A loop ends at the limit too. */
	pb_start(&p, ID, 0, 0, 2, "x.test", DNS_T_A);
	pb_cname(&p, "x.test", "y.test");
	pb_cname(&p, "y.test", "x.test");
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "x.test", DNS_T_A,
	    &ans), 0);
	assert_int_equal(ans.naddr, 0);
}

static void
test_aaaa(void **state)
{
	static const unsigned char a6[16] = {
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
	};
	struct pb p;
	size_t at;

	pb_start(&p, ID, 0, 0, 1, "v6.test", DNS_T_AAAA);
	pbptr(&p, 12);
	at = pb_rr(&p, DNS_T_AAAA);
	pbmem(&p, a6, 16);
	pb_rdend(&p, at);
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "v6.test",
	    DNS_T_AAAA, &ans), 0);
	assert_int_equal(ans.naddr, 1);
	assert_int_equal(ans.addr[0].family, AF_INET6);
	assert_memory_equal(ans.addr[0].addr, a6, 16);

	/* An AAAA of 4 bytes is malformed; so is an A of 16. */
	pb_start(&p, ID, 0, 0, 1, "v6.test", DNS_T_AAAA);
	pbptr(&p, 12);
	at = pb_rr(&p, DNS_T_AAAA);
	pbmem(&p, a6, 4);
	pb_rdend(&p, at);
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "v6.test",
	    DNS_T_AAAA, &ans), -1);
	pb_start(&p, ID, 0, 0, 1, "v6.test", DNS_T_A);
	pbptr(&p, 12);
	at = pb_rr(&p, DNS_T_A);
	pbmem(&p, a6, 16);
	pb_rdend(&p, at);
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "v6.test",
	    DNS_T_A, &ans), -1);
}

static void
test_txt(void **state)
{
	unsigned char s[255];
	struct pb p;
	size_t at;
	int i;

	pb_start(&p, ID, 0, 0, 2, "_dmarc.example.com", DNS_T_TXT);
	pbptr(&p, 12);
	at = pb_rr(&p, DNS_T_TXT);
	pb8(&p, 7);
	pbmem(&p, "v=spf1 ", 7);
	pb8(&p, 0);
	pb8(&p, 4);
	pbmem(&p, "-all", 4);
	pb_rdend(&p, at);
	pbptr(&p, 12);
	at = pb_rr(&p, DNS_T_TXT);
	pb8(&p, 3);
	pbmem(&p, "Two", 3);
	pb_rdend(&p, at);
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "_dmarc.example.com",
	    DNS_T_TXT, &ans), 0);
	assert_int_equal(ans.ntxt, 2);
	assert_string_equal(ans.txt[0], "v=spf1 -all");
	assert_string_equal(ans.txt[1], "Two");

	/* 17 strings of 255 bytes: cut at DNS_TXT_MAX. */
	memset(s, 'k', sizeof(s));
	pb_start(&p, ID, 0, 0, 1, "big.test", DNS_T_TXT);
	pbptr(&p, 12);
	at = pb_rr(&p, DNS_T_TXT);
	for (i = 0; i < 17; i++) {
		pb8(&p, 255);
		pbmem(&p, s, 255);
	}
	pb_rdend(&p, at);
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "big.test",
	    DNS_T_TXT, &ans), 0);
	assert_int_equal(ans.ntxt, 1);
	assert_int_equal(strlen(ans.txt[0]), DNS_TXT_MAX);

	/* A character-string running past its rdata. */
	pb_start(&p, ID, 0, 0, 1, "bad.test", DNS_T_TXT);
	pbptr(&p, 12);
	at = pb_rr(&p, DNS_T_TXT);
	pb8(&p, 5);
	pbmem(&p, "abc", 3);
	pb_rdend(&p, at);
	pb16(&p, 0);	/* bytes after the rdata the string must not eat */
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "bad.test",
	    DNS_T_TXT, &ans), -1);
}

/* TLSA records (RFC 6698) and the AD bit a validating resolver sets. */
static void
test_tlsa(void **state)
{
	unsigned char digest[32], whole[300];
	struct pb p;
	size_t at;

	memset(digest, 0xab, sizeof(digest));
	memset(whole, 0x30, sizeof(whole));
	pb_start(&p, ID, 0, 0, 3, "_25._tcp.mx.example.com", DNS_T_TLSA);
	p.b[3] |= 0x20;			/* AD */
	pbptr(&p, 12);
	at = pb_rr(&p, DNS_T_TLSA);
	pb8(&p, 3);
	pb8(&p, 1);
	pb8(&p, 1);
	pbmem(&p, digest, sizeof(digest));
	pb_rdend(&p, at);
	/* 3 0 0: a whole certificate, counted but not kept. */
	pbptr(&p, 12);
	at = pb_rr(&p, DNS_T_TLSA);
	pb8(&p, 3);
	pb8(&p, 0);
	pb8(&p, 0);
	pbmem(&p, whole, sizeof(whole));
	pb_rdend(&p, at);
	pbptr(&p, 12);
	at = pb_rr(&p, DNS_T_TLSA);
	pb8(&p, 2);
	pb8(&p, 0);
	pb8(&p, 2);
	pbmem(&p, whole, 64);
	pb_rdend(&p, at);
	assert_int_equal(dns_parse_answer(p.b, p.n, ID,
	    "_25._tcp.mx.example.com", DNS_T_TLSA, &ans), 0);
	assert_true(ans.ad);
	assert_int_equal(ans.ntlsa, 2);
	assert_int_equal(ans.tlsa_skipped, 1);
	assert_int_equal(ans.tlsa[0].usage, 3);
	assert_int_equal(ans.tlsa[0].selector, 1);
	assert_int_equal(ans.tlsa[0].mtype, 1);
	assert_int_equal(ans.tlsa[0].len, 32);
	assert_memory_equal(ans.tlsa[0].data, digest, 32);
	assert_int_equal(ans.tlsa[1].usage, 2);
	assert_int_equal(ans.tlsa[1].mtype, 2);
	assert_int_equal(ans.tlsa[1].len, 64);

	/* Without AD the answer says so; the caller decides. */
	p.b[3] &= (unsigned char)~0x20;
	assert_int_equal(dns_parse_answer(p.b, p.n, ID,
	    "_25._tcp.mx.example.com", DNS_T_TLSA, &ans), 0);
	assert_false(ans.ad);

	/* A TLSA rdata too short for its three fixed fields. */
	pb_start(&p, ID, 0, 0, 1, "_25._tcp.bad.test", DNS_T_TLSA);
	pbptr(&p, 12);
	at = pb_rr(&p, DNS_T_TLSA);
	pb8(&p, 3);
	pb8(&p, 1);
	pb_rdend(&p, at);
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "_25._tcp.bad.test",
	    DNS_T_TLSA, &ans), -1);
}

static void
test_nxdomain(void **state)
{
	struct pb p;

	pb_start(&p, ID, 0x04, DNS_RCODE_NXDOMAIN, 0, "nope.test", DNS_T_A);
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "nope.test", DNS_T_A,
	    &ans), 0);
	assert_int_equal(ans.rcode, DNS_RCODE_NXDOMAIN);
	assert_int_equal(ans.naddr, 0);
	assert_true(ans.aa);
}

static void
test_ttl(void **state)
{
	static const unsigned char a1[4] = { 192, 0, 2, 1 };
	struct pb p;

	/* The least of the records', and of the CNAME followed to them. */
	pb_start(&p, ID, 0, 0, 3, "www.example.com", DNS_T_A);
	rr_ttl = 3600;
	pb_cname(&p, "www.example.com", "b.example.org");
	rr_ttl = 120;
	pb_a(&p, "b.example.org", a1);
	rr_ttl = 900;
	pb_a(&p, "b.example.org", a1);
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "www.example.com",
	    DNS_T_A, &ans), 0);
	assert_int_equal(ans.ttl, 120);
	assert_int_equal(ans.neg_ttl, -1);

	pb_start(&p, ID, 0, 0, 2, "www.example.com", DNS_T_A);
	rr_ttl = 30;
	pb_cname(&p, "www.example.com", "b.example.org");
	rr_ttl = 120;
	pb_a(&p, "b.example.org", a1);
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "www.example.com",
	    DNS_T_A, &ans), 0);
	assert_int_equal(ans.ttl, 30);

	/* RFC 2181 8: the top bit set counts as zero. */
	pb_start(&p, ID, 0, 0, 1, "a.test", DNS_T_A);
	rr_ttl = 0x80000005u;
	pb_a(&p, NULL, a1);
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "a.test", DNS_T_A,
	    &ans), 0);
	assert_int_equal(ans.ttl, 0);
	rr_ttl = 300;
}

static void
test_negative_ttl(void **state)
{
	static const struct {
		const char	*what;
		int		 rcode;
		const char	*zone;
		uint32_t	 soa_ttl, minimum;
		int64_t		 want;
	} t[] = {
		{ "NXDOMAIN: SOA minimum", DNS_RCODE_NXDOMAIN, "example.com",
		    900, 300, 300 },
		{ "NXDOMAIN: SOA TTL", DNS_RCODE_NXDOMAIN, "example.com", 100,
		    3600, 100 },
		{ "NODATA", DNS_RCODE_NOERROR, "example.com", 900, 60, 60 },
		{ "the name's own zone", DNS_RCODE_NXDOMAIN,
		    "_mta-sts.example.com", 900, 60, 60 },
		{ "the root's", DNS_RCODE_NXDOMAIN, "", 86400, 86400, 86400 },
		{ "another zone's", DNS_RCODE_NXDOMAIN, "example.org", 900,
		    60, -1 },
		{ "a zone that only ends alike", DNS_RCODE_NXDOMAIN,
		    "ample.com", 900, 60, -1 },
		{ "no SOA", DNS_RCODE_NXDOMAIN, NULL, 0, 0, -1 },
	};
	struct pb p;
	size_t at;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		pb_start(&p, ID, 0, (unsigned int)t[i].rcode, 0,
		    "_mta-sts.example.com", DNS_T_TXT);
		if (t[i].zone != NULL) {
			rr_ttl = t[i].soa_ttl;
			pb_soa(&p, t[i].zone, t[i].minimum);
		}
		rr_ttl = 300;
		assert_int_equal(dns_parse_answer(p.b, p.n, ID,
		    "_mta-sts.example.com", DNS_T_TXT, &ans), 0);
		if (ans.neg_ttl != t[i].want)
			fail_msg("%s: neg_ttl %lld, want %lld", t[i].what,
			    (long long)ans.neg_ttl, (long long)t[i].want);
		assert_int_equal(ans.ttl, -1);
		assert_int_equal(ans.rcode, t[i].rcode);
	}

	/* An SOA whose rdata does not add up: no TTL, the answer stands. */
	pb_start(&p, ID, 0, DNS_RCODE_NXDOMAIN, 0, "x.example.com",
	    DNS_T_A);
	at = pb_soa(&p, "example.com", 60);
	pb8(&p, 0);
	pb_rdend(&p, at);	/* a byte past MINIMUM */
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "x.example.com",
	    DNS_T_A, &ans), 0);
	assert_int_equal(ans.neg_ttl, -1);
	assert_int_equal(ans.rcode, DNS_RCODE_NXDOMAIN);

	/* Cut anywhere in the SOA: never read past the end. */
	pb_start(&p, ID, 0, DNS_RCODE_NXDOMAIN, 0, "x.example.com",
	    DNS_T_A);
	pb_soa(&p, "example.com", 60);
	for (size_t n = 12; n < p.n; n++) {
		int rc = dns_parse_answer(p.b, n, ID, "x.example.com",
		    DNS_T_A, &ans);

		assert_true(rc == -1 || ans.neg_ttl == -1);
	}
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "x.example.com",
	    DNS_T_A, &ans), 0);
	assert_int_equal(ans.neg_ttl, 60);
}

static void
test_mismatch(void **state)
{
	struct pb p;

	build_mx(&p);
	assert_int_equal(dns_parse_answer(p.b, p.n, ID + 1, "example.com",
	    DNS_T_MX, &ans), -1);
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "example.net",
	    DNS_T_MX, &ans), -1);
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "www.example.com",
	    DNS_T_MX, &ans), -1);
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "example.com",
	    DNS_T_A, &ans), -1);
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "example..com",
	    DNS_T_MX, &ans), -1);

	/* A query (QR clear) is not an answer. */
	p.b[2] &= ~0x80;
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "example.com",
	    DNS_T_MX, &ans), -1);
	p.b[2] |= 0x80;

	/* No question, or two. */
	p.b[5] = 0;
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "example.com",
	    DNS_T_MX, &ans), -1);
	p.b[5] = 2;
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "example.com",
	    DNS_T_MX, &ans), -1);
	p.b[5] = 1;
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "example.com",
	    DNS_T_MX, &ans), 0);

	/* Truncated down to the header, question and all: retry over TCP. */
	p.b[2] |= 0x02;
	p.b[5] = 0;
	assert_int_equal(dns_parse_answer(p.b, 12, ID, "example.com",
	    DNS_T_MX, &ans), 0);
	assert_int_equal(ans.tc, 1);
	assert_int_equal(ans.nmx, 0);
	assert_int_equal(dns_parse_answer(p.b, 12, ID + 1, "example.com",
	    DNS_T_MX, &ans), -1);
}

static void
test_pointer_loop(void **state)
{
	struct pb p;
	size_t at, x;

	/* The question points at itself. */
	p.n = 0;
	pb16(&p, ID);
	pb16(&p, 0x8180);
	pb16(&p, 1);
	pb16(&p, 0);
	pb16(&p, 0);
	pb16(&p, 0);
	pbptr(&p, 12);
	pb16(&p, DNS_T_A);
	pb16(&p, 1);
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "a.test", DNS_T_A,
	    &ans), -1);

	/* Two pointers at each other, inside an MX target. */
	pb_start(&p, ID, 0, 0, 1, "a.test", DNS_T_MX);
	pbptr(&p, 12);
	at = pb_rr(&p, DNS_T_MX);
	pb16(&p, 10);
	x = p.n;
	pbptr(&p, x + 2);
	pbptr(&p, x);
	pb_rdend(&p, at);
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "a.test", DNS_T_MX,
	    &ans), -1);

	/* A label run that reaches its own pointer again. */
	pb_start(&p, ID, 0, 0, 1, "a.test", DNS_T_MX);
	pbptr(&p, 12);
	at = pb_rr(&p, DNS_T_MX);
	pb16(&p, 10);
	x = p.n;
	pblabels(&p, "x");
	pbptr(&p, x);
	pb_rdend(&p, at);
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "a.test", DNS_T_MX,
	    &ans), -1);
}

static void
test_pointer_bad(void **state)
{
	struct pb p;
	size_t at;

	/* An owner pointing forward, at the MX target after it. */
	pb_start(&p, ID, 0, 0, 1, "a.test", DNS_T_MX);
	pbptr(&p, p.n + 14);
	at = pb_rr(&p, DNS_T_MX);
	pb16(&p, 10);
	pbname(&p, "a.test");
	pb_rdend(&p, at);
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "a.test", DNS_T_MX,
	    &ans), -1);

	/* Out of range. */
	pb_start(&p, ID, 0, 0, 1, "a.test", DNS_T_MX);
	pb16(&p, 0xffff);
	at = pb_rr(&p, DNS_T_MX);
	pb16(&p, 10);
	pbname(&p, "a.test");
	pb_rdend(&p, at);
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "a.test", DNS_T_MX,
	    &ans), -1);

	/* Reserved label types 0x40 and 0x80. */
	pb_start(&p, ID, 0, 0, 1, "a.test", DNS_T_MX);
	pbptr(&p, 12);
	at = pb_rr(&p, DNS_T_MX);
	pb16(&p, 10);
	pb8(&p, 0x41);
	pb8(&p, 0);
	pb_rdend(&p, at);
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "a.test", DNS_T_MX,
	    &ans), -1);

	/* An MX target running past its rdlength. */
	pb_start(&p, ID, 0, 0, 1, "a.test", DNS_T_MX);
	pbptr(&p, 12);
	at = pb_rr(&p, DNS_T_MX);
	pb16(&p, 10);
	pbname(&p, "mx.a.test");
	pb_rdend(&p, at);
	p.b[at + 1] -= 2;
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "a.test", DNS_T_MX,
	    &ans), -1);

	/* rdlength past the end of the packet. */
	build_mx(&p);
	p.n -= 1;
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "example.com",
	    DNS_T_MX, &ans), -1);
}

static void
test_truncated(void **state)
{
	static const unsigned char a1[4] = { 192, 0, 2, 1 };
	struct pb p;
	size_t n, full;
	int rc;

	build_mx(&p);
	full = p.n;
	for (n = 0; n < full; n++) {
		rc = dns_parse_answer(p.b, n, ID, "example.com", DNS_T_MX,
		    &ans);
		assert_int_equal(rc, -1);
	}

	/* With TC set, what arrived whole is kept. */
	p.b[2] |= 0x02;
	for (n = 0; n < full; n++) {
		rc = dns_parse_answer(p.b, n, ID, "example.com", DNS_T_MX,
		    &ans);
		assert_true(rc == -1 || rc == 0);
		assert_true(ans.nmx <= 2);
	}
	rc = dns_parse_answer(p.b, full - 1, ID, "example.com", DNS_T_MX,
	    &ans);
	assert_int_equal(rc, 0);
	assert_true(ans.tc);
	assert_int_equal(ans.nmx, 1);
	assert_string_equal(ans.mx[0].host, "mx1.example.com");

	pb_start(&p, ID, 0, 0, 3, "www.example.com", DNS_T_A);
	pb_cname(&p, "www.example.com", "a.example.net");
	pb_a(&p, "a.example.net", a1);
	pb_a(&p, "a.example.net", a1);
	full = p.n;
	for (n = 0; n <= full; n++) {
		rc = dns_parse_answer(p.b, n, ID, "www.example.com", DNS_T_A,
		    &ans);
		assert_true(n == full ? rc == 0 : rc == -1);
	}
}

static void
test_caps(void **state)
{
	static const unsigned char a1[4] = { 192, 0, 2, 1 };
	struct pb p;
	size_t at;
	int i;

	pb_start(&p, ID, 0, 0, 20, "many.test", DNS_T_MX);
	for (i = 0; i < 20; i++)
		pb_mx(&p, (unsigned int)i, "mx.many.test");
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "many.test",
	    DNS_T_MX, &ans), 0);
	assert_int_equal(ans.nmx, DNS_MAX_MX);
	assert_int_equal(ans.mx[15].pref, 15);

	pb_start(&p, ID, 0, 0, 20, "many.test", DNS_T_A);
	for (i = 0; i < 20; i++)
		pb_a(&p, NULL, a1);
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "many.test",
	    DNS_T_A, &ans), 0);
	assert_int_equal(ans.naddr, DNS_MAX_ADDR);

	pb_start(&p, ID, 0, 0, 10, "many.test", DNS_T_TXT);
	for (i = 0; i < 10; i++) {
		pbptr(&p, 12);
		at = pb_rr(&p, DNS_T_TXT);
		pb8(&p, 1);
		pb8(&p, 'a' + (unsigned int)i);
		pb_rdend(&p, at);
	}
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, "many.test",
	    DNS_T_TXT, &ans), 0);
	assert_int_equal(ans.ntxt, DNS_MAX_TXT);
	assert_string_equal(ans.txt[7], "h");
}

/* Names near the limit: 255 wire bytes parse, 256 do not. */
static void
test_name_length(void **state)
{
	char name[300];
	struct pb p;
	int i;

	for (i = 0; i < 253; i++)
		name[i] = i % 2 ? '.' : 'a';
	name[253] = '\0';
	pb_start(&p, ID, 0, 0, 0, name, DNS_T_A);
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, name, DNS_T_A,
	    &ans), 0);

	/* One more label, built by hand since the asked name is refused. */
	pb_start(&p, ID, 0, 0, 0, name, DNS_T_A);
	memmove(p.b + 14, p.b + 12, p.n - 12);
	p.b[12] = 1;
	p.b[13] = 'b';
	p.n += 2;
	assert_int_equal(dns_parse_answer(p.b, p.n, ID, name, DNS_T_A,
	    &ans), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_mx),
		cmocka_unit_test(test_null_mx),
		cmocka_unit_test(test_cname_chain),
		cmocka_unit_test(test_cname_limit),
		cmocka_unit_test(test_aaaa),
		cmocka_unit_test(test_txt),
		cmocka_unit_test(test_tlsa),
		cmocka_unit_test(test_nxdomain),
		cmocka_unit_test(test_ttl),
		cmocka_unit_test(test_negative_ttl),
		cmocka_unit_test(test_mismatch),
		cmocka_unit_test(test_pointer_loop),
		cmocka_unit_test(test_pointer_bad),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_name_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
