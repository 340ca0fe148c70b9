/*
 * cluster_snap.c - snapshots of gw.db's shared configuration (the
 * tables of cshare_config_tables) as SQLite changesets, for
 * cluster_config.c: one that inserts every row (what a node publishes),
 * and the one that turns this node's tables into a published snapshot
 * (what a node that fell behind the trimmed stream applies).
 * Exposure: a snapshot comes from Redis (another node's gwd); it is
 * applied to an empty in-memory copy of the tables, where SQLite checks
 * its form, and only the difference reaches gw.db, through the same
 * conflict rules as any change.
 * Diagnostics: -1 with the reason logged.
 *
 * Both work on a private in-memory database holding empty copies of
 * the shared tables (their CREATE statements as gw.db has them now),
 * with gw.db attached read-only as "live": the session extension's
 * sqlite3session_diff() then gives the changes between the two.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_priv.h"
#include "cshare.h"
#include "db.h"
#include "log.h"
#include "util.h"

/* The in-memory copy, empty, with gw.db attached as "live". */
static sqlite3 *
mem_open(const char *path)
{
	sqlite3 *m;
	sqlite3_stmt *st = NULL;
	int ok = 0;

	if (sqlite3_open_v2(":memory:", &m, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
		goto done;
	sqlite3_busy_timeout(m, 1000);
	if (sqlite3_prepare_v2(m, "ATTACH ? AS live", -1, &st, NULL) !=
	    SQLITE_OK)
		goto done;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto done;
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(m, "SELECT sql FROM live.sqlite_master WHERE "
	    "type = 'table' AND name = ?", -1, &st, NULL) != SQLITE_OK)
		goto done;
	for (size_t i = 0; cshare_config_tables[i] != NULL; i++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, cshare_config_tables[i], -1,
		    SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_ROW ||
		    sqlite3_column_text(st, 0) == NULL ||
		    sqlite3_exec(m, (const char *)sqlite3_column_text(st, 0),
		    NULL, NULL, NULL) != SQLITE_OK)
			goto done;
	}
	ok = 1;
done:
	if (!ok)
		log_warnx("cluster: configuration snapshot: %s: %s", path,
		    sqlite3_errmsg(m));
	sqlite3_finalize(st);
	if (!ok) {
		sqlite3_close(m);
		return NULL;
	}
	return m;
}

/* The changes that turn database from's shared tables into those of
 * database to (both of m). */
static int
mem_diff(sqlite3 *m, const char *to, const char *from, void **cs, int *n)
{
	sqlite3_session *s;
	char *err = NULL;
	int rc = SQLITE_OK;

	*cs = NULL;
	*n = 0;
	if (sqlite3session_create(m, to, &s) != SQLITE_OK)
		return -1;
	for (size_t i = 0; rc == SQLITE_OK && cshare_config_tables[i]; i++)
		if ((rc = sqlite3session_attach(s, cshare_config_tables[i])) ==
		    SQLITE_OK)
			rc = sqlite3session_diff(s, from,
			    cshare_config_tables[i], &err);
	if (rc == SQLITE_OK)
		rc = sqlite3session_changeset(s, n, cs);
	if (rc != SQLITE_OK)
		log_warnx("cluster: configuration snapshot: %s",
		    err ? err : sqlite3_errstr(rc));
	sqlite3_free(err);
	sqlite3session_delete(s);
	return rc == SQLITE_OK ? 0 : -1;
}

int
snap_make(const char *path, void **cs, int *n)
{
	sqlite3 *m;
	int rc;

	if ((m = mem_open(path)) == NULL)
		return -1;
	/* One read transaction: the rows of one moment. */
	sqlite3_exec(m, "BEGIN", NULL, NULL, NULL);
	rc = mem_diff(m, "live", "main", cs, n);
	sqlite3_exec(m, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(m);
	return rc;
}

static int
take_all(void *arg, int why, sqlite3_changeset_iter *it)
{
	return SQLITE_CHANGESET_OMIT;	/* empty tables: none */
}

int
snap_diff(const char *path, const void *snap, int snapn, void **cs, int *n)
{
	sqlite3 *m;
	int rc = -1;

	if ((m = mem_open(path)) == NULL)
		return -1;
	if (sqlite3changeset_apply(m, snapn, (void *)snap, NULL, take_all,
	    NULL) != SQLITE_OK)
		log_warnx("cluster: configuration snapshot: not a changeset "
		    "of gw.db's tables: %s", sqlite3_errmsg(m));
	else {
		sqlite3_exec(m, "BEGIN", NULL, NULL, NULL);
		rc = mem_diff(m, "main", "live", cs, n);
		sqlite3_exec(m, "COMMIT", NULL, NULL, NULL);
	}
	sqlite3_close(m);
	return rc;
}

/* Redis stream ids, "MS-SEQ": -1, 0, 1 as a is before, at, after b. */
int
snap_id_cmp(const char *a, const char *b)
{
	unsigned long long am = 0, as = 0, bm = 0, bs = 0;

	sscanf(a, "%llu-%llu", &am, &as);
	sscanf(b, "%llu-%llu", &bm, &bs);
	if (am != bm)
		return am < bm ? -1 : 1;
	return as < bs ? -1 : as > bs;
}
