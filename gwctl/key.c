/*
 * key.c - gwctl key rotate: a new HMAC key for the links gwd makes.
 *
 * gw.db's hmac_key holds one key per purpose (migration 8 makes the
 * first).  Rotating keeps the key it replaces as "PURPOSE.previous",
 * dated now: gwd still accepts links made with it for
 * UNSUBTOK_GRACE_DAYS (mail already delivered keeps a working
 * unsubscribe link), then only the new one.  A second rotation within
 * the grace forgets the oldest key at once.
 * Diagnostics: a sysexits status, the reason on stderr.
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "gwctl.h"
#include "log.h"
#include "unsubtok.h"

int
key_rotate(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	int r, changes = 0;

	if (strcmp(a->argv[0], UNSUBTOK_PURPOSE) != 0)
		return cmd_usage_error(c, "no key \"%.64s\" (there is: "
		    UNSUBTOK_PURPOSE ")", a->argv[0]);
	if ((r = ctx_db(ctx)) != EX_OK || (r = ctx_begin(ctx)) != EX_OK)
		return r;
	if ((r = ctx_exec(ctx, NULL, "DELETE FROM hmac_key WHERE purpose = ?",
	    "t", UNSUBTOK_PURPOSE_OLD)) != EX_OK ||
	    (r = ctx_exec(ctx, &changes, "UPDATE hmac_key SET purpose = ?, "
	    "created = ? WHERE purpose = ?", "tit", UNSUBTOK_PURPOSE_OLD,
	    ctx_now(), UNSUBTOK_PURPOSE)) != EX_OK ||
	    (r = ctx_exec(ctx, NULL, "INSERT INTO hmac_key (purpose, key, "
	    "created) VALUES (?, randomblob(?), ?)", "tii", UNSUBTOK_PURPOSE,
	    (int64_t)UNSUBTOK_KEY_LEN, ctx_now())) != EX_OK) {
		ctx_rollback(ctx);
		return r;
	}
	if ((r = ctx_commit(ctx)) != EX_OK)
		return r;
	fprintf(stderr, "key %s rotated; links made with the previous key "
	    "work for %d more days\n", UNSUBTOK_PURPOSE, changes ?
	    UNSUBTOK_GRACE_DAYS : 0);
	return EX_OK;
}

/*
 * Bulk mail carries links to https://http.public_host/u/...: marking
 * mail bulk without it would send mail whose unsubscribe cannot be
 * made, so it is refused as the configuration error it is.
 */
int
key_bulk_needs_host(struct ctx *ctx, const char *opt)
{
	int r;

	if ((r = ctx_config(ctx)) != EX_OK)
		return r;
	if (ctx->cfg.http_public_host != NULL)
		return EX_OK;
	log_warnx("%s: %s: http.public_host is not set: bulk mail carries a "
	    "one-click unsubscribe link to that host (gwd.conf(5), http)",
	    opt, ctx->cfg.path ? ctx->cfg.path : "gwd.conf");
	return EX_CONFIG;
}
