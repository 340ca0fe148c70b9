// sources: common/dns_pkt.c
/*
 * fuzz_dns_pkt.c - answers as a hostile resolver (or spoofer) might send
 * them.  The id comes from the input so the fuzzer need not guess it.
 * Invariants: only 0 or -1; counts within the caps; every string NUL-
 * terminated inside its array; MX hosts lower case, without a trailing
 * dot or an empty label; header bits (AD too) reported as sent; TLSA
 * data within its array; a TTL is -1 or within 31 bits, and only an
 * answer with records has one, only one without has a negative one.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include <sys/socket.h>

#include "dns_pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const struct {
	const char	*name;
	uint16_t	 qtype;
} asks[] = {
	{ "example.com", DNS_T_MX },
	{ "Example.COM.", DNS_T_MX },
	{ "www.example.com", DNS_T_A },
	{ "v6.test", DNS_T_AAAA },
	{ "_dmarc.example.com", DNS_T_TXT },
	{ "www.example.com", DNS_T_CNAME },
	{ "_25._tcp.mx.example.com", DNS_T_TLSA },
};

static struct dns_answer ans;

static void
check_name(const char *s, size_t size)
{
	size_t n = strnlen(s, size), i;

	assert(n < size);
	for (i = 0; i < n; i++) {
		assert(!(s[i] >= 'A' && s[i] <= 'Z'));
		assert(s[i] > 0x20 && s[i] < 0x7f);
	}
	if (n > 0) {
		assert(s[0] != '.' && s[n - 1] != '.');
		assert(strstr(s, "..") == NULL);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t id = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0;
	size_t k;
	int i, rc;

	for (k = 0; k < sizeof(asks) / sizeof(asks[0]); k++) {
		rc = dns_parse_answer(data, size, id, asks[k].name,
		    asks[k].qtype, &ans);
		assert(rc == 0 || rc == -1);
		if (rc == -1)
			continue;
		assert(size >= 12 && (data[2] & 0x80));
		assert(ans.rcode == (data[3] & 0x0f));
		assert(ans.tc == !!(data[2] & 0x02));
		assert(ans.aa == !!(data[2] & 0x04));
		assert(ans.ad == !!(data[3] & 0x20));
		assert(ans.ntlsa >= 0 && ans.ntlsa <= DNS_MAX_TLSA);
		if (asks[k].qtype != DNS_T_TLSA)
			assert(ans.ntlsa == 0 && ans.tlsa_skipped == 0);
		for (i = 0; i < ans.ntlsa; i++)
			assert(ans.tlsa[i].len <= DNS_TLSA_DATA_MAX);
		assert(ans.nmx >= 0 && ans.nmx <= DNS_MAX_MX);
		assert(ans.naddr >= 0 && ans.naddr <= DNS_MAX_ADDR);
		assert(ans.ntxt >= 0 && ans.ntxt <= DNS_MAX_TXT);
		if (asks[k].qtype != DNS_T_MX)
			assert(ans.nmx == 0);
		if (asks[k].qtype != DNS_T_TXT)
			assert(ans.ntxt == 0);
		for (i = 0; i < ans.nmx; i++)
			check_name(ans.mx[i].host, sizeof(ans.mx[i].host));
		for (i = 0; i < ans.naddr; i++)
			assert(ans.addr[i].family ==
			    (asks[k].qtype == DNS_T_A ? AF_INET : AF_INET6));
		for (i = 0; i < ans.ntxt; i++)
			assert(strnlen(ans.txt[i], sizeof(ans.txt[i])) <
			    sizeof(ans.txt[i]));
		check_name(ans.cname, sizeof(ans.cname));
		assert(ans.ttl >= -1 && ans.ttl <= INT32_MAX);
		assert(ans.neg_ttl >= -1 && ans.neg_ttl <= INT32_MAX);
		assert(ans.ttl == -1 || ans.neg_ttl == -1);
	}
	return 0;
}
