/*
 * cluster_hmac.c - gw.db's HMAC keys (unsubscribe links, VERP return
 * paths) made the cluster's (see cluster_priv.h).  gw.db's migrations
 * make them at random on each node, so a token one node made would
 * fail on another.  Once up, each node offers its keys to the hash
 * CK_HMAC, where the first node's stand, and takes what is there, once
 * in its life (cluster_applied notes it) and before it applies any
 * configuration change (cluster_config.c), so that rotations in the
 * stream (gwctl key rotate) apply to the cluster's keys.  Offered at
 * every start, so a Redis restarted empty gets them back from the first
 * node up again.  DKIM private keys never go to Redis: dkim_key is not
 * shared.
 * Exposure: keys from Redis: anything not base64 of 16 to 120 bytes is
 * ignored (ours stands).
 * Diagnostics: -1 when gw.db cannot be written (tried again at the
 * next poll).
 */
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "cluster.h"
#include "cluster_priv.h"
#include "cshare.h"
#include "log.h"
#include "util.h"
#define HMAC_ROWS	16

static int
hmac_take(sqlite3 *wdb, const char *purpose, const char *b64, size_t b64len)
{
	unsigned char key[128];
	size_t n;
	sqlite3_stmt *st;
	int rc;

	if (b64len > 160 || base64_decode(b64, b64len, key, sizeof(key),
	    &n) == -1 || n < 16)
		return 0;	/* not a key: ours stands */
	if (sqlite3_prepare_v2(wdb, "INSERT INTO hmac_key (purpose, key, "
	    "created) VALUES (?1, ?2, unixepoch()) ON CONFLICT (purpose) "
	    "DO UPDATE SET key = excluded.key WHERE key <> excluded.key", -1,
	    &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, purpose, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, key, (int)n, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? sqlite3_changes(wdb) : -1;
}

int
hmac_adopt(sqlite3 *wdb, const redisReply *rep)
{
	int changed = 0, n;

	if (sqlite3_exec(wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return -1;
	for (size_t i = 0; i + 1 < rep->elements; i += 2) {
		if (!cl_is_str(rep->element[i]) ||
		    !cl_is_str(rep->element[i + 1]) ||
		    strchr(rep->element[i]->str, '.') != NULL)
			continue;
		if ((n = hmac_take(wdb, rep->element[i]->str,
		    rep->element[i + 1]->str, rep->element[i + 1]->len)) < 0)
			break;
		changed += n;
	}
	if (config_note_applied(wdb, CK_HMAC, "adopted") == -1 ||
	    sqlite3_exec(wdb, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_exec(wdb, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	log_info("cluster: HMAC keys: the cluster's taken (%d changed here)",
	    changed);
	return 0;
}


void
hmac_offer(sqlite3 *wdb, creq_cb done, void *arg)
{
	const char *argv[4 + 2 * HMAC_ROWS];
	char *b64[HMAC_ROWS];
	sqlite3_stmt *st;
	int argc = 4, n = 0;

	argv[0] = "EVAL";
	argv[1] = cshare_script(CS_HMAC);
	argv[2] = "1";
	argv[3] = CK_HMAC;
	if (sqlite3_prepare_v2(wdb, "SELECT purpose, key FROM hmac_key WHERE "
	    "purpose NOT LIKE '%.%' ORDER BY purpose", -1, &st, NULL) !=
	    SQLITE_OK)
		return;
	while (n < HMAC_ROWS && sqlite3_step(st) == SQLITE_ROW) {
		int len = sqlite3_column_bytes(st, 1);
		size_t cap = base64_encoded_size((size_t)len) + 1;

		b64[n] = xcalloc(1, cap);
		if (sqlite3_column_text(st, 0) == NULL ||
		    base64_encode(sqlite3_column_blob(st, 1), (size_t)len,
		    b64[n], cap) < 0) {
			free(b64[n]);
			continue;
		}
		argv[argc++] = xstrdup((const char *)sqlite3_column_text(st,
		    0));
		argv[argc++] = b64[n++];
	}
	sqlite3_finalize(st);
	cl_command(done, arg, argc, argv);
	for (int i = 4; i < argc; i++)
		free((char *)argv[i]);
}
