/*
 * apikey.c - gwctl apikey ...: API keys of subaccounts.
 *
 * A key is shown once, when it is made; gw.db keeps only its public id
 * and the SHA-256 of the whole key (see pwhash.h).
 * Diagnostics: each command returns a sysexits status and says why on
 * stderr; dies only when memory runs out ("output too long").
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include <openssl/crypto.h>

#include "gwctl.h"
#include "log.h"
#include "output.h"
#include "pwhash.h"
#include "util.h"

#define LABEL_MAX	128

static int
apikey_check_label(const char *label)
{
	if (label == NULL)
		return EX_OK;
	if (strlen(label) > LABEL_MAX || str_has_ctl(label, strlen(label))) {
		log_warnx("--label: at most %d characters, no control "
		    "characters", LABEL_MAX);
		return EX_DATAERR;
	}
	return EX_OK;
}

static int
apikey_insert(struct ctx *ctx, const char *name, const char *label,
    char *key)
{
	char id[APIKEY_ID_LEN + 1], hash[65];
	int64_t sid;
	int r;

	if ((r = subaccount_lookup(ctx, name, &sid)) != EX_OK)
		return r;
	apikey_generate(key, id, hash);
	if ((r = ctx_exec(ctx, NULL, "INSERT INTO api_key (subaccount_id, "
	    "key_id, hash, label, created) VALUES (?, ?, ?, ?, ?)", "ittti",
	    sid, id, hash, label, ctx_now())) != EX_OK)
		return r;
	return subaccount_touch(ctx, sid);
}

int
apikey_add(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	const char *label = args_get(a, "--label");
	char key[APIKEY_LEN + 1];
	int r;

	if ((r = apikey_check_label(label)) != EX_OK ||
	    (r = ctx_db(ctx)) != EX_OK || (r = ctx_begin(ctx)) != EX_OK)
		return r;
	if ((r = apikey_insert(ctx, a->argv[0], label, key)) != EX_OK)
		ctx_rollback(ctx);
	else if ((r = ctx_commit(ctx)) == EX_OK)
		printf("apikey: %s\n", key);
	OPENSSL_cleanse(key, sizeof(key));
	return r;
}

static void
apikey_print_json(sqlite3_stmt *st)
{
	struct json_obj o;
	struct buf b;
	char t[32];

	output_time(sqlite3_column_int64(st, 3), t, sizeof(t));
	buf_init(&b, 0);
	json_obj_begin(&o, &b);
	json_obj_str(&o, "key_id", (const char *)sqlite3_column_text(st, 0));
	json_obj_str(&o, "subaccount",
	    (const char *)sqlite3_column_text(st, 1));
	if (sqlite3_column_type(st, 2) == SQLITE_NULL)
		json_obj_null(&o, "label");
	else
		json_obj_str(&o, "label",
		    (const char *)sqlite3_column_text(st, 2));
	json_obj_str(&o, "created", t);
	if (json_obj_end(&o) == -1)
		fatalx("output too long");
	printf("%s\n", buf_cstr(&b));
	buf_free(&b);
}

static void
apikey_table_row(struct output_table *t, sqlite3_stmt *st)
{
	char ts[32];

	output_time(sqlite3_column_int64(st, 3), ts, sizeof(ts));
	output_table_row(t, (const char *)sqlite3_column_text(st, 0),
	    (const char *)sqlite3_column_text(st, 1), ts,
	    (const char *)sqlite3_column_text(st, 2));
}

int
apikey_list(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	const char *name = a->argc ? a->argv[0] : NULL;
	struct output_table t;
	sqlite3_stmt *st;
	int64_t sid;
	int r, json;

	if ((r = output_format(c, a, &json)) != EX_OK ||
	    (r = ctx_db(ctx)) != EX_OK ||
	    (name && (r = subaccount_lookup(ctx, name, &sid)) != EX_OK))
		return r;
	if ((st = ctx_stmt(ctx, "SELECT k.key_id, s.name, k.label, k.created "
	    "FROM api_key k JOIN subaccount s ON s.id = k.subaccount_id "
	    "WHERE ?1 IS NULL OR s.name = ?1 "
	    "ORDER BY s.name, k.created, k.key_id", "t", name)) == NULL)
		return EX_SOFTWARE;
	output_table_init(&t, 4, "KEY ID", "SUBACCOUNT", "CREATED", "LABEL");
	return output_list(ctx, st, json, &t, apikey_print_json, apikey_table_row);
}

static int
apikey_valid_id(const char *id)
{
	if (strlen(id) != APIKEY_ID_LEN || strncmp(id, "gwk_", 4) != 0)
		return 0;
	return strspn(id + 4, "0123456789abcdef") == APIKEY_ID_LEN - 4;
}

static int
apikey_delete(struct ctx *ctx, const char *id)
{
	sqlite3_stmt *st;
	int64_t sid = 0;
	int rc;

	if ((st = ctx_stmt(ctx, "SELECT subaccount_id FROM api_key "
	    "WHERE key_id = ?", "t", id)) == NULL)
		return EX_SOFTWARE;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		sid = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE) {
		log_warnx("no API key \"%s\"", id);
		return EX_NOUSER;
	}
	if (rc != SQLITE_ROW)
		return ctx_sqlerr(ctx, "gw.db");
	if ((rc = ctx_exec(ctx, NULL, "DELETE FROM api_key WHERE key_id = ?",
	    "t", id)) != EX_OK)
		return rc;
	return subaccount_touch(ctx, sid);
}

int
apikey_revoke(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	const char *id = a->argv[0];
	char esc[128], pid[APIKEY_ID_LEN + 1];
	int r;

	/* A whole key pasted by mistake still names its id. */
	if (apikey_parse(id, strlen(id), pid))
		id = pid;
	if (!apikey_valid_id(id)) {
		log_warnx("\"%s\" is not an API key id (gwk_ and 12 hex "
		    "digits)", log_escape(id, strlen(id), esc, sizeof(esc)));
		return EX_DATAERR;
	}
	if ((r = ctx_db(ctx)) != EX_OK || (r = ctx_begin(ctx)) != EX_OK)
		return r;
	if ((r = apikey_delete(ctx, id)) != EX_OK) {
		ctx_rollback(ctx);
		return r;
	}
	return ctx_commit(ctx);
}

int
apikey_ids(struct ctx *ctx, void (*add)(void *, const char *), void *arg)
{
	return ctx_words(ctx, "SELECT key_id FROM api_key ORDER BY key_id",
	    add, arg);
}
