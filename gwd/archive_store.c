/*
 * archive_store.c - the compliance archive's side in the store thread
 * (archive.h): the archive_pending rows a commit adds, and, in a later
 * commit, deleting the rows the archive thread (archive.c) has synced
 * and recording its hash in archive_head.
 * Exposure: none; gwd's own rows.
 * Diagnostics: -1 from a statement that fails (db.h logged it); the
 * store thread fails the transaction.
 */
#include <stdlib.h>

#include "archfile.h"
#include "archive.h"
#include "archive_priv.h"
#include "db.h"

static sqlite3_stmt	*st_put, *st_ack, *st_keep, *st_head;
static int64_t		 acking, acked;

/* The store thread's statements; after archive_init(), before
 * archive_start(): what the day file holds is acknowledged already. */
void
archive_prepare(sqlite3 *qdb)
{
	acked = acking = archive_synced(NULL);
	st_put = db_prepare(qdb, "INSERT INTO archive_pending (qid, message,"
	    " received, envelope) VALUES (?, ?, ?, ?)");
	st_ack = db_prepare(qdb, "DELETE FROM archive_pending WHERE id <= ?");
	st_head = db_prepare(qdb, "INSERT OR REPLACE INTO archive_head (id, "
	    "seq, hash) VALUES (1, ?, ?)");
	st_keep = db_prepare(qdb, "UPDATE archive_pending SET body = (SELECT "
	    "body FROM message WHERE id = ?1) WHERE message = ?1 AND body IS "
	    "NULL");
}

void
archive_unprepare(void)
{
	sqlite3_finalize(st_put);
	sqlite3_finalize(st_ack);
	sqlite3_finalize(st_keep);
	sqlite3_finalize(st_head);
	st_put = st_ack = st_keep = st_head = NULL;
}

void
archive_req_free(struct archive_req *a)
{
	if (a == NULL)
		return;
	free(a->env);
	free(a->journal);
	free(a);
}

int
archive_put(const char *qid, int64_t msg, int64_t received_us,
    const char *env, size_t envlen)
{
	sqlite3_bind_text(st_put, 1, qid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st_put, 2, msg);
	sqlite3_bind_int64(st_put, 3, received_us);
	sqlite3_bind_blob64(st_put, 4, env, envlen, SQLITE_STATIC);
	return db_step_done(st_put);
}

int
archive_keep_body(int64_t msg)
{
	/* An index lookup in a table of the rows not yet synced. */
	sqlite3_bind_int64(st_keep, 1, msg);
	return db_step_done(st_keep);
}

int
archive_ack(void)
{
	uint8_t h[ARCH_HASH_LEN];
	int64_t s;

	if (archive_synced(NULL) <= acked)
		return 0;
	s = archive_synced(h);
	sqlite3_bind_int64(st_ack, 1, s);
	if (db_step_done(st_ack) == -1)
		return -1;
	sqlite3_bind_int64(st_head, 1, s);
	sqlite3_bind_blob(st_head, 2, h, sizeof(h), SQLITE_TRANSIENT);
	if (db_step_done(st_head) == -1)
		return -1;
	acking = s;
	return 0;
}

void
archive_acked(void)
{
	acked = acking;
}
