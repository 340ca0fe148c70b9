/*
 * tally.h - log.db's event_tally (schema 8) and event_latency (schema
 * 9) kept by the event writers.
 *
 * event_tally holds, per minute (span 60) and per hour (span 3600) of
 * an event's ts, per action and subaccount ('' for none), how many
 * events there are (n) and how many of them have class 'hard'.  Whoever
 * inserts or deletes event rows counts them here (tally_add(), +1 or
 * -1 each) and applies the sum with tally_flush() in the same
 * transaction, before COMMIT: one UPSERT per key of the batch instead
 * of a trigger's two per event, and the tally never disagrees with the
 * events, since both commit or neither does.  A row whose n reaches 0
 * goes.  Writers: gwd's event writer (gwd/auditlog.c, also bench/logfill)
 * and retention (gwd/retention.c); tests that write rows themselves
 * rebuild the tally as the migration does.
 *
 * event_latency holds, per minute and per hour of a delivered event's
 * ts, how many deliveries had their latency (event.latency_ms: from the
 * message's received event) in each log bucket lb: exact below 16 ms,
 * then 16 buckets to each power of two, so a bucket is at most 1/16
 * (6.25%) of its lowest value wide.  A percentile read from the
 * buckets is its bucket's middle: within 3.2% of the exact value.
 */
#ifndef GW_TALLY_H
#define GW_TALLY_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

struct tally_ent;

struct tally {
	sqlite3		*db;
	sqlite3_stmt	*up, *drop, *lup, *ldrop;
	struct tally_ent *ent;		/* open addressing, cap a power of 2 */
	size_t		 n, cap;
};

#define TALLY_LAT_BITS	4
#define TALLY_LAT_SUB	(1 << TALLY_LAT_BITS)	/* buckets per doubling */
#define TALLY_LAT_NB	(TALLY_LAT_SUB * 60)	/* up to 2^63 ms */

/* Prepare the statements on db (a log.db at schema 9 or later): 0, or -1
 * (sqlite3_errmsg(db) says why). */
int	tally_open(struct tally *, sqlite3 *db);
void	tally_close(struct tally *);
/* Count one event (sign 1) or one deleted event (sign -1); action and
 * sub (NULL for none) are copied.  0, or -1 when out of memory (the
 * tally is then cleared: the caller rolls back). */
int	tally_add(struct tally *, int64_t ts_us, const char *action,
	    const char *sub, int hard, int sign);
/* Count one delivery of latency ms at ts (sign 1), or one deleted
 * (-1): 0, or -1 as tally_add(). */
int	tally_add_latency(struct tally *, int64_t ts_us, int64_t ms, int sign);
/* The log bucket of a latency in ms (< 0 counts as 0): 0 ..
 * TALLY_LAT_NB - 1. */
int	tally_lat_bucket(int64_t ms);
/* The p-th percentile (nearest rank) of a histogram of TALLY_LAT_NB
 * buckets, in ms: the middle of the bucket it falls in; -1 if empty. */
int64_t	tally_lat_pct(const int64_t *hist, int p);

/* Apply what was counted since the last flush or clear, inside the
 * caller's transaction, and forget it: 0, or -1 (sqlite3_errmsg). */
int	tally_flush(struct tally *);
/* Forget what was counted (the transaction was rolled back). */
void	tally_clear(struct tally *);

#endif
