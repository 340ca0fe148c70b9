// sources: common/alertrule.c common/addr.c common/util.c common/log.c
/*
 * fuzz_alertrule.c - what gw.db may hold for an alert: a --notify target
 * (a row another program may have written), and any counts as volume
 * history.  Input: the first byte picks the part.  Invariants: a target
 * parsed is one of the three kinds, its value inside the input and of
 * the kind's prefix; an error is said; the baseline's median lies
 * within the samples, its scale is at least 1, a score is never
 * negative, and the safe rate is never under the floor.
 */
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alertrule.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
target(const uint8_t *data, size_t size)
{
	enum alert_target_kind k;
	const char *v;
	char *s = malloc(size + 1), err[200] = "";

	if (s == NULL)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	if (alert_target_parse(s, &k, &v, err, sizeof(err)) == 0) {
		assert(v >= s && v <= s + strlen(s));
		assert(k == AT_MAIL ? strncmp(s, "mailto:", 7) == 0 :
		    k == AT_PAGERDUTY ? strncmp(s, "pagerduty:", 10) == 0 :
		    k == AT_WEBHOOK && strncmp(s, "http", 4) == 0);
	} else
		assert(err[0] != '\0');
	free(s);
}

static void
baseline(const uint8_t *data, size_t size)
{
	size_t n = size / 2;
	uint32_t *s = malloc((n + 1) * sizeof(*s)), lo = UINT32_MAX, hi = 0;
	struct vol_baseline b;

	if (s == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		s[i] = (uint32_t)data[2 * i] << 8 | data[2 * i + 1];
		lo = s[i] < lo ? s[i] : lo;
		hi = s[i] > hi ? s[i] : hi;
	}
	if (vol_baseline(s, n, 1, &b) == 0) {
		assert(b.median >= lo && b.median <= hi);
		assert(b.scale >= 1 && b.mad >= 0);
		assert(vol_score(&b, hi, 8) >= 0);
		assert(vol_safe_rate(&b, 5, 8) >= 8);
	} else
		assert(n == 0);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		target(data + 1, size - 1);
	else
		baseline(data + 1, size - 1);
	return 0;
}
