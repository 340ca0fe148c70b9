/*
 * policy.c - gwctl policy ... (content policies: add, list, show,
 * delete, test).
 *
 * A policy is a row of gw.db's content_policy table: a detector (card,
 * ssn, iban, email, phone, regex:PATTERN, keywords:WORD,...,
 * attachment:RULE, uribl), the
 * number of distinct values at which it fires, an action (block: 550
 * 5.7.1 at the end of DATA; quarantine: 250, held until `gwctl
 * quarantine release`; tag: an X-GW-Policy: header) and optional
 * conditions (subaccount, sender domain, recipient domain).  gwd reloads
 * the set when gw.db changes.  `policy test` runs gwd's own walk and scan
 * on a file and prints what fires, with every match masked; nothing is
 * sent.
 * Exposure: `policy test` reads a message the admin names (untrusted
 * content, bounded by mime_walk.c and dlp.c), with gwctl's privileges.
 * Diagnostics: each command returns a sysexits status and says why on
 * stderr; dies only when memory runs out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "buf.h"
#include "cpolicy.h"
#include "gwctl.h"
#include "log.h"
#include "output.h"
#include "rules.h"
#include "util.h"

#define TEST_FILE_MAX	(64 << 20)	/* a message `policy test` reads */

static int
policy_bad(const char *opt, const char *why)
{
	log_warnx("%s: %s", opt, why);
	return EX_USAGE;
}

/* --from-domain / --to-domain: a pattern as routing rules take it. */
static int
policy_domain_arg(const struct args *a, const char *opt)
{
	const char *v = args_get(a, opt);
	char err[128];

	if (v && rules_parse_domain_pattern(v, err, sizeof(err)) == -1)
		return policy_bad(opt, err);
	return EX_OK;
}

static int
policy_check(struct ctx *ctx, const struct args *a, int64_t *min)
{
	const char *det = args_get(a, "--detector");
	const char *act = args_get(a, "--action");
	const char *sub = args_get(a, "--subaccount");
	char err[300];
	int64_t sid;
	int r;

	if (!cpol_valid_name(a->argv[0]))
		return policy_bad("NAME", "1 to 64 letters, digits, '-', '_' "
		    "or '.'");
	if (det == NULL)
		return policy_bad("--detector", "required (card, ssn, iban, "
		    "email, phone, regex:PATTERN, keywords:WORD,..., "
		    "attachment:RULE, uribl)");
	if (dlp_detector_check(det, err, sizeof(err)) == -1)
		return policy_bad("--detector", err);
	if (act == NULL || cpol_action_parse(act) == -1)
		return policy_bad("--action", "block, quarantine or tag");
	*min = 1;
	if (args_get(a, "--min") && parse_int(args_get(a, "--min"), 1,
	    1000000, min) == -1)
		return policy_bad("--min", "a count from 1 to 1000000");
	if ((r = policy_domain_arg(a, "--from-domain")) != EX_OK ||
	    (r = policy_domain_arg(a, "--to-domain")) != EX_OK)
		return r;
	if (sub && (r = subaccount_lookup(ctx, sub, &sid)) != EX_OK)
		return r;
	return EX_OK;
}

/* The policy named name: 1 and its id, 0 none, -1 error (said). */
static int
policy_find(struct ctx *ctx, const char *name, int64_t *id)
{
	sqlite3_stmt *st = ctx_stmt(ctx, "SELECT id FROM content_policy WHERE "
	    "name = ?", "t", name);
	int rc;

	if (st == NULL)
		return -1;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		ctx_sqlerr(ctx, "gw.db");
		return -1;
	}
	return rc == SQLITE_ROW;
}

int
policy_add(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	int64_t min, id;
	int r, f;

	if ((r = ctx_db(ctx)) != EX_OK || (r = ctx_begin(ctx)) != EX_OK)
		return r;
	if ((r = policy_check(ctx, a, &min)) == EX_OK) {
		if ((f = policy_find(ctx, a->argv[0], &id)) == 1) {
			log_warnx("policy \"%s\" exists (gwctl policy delete "
			    "it first)", a->argv[0]);
			r = EX_DATAERR;
		} else if (f == -1)
			r = EX_SOFTWARE;
	}
	if (r == EX_OK)
		r = ctx_exec(ctx, NULL, "INSERT INTO content_policy (name, "
		    "detector, min_count, action, subaccount, from_domain, "
		    "to_domain, created) VALUES (?, ?, ?, ?, ?, lower(?), "
		    "lower(?), ?)", "ttitttti", a->argv[0],
		    args_get(a, "--detector"), min, args_get(a, "--action"),
		    args_get(a, "--subaccount"), args_get(a, "--from-domain"),
		    args_get(a, "--to-domain"), ctx_now());
	if (r != EX_OK) {
		ctx_rollback(ctx);
		return r;
	}
	if ((r = ctx_commit(ctx)) == EX_OK)
		printf("policy %s added\n", a->argv[0]);
	return r;
}

/* The set as gwd would load it; EX_OK or an error said. */
static int
policy_load(struct ctx *ctx, struct cpol_set **s)
{
	char err[300];
	int r;

	if ((r = ctx_db(ctx)) != EX_OK || (r = ctx_begin(ctx)) != EX_OK)
		return r;
	if (cpol_load(ctx->db, s, err, sizeof(err)) == -1) {
		log_warnx("gw.db: content policies: %s", err);
		ctx_rollback(ctx);
		return EX_SOFTWARE;
	}
	ctx_rollback(ctx);
	return EX_OK;
}

static void
policy_applies_to(const struct cpol *p, struct buf *b)
{
	buf_reset(b);
	if (p->subaccount)
		buf_printf(b, "subaccount=%s", p->subaccount);
	if (p->from_domain)
		buf_printf(b, "%sfrom=%s", buf_len(b) ? " " : "",
		    p->from_domain);
	if (p->to_domain)
		buf_printf(b, "%sto=%s", buf_len(b) ? " " : "", p->to_domain);
	if (buf_len(b) == 0)
		buf_puts(b, "any");
	buf_cstr(b);
}

static void
policy_json(const struct cpol *p)
{
	struct json_obj o;
	struct buf b;

	buf_init(&b, 0);
	json_obj_begin(&o, &b);
	json_obj_int(&o, "id", p->id);
	json_obj_str(&o, "name", p->name);
	json_obj_str(&o, "detector", p->detector);
	json_obj_int(&o, "min", p->min);
	json_obj_str(&o, "action", cpol_action_name(p->action));
	json_obj_str_or_null(&o, "subaccount", p->subaccount);
	json_obj_str_or_null(&o, "from_domain", p->from_domain);
	json_obj_str_or_null(&o, "to_domain", p->to_domain);
	if (json_obj_end(&o) == -1)
		fatalx("output too long");
	printf("%s\n", buf_cstr(&b));
	buf_free(&b);
}

/* Every policy, or the one named (show); EX_NOUSER when it is not. */
static int
policy_print(struct ctx *ctx, const struct cmd *c, struct args *a,
    const char *only)
{
	struct output_table t;
	struct cpol_set *s;
	struct buf b;
	char min[16];
	int r, json, shown = 0;

	if ((r = output_format(c, a, &json)) != EX_OK ||
	    (r = policy_load(ctx, &s)) != EX_OK)
		return r;
	buf_init(&b, 0);
	output_table_init(&t, 5, "NAME", "DETECTOR", "MIN", "ACTION",
	    "APPLIES TO");
	for (int i = 0; i < s->n; i++) {
		const struct cpol *p = &s->p[i];

		if (only && strcmp(only, p->name) != 0)
			continue;
		shown++;
		if (json) {
			policy_json(p);
			continue;
		}
		snprintf(min, sizeof(min), "%d", p->min);
		policy_applies_to(p, &b);
		output_table_row(&t, p->name, p->detector, min,
		    cpol_action_name(p->action), buf_cstr(&b));
	}
	if (!json && t.nrows > 1)
		output_table_print(&t, stdout);
	output_table_free(&t);
	buf_free(&b);
	cpol_set_free(s);
	if (only && shown == 0) {
		log_warnx("no policy \"%s\" (gwctl policy list)", only);
		return EX_NOUSER;
	}
	return EX_OK;
}

int
policy_list(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	return policy_print(ctx, c, a, NULL);
}

int
policy_show(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	return policy_print(ctx, c, a, a->argv[0]);
}

int
policy_delete(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	int r, n;

	if ((r = ctx_db(ctx)) != EX_OK || (r = ctx_begin(ctx)) != EX_OK)
		return r;
	if ((r = ctx_exec(ctx, &n, "DELETE FROM content_policy WHERE name = ?",
	    "t", a->argv[0])) != EX_OK) {
		ctx_rollback(ctx);
		return r;
	}
	if (n == 0) {
		ctx_rollback(ctx);
		log_warnx("no policy \"%s\" (gwctl policy list)", a->argv[0]);
		return EX_NOUSER;
	}
	return ctx_commit(ctx);
}

/* The whole file, at most TEST_FILE_MAX bytes; EX_OK or said. */
static int
policy_read(const char *path, struct buf *b)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char chunk[65536];
	size_t n;
	int r = EX_OK;

	if (f == NULL) {
		log_warn("%s", path);
		return EX_NOINPUT;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(b, chunk, n) == -1) {
			log_warnx("%s: larger than %d MB", path,
			    TEST_FILE_MAX >> 20);
			r = EX_DATAERR;
			break;
		}
	if (ferror(f)) {
		log_warn("%s", path);
		r = EX_IOERR;
	}
	if (f != stdin)
		fclose(f);
	return r;
}

static void
policy_test_print(const struct cpol_set *s, const struct cpol_verdict *v,
    const struct cpol_msg *m)
{
	for (int i = 0; i < s->n; i++) {
		const struct cpol *p = &s->p[i];
		const struct dlp_count *dc = &v->res.c[p->det];

		if (!cpol_applies(p, m)) {
			printf("policy %s: does not apply to this message\n",
			    p->name);
			continue;
		}
		printf("policy %s (%s, at least %d, %s): %s, %d found\n",
		    p->name, p->detector, p->min, cpol_action_name(p->action),
		    v->fired[i] ? "fires" : "does not fire", dc->count);
		for (int h = 0; v->fired[i] && h < dc->nhits; h++)
			printf("  part %-10s %s\n", dc->hits[h].path,
			    dc->hits[h].masked);
	}
	if (v->block >= 0)
		printf("decision: block (550 5.7.1 Message refused by content "
		    "policy %s)\n", s->p[v->block].name);
	else if (v->quarantine >= 0)
		printf("decision: quarantine (250, held until released) by "
		    "content policy %s\n", s->p[v->quarantine].name);
	else if (v->ntag > 0)
		printf("decision: deliver with an X-GW-Policy: header\n");
	else
		printf("decision: deliver\n");
	printf("nothing was sent\n");
}

/* The attachments, as the walk saw them. */
static void
policy_test_attachments(const char *msg, size_t len)
{
	struct mime_walk w;

	mime_walk(msg, len, NULL, &w);
	for (int i = 0; i < w.natt; i++)
		printf("attachment part %s: \"%s\" declared %s, content %s, "
		    "%zu bytes%s\n", w.att[i].path, w.att[i].name,
		    w.att[i].type, w.att[i].sniffed, w.att[i].size,
		    w.att[i].archive ? ", archive (not unpacked)" : "");
	mime_walk_free(&w);
}

int
policy_test(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	const char *from = args_get(a, "--from");
	const char *to = args_get(a, "--to");
	struct cpol_msg m = { args_get(a, "--subaccount"), from ? from : "",
	    &to, to ? 1 : 0 };
	struct cpol_verdict v;
	struct cpol_set *s;
	struct buf msg;
	char err[300];
	int r;

	buf_init(&msg, TEST_FILE_MAX);
	if ((r = policy_read(a->argv[0], &msg)) != EX_OK ||
	    (r = policy_load(ctx, &s)) != EX_OK) {
		buf_free(&msg);
		return r;
	}
	if (cpol_scan(s, buf_ptr(&msg) ? buf_ptr(&msg) : "", buf_len(&msg),
	    &m, &v, err, sizeof(err)) == -1) {
		log_warnx("%s: %s", a->argv[0], err);
		r = EX_SOFTWARE;
	} else {
		policy_test_attachments(buf_ptr(&msg) ? buf_ptr(&msg) : "",
		    buf_len(&msg));
		policy_test_print(s, &v, &m);
	}
	cpol_verdict_free(&v);
	cpol_set_free(s);
	buf_free(&msg);
	return r;
}
