/*
 * subaccount.c - gwctl subaccount ...: the senders gwd accepts mail from,
 * with their password, sender domains and IP allowlist.
 *
 * Every change is one IMMEDIATE transaction that also sets
 * subaccount.updated, so gwd (watching PRAGMA data_version) never sees
 * half a change.  Input is checked in full before the transaction starts.
 * Diagnostics: each command returns a sysexits status and says why on
 * stderr; dies only when memory runs out.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "addr.h"
#include "cidr.h"
#include "ctlproto.h"
#include "gwctl.h"
#include "log.h"
#include "output.h"
#include "pwhash.h"
#include "util.h"

#define PASSWORD_GEN_LEN	20
#define PASSWORD_MAX		256

/* What a change needs besides the subaccount's id. */
struct subaccount_edit {
	const char		*name;
	struct output_strv	 items;	/* networks or domains */
	const char		*hash;		/* new password hash */
	int			 enabled;
	int64_t			 quota_hour, quota_day;	/* -1: unchanged */
	int64_t			 bulk;			/* -1: unchanged */
	const char		*bounce_domain;	/* NULL: unchanged; "": none */
};

typedef int subaccount_step(struct ctx *, int64_t id,
    struct subaccount_edit *);

int
subaccount_valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CTL_NAME_MAX || !(islower((unsigned char)s[0]) ||
	    isdigit((unsigned char)s[0])))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!islower((unsigned char)s[i]) &&
		    !isdigit((unsigned char)s[i]) && !strchr("._-", s[i]))
			return 0;
	return 1;
}

static int
subaccount_check_name(const char *name)
{
	char esc[128];

	if (subaccount_valid_name(name))
		return EX_OK;
	log_warnx("\"%s\" is not a valid subaccount name (lower-case letters, "
	    "digits, '.', '_', '-'; up to %d; starting with a letter or "
	    "digit)", log_escape(name, strlen(name), esc, sizeof(esc)),
	    CTL_NAME_MAX);
	return EX_DATAERR;
}

int
subaccount_lookup(struct ctx *ctx, const char *name, int64_t *id)
{
	sqlite3_stmt *st;
	int r;

	if ((r = subaccount_check_name(name)) != EX_OK)
		return r;
	if ((st = ctx_stmt(ctx, "SELECT id FROM subaccount WHERE name = ?",
	    "t", name)) == NULL)
		return EX_SOFTWARE;
	r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	else if (r == SQLITE_DONE)
		log_warnx("no subaccount \"%s\"", name);
	else
		ctx_sqlerr(ctx, "gw.db");
	sqlite3_finalize(st);
	return r == SQLITE_ROW ? EX_OK : r == SQLITE_DONE ? EX_NOUSER :
	    EX_SOFTWARE;
}

int
subaccount_touch(struct ctx *ctx, int64_t id)
{
	return ctx_exec(ctx, NULL, "UPDATE subaccount SET updated = ? "
	    "WHERE id = ?", "ii", ctx_now(), id);
}

/* Look the subaccount up, apply step, bump updated: one transaction. */
static int
subaccount_change(struct ctx *ctx, struct subaccount_edit *e,
    subaccount_step *step)
{
	int64_t id;
	int r;

	if ((r = subaccount_check_name(e->name)) != EX_OK ||
	    (r = ctx_db(ctx)) != EX_OK || (r = ctx_begin(ctx)) != EX_OK)
		return r;
	if ((r = subaccount_lookup(ctx, e->name, &id)) != EX_OK ||
	    (r = step(ctx, id, e)) != EX_OK ||
	    (r = subaccount_touch(ctx, id)) != EX_OK) {
		ctx_rollback(ctx);
		return r;
	}
	return ctx_commit(ctx);
}

/* Lower-case, drop one trailing dot, check as a host name. */
static int
subaccount_domain(const char *in, struct output_strv *out)
{
	char d[ADDR_DOMAIN_MAX + 2], esc[128];
	size_t n = strlen(in);

	if (n > 0 && n <= ADDR_DOMAIN_MAX + 1) {
		memcpy(d, in, n + 1);
		if (d[n - 1] == '.')
			d[n - 1] = '\0';
		str_lower(d);
		if (addr_valid_domain(d)) {
			output_strv_add(out, d);
			return EX_OK;
		}
	}
	log_warnx("\"%s\" is not a valid domain name",
	    log_escape(in, n, esc, sizeof(esc)));
	return EX_DATAERR;
}

static int
subaccount_network(const char *in, struct output_strv *out)
{
	char canon[64], esc[128];
	struct cidr c;

	if (cidr_parse(in, &c) == -1) {
		log_warnx("\"%s\" is not an IP address or network (e.g. "
		    "192.0.2.0/24, 2001:db8::/32)",
		    log_escape(in, strlen(in), esc, sizeof(esc)));
		return EX_DATAERR;
	}
	cidr_format(&c, canon, sizeof(canon));
	/* Say so rather than change silently what the admin typed. */
	if (cidr_host_bits(in, &c))
		log_warnx("%s has host bits set: taken as %s", in, canon);
	output_strv_add(out, canon);
	return EX_OK;
}

/* The password: from one line of standard input, or a new random one. */
static int
subaccount_password(const struct args *a, char *pw, size_t pwsz,
    int *generated)
{
	*generated = !args_has(a, "--password-stdin");
	if (*generated) {
		pwhash_generate_password(pw, PASSWORD_GEN_LEN);
		return EX_OK;
	}
	return ctx_read_secret("password", PASSWORD_MAX, pw, pwsz);
}

/* Read (or make) a password and hash it; *generated: print it later. */
static int
subaccount_hash(const struct args *a, char *pw, size_t pwsz, char *hash,
    int *generated)
{
	int r;

	if ((r = subaccount_password(a, pw, pwsz, generated)) != EX_OK)
		return r;
	if (pwhash_make(pw, strlen(pw), hash, PWHASH_MAX) == -1) {
		log_warnx("cannot hash the password");
		return EX_SOFTWARE;
	}
	return EX_OK;
}

static int
subaccount_exists(struct ctx *ctx, const char *name, int *exists)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = ctx_stmt(ctx, "SELECT 1 FROM subaccount WHERE name = ?",
	    "t", name)) == NULL)
		return EX_SOFTWARE;
	rc = sqlite3_step(st);
	*exists = rc == SQLITE_ROW;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		rc = ctx_sqlerr(ctx, "gw.db");
	else
		rc = EX_OK;
	sqlite3_finalize(st);
	return rc;
}

static int
subaccount_insert(struct ctx *ctx, struct subaccount_edit *e)
{
	int64_t id, now = ctx_now();
	int r, exists;

	if ((r = subaccount_exists(ctx, e->name, &exists)) != EX_OK)
		return r;
	if (exists) {
		log_warnx("subaccount \"%s\" already exists", e->name);
		return EX_DATAERR;
	}
	if ((r = ctx_exec(ctx, NULL, "INSERT INTO subaccount (name, enabled, "
	    "password, created, updated) VALUES (?, 1, ?, ?, ?)", "ttii",
	    e->name, e->hash, now, now)) != EX_OK)
		return r;
	id = sqlite3_last_insert_rowid(ctx->db);
	for (int i = 0; i < e->items.n && r == EX_OK; i++)
		r = ctx_exec(ctx, NULL, "INSERT OR IGNORE INTO "
		    "subaccount_domain (subaccount_id, domain) VALUES (?, ?)",
		    "it", id, e->items.v[i]);
	return r;
}

int
subaccount_add(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	struct subaccount_edit e = { .name = a->argv[0] };
	char pw[PASSWORD_MAX + 1], hash[PWHASH_MAX];
	int r, generated = 0;

	if (!args_has(a, "--domain"))
		return cmd_usage_error(c, "at least one --domain is required");
	if ((r = subaccount_check_name(e.name)) != EX_OK)
		return r;
	for (int i = 0; i < args_count(a, "--domain") && r == EX_OK; i++)
		r = subaccount_domain(args_nth(a, "--domain", i), &e.items);
	if (r == EX_OK && (r = ctx_db(ctx)) == EX_OK &&
	    (r = subaccount_hash(a, pw, sizeof(pw), hash, &generated)) ==
	    EX_OK && (r = ctx_begin(ctx)) == EX_OK) {
		e.hash = hash;
		if ((r = subaccount_insert(ctx, &e)) == EX_OK)
			r = ctx_commit(ctx);
		else
			ctx_rollback(ctx);
	}
	if (r == EX_OK && generated)
		printf("password: %s\n", pw);
	explicit_bzero(pw, sizeof(pw));
	output_strv_free(&e.items);
	return r;
}

static int
subaccount_step_enabled(struct ctx *ctx, int64_t id, struct subaccount_edit *e)
{
	return ctx_exec(ctx, NULL, "UPDATE subaccount SET enabled = ? "
	    "WHERE id = ?", "ii", (int64_t)e->enabled, id);
}

int
subaccount_enable(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	struct subaccount_edit e = { .name = a->argv[0], .enabled = 1 };

	return subaccount_change(ctx, &e, subaccount_step_enabled);
}

int
subaccount_disable(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	struct subaccount_edit e = { .name = a->argv[0], .enabled = 0 };

	return subaccount_change(ctx, &e, subaccount_step_enabled);
}

static int
subaccount_step_passwd(struct ctx *ctx, int64_t id, struct subaccount_edit *e)
{
	return ctx_exec(ctx, NULL, "UPDATE subaccount SET password = ? "
	    "WHERE id = ?", "ti", e->hash, id);
}

int
subaccount_passwd(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	struct subaccount_edit e = { .name = a->argv[0] };
	char pw[PASSWORD_MAX + 1], hash[PWHASH_MAX];
	int64_t id;
	int r, generated = 0;

	/* Fail on a wrong name before asking for a password. */
	if ((r = subaccount_check_name(e.name)) == EX_OK &&
	    (r = ctx_db(ctx)) == EX_OK &&
	    (r = subaccount_lookup(ctx, e.name, &id)) == EX_OK &&
	    (r = subaccount_hash(a, pw, sizeof(pw), hash, &generated)) ==
	    EX_OK) {
		e.hash = hash;
		r = subaccount_change(ctx, &e, subaccount_step_passwd);
	}
	if (r == EX_OK && generated)
		printf("password: %s\n", pw);
	explicit_bzero(pw, sizeof(pw));
	return r;
}

static int
subaccount_step_delete(struct ctx *ctx, int64_t id, struct subaccount_edit *e)
{
	/* Domains, networks and keys go by ON DELETE CASCADE. */
	return ctx_exec(ctx, NULL, "DELETE FROM subaccount WHERE id = ?", "i",
	    id);
}

int
subaccount_delete(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	struct subaccount_edit e = { .name = a->argv[0] };

	return subaccount_change(ctx, &e, subaccount_step_delete);
}

/* Apply `sql` (parameters: id, item) to each item; missing: must change. */
static int
subaccount_step_items(struct ctx *ctx, int64_t id, struct subaccount_edit *e,
    const char *sql, const char *missing)
{
	int r = EX_OK, changes;

	for (int i = 0; i < e->items.n && r == EX_OK; i++) {
		r = ctx_exec(ctx, &changes, sql, "it", id, e->items.v[i]);
		if (r == EX_OK && missing && changes == 0) {
			log_warnx("subaccount \"%s\" %s %s", e->name, missing,
			    e->items.v[i]);
			r = EX_DATAERR;
		}
	}
	return r;
}

static int
subaccount_step_allow(struct ctx *ctx, int64_t id, struct subaccount_edit *e)
{
	return subaccount_step_items(ctx, id, e, "INSERT OR IGNORE INTO "
	    "subaccount_ip (subaccount_id, cidr) VALUES (?, ?)", NULL);
}

static int
subaccount_step_deny(struct ctx *ctx, int64_t id, struct subaccount_edit *e)
{
	return subaccount_step_items(ctx, id, e, "DELETE FROM subaccount_ip "
	    "WHERE subaccount_id = ? AND cidr = ?", "has no allowed network");
}

static int
subaccount_step_domain_add(struct ctx *ctx, int64_t id,
    struct subaccount_edit *e)
{
	return subaccount_step_items(ctx, id, e, "INSERT OR IGNORE INTO "
	    "subaccount_domain (subaccount_id, domain) VALUES (?, ?)", NULL);
}

static int
subaccount_step_domain_del(struct ctx *ctx, int64_t id,
    struct subaccount_edit *e)
{
	sqlite3_stmt *st;
	int r, left = -1;

	if ((r = subaccount_step_items(ctx, id, e, "DELETE FROM "
	    "subaccount_domain WHERE subaccount_id = ? AND domain = ?",
	    "has no domain")) != EX_OK)
		return r;
	if ((st = ctx_stmt(ctx, "SELECT count(*) FROM subaccount_domain "
	    "WHERE subaccount_id = ?", "i", id)) == NULL)
		return EX_SOFTWARE;
	if (sqlite3_step(st) == SQLITE_ROW)
		left = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (left == 0) {
		log_warnx("subaccount \"%s\" would have no sender domain left; "
		    "add another first, or disable or delete it", e->name);
		return EX_DATAERR;
	}
	return left < 0 ? ctx_sqlerr(ctx, "gw.db") : EX_OK;
}

/* Check every argument after NAME with `parse`, then change. */
static int
subaccount_items(struct ctx *ctx, struct args *a,
    int (*parse)(const char *, struct output_strv *), subaccount_step *step)
{
	struct subaccount_edit e = { .name = a->argv[0] };
	int r = EX_OK;

	for (int i = 1; i < a->argc && r == EX_OK; i++)
		r = parse(a->argv[i], &e.items);
	if (r == EX_OK)
		r = subaccount_change(ctx, &e, step);
	output_strv_free(&e.items);
	return r;
}

int
subaccount_allow_ip(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	return subaccount_items(ctx, a, subaccount_network,
	    subaccount_step_allow);
}

int
subaccount_deny_ip(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	return subaccount_items(ctx, a, subaccount_network,
	    subaccount_step_deny);
}

int
subaccount_domain_add(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	return subaccount_items(ctx, a, subaccount_domain,
	    subaccount_step_domain_add);
}

int
subaccount_domain_del(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	return subaccount_items(ctx, a, subaccount_domain,
	    subaccount_step_domain_del);
}

static int
subaccount_step_dkim_org(struct ctx *ctx, int64_t id,
    struct subaccount_edit *e)
{
	return ctx_exec(ctx, NULL, "UPDATE subaccount SET dkim_org_domain = ? "
	    "WHERE id = ?", "ti", e->items.n ? e->items.v[0] : NULL, id);
}

/* DOMAIN's active DKIM keys also sign the subaccount's mail; "none"
 * stops that. */
int
subaccount_dkim_org(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	struct subaccount_edit e = { .name = a->argv[0] };
	int r = EX_OK;

	if (strcmp(a->argv[1], "none") != 0)
		r = subaccount_domain(a->argv[1], &e.items);
	if (r == EX_OK)
		r = subaccount_change(ctx, &e, subaccount_step_dkim_org);
	if (r == EX_OK && e.items.n &&
	    dkim_domain_active(ctx, e.items.v[0]) == 0)
		log_info("%s has no active DKIM key yet: no second signature "
		    "until one is active (gwctl dkim keygen %s)",
		    e.items.v[0], e.items.v[0]);
	output_strv_free(&e.items);
	return r;
}

static int
subaccount_step_set(struct ctx *ctx, int64_t id, struct subaccount_edit *e)
{
	return ctx_exec(ctx, NULL, "UPDATE subaccount SET quota_hour = "
	    "CASE WHEN ?1 < 0 THEN quota_hour ELSE ?1 END, quota_day = CASE "
	    "WHEN ?2 < 0 THEN quota_day ELSE ?2 END, bulk = CASE WHEN ?4 < 0 "
	    "THEN bulk ELSE ?4 END, bounce_domain = CASE "
	    "WHEN ?5 IS NULL THEN bounce_domain WHEN ?5 = '' THEN NULL ELSE "
	    "?5 END WHERE id = ?3", "iiiit", e->quota_hour, e->quota_day, id,
	    e->bulk, e->bounce_domain);
}

/* A quota: a whole number from 0 (no limit) to 10^9. */
static int
subaccount_quota(const struct args *a, const char *opt, int64_t *out)
{
	const char *v = args_get(a, opt);

	*out = -1;
	if (v == NULL)
		return EX_OK;
	if (parse_int(v, 0, 1000000000, out) == -1) {
		log_warnx("%s: expected a number of messages from 0 (no limit) "
		    "to 1000000000, not \"%.32s\"", opt, v);
		return EX_USAGE;
	}
	return EX_OK;
}

/* Per-subaccount settings: the quotas, the bounce domain ("none":
 * gwd.conf's feedback.bounce_domain again). */
int
subaccount_set(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	struct subaccount_edit e = { .name = a->argv[0] };
	const char *v;
	const char *bd = args_get(a, "--bounce-domain");
	struct output_strv d = { 0 };
	int r;

	if ((r = subaccount_quota(a, "--quota-hour", &e.quota_hour)) !=
	    EX_OK || (r = subaccount_quota(a, "--quota-day", &e.quota_day)) !=
	    EX_OK)
		return r;
	e.bulk = -1;
	if ((v = args_get(a, "--bulk")) != NULL) {
		if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
			return cmd_usage_error(c, "--bulk: yes or no, not "
			    "\"%.32s\"", v);
		e.bulk = strcmp(v, "yes") == 0;
		/* --bounce-domain none: the one it has does not count. */
		if (e.bulk && (r = key_bulk_unsubscribable(ctx, "--bulk",
		    bd && strcmp(bd, "none") == 0 ? NULL : e.name,
		    bd && strcmp(bd, "none") == 0 ? NULL : bd)) != EX_OK)
			return r;
	}
	if (bd && strcmp(bd, "none") == 0)
		e.bounce_domain = "";
	else if (bd && (r = subaccount_domain(bd, &d)) != EX_OK)
		return r;
	else if (bd)
		e.bounce_domain = d.v[0];
	if (e.quota_hour < 0 && e.quota_day < 0 && e.bulk < 0 &&
	    e.bounce_domain == NULL)
		return cmd_usage_error(c, "nothing to set");
	r = subaccount_change(ctx, &e, subaccount_step_set);
	if (r == EX_OK && e.bounce_domain && e.bounce_domain[0])
		log_info("%s's mail now has return paths b-TOKEN@%s: list %s in "
		    "gwd.conf's feedback.domains, and publish its MX (gw's "
		    "feedback listener) and SPF records", e.name,
		    e.bounce_domain, e.bounce_domain);
	output_strv_free(&d);
	return r;
}

/* gwd pauses a subaccount whose mail bounces too much; only gwd can
 * resume it (the state is gwd's, in queue.db). */
int
subaccount_resume(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	char line[128], out[256];
	int64_t id;
	int r;

	if ((r = ctx_db(ctx)) != EX_OK ||
	    (r = subaccount_lookup(ctx, a->argv[0], &id)) != EX_OK)
		return r;
	snprintf(line, sizeof(line), "subaccount resume %s", a->argv[0]);
	if ((r = control_request(ctx, line, out, sizeof(out))) != EX_OK)
		return r;
	if (strncmp(out, "resumed 1", 9) == 0)
		fprintf(stderr, "subaccount %s resumed\n", a->argv[0]);
	else
		fprintf(stderr, "subaccount %s was not paused\n", a->argv[0]);
	return EX_OK;
}

/* The text column of every row `sql` (one parameter: id) returns. */
static int
subaccount_strings(struct ctx *ctx, const char *sql, int64_t id,
    struct output_strv *out)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = ctx_stmt(ctx, sql, "i", id)) == NULL)
		return EX_SOFTWARE;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		output_strv_add(out, (const char *)sqlite3_column_text(st, 0));
	rc = rc == SQLITE_DONE ? EX_OK : ctx_sqlerr(ctx, "gw.db");
	sqlite3_finalize(st);
	return rc;
}

struct subaccount_row {
	const char		*name;
	const char		*dkim_org;	/* NULL: none */
	int			 enabled, has_password;
	int64_t			 created, updated;
	int64_t			 quota_hour, quota_day;
	int			 bulk;
	const char		*bounce_domain;
	struct output_strv	 domains, ips, keys;
};

static void
subaccount_print_json(const struct subaccount_row *s)
{
	struct buf b, arr;
	struct json_obj o;
	char t1[32], t2[32];

	buf_init(&b, 0);
	buf_init(&arr, 0);
	output_time(s->created, t1, sizeof(t1));
	output_time(s->updated, t2, sizeof(t2));
	json_obj_begin(&o, &b);
	json_obj_str(&o, "name", s->name);
	json_obj_bool(&o, "enabled", s->enabled);
	output_strv_json(&s->domains, &arr);
	json_obj_raw(&o, "domains", buf_cstr(&arr));
	buf_reset(&arr);
	output_strv_json(&s->ips, &arr);
	json_obj_raw(&o, "allowed_ips", buf_cstr(&arr));
	buf_reset(&arr);
	output_strv_json(&s->keys, &arr);
	json_obj_raw(&o, "api_keys", buf_cstr(&arr));
	json_obj_bool(&o, "has_password", s->has_password);
	json_obj_int(&o, "quota_hour", s->quota_hour);
	json_obj_int(&o, "quota_day", s->quota_day);
	json_obj_bool(&o, "bulk", s->bulk);
	if (s->dkim_org)
		json_obj_str(&o, "dkim_org_domain", s->dkim_org);
	else
		json_obj_null(&o, "dkim_org_domain");
	if (s->bounce_domain)
		json_obj_str(&o, "bounce_domain", s->bounce_domain);
	else
		json_obj_null(&o, "bounce_domain");
	json_obj_str(&o, "created", t1);
	json_obj_str(&o, "updated", t2);
	if (json_obj_end(&o) == -1)
		fatalx("output too long");
	printf("%s\n", buf_cstr(&b));
	buf_free(&b);
	buf_free(&arr);
}

static void
subaccount_table_row(struct output_table *t, const struct subaccount_row *s)
{
	struct buf d, i, k;
	char t1[32], q[48];

	buf_init(&d, 0);
	buf_init(&i, 0);
	buf_init(&k, 0);
	snprintf(q, sizeof(q), "%lld/%lld", (long long)s->quota_hour,
	    (long long)s->quota_day);
	output_strv_join(&s->domains, &d);
	output_strv_join(&s->ips, &i);
	output_strv_join(&s->keys, &k);
	output_time(s->created, t1, sizeof(t1));
	output_table_row(t, s->name, s->enabled ? "yes" : "no", buf_cstr(&d),
	    buf_cstr(&i), buf_cstr(&k), q, t1);
	buf_free(&d);
	buf_free(&i);
	buf_free(&k);
}

static int
subaccount_fill(struct ctx *ctx, sqlite3_stmt *st, struct subaccount_row *s)
{
	int64_t id = sqlite3_column_int64(st, 0);
	int r;

	memset(s, 0, sizeof(*s));
	s->name = (const char *)sqlite3_column_text(st, 1);
	s->enabled = sqlite3_column_int(st, 2);
	s->has_password = sqlite3_column_int(st, 3);
	s->created = sqlite3_column_int64(st, 4);
	s->updated = sqlite3_column_int64(st, 5);
	s->dkim_org = (const char *)sqlite3_column_text(st, 6);
	s->quota_hour = sqlite3_column_int64(st, 7);
	s->quota_day = sqlite3_column_int64(st, 8);
	s->bulk = sqlite3_column_int(st, 9);
	s->bounce_domain = (const char *)sqlite3_column_text(st, 10);
	if ((r = subaccount_strings(ctx, "SELECT domain FROM subaccount_domain "
	    "WHERE subaccount_id = ? ORDER BY domain", id, &s->domains)) ==
	    EX_OK && (r = subaccount_strings(ctx, "SELECT cidr FROM "
	    "subaccount_ip WHERE subaccount_id = ? ORDER BY cidr", id,
	    &s->ips)) == EX_OK)
		r = subaccount_strings(ctx, "SELECT key_id FROM api_key WHERE "
		    "subaccount_id = ? ORDER BY created, key_id", id, &s->keys);
	return r;
}

static void
subaccount_row_free(struct subaccount_row *s)
{
	output_strv_free(&s->domains);
	output_strv_free(&s->ips);
	output_strv_free(&s->keys);
}

int
subaccount_list(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	struct output_table t;
	struct subaccount_row s;
	sqlite3_stmt *st;
	int r, rc = SQLITE_DONE, json;

	if ((r = output_format(c, a, &json)) != EX_OK ||
	    (r = ctx_db(ctx)) != EX_OK)
		return r;
	if ((st = ctx_stmt(ctx, "SELECT id, name, enabled, password IS NOT "
	    "NULL, created, updated, dkim_org_domain, quota_hour, quota_day, "
	    "bulk, bounce_domain FROM subaccount ORDER BY name", "")) == NULL)
		return EX_SOFTWARE;
	output_table_init(&t, 7, "NAME", "ENABLED", "DOMAINS", "ALLOWED IPS",
	    "API KEYS", "QUOTA H/D", "CREATED");
	while (r == EX_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((r = subaccount_fill(ctx, st, &s)) == EX_OK) {
			if (json)
				subaccount_print_json(&s);
			else
				subaccount_table_row(&t, &s);
		}
		subaccount_row_free(&s);
	}
	if (r == EX_OK && rc != SQLITE_DONE)
		r = ctx_sqlerr(ctx, "gw.db");
	sqlite3_finalize(st);
	if (r == EX_OK && !json)
		output_table_print(&t, stdout);
	output_table_free(&t);
	return r;
}

int
subaccount_names(struct ctx *ctx, void (*add)(void *, const char *), void *arg)
{
	return ctx_words(ctx, "SELECT name FROM subaccount ORDER BY name", add,
	    arg);
}
