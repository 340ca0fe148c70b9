// sources: common/tlsrpt.c common/mtasts.c common/json.c common/buf.c common/util.c common/log.c
/*
 * fuzz_tlsrpt.c - hostile bytes as a TLS-RPT TXT record and as the
 * strings of an aggregate report (MX names, policy body, failure
 * reasons come from remote servers).  Invariants: rua count within
 * bounds, each a mailto: or https: URI of printable ASCII; the report is
 * valid JSON (jansson reads it back) with the MX name intact.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "tlsrpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char rua[TLSRPT_MAX_RUA][TLSRPT_RUA_MAX], *s;
	const char *err = NULL, *mx[1];
	struct tlsrpt_failure f = { NULL, "192.0.2.1", NULL, NULL, 1, NULL };
	struct tlsrpt_policy p = { "sts", "y.test", NULL, mx, 1, 1, 1, &f, 1 };
	struct tlsrpt_report r = { "gw.test", "mailto:p@gw.test", "id", 0,
	    86399, &p, 1 };
	struct buf b;
	json_t *j;
	int n;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	n = tlsrpt_txt_rua(s, rua, &err);
	assert(n >= -1 && n <= TLSRPT_MAX_RUA);
	for (int i = 0; i < n; i++)
		assert(strncasecmp(rua[i], "mailto:", 7) == 0 ||
		    strncasecmp(rua[i], "https://", 8) == 0);
	f.result_type = tlsrpt_result_type(s);
	f.mx_host = f.reason = p.policy_text = p.domain = mx[0] = s;
	buf_init(&b, 1 << 22);
	assert(tlsrpt_json(&b, &r) == 0);
	j = json_loadb(b.data + b.off, b.len - b.off, 0, NULL);
	assert(j != NULL);
	json_decref(j);
	buf_free(&b);
	free(s);
	return 0;
}
