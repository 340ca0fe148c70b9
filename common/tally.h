/*
 * tally.h - log.db's event_tally (schema 8) kept by the event writers.
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
 */
#ifndef GW_TALLY_H
#define GW_TALLY_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

struct tally_ent;

struct tally {
	sqlite3		*db;
	sqlite3_stmt	*up, *drop;
	struct tally_ent *ent;		/* open addressing, cap a power of 2 */
	size_t		 n, cap;
};

/* Prepare the statements on db (a log.db at schema 8 or later): 0, or -1
 * (sqlite3_errmsg(db) says why). */
int	tally_open(struct tally *, sqlite3 *db);
void	tally_close(struct tally *);
/* Count one event (sign 1) or one deleted event (sign -1); action and
 * sub (NULL for none) are copied.  0, or -1 when out of memory (the
 * tally is then cleared: the caller rolls back). */
int	tally_add(struct tally *, int64_t ts_us, const char *action,
	    const char *sub, int hard, int sign);
/* Apply what was counted since the last flush or clear, inside the
 * caller's transaction, and forget it: 0, or -1 (sqlite3_errmsg). */
int	tally_flush(struct tally *);
/* Forget what was counted (the transaction was rolled back). */
void	tally_clear(struct tally *);

#endif
