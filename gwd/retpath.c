/*
 * retpath.c - VERP return paths and their key (see retpath.h).
 * Exposure: reads gw.db's hmac_key at start-up only.
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

/* The key: made by gw.db's migration 10, shared by every gwd on it
 * (gwd only reads gw.db). */
static int
key_load(sqlite3 *db, char *err, size_t errsz)
{
	sqlite3_stmt *st;
	int found = 0;

	if (sqlite3_prepare_v2(db, "SELECT key FROM hmac_key WHERE purpose ="
	    " 'verp'", -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errsz, "gw.db: hmac_key: %s",
		    sqlite3_errmsg(db));
		return -1;
	}
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

/* The subaccount's bounce domain, else feedback.bounce_domain. */
static int
retpath_make(enum verp_kind kind, const char *sub, const char *qid,
    unsigned idx, char *out, size_t n)
{
	const struct subaccount *sa = sub ? account_find(sub) : NULL;
	const char *d = sa && sa->bounce_domain ? sa->bounce_domain :
	    gcfg->feedback.bounce_domain;

	if (d == NULL || d[0] == '\0')
		return -1;
	return verp_encode(verp_key, sizeof(verp_key), kind, qid, idx, d, out,
	    n);
}

int
retpath_verp(const char *sub, const char *qid, unsigned idx, char *out,
    size_t n)
{
	return retpath_make(VERP_BOUNCE, sub, qid, idx, out, n);
}

int
retpath_unsub(const char *sub, const char *qid, unsigned idx, char *out,
    size_t n)
{
	return retpath_make(VERP_UNSUB, sub, qid, idx, out, n);
}
