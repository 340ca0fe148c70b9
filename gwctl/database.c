/*
 * database.c - gwctl db init: create or upgrade the three databases.
 *
 * Opening a database read-write applies its missing migrations (db.c) in
 * one transaction, so this is safe while gwd runs; it lets an admin (or
 * a test) prepare state_dir before gwd's first start, as gwd's user.
 * Diagnostics: never dies; a database that cannot be created or upgraded
 * is a sysexits status with the reason on stderr.
 */
#include <stdio.h>
#include <sysexits.h>

#include "db.h"
#include "gwctl.h"
#include "log.h"

int
database_init(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	static const enum db_kind kinds[] = { DB_GW, DB_QUEUE, DB_LOG };
	char err[1024];
	sqlite3 *db;
	int r;

	if ((r = ctx_state(ctx)) != EX_OK)
		return r;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if ((db = db_open(ctx->cfg.state_dir, kinds[i], 0, err,
		    sizeof(err))) == NULL) {
			log_warnx("%s", err);
			return EX_CANTCREAT;
		}
		db_close(db);
		printf("%s/%s: schema version %d\n", ctx->cfg.state_dir,
		    db_filename(kinds[i]), db_schema_version(kinds[i]));
	}
	return EX_OK;
}
