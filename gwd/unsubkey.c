/*
 * unsubkey.c - the keys of unsubscribe links (see unsubkey.h).
 * gw.db's hmac_key: "unsubscribe" signs; "unsubscribe.previous", the
 * key a `gwctl key rotate` replaced, still verifies for
 * UNSUBTOK_GRACE_DAYS from the rotation (its created).
 * Exposure: tokens from URL paths; unsubtok.c parses them.
 * Diagnostics: a gw.db that cannot be read leaves no key (and a
 * warning): links are then neither made nor accepted.
 */
#include <string.h>
#include <time.h>

#include "db.h"
#include "log.h"
#include "unsubkey.h"
#include "unsubtok.h"

static struct {
	unsigned char	 cur[UNSUBTOK_KEY_LEN];
	int		 have_cur;
	unsigned char	 old[UNSUBTOK_KEY_LEN];
	int64_t		 old_until;	/* unix seconds; 0: none */
} keys;

static void
key_row(sqlite3_stmt *st, void *arg)
{
	const char *purpose = (const char *)sqlite3_column_text(st, 0);
	const void *k = sqlite3_column_blob(st, 1);
	int n = sqlite3_column_bytes(st, 1);

	if (purpose == NULL || k == NULL || n != UNSUBTOK_KEY_LEN)
		return;
	if (strcmp(purpose, UNSUBTOK_PURPOSE) == 0) {
		memcpy(keys.cur, k, sizeof(keys.cur));
		keys.have_cur = 1;
	} else {
		memcpy(keys.old, k, sizeof(keys.old));
		keys.old_until = sqlite3_column_int64(st, 2) +
		    (int64_t)UNSUBTOK_GRACE_DAYS * 86400;
	}
}

void
unsubkey_load(sqlite3 *gdb)
{
	keys.have_cur = 0;
	keys.old_until = 0;
	if (db_rows(gdb, "SELECT purpose, key, created FROM hmac_key WHERE "
	    "purpose IN ('" UNSUBTOK_PURPOSE "', '" UNSUBTOK_PURPOSE_OLD "')",
	    key_row, NULL) == -1)
		log_warnx("gw.db: cannot read the unsubscribe key: %s",
		    sqlite3_errmsg(gdb));
}

int
unsubkey_make(int64_t sub, const char *rcpt, char *out, size_t outsz)
{
	if (!keys.have_cur)
		return -1;
	return unsubtok_encode(keys.cur, sizeof(keys.cur), sub, rcpt, out,
	    outsz);
}

int
unsubkey_check(const char *tok, size_t n, struct unsubtok *t)
{
	if (unsubtok_decode(tok, n, t) == -1)
		return -1;
	if (keys.have_cur && unsubtok_verify(t, keys.cur, sizeof(keys.cur)))
		return 0;
	if (keys.old_until > (int64_t)time(NULL) &&
	    unsubtok_verify(t, keys.old, sizeof(keys.old)))
		return 0;
	return -1;
}
