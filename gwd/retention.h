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

#endif
