// sources: common/rules.c
/*
 * fuzz_rules.c - a hostile header section against header extraction and
 * rule matching, and hostile admin input against the argument parsers.
 * Invariants: values stay inside their buffers, are NUL-terminated and
 * trimmed; parsers either fail or give values that pass their checks.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char v[64], n[80], hv[RULE_HEADER_MAX + 1], st[16], host[256], e[128];
	char *s;
	const char *text;
	int code, port;
	struct rule r;
	struct rule_msg m;

	if (rules_header_get((const char *)data, size, "X-GW-Stream", v,
	    sizeof(v))) {
		size_t len = strlen(v);

		assert(len < sizeof(v));
		assert(len == 0 || (v[0] != ' ' && v[len - 1] != ' '));
	}
	memset(&r, 0, sizeof(r));
	r.size_over = r.size_under = -1;
	r.header = "subject";
	r.header_value = "*a*";
	r.to_domain = "*.test";
	memset(&m, 0, sizeof(m));
	m.rcpt = "x@y.test";
	m.size = (int64_t)size;
	m.headers = (const char *)data;
	m.hlen = size;
	code = rules_match(&r, 1, &m);
	assert(code == 0 || code == RULES_NONE);

	/* The same bytes as an admin's argument. */
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (rules_parse_header(s, n, sizeof(n), hv, sizeof(hv), e,
	    sizeof(e)) == 0)
		assert(n[0] != '\0' && hv[0] != '\0' && !strchr(n, ':'));
	if (rules_parse_reply(s, &code, st, sizeof(st), &text, e,
	    sizeof(e)) == 0) {
		assert(code >= 400 && code <= 559 && *text != '\0');
		assert(st[0] == '\0' || st[0] - '0' == code / 100);
	}
	if (rules_parse_hostport(s, host, sizeof(host), &port, e,
	    sizeof(e)) == 0)
		assert(host[0] != '\0' && port >= 1 && port <= 65535);
	rules_parse_domain_pattern(s, e, sizeof(e));
	free(s);
	return 0;
}
