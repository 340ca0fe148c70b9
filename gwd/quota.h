/*
 * quota.h - the per-subaccount quotas of gw.db (quota_hour, quota_day)
 * over the counts of window.h.  A client's mail with the null sender
 * (its DSNs) counts and is refused like any other.
 */
#ifndef GW_QUOTA_H
#define GW_QUOTA_H

#include <stddef.h>
#include <stdint.h>

struct subaccount;

/* NULL when the subaccount may send one more message now; else the
 * refusal ("451 4.7.1 ...") in buf. */
const char *quota_check(const struct subaccount *, int64_t now_us,
	    char *buf, size_t bufsz);

/* Messages accepted in the last hour and the last 24 hours. */
void	 quota_usage(const struct subaccount *, int64_t now_us,
	    int64_t *hour, int64_t *day);

#endif
