/*
 * dns_pkt.c - DNS messages: build a query, parse an answer.
 * Standards: RFC 1035 4.1 (message format, compression), RFC 3596 (AAAA),
 * RFC 6891 (EDNS0 OPT), RFC 7505 (null MX), RFC 2181 8 (TTLs), RFC 2308 5
 * (the TTL of a negative answer).
 * Exposure: answers come from the network, possibly forged.  Every read
 * is bounds-checked against the packet, compression pointers must point
 * strictly backwards and are followed at most NAME_HOPS times, names are
 * capped at DNS_NAME_MAX wire bytes, and counts are capped by the caller's
 * arrays.  Nothing here allocates.
 * Diagnostics: never dies; a malformed or truncated packet returns -1.
 */
#include <arpa/inet.h>
#include <sys/socket.h>
#include <string.h>

#include "dns_pkt.h"

#define HDR_LEN		12
#define NAME_HOPS	16	/* compression pointers per name */
#define CNAME_HOPS	8	/* CNAME chain length */
#define EDNS_PAYLOAD	1232	/* DNS flag day 2020 */
#define T_OPT		41
#define C_IN		1

#define F_QR		0x80	/* in byte 2 */
#define F_AA		0x04
#define F_TC		0x02
#define F_RD		0x01
#define F_AD		0x20	/* in byte 3 (RFC 4035 3.2.3, RFC 6840 5.7) */

/* One resource record, located but not interpreted. */
struct rr {
	char		owner[DNS_NAME_MAX + 1];
	int		odd;	/* owner has bytes we never match */
	uint16_t	type;
	uint16_t	class;
	int64_t		ttl;
	size_t		rdoff;
	size_t		rdlen;
};

static uint16_t
get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* RFC 2181 8: 31 bits; a TTL with the top bit set counts as zero. */
static int64_t
get_ttl(const unsigned char *p)
{
	uint32_t v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];

	return v & 0x80000000u ? 0 : (int64_t)v;
}

static int64_t
ttl_min(int64_t a, int64_t b)
{
	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

static void
put16(unsigned char *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* ASCII only: the C locale's tolower() is not ours to rely on. */
static char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : (char)c;
}

/*
 * A byte we are willing to see in a name's text form.  A '.' or a NUL
 * inside a label would make two different wire names compare equal as
 * text ("a.b" as one label vs two), so such names are never matched.
 */
static int
name_byte_ok(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '.';
}

/*
 * Validate a caller's name and write its text form, lower-cased without
 * the trailing dot, to out (DNS_NAME_MAX + 1 bytes).  The root is "" or
 * ".".  Returns the wire length, or -1.
 */
static int
name_norm(const char *name, char *out)
{
	size_t len = strlen(name), i, lab = 0, wire;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0) {
		out[0] = '\0';
		return 1;
	}
	/* Text "a.b" is wire 1a1b0: one more byte than the text, plus root. */
	wire = len + 2;
	if (wire > DNS_NAME_MAX)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.') {
			if (lab == 0)
				return -1;
			lab = 0;
		} else if (!name_byte_ok(c) || ++lab > 63)
			return -1;
		out[i] = lower(c);
	}
	if (lab == 0)
		return -1;
	out[len] = '\0';
	return (int)wire;
}

int
dns_build_query(uint16_t id, const char *name, uint16_t qtype,
    unsigned char *out, size_t outsz)
{
	char text[DNS_NAME_MAX + 1];
	size_t n, need, lab;
	const char *p, *dot;
	int wire;

	if ((wire = name_norm(name, text)) == -1)
		return -1;
	need = HDR_LEN + (size_t)wire + 4 + 11;
	if (outsz < need)
		return -1;

	memset(out, 0, HDR_LEN);
	put16(out, id);
	out[2] = F_RD;
	/* Asks a validating resolver to say whether it validated the
	 * answer (RFC 6840 5.7); others ignore it. */
	out[3] = F_AD;
	put16(out + 4, 1);	/* QDCOUNT */
	put16(out + 10, 1);	/* ARCOUNT: the OPT record */
	n = HDR_LEN;

	for (p = text; *p != '\0'; p = *dot ? dot + 1 : dot) {
		if ((dot = strchr(p, '.')) == NULL)
			dot = p + strlen(p);
		lab = (size_t)(dot - p);
		out[n++] = (unsigned char)lab;
		memcpy(out + n, p, lab);
		n += lab;
	}
	out[n++] = 0;
	put16(out + n, qtype);
	put16(out + n + 2, C_IN);
	n += 4;

	/* OPT: root owner, class = payload size, TTL 0 (no DO), no rdata. */
	out[n++] = 0;
	put16(out + n, T_OPT);
	put16(out + n + 2, EDNS_PAYLOAD);
	memset(out + n + 4, 0, 6);
	n += 10;
	return (int)n;
}

/*
 * Read the name at off into out (DNS_NAME_MAX + 1 bytes), lower-cased
 * without the trailing dot; *endp is the offset just past it in place.
 * Each pointer must point before the run of labels that contains it, so
 * the walk strictly moves backwards and cannot loop; the hop limit bounds
 * the work anyway.  *oddp is set when a label holds a byte that
 * name_byte_ok() refuses.
 */
static int
name_read(const unsigned char *pkt, size_t len, size_t off, char *out,
    size_t *endp, int *oddp)
{
	size_t pos = off, seg = off, wire = 0, n = 0, t, i;
	int hops = 0, jumped = 0;
	unsigned char c;

	*oddp = 0;
	for (;;) {
		if (pos >= len)
			return -1;
		c = pkt[pos];
		if ((c & 0xc0) == 0xc0) {
			if (len - pos < 2)
				return -1;
			t = (size_t)(c & 0x3f) << 8 | pkt[pos + 1];
			if (!jumped) {
				*endp = pos + 2;
				jumped = 1;
			}
			if (t >= seg || ++hops > NAME_HOPS)
				return -1;
			pos = seg = t;
			continue;
		}
		if (c & 0xc0)
			return -1;	/* 0x40 and 0x80 label types */
		if (c == 0)
			break;
		/* This label plus at least the root byte must fit. */
		wire += (size_t)c + 1;
		if (wire + 1 > DNS_NAME_MAX || len - pos - 1 < c)
			return -1;
		if (n > 0)
			out[n++] = '.';
		for (i = 0; i < c; i++) {
			unsigned char b = pkt[pos + 1 + i];

			if (!name_byte_ok(b))
				*oddp = 1;
			out[n++] = lower(b);
		}
		pos += 1 + (size_t)c;
	}
	if (!jumped)
		*endp = pos + 1;
	out[n] = '\0';
	return 0;
}

/* Locate the RR at *offp and move past it. */
static int
rr_read(const unsigned char *pkt, size_t len, size_t *offp, struct rr *rr)
{
	size_t off;

	if (name_read(pkt, len, *offp, rr->owner, &off, &rr->odd) == -1)
		return -1;
	if (len - off < 10)
		return -1;
	rr->type = get16(pkt + off);
	rr->class = get16(pkt + off + 2);
	rr->ttl = get_ttl(pkt + off + 4);
	rr->rdlen = get16(pkt + off + 8);
	off += 10;
	if (rr->rdlen > len - off)
		return -1;
	rr->rdoff = off;
	*offp = off + rr->rdlen;
	return 0;
}

/* A name that must fill the rdata exactly from off. */
static int
rdata_name(const unsigned char *pkt, size_t len, const struct rr *rr,
    size_t off, char *out, int *oddp)
{
	size_t end;

	if (off >= rr->rdoff + rr->rdlen)
		return -1;
	if (name_read(pkt, len, off, out, &end, oddp) == -1)
		return -1;
	return end == rr->rdoff + rr->rdlen ? 0 : -1;
}

/*
 * Check the rdata of the types we interpret, whoever owns them: an answer
 * with a broken record is not trusted for the rest either.
 */
static int
rr_check(const unsigned char *pkt, size_t len, const struct rr *rr)
{
	char tmp[DNS_NAME_MAX + 1];
	size_t p, end;
	int odd;

	if (rr->class != C_IN)
		return 0;
	switch (rr->type) {
	case DNS_T_A:
		return rr->rdlen == 4 ? 0 : -1;
	case DNS_T_AAAA:
		return rr->rdlen == 16 ? 0 : -1;
	case DNS_T_MX:
		if (rr->rdlen < 3)
			return -1;
		return rdata_name(pkt, len, rr, rr->rdoff + 2, tmp, &odd);
	case DNS_T_CNAME:
		return rdata_name(pkt, len, rr, rr->rdoff, tmp, &odd);
	case DNS_T_TLSA:
		return rr->rdlen >= 4 ? 0 : -1;
	case DNS_T_TXT:
		end = rr->rdoff + rr->rdlen;
		for (p = rr->rdoff; p < end; p += 1 + (size_t)pkt[p])
			if (end - p - 1 < pkt[p])
				return -1;
		return 0;
	}
	return 0;
}

static int
in_chain(const char (*chain)[DNS_NAME_MAX + 1], int nchain, const char *name)
{
	int i;

	for (i = 0; i < nchain; i++)
		if (strcmp(chain[i], name) == 0)
			return 1;
	return 0;
}

/* Concatenate a TXT RR's character-strings, cut at DNS_TXT_MAX. */
static void
txt_copy(const unsigned char *pkt, const struct rr *rr, char *out)
{
	size_t p, end = rr->rdoff + rr->rdlen, n = 0, l;

	for (p = rr->rdoff; p < end; p += 1 + (size_t)pkt[p]) {
		l = pkt[p];
		if (l > DNS_TXT_MAX - n)
			l = DNS_TXT_MAX - n;
		memcpy(out + n, pkt + p + 1, l);
		n += l;
	}
	out[n] = '\0';
}

static void
rr_collect(const unsigned char *pkt, size_t len, const struct rr *rr,
    struct dns_answer *ans)
{
	struct dns_mx *mx;
	struct dns_addr *a;
	struct dns_tlsa *t;
	int odd;

	switch (rr->type) {
	case DNS_T_MX:
		if (ans->nmx >= DNS_MAX_MX)
			return;
		mx = &ans->mx[ans->nmx];
		if (rdata_name(pkt, len, rr, rr->rdoff + 2, mx->host,
		    &odd) == -1 || odd) {
			mx->host[0] = '\0';
			return;
		}
		mx->pref = get16(pkt + rr->rdoff);
		ans->nmx++;
		break;
	case DNS_T_A:
	case DNS_T_AAAA:
		if (ans->naddr >= DNS_MAX_ADDR)
			return;
		a = &ans->addr[ans->naddr++];
		a->family = rr->type == DNS_T_A ? AF_INET : AF_INET6;
		memcpy(a->addr, pkt + rr->rdoff, rr->rdlen);
		break;
	case DNS_T_TXT:
		if (ans->ntxt >= DNS_MAX_TXT)
			return;
		txt_copy(pkt, rr, ans->txt[ans->ntxt++]);
		break;
	case DNS_T_TLSA:
		/* Digests only (matching types 1 and 2 fit); a whole
		 * certificate or key in the record is counted, not kept. */
		if (rr->rdlen - 3 > DNS_TLSA_DATA_MAX ||
		    ans->ntlsa >= DNS_MAX_TLSA) {
			ans->tlsa_skipped++;
			return;
		}
		t = &ans->tlsa[ans->ntlsa++];
		t->usage = pkt[rr->rdoff];
		t->selector = pkt[rr->rdoff + 1];
		t->mtype = pkt[rr->rdoff + 2];
		t->len = (uint8_t)(rr->rdlen - 3);
		memcpy(t->data, pkt + rr->rdoff + 3, t->len);
		break;
	}
}

/* name is owner, or below it ("" is the root, above every name). */
static int
name_within(const char *name, const char *owner)
{
	size_t n = strlen(name), o = strlen(owner);

	if (o == 0 || strcmp(name, owner) == 0)
		return 1;
	return n > o && name[n - o - 1] == '.' &&
	    strcmp(name + n - o, owner) == 0;
}

/*
 * RFC 2308 5: a negative answer is kept for the least of its SOA's TTL
 * and MINIMUM field.  The SOA is looked for in the nscount records at
 * off; it must be of a zone the name is in.  -1 without one, or at the
 * first record that does not parse (the rest is not trusted then).
 */
static int64_t
soa_neg_ttl(const unsigned char *pkt, size_t len, size_t off,
    unsigned int nscount, const char *name)
{
	char tmp[DNS_NAME_MAX + 1];
	size_t end;
	struct rr rr;
	int odd;

	for (unsigned int i = 0; i < nscount; i++) {
		if (rr_read(pkt, len, &off, &rr) == -1)
			return -1;
		if (rr.class != C_IN || rr.type != DNS_T_SOA || rr.odd ||
		    !name_within(name, rr.owner))
			continue;
		/* MNAME, RNAME, then five 32-bit fields, MINIMUM last. */
		if (rr.rdlen == 0 || name_read(pkt, len, rr.rdoff, tmp, &end,
		    &odd) == -1 || end >= rr.rdoff + rr.rdlen ||
		    name_read(pkt, len, end, tmp, &end, &odd) == -1 ||
		    end + 20 != rr.rdoff + rr.rdlen)
			return -1;
		return ttl_min(rr.ttl, get_ttl(pkt + end + 16));
	}
	return -1;
}

int
dns_parse_answer(const unsigned char *pkt, size_t len, uint16_t id,
    const char *name, uint16_t qtype, struct dns_answer *ans)
{
	char qname[DNS_NAME_MAX + 1];
	char chain[1 + CNAME_HOPS][DNS_NAME_MAX + 1];
	struct rr rr;
	size_t off, an_off, end;
	unsigned int i, an, nok;
	int nchain, maxhops, found, odd;
	int64_t chain_ttl = -1;

	memset(ans, 0, sizeof(*ans));
	ans->ttl = ans->neg_ttl = -1;
	if (name_norm(name, qname) == -1)
		return -1;
	if (len < HDR_LEN || get16(pkt) != id || !(pkt[2] & F_QR) ||
	    (pkt[2] >> 3 & 0x0f) != 0)
		return -1;
	ans->aa = (pkt[2] & F_AA) != 0;
	ans->tc = (pkt[2] & F_TC) != 0;
	ans->ad = (pkt[3] & F_AD) != 0;
	ans->rcode = pkt[3] & 0x0f;
	/* Some servers truncate a reply down to its header (no question
	 * left): with our id and TC set, that says "ask over TCP". */
	if (ans->tc && get16(pkt + 4) == 0)
		return 0;
	if (get16(pkt + 4) != 1)
		return -1;
	an = get16(pkt + 6);

	/* The question must be ours: a reply to something else is spoofed. */
	if (name_read(pkt, len, HDR_LEN, rr.owner, &off, &odd) == -1 || odd ||
	    strcmp(rr.owner, qname) != 0)
		return -1;
	if (len - off < 4 || get16(pkt + off) != qtype)
		return -1;
	an_off = off + 4;

	/*
	 * Pass 1 checks every answer RR, so the later passes cannot fail.
	 * A truncated packet keeps the RRs that arrived whole.
	 */
	off = an_off;
	for (nok = 0; nok < an; nok++) {
		if (rr_read(pkt, len, &off, &rr) == -1 ||
		    rr_check(pkt, len, &rr) == -1) {
			if (ans->tc)
				break;
			return -1;
		}
	}

	/*
	 * Follow CNAMEs from the asked name, whatever order they come in.
	 * Asking for CNAME itself takes one step and collects nothing more.
	 */
	memcpy(chain[0], qname, sizeof(qname));
	nchain = 1;
	maxhops = qtype == DNS_T_CNAME ? 1 : CNAME_HOPS;
	while (nchain <= maxhops) {
		found = 0;
		off = an_off;
		for (i = 0; i < nok && !found; i++) {
			(void)rr_read(pkt, len, &off, &rr);
			if (rr.class != C_IN || rr.type != DNS_T_CNAME ||
			    rr.odd || strcmp(rr.owner, chain[nchain - 1]) != 0)
				continue;
			if (name_read(pkt, len, rr.rdoff, chain[nchain], &end,
			    &odd) == -1 || odd)
				break;
			chain_ttl = ttl_min(chain_ttl, rr.ttl);
			found = 1;
		}
		if (!found)
			break;
		memcpy(ans->cname, chain[nchain], sizeof(ans->cname));
		nchain++;
	}
	if (qtype == DNS_T_CNAME) {
		ans->ttl = chain_ttl;
		return 0;
	}

	off = an_off;
	for (i = 0; i < nok; i++) {
		(void)rr_read(pkt, len, &off, &rr);
		if (rr.class == C_IN && rr.type == qtype && !rr.odd &&
		    in_chain((const char (*)[DNS_NAME_MAX + 1])chain, nchain,
		    rr.owner)) {
			rr_collect(pkt, len, &rr, ans);
			ans->ttl = ttl_min(ans->ttl, rr.ttl);
		}
	}
	if (ans->ttl >= 0)
		ans->ttl = ttl_min(ans->ttl, chain_ttl);
	else if (nok == an && (ans->neg_ttl = soa_neg_ttl(pkt, len, off,
	    get16(pkt + 8), chain[nchain - 1])) >= 0)
		ans->neg_ttl = ttl_min(ans->neg_ttl, chain_ttl);
	return 0;
}
