/*
 * db.h - opening gw's three SQLite databases with their schemas, and
 * the helpers that prepare, bind and run their statements.
 *
 *   gw.db     written by gwctl, read by gwd: subaccounts and credentials
 *             (in a cluster gwd writes the changes other nodes' gwctl
 *             made, and cluster_* bookkeeping: gwd/cluster_config.c)
 *   queue.db  written by gwd: the spool
 *   log.db    written by gwd: the audit trail (FTS5)
 *
 * Each schema is a list of numbered migrations; PRAGMA user_version holds
 * the number applied.  A writer applies the missing ones in one
 * transaction; a reader refuses a database newer than it understands.
 */
#ifndef GW_DB_H
#define GW_DB_H

#include <sqlite3.h>
#include <stdint.h>

enum db_kind { DB_GW, DB_QUEUE, DB_LOG };

#define DB_RDONLY	0x01	/* open read-only; never migrate */
#define DB_NOSYNC	0x02	/* synchronous=NORMAL instead of FULL */

/*
 * Open state_dir/<name> for `kind`.  On failure returns NULL and writes
 * a message into err (size errsz) naming the file and the reason.
 */
sqlite3	*db_open(const char *state_dir, enum db_kind, int flags, char *err,
	    size_t errsz);
void	 db_close(sqlite3 *);
const char *db_filename(enum db_kind);
int	 db_schema_version(enum db_kind);

/* Convenience: prepare or die trying (for statements fixed at build,
 * at start-up: never on a path that runs while gwd serves). */
sqlite3_stmt *db_prepare(sqlite3 *, const char *sql);
/* Run sql (no parameters) and hand each row to fn: 0, or -1 when it
 * could not be prepared or a step failed (fn saw the rows before). */
int	 db_rows(sqlite3 *, const char *sql,
	    void (*fn)(sqlite3_stmt *, void *), void *arg);
int	 db_exec(sqlite3 *, const char *sql, char *err, size_t errsz);

/*
 * Statements without parameters that run often on a few connections
 * (BEGIN, COMMIT, ROLLBACK), each prepared once: sqlite3_exec()
 * compiles its SQL at every call (~11,000 instructions, callgrind).
 * The cache is its owner's, used by one thread at a time; sql must
 * outlive it (a literal).
 */
struct db_exec_cache {
	struct {
		sqlite3		*db;
		const char	*sql;
		sqlite3_stmt	*st;
	}		 e[8];
};
/* Run sql on db, prepared the first time (compiled each time once the
 * cache is full): 0, or -1 (SQLite's errmsg says why). */
int	 db_exec_cached(struct db_exec_cache *, sqlite3 *, const char *sql);
/* Finalize every statement: before their connections close. */
void	 db_exec_cache_free(struct db_exec_cache *);

/* Bind a string (NULL binds NULL); the caller keeps it alive until the
 * statement is stepped. */
void	 db_bind_text(sqlite3_stmt *, int i, const char *);
/* Bind v, or NULL when v == none. */
void	 db_bind_int_or_null(sqlite3_stmt *, int i, int64_t v, int64_t none);
/* Step a statement that returns no rows, then reset it: 0 or -1. */
int	 db_step_done(sqlite3_stmt *);

/*
 * log.db: the events with ts >= since_us counted per action and
 * subaccount ("" for none), with how many of them have class 'hard';
 * fn gets each pair once.  Whole hours and minutes come from
 * event_tally, the partial minute at the start from the events
 * themselves: exact, and the rows read do not grow with the events.
 * 0, or -1 when a step failed (SQLite's errmsg says why).
 */
int	 db_tally(sqlite3 *, int64_t since_us, void (*fn)(const char *action,
	    const char *sub, int64_t n, int64_t hard, void *), void *arg);

/*
 * log.db: the latencies of the deliveries with ts >= since_us, counted
 * into hist[TALLY_LAT_NB] (common/tally.h) by log bucket; as db_tally,
 * from event_latency's hours and minutes and the partial minute's
 * events.  0, or -1 (SQLite's errmsg says why).
 */
int	 db_latency(sqlite3 *, int64_t since_us, int64_t *hist);

/* The first column of the first row of sql (a PRAGMA, a count), or -1
 * when it does not run or gives no row. */
int64_t	 db_int(sqlite3 *, const char *sql);
/* PRAGMA data_version: changes when another connection commits. */
int	 db_data_version(sqlite3 *);

#endif
