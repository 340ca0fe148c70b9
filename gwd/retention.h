/*
 * retention.h - pruning old events from log.db (log.retention_days).
 */
#ifndef GWD_RETENTION_H
#define GWD_RETENTION_H

#include <sqlite3.h>
#include <stdint.h>

/*
 * Delete at most `batch` events older than cutoff_us (unix microseconds)
 * in one transaction, with their full-text rows, and the event_rcpt rows
 * of messages left without events.  Returns how many events went (less
 * than `batch`: nothing older is left), or -1 after logging why.  Call
 * it again, between other work, while it returns `batch`.
 */
int	retention_prune(sqlite3 *ldb, int64_t cutoff_us, int batch);

/*
 * One step of pruning events older than `days` days, for the thread
 * that owns `ldb` (gwd's checkpointer): one transaction of a size that
 * takes about 20 ms.  Returns the milliseconds to wait before the next
 * step: as long as this one took while older events remain, a second
 * once none do.  Warns in the log while pruning is behind.
 */
int64_t	retention_run(sqlite3 *ldb, int days);

/* Events pruned since start, and the time of the oldest event in
 * log.db (unix microseconds; 0: none), as of the last step.  Any thread. */
void	retention_stats(int64_t *pruned_total, int64_t *oldest_us);

#endif
