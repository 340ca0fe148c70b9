/*
 * route.c - gwctl route ... (routing rules, in order) and gwctl
 * throttle ... (per-domain delivery limits).
 *
 * Rules live in gw.db's route_rule table with dense positions 1..n; gwd
 * tries them in that order for every recipient and the first that
 * matches decides (see rules.h).  gwd notices a commit at once and
 * applies the new rules to queued mail at its next attempt.
 * Security: a rule's smarthost password (--auth-password-stdin) is read
 * from standard input, never the command line, and stored in clear in
 * gw.db (mode 0600), as gwd must send it; listings show the user only.
 * Diagnostics: each command returns a sysexits status and says why on
 * stderr; dies only when memory runs out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "buf.h"
#include "config.h"
#include "gwctl.h"
#include "log.h"
#include "output.h"
#include "policy.h"
#include "rules.h"
#include "util.h"

#define ROUTE_HEADERS_MAX	16

/* A rule as typed, checked, in gw.db's spelling (NULL: not given). */
struct route_new {
	const char	*subaccount, *from, *to, *priority, *pool, *tls;
	int		 bulk;		/* --bulk */
	int64_t		 archive;	/* --archive yes 1, no 0; -1: not said */
	const char	*action, *reply;
	const char	*auth_user;	/* smarthost credentials, or NULL */
	char		 auth_password[RELAY_CRED_MAX + 1];
	char		 header[80], value[RULE_HEADER_MAX + 1];
	char		 via[SHLIST_MAX * 300];
	int64_t		 over, under;
};

static int
route_bad(const char *opt, const char *why)
{
	log_warnx("%s: %s", opt, why);
	return EX_USAGE;
}

static int
route_size_arg(const struct args *a, const char *opt, int64_t *v)
{
	const char *s = args_get(a, opt);
	uint64_t n;

	*v = -1;
	if (s == NULL)
		return EX_OK;
	if (parse_size(s, &n) == -1 || n > INT64_MAX / 2)
		return route_bad(opt, "expected a size such as 20000, 512k "
		    "or 10M");
	*v = (int64_t)n;
	return EX_OK;
}

static int
route_domain_arg(const struct args *a, const char *opt, const char **out)
{
	char err[128];

	if ((*out = args_get(a, opt)) != NULL &&
	    rules_parse_domain_pattern(*out, err, sizeof(err)) == -1)
		return route_bad(opt, err);
	return EX_OK;
}

/*
 * The route part: --smarthost LIST or --mx, as the list's canonical
 * text (shlist.h: "a:587 b:587 prio=1 weight=3"; a port defaults to 25)
 * or "mx".
 */
static int
route_via_arg(const struct args *a, char *via, size_t viasz)
{
	const char *s = args_get(a, "--smarthost");
	struct shlist l;
	char err[512];

	via[0] = '\0';
	if (s && args_has(a, "--mx"))
		return route_bad("--smarthost", "give --smarthost or --mx, "
		    "not both");
	if (args_has(a, "--mx"))
		snprintf(via, viasz, "mx");
	else if (s) {
		l.n = 0;
		if (shlist_parse(s, 25, &l, err, sizeof(err)) == -1)
			return route_bad("--smarthost", err);
		if (shlist_format(&l, via, viasz) == -1)
			return route_bad("--smarthost", "the list is too long");
	}
	return EX_OK;
}

/*
 * --auth-user U --auth-password-stdin: credentials for the smarthost,
 * bounded as relay.username/password are.  The password was read
 * before (route_add), outside the transaction.
 */
static int
route_auth_arg(const struct args *a, struct route_new *n)
{
	n->auth_user = args_get(a, "--auth-user");
	if (n->auth_user == NULL && !args_has(a, "--auth-password-stdin"))
		return EX_OK;
	if (n->auth_user == NULL || !args_has(a, "--auth-password-stdin"))
		return route_bad("--auth-user", "give it with "
		    "--auth-password-stdin");
	if (n->via[0] == '\0' || strcmp(n->via, "mx") == 0)
		return route_bad("--auth-user", "goes with --smarthost");
	if (*n->auth_user == '\0' || strlen(n->auth_user) > RELAY_CRED_MAX)
		return route_bad("--auth-user", "1 to 255 bytes");
	if (n->tls && tls_policy_parse(n->tls) == TLSP_NONE)
		return route_bad("--tls", "none would never send the "
		    "credentials: gwd sends them only over TLS");
	return EX_OK;
}

static int
route_exists(struct ctx *ctx, const char *sql, const char *val)
{
	sqlite3_stmt *st = ctx_stmt(ctx, sql, "t", val);
	int rc;

	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int
route_parse(struct ctx *ctx, const struct args *a, struct route_new *n)
{
	const char *h = args_get(a, "--header"), *arch;
	char err[128], status[16];
	const char *text;
	int64_t sid;
	int r, code;

	n->subaccount = args_get(a, "--subaccount");
	n->priority = args_get(a, "--priority");
	/* --bulk: bulk mail, which gets a List-Unsubscribe (gwd.conf(5),
	 * http), in the bulk class unless --priority says. */
	if ((n->bulk = args_has(a, "--bulk")) != 0) {
		if ((r = key_bulk_unsubscribable(ctx, "--bulk", n->subaccount,
		    NULL)) != EX_OK)
			return r;
		if (n->priority == NULL)
			n->priority = "bulk";
	}
	n->archive = -1;
	if ((arch = args_get(a, "--archive")) != NULL) {
		if (strcmp(arch, "yes") != 0 && strcmp(arch, "no") != 0)
			return route_bad("--archive", "yes or no");
		n->archive = strcmp(arch, "yes") == 0;
	}
	n->pool = args_get(a, "--pool");
	n->tls = args_get(a, "--tls");
	n->reply = args_get(a, "--reject");
	n->action = n->reply ? "reject" : args_has(a, "--hold") ? "hold" :
	    "route";
	if ((r = route_domain_arg(a, "--from-domain", &n->from)) != EX_OK ||
	    (r = route_domain_arg(a, "--to-domain", &n->to)) != EX_OK ||
	    (r = route_size_arg(a, "--size-over", &n->over)) != EX_OK ||
	    (r = route_size_arg(a, "--size-under", &n->under)) != EX_OK ||
	    (r = route_via_arg(a, n->via, sizeof(n->via))) != EX_OK)
		return r;
	if (h && rules_parse_header(h, n->header, sizeof(n->header),
	    n->value, sizeof(n->value), err, sizeof(err)) == -1)
		return route_bad("--header", err);
	if (n->priority && rules_prio_parse(n->priority) == -1)
		return route_bad("--priority", "transactional or bulk");
	if (n->tls && tls_policy_parse(n->tls) == -1)
		return route_bad("--tls", "none, opportunistic, required or "
		    "verify");
	if (n->reply && rules_parse_reply(n->reply, &code, status,
	    sizeof(status), &text, err, sizeof(err)) == -1)
		return route_bad("--reject", err);
	if (n->reply && args_has(a, "--hold"))
		return route_bad("--hold", "a rule holds or rejects, not both");
	if (strcmp(n->action, "route") != 0 && (n->priority || n->pool ||
	    n->tls || n->via[0]))
		return route_bad(n->reply ? "--reject" : "--hold", "takes no "
		    "--priority, --pool, --smarthost, --mx or --tls");
	if (n->tls && n->via[0] == '\0')
		return route_bad("--tls", "goes with --smarthost or --mx");
	if ((r = route_auth_arg(a, n)) != EX_OK)
		return r;
	if (n->subaccount && (r = subaccount_lookup(ctx, n->subaccount,
	    &sid)) != EX_OK)
		return r;
	if (n->pool && (r = route_exists(ctx, "SELECT 1 FROM pool WHERE "
	    "name = ?", n->pool)) != 1) {
		if (r == 0)
			log_warnx("no pool \"%s\" (gwctl pool add)", n->pool);
		return r == 0 ? EX_NOUSER : EX_SOFTWARE;
	}
	return EX_OK;
}

static int64_t
route_count(struct ctx *ctx)
{
	sqlite3_stmt *st = ctx_stmt(ctx, "SELECT count(*) FROM route_rule",
	    "");
	int64_t n = -1;

	if (st && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* --position or a positional: 1..max, else an error. */
static int
route_position(const char *s, int64_t max, int64_t *pos)
{
	if (parse_int(s, 1, max, pos) == -1) {
		log_warnx("position: expected 1 to %lld", (long long)max);
		return EX_USAGE;
	}
	return EX_OK;
}

static int
route_insert(struct ctx *ctx, const struct route_new *n, int64_t pos,
    int64_t *id)
{
	int r;

	if ((r = ctx_exec(ctx, NULL, "UPDATE route_rule SET position = "
	    "position + 1 WHERE position >= ?", "i", pos)) != EX_OK)
		return r;
	if ((r = ctx_exec(ctx, NULL, "INSERT INTO route_rule (position, "
	    "subaccount, from_domain, to_domain, header, header_value, "
	    "size_over, size_under, action, priority, pool, smarthost, tls, "
	    "reply, created, auth_user, auth_password, bulk, archive) VALUES "
	    "(?, ?, lower(?), lower(?), ?, ?, nullif(?, -1), nullif(?, -1), "
	    "?, ?, ?, nullif(?, ''), ?, ?, ?, ?, ?, ?, nullif(?, -1))",
	    "itttttiittttttittii", pos,
	    n->subaccount, n->from, n->to, n->header[0] ? n->header : NULL,
	    n->header[0] ? n->value : NULL, n->over, n->under, n->action,
	    n->priority, n->pool, n->via, n->tls, n->reply, ctx_now(),
	    n->auth_user, n->auth_user ? n->auth_password : NULL,
	    (int64_t)n->bulk, n->archive)) != EX_OK)
		return r;
	*id = sqlite3_last_insert_rowid(ctx->db);
	return EX_OK;
}

/*
 * The first rule that matches decides, so of two rules with the same
 * conditions the later can never match.  Said for each such pair the
 * rule `id` is in (it may be the earlier one, added at --position);
 * the rule stays, as the admin may move or delete either.
 */
static void
route_warn_shadowed(struct ctx *ctx, int64_t id)
{
	sqlite3_stmt *st = ctx_stmt(ctx, "SELECT a.id, a.position, b.id, "
	    "b.position FROM route_rule a JOIN route_rule b ON "
	    "a.position < b.position AND a.subaccount IS b.subaccount AND "
	    "a.from_domain IS b.from_domain AND a.to_domain IS b.to_domain "
	    "AND a.header IS b.header COLLATE NOCASE AND "
	    "a.header_value IS b.header_value AND a.size_over IS b.size_over "
	    "AND a.size_under IS b.size_under WHERE a.id = ?1 OR b.id = ?1 "
	    "ORDER BY a.position, b.position", "i", id);

	while (st && sqlite3_step(st) == SQLITE_ROW)
		log_warnx("route %lld (position %lld) can never match: route "
		    "%lld (position %lld) has the same conditions and comes "
		    "first (gwctl route move, or route delete)",
		    (long long)sqlite3_column_int64(st, 2),
		    (long long)sqlite3_column_int64(st, 3),
		    (long long)sqlite3_column_int64(st, 0),
		    (long long)sqlite3_column_int64(st, 1));
	sqlite3_finalize(st);
}

/* route add, inside its transaction; n holds the password if given. */
static int
route_add_tx(struct ctx *ctx, const struct args *a, struct route_new *n)
{
	int64_t count = 0, pos, id;
	int r;

	r = route_parse(ctx, a, n);
	if (r == EX_OK && (count = route_count(ctx)) < 0)
		r = ctx_sqlerr(ctx, "gw.db");
	pos = count + 1;
	if (r == EX_OK && args_has(a, "--position"))
		r = route_position(args_get(a, "--position"), count + 1, &pos);
	if (r == EX_OK)
		r = route_insert(ctx, n, pos, &id);
	if (r != EX_OK) {
		ctx_rollback(ctx);
		return r;
	}
	if ((r = ctx_commit(ctx)) == EX_OK) {
		printf("route %lld added at position %lld\n", (long long)id,
		    (long long)pos);
		route_warn_shadowed(ctx, id);
	}
	return r;
}

int
route_add(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	struct route_new n;
	int r;

	memset(&n, 0, sizeof(n));
	/* Read before the transaction: a prompt may wait for a person. */
	if (args_has(a, "--auth-password-stdin") && (r = ctx_read_secret(
	    "smarthost password", RELAY_CRED_MAX, n.auth_password,
	    sizeof(n.auth_password))) != EX_OK)
		return r;
	if ((r = ctx_db(ctx)) == EX_OK && (r = ctx_begin(ctx)) == EX_OK)
		r = route_add_tx(ctx, a, &n);
	explicit_bzero(n.auth_password, sizeof(n.auth_password));
	return r;
}

/* Descriptions, shared by list and test. */

static void
route_cond(struct buf *b, const char *k, const char *v)
{
	if (v)
		buf_printf(b, "%s%s=%s", b->len ? " " : "", k, v);
}

static void
route_describe_match(const struct rule *r, struct buf *b)
{
	buf_reset(b);
	route_cond(b, "subaccount", r->subaccount);
	route_cond(b, "from", r->from_domain);
	route_cond(b, "to", r->to_domain);
	if (r->header)
		buf_printf(b, "%s%s: %s", b->len ? " " : "", r->header,
		    r->header_value);
	if (r->size_over >= 0)
		buf_printf(b, "%ssize>%lld", b->len ? " " : "",
		    (long long)r->size_over);
	if (r->size_under >= 0)
		buf_printf(b, "%ssize<%lld", b->len ? " " : "",
		    (long long)r->size_under);
	if (b->len == 0)
		buf_puts(b, "any");
	buf_cstr(b);
}

static void
route_describe_action(const struct rule *r, struct buf *b)
{
	buf_reset(b);
	if (r->action == RULE_REJECT) {
		buf_printf(b, "reject %s", r->reply);
	} else if (r->action == RULE_HOLD) {
		buf_puts(b, "hold");
	} else {
		buf_printf(b, "route priority=%s", rules_prio_name(r->prio));
		route_cond(b, "pool", r->pool);
		if (r->smarthost && strcmp(r->smarthost, "mx") == 0)
			buf_puts(b, " via=mx");
		else if (r->smarthost && strchr(r->smarthost, ' '))
			/* A list: quoted, as --smarthost takes it. */
			buf_printf(b, " via=smarthost='%s'", r->smarthost);
		else
			route_cond(b, "via=smarthost", r->smarthost);
		if (r->tls >= 0)
			route_cond(b, "tls", tls_policy_name(r->tls));
		route_cond(b, "auth", r->auth_user);
		if (r->bulk)
			buf_puts(b, " bulk-mail");
	}
	if (r->archive >= 0)
		buf_printf(b, " archive=%s", r->archive ? "yes" : "no");
	buf_cstr(b);
}

static void
route_json(const struct rule *r, int pos)
{
	struct json_obj o;
	struct buf b;

	buf_init(&b, 0);
	json_obj_begin(&o, &b);
	json_obj_int(&o, "id", r->id);
	json_obj_int(&o, "position", pos);
	json_obj_str_or_null(&o, "subaccount", r->subaccount);
	json_obj_str_or_null(&o, "from_domain", r->from_domain);
	json_obj_str_or_null(&o, "to_domain", r->to_domain);
	json_obj_str_or_null(&o, "header", r->header);
	json_obj_str_or_null(&o, "header_value", r->header_value);
	if (r->size_over >= 0)
		json_obj_int(&o, "size_over", r->size_over);
	else
		json_obj_null(&o, "size_over");
	if (r->size_under >= 0)
		json_obj_int(&o, "size_under", r->size_under);
	else
		json_obj_null(&o, "size_under");
	json_obj_str_or_null(&o, "action", rules_action_name(r->action));
	json_obj_str_or_null(&o, "priority", r->action == RULE_ROUTE ?
	    rules_prio_name(r->prio) : NULL);
	json_obj_bool(&o, "bulk", r->bulk);
	if (r->archive >= 0)
		json_obj_bool(&o, "archive", r->archive);
	else
		json_obj_null(&o, "archive");
	json_obj_str_or_null(&o, "pool", r->pool);
	json_obj_str_or_null(&o, "via", r->smarthost);
	json_obj_str_or_null(&o, "tls", r->tls >= 0 ? tls_policy_name(r->tls) : NULL);
	json_obj_str_or_null(&o, "reply", r->reply);
	json_obj_str_or_null(&o, "auth_user", r->auth_user);
	if (json_obj_end(&o) == -1)
		fatalx("output too long");
	printf("%s\n", buf_cstr(&b));
	buf_free(&b);
}

/* The policy, read in one transaction; EX_OK or an error said. */
static int
route_load(struct ctx *ctx, struct policy *p)
{
	int r;

	if ((r = ctx_db(ctx)) != EX_OK || (r = ctx_begin(ctx)) != EX_OK)
		return r;
	if (policy_load(ctx->db, p) == -1) {
		r = ctx_sqlerr(ctx, "gw.db");
		ctx_rollback(ctx);
		return r;
	}
	ctx_rollback(ctx);
	return EX_OK;
}

int
route_list(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	struct output_table t;
	struct policy p;
	struct buf m, act;
	char pos[16], id[24];
	int r, json;

	if ((r = output_format(c, a, &json)) != EX_OK ||
	    (r = route_load(ctx, &p)) != EX_OK)
		return r;
	buf_init(&m, 0);
	buf_init(&act, 0);
	output_table_init(&t, 4, "POS", "ID", "MATCH", "ACTION");
	for (int i = 0; i < p.nrules; i++) {
		if (json) {
			route_json(&p.rules[i], i + 1);
			continue;
		}
		snprintf(pos, sizeof(pos), "%d", i + 1);
		snprintf(id, sizeof(id), "%lld", (long long)p.rules[i].id);
		route_describe_match(&p.rules[i], &m);
		route_describe_action(&p.rules[i], &act);
		output_table_row(&t, pos, id, buf_cstr(&m), buf_cstr(&act));
	}
	if (!json)
		output_table_print(&t, stdout);
	output_table_free(&t);
	buf_free(&m);
	buf_free(&act);
	policy_free(&p);
	return EX_OK;
}

/* The rule with this id (a positional): its position, or an error. */
static int
route_find(struct ctx *ctx, const char *arg, int64_t *id, int64_t *pos)
{
	sqlite3_stmt *st;
	int rc;

	if (parse_int(arg, 1, INT64_MAX, id) == -1) {
		log_warnx("\"%s\": a rule id is a number (gwctl route list)",
		    arg);
		return EX_USAGE;
	}
	if ((st = ctx_stmt(ctx, "SELECT position FROM route_rule WHERE id = ?",
	    "i", *id)) == NULL)
		return EX_SOFTWARE;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*pos = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		log_warnx("no route %lld (gwctl route list)", (long long)*id);
	return rc == SQLITE_ROW ? EX_OK : rc == SQLITE_DONE ? EX_NOUSER :
	    ctx_sqlerr(ctx, "gw.db");
}

int
route_delete(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	int64_t id, pos;
	int r;

	if ((r = ctx_db(ctx)) != EX_OK || (r = ctx_begin(ctx)) != EX_OK)
		return r;
	if ((r = route_find(ctx, a->argv[0], &id, &pos)) != EX_OK ||
	    (r = ctx_exec(ctx, NULL, "DELETE FROM route_rule WHERE id = ?",
	    "i", id)) != EX_OK ||
	    (r = ctx_exec(ctx, NULL, "UPDATE route_rule SET position = "
	    "position - 1 WHERE position > ?", "i", pos)) != EX_OK) {
		ctx_rollback(ctx);
		return r;
	}
	return ctx_commit(ctx);
}

int
route_move(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	int64_t id, from, to, count;
	int r;

	if ((r = ctx_db(ctx)) != EX_OK || (r = ctx_begin(ctx)) != EX_OK)
		return r;
	if ((r = route_find(ctx, a->argv[0], &id, &from)) != EX_OK ||
	    (count = route_count(ctx)) < 0 ||
	    (r = route_position(a->argv[1], count, &to)) != EX_OK ||
	    (r = ctx_reorder(ctx, "route_rule", id, from, to)) != EX_OK) {
		ctx_rollback(ctx);
		return r;
	}
	return ctx_commit(ctx);
}

int
route_test(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	struct rule_msg m;
	struct policy p;
	struct buf hdrs, d1, d2;
	char name[80], value[RULE_HEADER_MAX + 1], err[128];
	const char *h;
	int64_t size;
	int r, i;

	memset(&m, 0, sizeof(m));
	m.sender = args_get(a, "--from");
	m.rcpt = args_get(a, "--to");
	m.subaccount = args_get(a, "--subaccount");
	if (m.sender == NULL || m.rcpt == NULL)
		return cmd_usage_error(c, "--from and --to are needed");
	if ((r = route_size_arg(a, "--size", &size)) != EX_OK)
		return r;
	m.size = size;
	buf_init(&hdrs, 0);
	for (i = 0; (h = args_nth(a, "--header", i)) != NULL; i++) {
		if (rules_parse_header(h, name, sizeof(name), value,
		    sizeof(value), err, sizeof(err)) == -1) {
			buf_free(&hdrs);
			return route_bad("--header", err);
		}
		buf_printf(&hdrs, "%s: %s\r\n", name, value);
	}
	buf_puts(&hdrs, "\r\n");
	m.headers = buf_cstr(&hdrs);
	m.hlen = hdrs.len;
	if ((r = route_load(ctx, &p)) != EX_OK) {
		buf_free(&hdrs);
		return r;
	}
	buf_init(&d1, 0);
	buf_init(&d2, 0);
	i = rules_match(p.rules, p.nrules, &m);
	if (i == RULES_UNKNOWN) {
		/* The headers are given: only the size can be missing. */
		for (i = 0; i < p.nrules; i++)
			if (rules_match(&p.rules[i], 1, &m) == RULES_UNKNOWN)
				break;
		printf("rule %lld (position %d) needs the message size to "
		    "decide: add --size\n", (long long)p.rules[i].id, i + 1);
	} else if (i == RULES_NONE)
		printf("no rule matches: priority=transactional, no pool, "
		    "delivered as gwd.conf's relay section says\n");
	else {
		route_describe_match(&p.rules[i], &d1);
		route_describe_action(&p.rules[i], &d2);
		printf("rule %lld (position %d) matches: %s\n  -> %s\n",
		    (long long)p.rules[i].id, i + 1, buf_cstr(&d1),
		    buf_cstr(&d2));
	}
	buf_free(&d1);
	buf_free(&d2);
	buf_free(&hdrs);
	policy_free(&p);
	return EX_OK;
}

/* gwctl throttle ... */

static int
throttle_value(const struct args *a, const char *opt, int64_t *v)
{
	const char *s = args_get(a, opt);

	*v = -2;		/* not given */
	if (s == NULL)
		return EX_OK;
	if (strcmp(s, "default") == 0) {
		*v = -1;
		return EX_OK;
	}
	if (parse_int(s, 1, 1000000, v) == -1)
		return route_bad(opt, "expected 1 to 1000000, or default");
	return EX_OK;
}

int
throttle_set(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	static const char *const opt[3] = { "--connections",
	    "--per-connection", "--per-minute" };
	char err[128];
	int64_t v[3];
	int r, given = 0;

	if (rules_parse_domain_pattern(a->argv[0], err, sizeof(err)) == -1)
		return route_bad(a->argv[0], err);
	for (int i = 0; i < 3; i++) {
		if ((r = throttle_value(a, opt[i], &v[i])) != EX_OK)
			return r;
		given |= v[i] != -2;
	}
	if (!given)
		return cmd_usage_error(c, "give --connections, "
		    "--per-connection or --per-minute");
	if ((r = ctx_db(ctx)) != EX_OK || (r = ctx_begin(ctx)) != EX_OK)
		return r;
	/* -2 keeps what is there; -1 is the default (NULL). */
	if ((r = ctx_exec(ctx, NULL, "INSERT INTO throttle (domain, created) "
	    "VALUES (lower(?), ?) ON CONFLICT (domain) DO NOTHING", "ti",
	    a->argv[0], ctx_now())) != EX_OK ||
	    (r = ctx_exec(ctx, NULL, "UPDATE throttle SET "
	    "connections = CASE ?1 WHEN -2 THEN connections ELSE "
	    "nullif(?1, -1) END, per_connection = CASE ?2 WHEN -2 THEN "
	    "per_connection ELSE nullif(?2, -1) END, per_minute = CASE ?3 "
	    "WHEN -2 THEN per_minute ELSE nullif(?3, -1) END "
	    "WHERE domain = lower(?4)", "iiit", v[0], v[1], v[2],
	    a->argv[0])) != EX_OK) {
		ctx_rollback(ctx);
		return r;
	}
	return ctx_commit(ctx);
}

static void
throttle_cell(char *out, size_t n, int v)
{
	if (v < 0)
		snprintf(out, n, "default");
	else
		snprintf(out, n, "%d", v);
}

int
throttle_list(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	struct output_table t;
	struct policy p;
	char v[3][24];
	int r, json;

	if ((r = output_format(c, a, &json)) != EX_OK ||
	    (r = route_load(ctx, &p)) != EX_OK)
		return r;
	output_table_init(&t, 4, "DOMAIN", "CONNECTIONS", "PER CONNECTION",
	    "PER MINUTE");
	for (int i = 0; i < p.nthrottles; i++) {
		const struct throttle *th = &p.throttles[i];
		int val[3] = { th->connections, th->per_connection,
		    th->per_minute };

		if (json) {
			struct json_obj o;
			struct buf b;
			static const char *const k[3] = { "connections",
			    "per_connection", "per_minute" };

			buf_init(&b, 0);
			json_obj_begin(&o, &b);
			json_obj_str_or_null(&o, "domain", th->domain);
			for (int j = 0; j < 3; j++)
				if (val[j] < 0)
					json_obj_null(&o, k[j]);
				else
					json_obj_int(&o, k[j], val[j]);
			if (json_obj_end(&o) == -1)
				fatalx("output too long");
			printf("%s\n", buf_cstr(&b));
			buf_free(&b);
			continue;
		}
		for (int j = 0; j < 3; j++)
			throttle_cell(v[j], sizeof(v[j]), val[j]);
		output_table_row(&t, th->domain, v[0], v[1], v[2]);
	}
	if (!json)
		output_table_print(&t, stdout);
	output_table_free(&t);
	policy_free(&p);
	return EX_OK;
}

int
throttle_delete(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	int r, n;

	if ((r = ctx_db(ctx)) != EX_OK)
		return r;
	if ((r = ctx_exec(ctx, &n, "DELETE FROM throttle WHERE domain = "
	    "lower(?)", "t", a->argv[0])) != EX_OK)
		return r;
	if (n == 0) {
		log_warnx("no throttle for \"%s\" (gwctl throttle list)",
		    a->argv[0]);
		return EX_NOUSER;
	}
	return EX_OK;
}
