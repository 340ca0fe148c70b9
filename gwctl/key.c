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
 * Bulk mail carries a List-Unsubscribe: the one-click link to
 * https://http.public_host/u/..., and a mailto: address at the bounce
 * domain when one applies; with neither, the mail would go out with no
 * way to unsubscribe, so marking it bulk is refused as the
 * configuration error it is.  sub: the subaccount the mark is for
 * (NULL: any, as a rule without --subaccount); bd: the bounce domain
 * the same command gives it (NULL or "": none).
 */
int
key_bulk_unsubscribable(struct ctx *ctx, const char *opt,
    const char *sub, const char *bd)
{
	sqlite3_stmt *st;
	int r, has = 0;

	if ((r = ctx_config(ctx)) != EX_OK)
		return r;
	if (ctx->cfg.http_public_host != NULL ||
	    ctx->cfg.feedback.bounce_domain != NULL || (bd && bd[0]))
		return EX_OK;
	if (sub != NULL) {
		if ((r = ctx_db(ctx)) != EX_OK)
			return r;
		if ((st = ctx_stmt(ctx, "SELECT 1 FROM subaccount WHERE "
		    "name = ? AND bounce_domain IS NOT NULL AND "
		    "bounce_domain != ''", "t", sub)) == NULL)
			return ctx_sqlerr(ctx, "gw.db");
		has = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
		if (has)
			return EX_OK;
	}
	log_warnx("%s: %s: http.public_host is not set and no bounce domain "
	    "applies: bulk mail carries a List-Unsubscribe to one of them "
	    "(gwd.conf(5), http and feedback; gwctl subaccount set "
	    "--bounce-domain)", opt, ctx->cfg.path ? ctx->cfg.path :
	    "gwd.conf");
	return EX_CONFIG;
}
