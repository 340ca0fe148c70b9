/*
 * cluster_conflict.c - how a configuration change from the stream meets
 * gw.db's rows (cluster_config.c's header comment, "Conflicts"): the
 * last writer in stream order wins, an insert of a row that is there as
 * it is leaves it alone, and a change of this node's applied again after
 * another node's changes only the rows that other change touched.
 * Exposure: the changesets come from Redis (cluster_config.c); a row
 * whose key does not fit a rowkey counts as touched.
 * Diagnostics: a change that breaks a constraint other than the key is
 * logged and skipped.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_priv.h"
#include "log.h"
#include "util.h"

#define TOUCHED_MAX	4096	/* rows others changed among ours */

/*
 * The rows other nodes' changes touched while ours waited: when ours
 * are applied again after them, only those rows may differ here from
 * what ours expect because of another node (the rest differ, if at
 * all, because of our own later changes, which follow).  A row is its
 * table and primary key, packed: the name, then each key value's type
 * and bytes.
 */
struct rowkey {
	size_t		 n;
	unsigned char	 b[];
};

static struct rowkey	**touched;	/* the rows they changed */
static int		 ntouched;	/* -1: too many to keep, all of them */

static struct rowkey *
rowkey_make(sqlite3_changeset_iter *it)
{
	const char *tab;
	unsigned char *pk, buf[1024];
	sqlite3_value *v;
	size_t n;
	int ncol, op, ind, i;
	struct rowkey *k;

	if (sqlite3changeset_op(it, &tab, &ncol, &op, &ind) != SQLITE_OK ||
	    sqlite3changeset_pk(it, &pk, &ncol) != SQLITE_OK ||
	    (n = strlen(tab) + 1) > sizeof(buf))
		return NULL;
	memcpy(buf, tab, n);
	for (i = 0; i < ncol; i++) {
		int64_t x;
		const void *p = &x;
		size_t len = sizeof(x);

		if (!pk[i])
			continue;
		if ((op == SQLITE_INSERT ? sqlite3changeset_new(it, i, &v) :
		    sqlite3changeset_old(it, i, &v)) != SQLITE_OK || v == NULL)
			return NULL;
		if (sqlite3_value_type(v) == SQLITE_INTEGER)
			x = sqlite3_value_int64(v);
		else {
			p = sqlite3_value_blob(v);
			len = (size_t)sqlite3_value_bytes(v);
		}
		if (n + 1 + sizeof(len) + len > sizeof(buf))
			return NULL;
		buf[n++] = (unsigned char)sqlite3_value_type(v);
		memcpy(buf + n, &len, sizeof(len));
		n += sizeof(len);
		if (len)
			memcpy(buf + n, p, len);
		n += len;
	}
	k = xmalloc(sizeof(*k) + n);
	k->n = n;
	memcpy(k->b, buf, n);
	return k;
}

void
conflict_touched_clear(void)
{
	for (int i = 0; i < ntouched; i++)
		free(touched[i]);
	free(touched);
	touched = NULL;
	ntouched = 0;
}

void
conflict_touched_all(void)
{
	conflict_touched_clear();
	ntouched = -1;
}

/* Note every row changeset cs[0..n) changes. */
void
conflict_touched_add(const unsigned char *cs, size_t n)
{
	sqlite3_changeset_iter *it;
	struct rowkey *k;

	if (ntouched == -1 ||
	    sqlite3changeset_start(&it, (int)n, (void *)cs) != SQLITE_OK)
		return;
	while (ntouched != -1 && sqlite3changeset_next(it) == SQLITE_ROW) {
		if (ntouched == TOUCHED_MAX || (k = rowkey_make(it)) == NULL) {
			conflict_touched_all();
			break;
		}
		if (ntouched % 64 == 0)
			touched = xreallocarray(touched, (size_t)ntouched + 64,
			    sizeof(*touched));
		touched[ntouched++] = k;
	}
	sqlite3changeset_finalize(it);
}

static int
touched_has(sqlite3_changeset_iter *it)
{
	struct rowkey *k;
	int i;

	if (ntouched == -1 || (k = rowkey_make(it)) == NULL)
		return 1;
	for (i = 0; i < ntouched; i++)
		if (touched[i]->n == k->n && memcmp(touched[i]->b, k->b,
		    k->n) == 0)
			break;
	free(k);
	return i < ntouched;
}

/* Whether the row an insert conflicts with is the insert's already
 * (replacing it would delete it first: ON DELETE CASCADE). */
static int
same_row(sqlite3_changeset_iter *it, int ncol)
{
	sqlite3_value *a, *b;
	int t;

	for (int i = 0; i < ncol; i++) {
		if (sqlite3changeset_new(it, i, &a) != SQLITE_OK ||
		    sqlite3changeset_conflict(it, i, &b) != SQLITE_OK ||
		    a == NULL || b == NULL ||
		    (t = sqlite3_value_type(a)) != sqlite3_value_type(b))
			return 0;
		if (t == SQLITE_INTEGER ? sqlite3_value_int64(a) !=
		    sqlite3_value_int64(b) : t == SQLITE_FLOAT ?
		    sqlite3_value_double(a) != sqlite3_value_double(b) :
		    t != SQLITE_NULL && (sqlite3_value_bytes(a) !=
		    sqlite3_value_bytes(b) || memcmp(sqlite3_value_blob(a),
		    sqlite3_value_blob(b), (size_t)sqlite3_value_bytes(a))))
			return 0;
	}
	return 1;
}

/* Last writer (in stream order) wins; see the header comment. */
int
conflict_resolve(void *arg, int why, sqlite3_changeset_iter *it)
{
	const struct cs_applying *a = arg;
	const char *tab = "?";
	int ncol, op, ind;

	switch (why) {
	case SQLITE_CHANGESET_CONFLICT:
		sqlite3changeset_op(it, &tab, &ncol, &op, &ind);
		return (op == SQLITE_INSERT && same_row(it, ncol)) ||
		    (a->ours && !touched_has(it)) ?
		    SQLITE_CHANGESET_OMIT : SQLITE_CHANGESET_REPLACE;
	case SQLITE_CHANGESET_DATA:
		return a->ours && !touched_has(it) ?
		    SQLITE_CHANGESET_OMIT : SQLITE_CHANGESET_REPLACE;
	case SQLITE_CHANGESET_NOTFOUND:
		return SQLITE_CHANGESET_OMIT;
	default:
		sqlite3changeset_op(it, &tab, &ncol, &op, &ind);
		log_warnx("cluster: configuration change %s: a change of %s "
		    "breaks a constraint here: skipped", a->id, tab);
		return SQLITE_CHANGESET_OMIT;
	}
}
