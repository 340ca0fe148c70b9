/*
 * key.c - gwctl key rotate: a new HMAC key for the links and return
 * paths gwd makes.
 *
 * gw.db's hmac_key holds one key per purpose (common/hmackey.h; gw.db's
 * migrations make the first).  Rotating keeps the key it replaces as
 * "PURPOSE.previous", dated now: gwd still accepts what was made with
 * it for the purpose's grace days (mail already delivered keeps a
 * working unsubscribe link; its late bounces and complaints are still
 * matched), then only the new one.  A second rotation within the grace
 * forgets the oldest key at once.
 * Diagnostics: a sysexits status, the reason on stderr.
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "gwctl.h"
#include "hmackey.h"
#include "log.h"

int
key_rotate(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	const struct hmackey_info *hi;
	enum hmackey_purpose p;
	int r, changes = 0;

	if (hmackey_by_name(a->argv[0], &p) == -1)
		return cmd_usage_error(c, "no key \"%.64s\" (there are: %s, "
		    "%s)", a->argv[0], hmackey_info(HMACKEY_UNSUB)->name,
		    hmackey_info(HMACKEY_VERP)->name);
	hi = hmackey_info(p);
	if ((r = ctx_db(ctx)) != EX_OK || (r = ctx_begin(ctx)) != EX_OK)
		return r;
	if ((r = ctx_exec(ctx, NULL, "DELETE FROM hmac_key WHERE purpose = ?",
	    "t", hi->previous)) != EX_OK ||
	    (r = ctx_exec(ctx, &changes, "UPDATE hmac_key SET purpose = ?, "
	    "created = ? WHERE purpose = ?", "tit", hi->previous,
	    ctx_now(), hi->name)) != EX_OK ||
	    (r = ctx_exec(ctx, NULL, "INSERT INTO hmac_key (purpose, key, "
	    "created) VALUES (?, randomblob(?), ?)", "tii", hi->name,
	    (int64_t)HMACKEY_LEN, ctx_now())) != EX_OK) {
		ctx_rollback(ctx);
		return r;
	}
	if ((r = ctx_commit(ctx)) != EX_OK)
		return r;
	fprintf(stderr, "key %s rotated; %s made with the previous key "
	    "work for %d more days\n", hi->name, hi->what, changes ?
	    hi->grace_days : 0);
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
