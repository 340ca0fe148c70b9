/*
 * cluster_outbox.c - what a node keeps of the configuration stream in
 * its gw.db, for cluster_config.c: cluster_applied (the last id applied
 * of each stream) and cluster_outbox, which keeps each change gwctl
 * made here until the node reads it back from the stream, so an entry
 * of ours is known as ours after a restart too.
 * Exposure: the fields compared come from Redis (any node's entry);
 * an entry is ours only if it names this node, the outbox row it came
 * from (and this gw.db's origin, when it names one), and carries that
 * row's changeset byte for byte.  Marks come from Redis too: a node
 * trusts them as it trusts the changes (cluster_config.c).
 * Diagnostics: -1 (SQLite's error is the caller's to log).
 *
 * Rows of cluster_applied (names that are no Redis stream's) hold
 * what must outlive gwd: APPLIED_SENT, the last outbox row Redis took
 * (rows are sent in id order, one at a time, so every row up to it
 * went), APPLIED_MIXED, present while another node's change applied
 * here may have overwritten one of ours still waiting, APPLIED_BASE,
 * APPLIED_ORIGIN and APPLIED_SEQ (the marks).
 *
 * Marks.  An entry's seq is APPLIED_BASE plus its outbox row's id: row
 * ids start again at 1 once the outbox is empty, so the base grows then
 * by the last id, and a node's seqs only ever grow.  An entry names its
 * gw.db's origin too (made at random once), so two nodes of one name
 * (gwd.conf(5)) keep marks apart.  Every node notes, per origin and
 * node, the highest seq it applied (APPLIED_SEQ + "ORIGIN NODE"), and a
 * snapshot carries those marks (field seqs, "SEQ ORIGIN NODE" lines): a
 * node taking one knows its rows up to its mark are in it, even those
 * Redis took just before gwd was killed, before it noted them sent
 * (the sent mark alone misses them, and they went again, undoing the
 * later changes of other nodes in the snapshot).  A snapshot without
 * seqs (an older gwd's) has no marks: the sent mark alone is used (one
 * an older gwd published over a newer one's keeps the older marks,
 * lower, so still true).  Trap: a gw.db restored from a backup would
 * make seqs its earlier life sent already; gwd.conf(5) has the
 * origin deleted then.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_priv.h"
#include "util.h"

#define APPLIED_SENT	"gw:config:sent"	/* cluster_applied rows */
#define APPLIED_MIXED	"gw:config:mixed"
#define APPLIED_BASE	"gw:config:base"
#define APPLIED_ORIGIN	"gw:config:origin"
#define APPLIED_SEQ	"gw:config:seq:"	/* + "ORIGIN NODE" */
#define ORIGIN_LEN	16			/* hex digits */
#define MARKS_MAX	(64 * 1024)		/* a snapshot's seqs */

static char	 origin[ORIGIN_LEN + 1];	/* this gw.db's */
static char	 self_key[ORIGIN_LEN + 2 + sizeof(cl.node)];

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

/* cluster_applied's row name as a number into *v (0: no row), or -1. */
static int
applied_int(sqlite3 *db, const char *name, int64_t *v)
{
	sqlite3_stmt *st;
	int rc;

	*v = 0;
	if (sqlite3_prepare_v2(db, "SELECT CAST(last_id AS INTEGER) FROM "
	    "cluster_applied WHERE stream = ?", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

const char *
outbox_origin(sqlite3 *db)
{
	unsigned char r[ORIGIN_LEN / 2];

	if (origin[0] != '\0')
		return origin;
	if (config_applied_get(db, APPLIED_ORIGIN, origin, sizeof(origin)) ==
	    -1) {
		random_bytes(r, sizeof(r));
		hex_encode(r, sizeof(r), origin);
		if (config_note_applied(db, APPLIED_ORIGIN, origin) == -1) {
			origin[0] = '\0';
			return NULL;
		}
	}
	snprintf(self_key, sizeof(self_key), "%s %s", origin, cl.node);
	return origin;
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
	const redisReply *nr, *sr, *or;
	sqlite3_stmt *st;
	char *end;
	long long row;
	int64_t base, ours = 0;

	if ((nr = cl_field(f, "node")) == NULL || strcmp(nr->str, cl.node) ||
	    (sr = cl_field(f, "seq")) == NULL || cs == NULL)
		return 0;
	/* None: an older gwd's entry. */
	if ((or = cl_field(f, "origin")) != NULL && strcmp(or->str, origin))
		return 0;
	row = strtoll(sr->str, &end, 10);
	if (*end != '\0' || applied_int(db, APPLIED_BASE, &base) == -1 ||
	    (row -= base) <= 0 || sqlite3_prepare_v2(db, "SELECT "
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

/* The outbox is empty now that rows up to top went: ids start again at
 * 1, so seqs go on from the base plus top, and no row is sent. */
static int
outbox_emptied(sqlite3 *db, int64_t top)
{
	int64_t base;
	char s[32];

	if (!outbox_empty(db))
		return 0;
	if (applied_int(db, APPLIED_BASE, &base) == -1)
		return -1;
	snprintf(s, sizeof(s), "%" PRId64, base + top);
	return applied_del(db, APPLIED_SENT) == -1 ||
	    config_note_applied(db, APPLIED_BASE, s) == -1 ? -1 : 0;
}

int64_t
outbox_seq(sqlite3 *db, int64_t row)
{
	int64_t base;

	return applied_int(db, APPLIED_BASE, &base) == -1 ? -1 : base + row;
}

/* Rows are read back in the order they went, so the outbox left is
 * the rows after row. */
int
outbox_done(sqlite3 *db, int64_t row)
{
	if (exec_bind(db, "DELETE FROM cluster_outbox WHERE id = ?", NULL,
	    row) == -1)
		return -1;
	return outbox_emptied(db, row);
}

int
outbox_sent(sqlite3 *db, int64_t row)
{
	char s[32];

	snprintf(s, sizeof(s), "%" PRId64, row);
	return config_note_applied(db, APPLIED_SENT, s);
}

/* Rows up to row deleted (in the caller's transaction): how many, or
 * -1. */
static int
drop_upto(sqlite3 *db, int64_t row)
{
	sqlite3_stmt *st;
	int64_t top = 0;
	int n;

	if (sqlite3_prepare_v2(db, "SELECT max(id) FROM cluster_outbox "
	    "WHERE id <= ?", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, row);
	if (sqlite3_step(st) == SQLITE_ROW)
		top = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (exec_bind(db, "DELETE FROM cluster_outbox WHERE id <= ?", NULL,
	    row) == -1)
		return -1;
	n = sqlite3_changes(db);
	return outbox_emptied(db, top) == -1 ? -1 : n;
}

/* One transaction: gwctl's insert into an outbox just emptied would
 * take id 1 before the base grew. */
int
outbox_drop_sent(sqlite3 *db)
{
	int64_t sent;
	int n = -1;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	if (applied_int(db, APPLIED_SENT, &sent) == -1 ||
	    (n = drop_upto(db, sent)) == -1 ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return n;
}

/* The mark of key ("ORIGIN NODE", len bytes) raised to seq, never
 * lowered. */
static int
mark_note(sqlite3 *db, const char *key, size_t len, int64_t seq)
{
	char name[sizeof(APPLIED_SEQ) + sizeof(self_key)], s[32];
	sqlite3_stmt *st;
	int rc;

	if (len <= ORIGIN_LEN + 1 || len >= sizeof(self_key) ||
	    memchr(key, '\n', len) || key[ORIGIN_LEN] != ' ' || seq <= 0)
		return 0;
	snprintf(name, sizeof(name), "%s%.*s", APPLIED_SEQ, (int)len, key);
	snprintf(s, sizeof(s), "%" PRId64, seq);
	if (sqlite3_prepare_v2(db, "INSERT INTO cluster_applied (stream, "
	    "last_id) VALUES (?1, ?2) ON CONFLICT (stream) DO UPDATE SET "
	    "last_id = ?2 WHERE CAST(last_id AS INTEGER) < ?3", -1, &st,
	    NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, s, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, seq);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* A snapshot's marks ("SEQ ORIGIN NODE" lines) noted; ours up to our
 * mark are in it: dropped.  How many, or -1. */
static int
snap_marks(sqlite3 *db, const redisReply *m)
{
	const char *p, *nl, *end = m->str + m->len;
	char *e;
	long long seq;
	int64_t base, ours = 0;

	for (p = m->str; p < end && (nl = memchr(p, '\n', end - p)); p =
	    nl + 1) {
		seq = strtoll(p, &e, 10);
		if (e >= nl || *e != ' ' || seq <= 0)
			continue;
		e++;
		if (mark_note(db, e, nl - e, seq) == -1)
			return -1;
		if ((size_t)(nl - e) == strlen(self_key) &&
		    memcmp(e, self_key, nl - e) == 0)
			ours = seq;
	}
	if (ours == 0)
		return 0;
	if (applied_int(db, APPLIED_BASE, &base) == -1)
		return -1;
	return ours > base ? drop_upto(db, ours - base) : 0;
}

int
outbox_marks_note(sqlite3 *db, const redisReply *f, int snapshot)
{
	const redisReply *nr, *sr, *or;
	char key[sizeof(self_key)], *end;
	long long seq;

	if (snapshot) {
		/* None: an older gwd's snapshot, the sent mark alone. */
		sr = cl_field(f, "seqs");
		return sr && sr->len <= MARKS_MAX ? snap_marks(db, sr) : 0;
	}
	/* No origin: an older gwd's entry, no mark. */
	if ((nr = cl_field(f, "node")) == NULL ||
	    (sr = cl_field(f, "seq")) == NULL ||
	    (or = cl_field(f, "origin")) == NULL || or->len != ORIGIN_LEN ||
	    nr->len >= sizeof(cl.node))
		return 0;
	seq = strtoll(sr->str, &end, 10);
	snprintf(key, sizeof(key), "%s %s", or->str, nr->str);
	return *end != '\0' ? 0 : mark_note(db, key, strlen(key), seq);
}

char *
outbox_marks(sqlite3 *db)
{
	sqlite3_stmt *st;
	const unsigned char *t;
	char *m = NULL;

	if (sqlite3_prepare_v2(db, "SELECT coalesce(group_concat(CAST(last_id "
	    "AS INTEGER) || ' ' || substr(stream, ?1 + 1) || char(10), ''), "
	    "'') FROM cluster_applied WHERE substr(stream, 1, ?1) = ?2", -1,
	    &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_int(st, 1, (int)strlen(APPLIED_SEQ));
	sqlite3_bind_text(st, 2, APPLIED_SEQ, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    (t = sqlite3_column_text(st, 0)) != NULL)
		m = xstrdup((const char *)t);
	sqlite3_finalize(st);
	return m;
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
