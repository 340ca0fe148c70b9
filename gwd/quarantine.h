/*
 * quarantine.h - how long quarantined mail is kept (issue 11): a
 * message a content policy quarantined (qmsg.held == QMSG_QUARANTINED)
 * waits for an admin (gwctl quarantine release/delete, through the
 * queue's admin actions) at most policy.quarantine_days; then it is
 * deleted, each recipient's "deleted" event saying why.
 */
#ifndef GWD_QUARANTINE_H
#define GWD_QUARANTINE_H

#include <stdint.h>

/* Sweep once the queue is read at start-up, then every hour. */
void	 quarantine_start(void);
/* Delete every quarantined message that arrived before cutoff_us (unix
 * microseconds); the number deleted. */
int	 quarantine_sweep(int64_t cutoff_us);

#endif
