/*
 * quota.c - messages per subaccount per hour and per day (see quota.h).
 * Exposure: none; counts gwd's own events.
 * In a cluster the shared quota is cluster_quota.c's; this check is the
 * node's own count, against its share while the cluster is degraded.
 * Diagnostics: never dies; quota_check() returns NULL, or the refusal
 * ("451 4.7.1 ...") in the caller's buffer.
 */
#include <stdio.h>

#include "auth.h"
#include "cluster.h"
#include "cshare.h"
#include "quota.h"
#include "util.h"
#include "window.h"

const char *
quota_check(const struct subaccount *sa, int64_t now_us, char *buf,
    size_t bufsz)
{
	const struct {
		int64_t		 limit;
		int		 minutes;
		const char	*name;
	} q[] = {
		{ sa->quota_hour, WIN_HOUR, "hour" },
		{ sa->quota_day, WIN_DAY, "24 hours" },
	};
	int degraded = cluster_enabled() && !cluster_up();
	int64_t n, limit;

	for (size_t i = 0; i < nitems(q); i++) {
		/* Redis away: this node's share (cluster.h). */
		limit = degraded ? cshare_share(q[i].limit, cluster_live()) :
		    q[i].limit;
		if (limit <= 0 || (n = window_sum(sa->name, WIN_ACCEPTED,
		    now_us, q[i].minutes)) < limit)
			continue;
		snprintf(buf, bufsz, "451 4.7.1 Error: subaccount %s has sent "
		    "%lld messages in the last %s, its quota is %lld%s; try "
		    "again later", sa->name, (long long)n, q[i].name,
		    (long long)limit, degraded ? " (this node's share while "
		    "the cluster is degraded)" : "");
		return buf;
	}
	return NULL;
}

void
quota_usage(const struct subaccount *sa, int64_t now_us, int64_t *hour,
    int64_t *day)
{
	*hour = window_sum(sa->name, WIN_ACCEPTED, now_us, WIN_HOUR);
	*day = window_sum(sa->name, WIN_ACCEPTED, now_us, WIN_DAY);
}
