/*
 * quota.h - messages per subaccount in the last hour and the last day,
 * for the quotas of gw.db (quota_hour, quota_day).
 *
 * Counts are kept in one-minute buckets, so the windows slide a minute
 * at a time.  At start-up they are seeded from log.db's received events
 * of the last day, so a restart does not reset them.  Mail with the null
 * sender (DSNs, a client's bounces) never counts and is never refused.
 */
#ifndef GW_QUOTA_H
#define GW_QUOTA_H

#include <stddef.h>
#include <stdint.h>

struct subaccount;

int	 quota_init(const char *state_dir, char *err, size_t errsz);
/* NULL when the subaccount may send one more message now; else the
 * refusal ("451 4.7.1 ...") in buf. */
const char *quota_check(const struct subaccount *, int64_t now_us,
	    char *buf, size_t bufsz);
/* A message of the subaccount was accepted (+1) or, after all, not
 * stored (-1); at time ts_us. */
void	 quota_count(const char *subaccount, int64_t ts_us, int delta);

#endif
