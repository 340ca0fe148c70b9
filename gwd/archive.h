/*
 * archive.h - the compliance archive's local store: every message
 * accepted while archive.store is on, with its envelope, in day files
 * under state_dir/archive (common/archfile.h has the format).
 *
 * Durability: a message is archived as part of the commit that
 * acknowledges it.  The store thread puts an archive_pending row (the
 * envelope and a copy of the body) into queue.db in the same
 * transaction as the message (archive_put()), so the one fsync before
 * the 250 covers it.  The row names the message row, whose body the
 * archive reads; a message deleted before that (delivered) leaves a copy
 * of its body in the row (archive_keep_body(), in the deleting
 * transaction).  The archive thread then appends the rows to the
 * day file in id order, the id being the record's sequence number,
 * syncs the file and publishes how far it is synced
 * (archive_synced()); the store thread's next transaction deletes the
 * rows up to there (archive_ack()).  A crash leaves each row in
 * queue.db, in the day file, or both; at start-up the rows the day
 * file holds already (id <= its last sequence number) are deleted and
 * the others appended: no gap, no duplicate.  The store thread never
 * waits for the archive's fsync.
 */
#ifndef GW_ARCHIVE_H
#define GW_ARCHIVE_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/*
 * What submit_message() (submit.h: SMTP's end of DATA, the HTTP API)
 * decided to archive of a message (journal.c makes it): its envelope
 * report, whether it goes into the local store, and
 * the address its journal report goes to.
 */
struct archive_req {
	char		*env;		/* "Name: value" CRLF lines */
	size_t		 envlen;
	int		 store;
	char		*journal;	/* NULL: no journal report */
};

void	 archive_req_free(struct archive_req *);

/* Read the archive's tail (a part of a record at the end is cut off:
 * it was never acknowledged) and forget the rows it holds.  Before the
 * store thread starts.  0, or -1 with err. */
int	 archive_init(const char *state_dir, char *err, size_t errsz);
int	 archive_start(char *err, size_t errsz);
void	 archive_stop(void);

/* The store thread's side, on its queue.db connection and in its
 * transaction. */
void	 archive_prepare(sqlite3 *qdb);
void	 archive_unprepare(void);
int	 archive_put(const char *qid, int64_t msg, int64_t received_us,
	    const char *env, size_t envlen);
/* Message msg is deleted in this transaction: a row still waiting for
 * it takes a copy of its body.  0 or -1. */
int	 archive_keep_body(int64_t msg);
/* Delete the rows the day file holds durably; 0 or -1. */
int	 archive_ack(void);
/* After the commit of archive_ack(): what it deleted is gone. */
void	 archive_acked(void);
/* New rows are committed: append them. */
void	 archive_kick(void);

/* The day-file directory of state_dir (malloc'd). */
char	*archive_dir(const char *state_dir);

#endif
