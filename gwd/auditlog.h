/*
 * auditlog.h - writing audit events into log.db: the event row, its
 * full-text index row, and the recipients of a received message.
 *
 * The store thread is its one user in gwd; bench/logfill uses the same
 * writer to build large logs for bench/search.  The caller brackets
 * writes in transactions.
 */
#ifndef GW_AUDITLOG_H
#define GW_AUDITLOG_H

#include <sqlite3.h>

#include "store.h"

struct auditlog {
	sqlite3		*db;
	sqlite3_stmt	*ins_ev;
	sqlite3_stmt	*ins_fts;
	sqlite3_stmt	*ins_rcpt;
};

/* Prepare the statements on ldb and set the index's merge policy (fatal
 * if the schema is not there). */
void	auditlog_open(struct auditlog *, sqlite3 *ldb);
void	auditlog_close(struct auditlog *);
/* Write one event: 0, or -1 (sqlite3_errmsg(ldb) says why). */
int	auditlog_write(struct auditlog *, const struct audit_event *);

/*
 * Keep the full-text index quick: merge its segments, at most `pages`
 * leaf pages of work per call (FTS5 'merge'; auditlog_open() sets
 * usermerge 2, so every level is folded as soon as it holds two
 * segments).  Left alone, the
 * many small segments of a busy log made a two-word search on 10
 * million events take 3 s instead of 20 ms.  0, or -1.
 */
int	auditlog_maintain(sqlite3 *ldb, int pages);

#endif
