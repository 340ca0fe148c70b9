/*
 * cluster_outbox.c - what a node keeps of the configuration stream in
 * its gw.db, for cluster_config.c: cluster_applied (the last id applied
 * of each stream) and cluster_outbox, which keeps each change gwctl
 * made here until the node reads it back from the stream, so an entry
 * of ours is known as ours after a restart too.
 * Exposure: the fields compared come from Redis (any node's entry);
 * an entry is ours only if it names this node, the outbox row it came
 * from, and carries that row's changeset byte for byte.
 * Diagnostics: -1 (SQLite's error is the caller's to log).
 *
 * Two rows of cluster_applied (names that are no Redis stream's) hold
 * what must outlive gwd: APPLIED_SENT, the last outbox row Redis took
 * (rows are sent in id order, one at a time, so every row up to it
 * went), and APPLIED_MIXED, present while another node's change
 * applied here may have overwritten one of ours still waiting.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_priv.h"
#include "util.h"

#define APPLIED_SENT	"gw:config:sent"	/* cluster_applied rows */
#define APPLIED_MIXED	"gw:config:mixed"

/* cluster_applied's row of stream into out (NULL: just whether there
 * is one): -1 when there is none. */
int
config_applied_get(sqlite3 *db, const char *stream, char *out,
    size_t outsz)
{
	sqlite3_stmt *st;
	int rc = -1;

	if (sqlite3_prepare_v2(db, "SELECT last_id FROM cluster_applied "
	    "WHERE stream = ?", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, stream, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_text(st, 0) != NULL) {
		if (out)
			gw_strlcpy(out, (const char *)sqlite3_column_text(st,
			    0), outsz);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

int
config_note_applied(sqlite3 *db, const char *stream, const char *id)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO cluster_applied "
	    "(stream, last_id) VALUES (?, ?)", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, stream, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
exec_bind(sqlite3 *db, const char *sql, const char *s, int64_t row)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (s != NULL)
		sqlite3_bind_text(st, 1, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 1, row);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
applied_del(sqlite3 *db, const char *name)
{
	return exec_bind(db, "DELETE FROM cluster_applied WHERE stream = ?",
	    name, 0);
}

int
outbox_empty(sqlite3 *db)
{
	sqlite3_stmt *st;
	int empty = 0;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM cluster_outbox LIMIT 1",
	    -1, &st, NULL) != SQLITE_OK)
		return 0;
	empty = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	return empty;
}

int64_t
outbox_ours(sqlite3 *db, const redisReply *f, const void *cs, size_t n)
{
	const redisReply *nr, *sr;
	sqlite3_stmt *st;
	char *end;
	long long row;
	int64_t ours = 0;

	if ((nr = cl_field(f, "node")) == NULL || strcmp(nr->str, cl.node) ||
	    (sr = cl_field(f, "seq")) == NULL || cs == NULL)
		return 0;
	row = strtoll(sr->str, &end, 10);
	if (*end != '\0' || row <= 0 || sqlite3_prepare_v2(db, "SELECT "
	    "changeset FROM cluster_outbox WHERE id = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return 0;
	sqlite3_bind_int64(st, 1, row);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    (size_t)sqlite3_column_bytes(st, 0) == n &&
	    memcmp(sqlite3_column_blob(st, 0), cs, n) == 0)
		ours = row;
	sqlite3_finalize(st);
	return ours;
}

/* Rows are read back in the order they went, so the outbox left is
 * the rows after row; empty, ids start again at 1: the mark goes. */
int
outbox_done(sqlite3 *db, int64_t row)
{
	if (exec_bind(db, "DELETE FROM cluster_outbox WHERE id = ?", NULL,
	    row) == -1)
		return -1;
	return outbox_empty(db) ? applied_del(db, APPLIED_SENT) : 0;
}

int
outbox_sent(sqlite3 *db, int64_t row)
{
	char s[32];

	snprintf(s, sizeof(s), "%" PRId64, row);
	return config_note_applied(db, APPLIED_SENT, s);
}

int
outbox_drop_sent(sqlite3 *db)
{
	sqlite3_stmt *st;
	int dropped = -1;

	if (sqlite3_prepare_v2(db, "DELETE FROM cluster_outbox WHERE id <= "
	    "(SELECT CAST(last_id AS INTEGER) FROM cluster_applied WHERE "
	    "stream = ?)", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, APPLIED_SENT, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_DONE)
		dropped = sqlite3_changes(db);
	sqlite3_finalize(st);
	if (dropped >= 0 && outbox_empty(db) &&
	    applied_del(db, APPLIED_SENT) == -1)
		return -1;
	return dropped;
}

int
outbox_mixed(sqlite3 *db)
{
	return config_applied_get(db, APPLIED_MIXED, NULL, 0) == 0;
}

int
outbox_mixed_set(sqlite3 *db, const char *id)
{
	return config_note_applied(db, APPLIED_MIXED, id);
}

int
outbox_mixed_clear(sqlite3 *db)
{
	return applied_del(db, APPLIED_MIXED);
}
