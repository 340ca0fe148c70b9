/*
 * retpath.c - VERP return paths and their key (see retpath.h).
 * Exposure: reads and writes gw.db's hmac_key at start-up only.
 * Diagnostics: retpath_init() says why the key cannot be had.
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "db.h"
#include "gwd.h"
#include "retpath.h"
#include "util.h"
#include "verp.h"

static unsigned char		 verp_key[VERP_KEY_LEN];

/* The key: made once, kept in gw.db, shared by every gwd on it. */
static int
key_load(sqlite3 *db, char *err, size_t errsz)
{
	unsigned char fresh[VERP_KEY_LEN];
	sqlite3_stmt *st;
	int rc, found = 0;

	if (db_exec(db, "CREATE TABLE IF NOT EXISTS hmac_key ("
	    " purpose TEXT PRIMARY KEY, key BLOB NOT NULL,"
	    " created INTEGER NOT NULL)", err, errsz) == -1)
		return -1;
	random_bytes(fresh, sizeof(fresh));
	/* OR IGNORE: another process may have made it first. */
	if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO hmac_key (purpose,"
	    " key, created) VALUES ('verp', ?, ?)", -1, &st, NULL) !=
	    SQLITE_OK)
		goto fail;
	sqlite3_bind_blob(st, 1, fresh, sizeof(fresh), SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now_us() / 1000000);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE ||
	    sqlite3_prepare_v2(db, "SELECT key FROM hmac_key WHERE purpose ="
	    " 'verp'", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) >=
	    16) {
		int n = sqlite3_column_bytes(st, 0);

		memset(verp_key, 0, sizeof(verp_key));
		memcpy(verp_key, sqlite3_column_blob(st, 0),
		    (size_t)(n < VERP_KEY_LEN ? n : VERP_KEY_LEN));
		found = 1;
	}
	sqlite3_finalize(st);
	if (found)
		return 0;
	snprintf(err, errsz, "gw.db: hmac_key 'verp': missing or shorter "
	    "than 16 bytes");
	return -1;
fail:
	snprintf(err, errsz, "gw.db: hmac_key: %s", sqlite3_errmsg(db));
	return -1;
}

int
retpath_init(const char *dir, char *err, size_t errsz)
{
	sqlite3 *db;
	int r;

	if ((db = db_open(dir, DB_GW, 0, err, errsz)) == NULL)
		return -1;
	r = key_load(db, err, errsz);
	db_close(db);
	return r;
}

const unsigned char *
retpath_key(void)
{
	return verp_key;
}

int
retpath_verp(const char *sub, const char *qid, unsigned idx, char *out,
    size_t n)
{
	const struct subaccount *sa = sub ? account_find(sub) : NULL;
	const char *d = sa && sa->bounce_domain ? sa->bounce_domain :
	    gcfg->feedback.bounce_domain;

	if (d == NULL || d[0] == '\0')
		return -1;
	return verp_encode(verp_key, sizeof(verp_key), qid, idx, d, out, n);
}
