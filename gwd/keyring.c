/*
 * keyring.c - gw.db's HMAC keys in gwd (keyring.h).
 * Exposure: reads gw.db, which only the admin (gwctl) writes.
 * Diagnostics: a table that cannot be read keeps the previous keys and
 * logs why; a key row shorter than HMACKEY_MIN is no key.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "keyring.h"
#include "log.h"

struct ring_entry {
	unsigned char	 cur[HMACKEY_LEN];
	size_t		 curlen;
	unsigned char	 old[HMACKEY_LEN];
	size_t		 oldlen;
	int64_t		 old_until;	/* unix seconds */
};

static pthread_mutex_t		 ring_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ring_entry	 ring[HMACKEY_NPURPOSES];

static void
key_row(sqlite3_stmt *st, void *arg)
{
	struct ring_entry *next = arg, *e;
	const char *purpose = (const char *)sqlite3_column_text(st, 0);
	const void *k = sqlite3_column_blob(st, 1);
	int n = sqlite3_column_bytes(st, 1);

	if (purpose == NULL || k == NULL || n < HMACKEY_MIN)
		return;
	if (n > HMACKEY_LEN)
		n = HMACKEY_LEN;
	for (int p = 0; p < HMACKEY_NPURPOSES; p++) {
		const struct hmackey_info *hi = hmackey_info(p);

		e = &next[p];
		if (strcmp(purpose, hi->name) == 0) {
			memcpy(e->cur, k, (size_t)n);
			e->curlen = (size_t)n;
		} else if (strcmp(purpose, hi->previous) == 0) {
			memcpy(e->old, k, (size_t)n);
			e->oldlen = (size_t)n;
			e->old_until = sqlite3_column_int64(st, 2) +
			    (int64_t)hi->grace_days * 86400;
		}
	}
}

int
keyring_load(sqlite3 *gdb)
{
	struct ring_entry next[HMACKEY_NPURPOSES];

	memset(next, 0, sizeof(next));
	if (db_rows(gdb, "SELECT purpose, key, created FROM hmac_key",
	    key_row, next) == -1) {
		log_warnx("gw.db: cannot read hmac_key, keeping the previous "
		    "keys: %s", sqlite3_errmsg(gdb));
		explicit_bzero(next, sizeof(next));
		return -1;
	}
	pthread_mutex_lock(&ring_lock);
	memcpy(ring, next, sizeof(ring));
	pthread_mutex_unlock(&ring_lock);
	explicit_bzero(next, sizeof(next));
	return 0;
}

int
keyring_get(enum hmackey_purpose p, struct keyring_keys *k)
{
	int64_t now = (int64_t)time(NULL);

	memset(k, 0, sizeof(*k));
	pthread_mutex_lock(&ring_lock);
	memcpy(k->cur, ring[p].cur, sizeof(k->cur));
	k->curlen = ring[p].curlen;
	/* Past its grace the replaced key is as good as gone. */
	if (ring[p].oldlen > 0 && ring[p].old_until > now) {
		memcpy(k->old, ring[p].old, sizeof(k->old));
		k->oldlen = ring[p].oldlen;
	}
	pthread_mutex_unlock(&ring_lock);
	return k->curlen > 0 ? 0 : -1;
}
