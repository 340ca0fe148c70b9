/*
 * quota.c - sliding per-subaccount message counts (see quota.h).
 *
 * A subaccount's counts are a ring of 1440 one-minute buckets, each
 * stamped with its minute so a stale bucket reads as empty; the last
 * hour is the sum of the newest 60.  11.5 kB per subaccount that sent
 * in the last day.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "db.h"
#include "hmap.h"
#include "log.h"
#include "quota.h"
#include "util.h"

#define MINUTES_DAY	1440
#define MINUTES_HOUR	60

struct bucket {
	int64_t		 minute;	/* unix minutes */
	int		 count;
};

struct window {
	struct bucket	 b[MINUTES_DAY];
};

static struct hmap	 windows;	/* subaccount -> struct window */

static int64_t
minute_of(int64_t us)
{
	return us / 60000000;
}

static struct window *
window_get(const char *sub, int create)
{
	struct window *w = hmap_get(&windows, sub);

	if (w == NULL && create) {
		w = xcalloc(1, sizeof(*w));
		hmap_put(&windows, sub, w);
	}
	return w;
}

/* Messages in the `minutes` minutes up to and including now's. */
static int64_t
window_sum(const struct window *w, int64_t now_min, int minutes)
{
	int64_t n = 0;

	for (int i = 0; i < minutes; i++) {
		int64_t m = now_min - i;
		const struct bucket *b = &w->b[m % MINUTES_DAY];

		if (b->minute == m)
			n += b->count;
	}
	return n;
}

void
quota_count(const char *subaccount, int64_t ts_us, int delta)
{
	int64_t m = minute_of(ts_us);
	struct window *w;
	struct bucket *b;

	if (subaccount == NULL || subaccount[0] == '\0' ||
	    (w = window_get(subaccount, 1)) == NULL)
		return;
	b = &w->b[m % MINUTES_DAY];
	if (b->minute != m) {
		if (b->minute > m)
			return;		/* older than a day: out of every window */
		b->minute = m;
		b->count = 0;
	}
	b->count += delta;
	if (b->count < 0)
		b->count = 0;
}

const char *
quota_check(const struct subaccount *sa, int64_t now_us, char *buf,
    size_t bufsz)
{
	const struct {
		int64_t		 limit;
		int		 minutes;
		const char	*name;
	} q[] = {
		{ sa->quota_hour, MINUTES_HOUR, "hour" },
		{ sa->quota_day, MINUTES_DAY, "24 hours" },
	};
	const struct window *w = window_get(sa->name, 0);
	int64_t n;

	for (size_t i = 0; w && i < nitems(q); i++) {
		if (q[i].limit <= 0 || (n = window_sum(w, minute_of(now_us),
		    q[i].minutes)) < q[i].limit)
			continue;
		snprintf(buf, bufsz, "451 4.7.1 Error: subaccount %s has sent "
		    "%lld messages in the last %s, its quota is %lld; try "
		    "again later", sa->name, (long long)n, q[i].name,
		    (long long)q[i].limit);
		return buf;
	}
	return NULL;
}

/*
 * The last day's accepted messages from log.db.  DSNs and the null
 * sender's mail have sender '' and do not count.  log.db is written
 * with synchronous=NORMAL: a power failure may forget the last moments
 * of counting, never a kill -9.
 */
int
quota_init(const char *state_dir, char *err, size_t errsz)
{
	int64_t since = now_us() - (int64_t)MINUTES_DAY * 60000000;
	sqlite3_stmt *st;
	sqlite3 *db;
	int rc, n = 0;

	hmap_init(&windows);
	if ((db = db_open(state_dir, DB_LOG, DB_RDONLY, err, errsz)) == NULL)
		return -1;
	st = db_prepare(db, "SELECT subaccount, ts / 60000000, count(*) FROM"
	    " event WHERE ts >= ? AND action = 'received' AND sender <> ''"
	    " AND subaccount IS NOT NULL GROUP BY 1, 2");
	sqlite3_bind_int64(st, 1, since);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int c = sqlite3_column_int(st, 2);

		quota_count((const char *)sqlite3_column_text(st, 0),
		    sqlite3_column_int64(st, 1) * 60000000, c);
		n += c;
	}
	if (rc != SQLITE_DONE)
		snprintf(err, errsz, "log.db: quota counts: %s",
		    sqlite3_errmsg(db));
	sqlite3_finalize(st);
	db_close(db);
	if (rc == SQLITE_DONE)
		log_info("quota counts: %d messages in the last 24 hours", n);
	return rc == SQLITE_DONE ? 0 : -1;
}
