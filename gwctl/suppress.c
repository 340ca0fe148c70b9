/*
 * suppress.c - gwctl suppression add|list|delete|import.
 *
 * Admin entries are gw.db's (written here, one transaction per
 * command; gwd sees them at its next RCPT).  Entries gwd made after a
 * hard bounce are queue.db's: listed read-only from it, deleted by
 * asking gwd over the control socket, since gwd is queue.db's only
 * writer.
 * Diagnostics: each command returns a sysexits status and says why on
 * stderr (an import names each bad line); dies only when memory runs
 * out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "cluster.h"
#include "db.h"
#include "gwctl.h"
#include "log.h"
#include "output.h"
#include "suppress_parse.h"
#include "util.h"

struct supp_row {
	char	*subaccount;	/* NULL: every subaccount */
	char	*address;
	char	*source;
	char	*reason;
	int64_t	 created;
};

struct supp_rows {
	struct supp_row	*v;
	size_t		 n;
};

/* addr as stored, or EX_DATAERR (said, after `where`). */
static int
supp_address(const char *in, char out[ADDR_PATH_MAX + 1], const char *where)
{
	char esc[128];

	if (supp_parse_address(in, out) == 0)
		return EX_OK;
	log_warnx("%s%s\"%s\" is not an email address", where ? where : "",
	    where ? ": " : "", log_escape(in, strlen(in), esc, sizeof(esc)));
	return EX_DATAERR;
}

static int
supp_reason_ok(const char *r, const char *where)
{
	const char *why = supp_check_reason(r);

	if (why == NULL)
		return EX_OK;
	log_warnx("%s%s%s", where ? where : "", where ? ": " : "", why);
	return EX_DATAERR;
}

/* --subaccount: its id, or 0 for none given. */
static int
supp_subaccount(struct ctx *ctx, const struct args *a, int64_t *id)
{
	const char *s = args_get(a, "--subaccount");

	*id = 0;
	return s ? subaccount_lookup(ctx, s, id) : EX_OK;
}

static int
supp_insert(struct ctx *ctx, int64_t sub, const char *subname,
    const char *addr, const char *reason, const char *source, int *added)
{
	int changes, r;

	/* Subaccount 0: every subaccount, NULL in the table. */
	r = ctx_exec(ctx, &changes, "INSERT OR IGNORE INTO suppression "
	    "(subaccount_id, address, reason, source, created) VALUES "
	    "(nullif(?, 0), ?, ?, ?, ?)", "ittti", sub, addr, reason ?
	    reason : "", source, ctx_now());
	if (r == EX_OK) {
		*added += changes;
		/* Listed already or not: the cluster hears it again. */
		gcl_queue(1, subname, addr, reason, source, ctx_now());
	}
	return r;
}

static void
supp_report(int added, int total)
{
	fprintf(stderr, "%d added, %d already listed\n", added,
	    total - added);
}

int
suppress_add(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	const char *reason = args_get(a, "--reason");
	char addr[ADDR_PATH_MAX + 1];
	int64_t sub;
	int r, added = 0;

	if (reason && (r = supp_reason_ok(reason, NULL)) != EX_OK)
		return r;
	for (int i = 0; i < a->argc; i++)
		if ((r = supp_address(a->argv[i], addr, NULL)) != EX_OK)
			return r;
	if ((r = ctx_db(ctx)) != EX_OK || (r = ctx_begin(ctx)) != EX_OK)
		return r;
	r = supp_subaccount(ctx, a, &sub);
	for (int i = 0; i < a->argc && r == EX_OK; i++) {
		supp_address(a->argv[i], addr, NULL);
		r = supp_insert(ctx, sub, args_get(a, "--subaccount"), addr,
		    reason, "admin", &added);
	}
	if (r != EX_OK) {
		gcl_discard();
		ctx_rollback(ctx);
		return r;
	}
	if ((r = ctx_commit(ctx)) != EX_OK) {
		gcl_discard();
		return r;
	}
	supp_report(added, a->argc);
	return gcl_flush(ctx);
}

int
suppress_import(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	const char *file = a->argv[0], *dflt = args_get(a, "--reason");
	char where[4200], addr[ADDR_PATH_MAX + 1], *line = NULL, *ad, *rs;
	const char *why;
	size_t cap = 0;
	int64_t sub;
	int r, bad = 0, added = 0, total = 0, lineno = 0;
	FILE *fp;

	if (dflt && (r = supp_reason_ok(dflt, NULL)) != EX_OK)
		return r;
	if (strcmp(file, "-") == 0)
		fp = stdin;
	else if ((fp = fopen(file, "r")) == NULL) {
		log_warn("%s", file);
		return EX_NOINPUT;
	}
	if ((r = ctx_db(ctx)) != EX_OK || (r = ctx_begin(ctx)) != EX_OK ||
	    (r = supp_subaccount(ctx, a, &sub)) != EX_OK)
		goto done;
	while (r == EX_OK && getline(&line, &cap, fp) != -1) {
		snprintf(where, sizeof(where), "%s:%d",
		    fp == stdin ? "stdin" : file, ++lineno);
		if (supp_parse_line(line, &ad, &rs, &why) == -1) {
			log_warnx("%s: %s", where, why);
			bad++;
			continue;
		}
		/* Blank lines, comments and a CSV header row are skipped. */
		if (*ad == '\0' || *ad == '#' || (lineno == 1 &&
		    strcasecmp(ad, "address") == 0))
			continue;
		if (supp_address(ad, addr, where) != EX_OK ||
		    (rs && *rs && supp_reason_ok(rs, where) != EX_OK)) {
			bad++;
			continue;
		}
		total++;
		r = supp_insert(ctx, sub, args_get(a, "--subaccount"), addr,
		    rs && *rs ? rs : dflt, "import", &added);
	}
	if (r == EX_OK && ferror(fp)) {
		log_warn("%s", file);
		r = EX_IOERR;
	}
	if (r == EX_OK && bad > 0) {
		log_warnx("%d bad line%s: nothing imported", bad, bad > 1 ?
		    "s" : "");
		r = EX_DATAERR;
	}
done:
	free(line);
	if (fp != stdin)
		fclose(fp);
	if (r != EX_OK) {
		gcl_discard();
		if (ctx->db)
			ctx_rollback(ctx);
		return r;
	}
	if ((r = ctx_commit(ctx)) != EX_OK) {
		gcl_discard();
		return r;
	}
	supp_report(added, total);
	return gcl_flush(ctx);
}

/* Listing: both halves of the list, sorted by address. */

static void
supp_rows_add(struct supp_rows *rs, sqlite3_stmt *st, const char *source)
{
	struct supp_row *w;
	const char *sub = (const char *)sqlite3_column_text(st, 0);

	rs->v = xreallocarray(rs->v, rs->n + 1, sizeof(*rs->v));
	w = &rs->v[rs->n++];
	w->subaccount = sub ? xstrdup(sub) : NULL;
	w->address = xstrdup((const char *)sqlite3_column_text(st, 1));
	w->source = xstrdup(source ? source :
	    (const char *)sqlite3_column_text(st, 2));
	w->created = sqlite3_column_int64(st, 3);
	w->reason = xstrdup((const char *)sqlite3_column_text(st, 4));
}

static void
supp_rows_free(struct supp_rows *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		free(rs->v[i].subaccount);
		free(rs->v[i].address);
		free(rs->v[i].source);
		free(rs->v[i].reason);
	}
	free(rs->v);
}

static int
supp_row_cmp(const void *x, const void *y)
{
	const struct supp_row *a = x, *b = y;
	int c = strcmp(a->address, b->address);

	if (c == 0)
		c = strcmp(a->subaccount ? a->subaccount : "",
		    b->subaccount ? b->subaccount : "");
	return c;
}

/*
 * gwd's entries from queue.db (read-only); sub, addr: NULL for any.
 * A queue.db gwd never created has none.
 */
static int
supp_bounced(struct ctx *ctx, const char *sub, const char *addr,
    struct supp_rows *rs)
{
	char path[4096], err[1024];
	sqlite3_stmt *st;
	sqlite3 *q;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", ctx->cfg.state_dir,
	    db_filename(DB_QUEUE));
	if (access(path, F_OK) == -1 && errno == ENOENT)
		return EX_OK;
	if ((q = db_open(ctx->cfg.state_dir, DB_QUEUE, DB_RDONLY, err,
	    sizeof(err))) == NULL) {
		log_warnx("%s", err);
		return EX_UNAVAILABLE;
	}
	/* gwd's entries: a hard bounce's, or a one-click unsubscribe's
	 * (gwd/suppress.h: told apart by the reason). */
	rc = sqlite3_prepare_v2(q, "SELECT subaccount, address, CASE reason "
	    "WHEN 'unsubscribe' THEN 'unsubscribe' ELSE 'bounce' END, "
	    "created, reason FROM suppression WHERE (?1 IS NULL OR "
	    "subaccount = ?1) AND (?2 IS NULL OR gw_addr_key(address) = "
	    "gw_addr_key(?2))", -1, &st,
	    NULL);
	if (rc == SQLITE_OK) {
		db_bind_text(st, 1, sub);
		db_bind_text(st, 2, addr);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			supp_rows_add(rs, st, NULL);
		sqlite3_finalize(st);
	}
	if (rc != SQLITE_DONE)
		log_warnx("queue.db: %s", sqlite3_errmsg(q));
	db_close(q);
	return rc == SQLITE_DONE ? EX_OK : EX_UNAVAILABLE;
}

static void
supp_print_json(const struct supp_row *w)
{
	struct json_obj o;
	struct buf b;
	char t[32];

	buf_init(&b, 0);
	output_time(w->created, t, sizeof(t));
	json_obj_begin(&o, &b);
	json_obj_str(&o, "address", w->address);
	if (w->subaccount)
		json_obj_str(&o, "subaccount", w->subaccount);
	else
		json_obj_null(&o, "subaccount");
	json_obj_str(&o, "source", w->source);
	json_obj_str(&o, "created", t);
	json_obj_str(&o, "reason", w->reason);
	if (json_obj_end(&o) == -1)
		fatalx("output too long");
	printf("%s\n", buf_cstr(&b));
	buf_free(&b);
}

int
suppress_list(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	const char *sub = args_get(a, "--subaccount");
	struct supp_rows rs = { NULL, 0 };
	struct output_table t;
	sqlite3_stmt *st;
	int64_t id;
	int r, rc, json;
	char tm[32];

	if ((r = output_format(c, a, &json)) != EX_OK ||
	    (r = ctx_db(ctx)) != EX_OK ||
	    (r = supp_subaccount(ctx, a, &id)) != EX_OK)
		return r;
	/* With --subaccount: its entries and the global ones (what applies
	 * to its mail). */
	if ((st = ctx_stmt(ctx, "SELECT s.name, p.address, p.source, "
	    "p.created, p.reason FROM suppression p LEFT JOIN subaccount s "
	    "ON s.id = p.subaccount_id WHERE ?1 = 0 OR p.subaccount_id IS "
	    "NULL OR p.subaccount_id = ?1", "i", id)) == NULL)
		return EX_SOFTWARE;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		supp_rows_add(&rs, st, NULL);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		r = ctx_sqlerr(ctx, "gw.db");
	if (r == EX_OK)
		r = supp_bounced(ctx, sub, NULL, &rs);
	if (r == EX_OK && rs.n > 0)
		qsort(rs.v, rs.n, sizeof(*rs.v), supp_row_cmp);
	output_table_init(&t, 5, "ADDRESS", "SUBACCOUNT", "SOURCE", "CREATED",
	    "REASON");
	for (size_t i = 0; r == EX_OK && i < rs.n; i++) {
		if (json) {
			supp_print_json(&rs.v[i]);
			continue;
		}
		output_time(rs.v[i].created, tm, sizeof(tm));
		output_table_row(&t, rs.v[i].address, rs.v[i].subaccount ?
		    rs.v[i].subaccount : "(all)", rs.v[i].source, tm,
		    rs.v[i].reason);
	}
	if (r == EX_OK && !json)
		output_table_print(&t, stdout);
	output_table_free(&t);
	supp_rows_free(&rs);
	return r;
}

/*
 * The cluster hears of each entry this deletes: the subaccount's (or
 * the global one), those gw.db has of the address, and gwd's bounce
 * entries (rs); another node's entry of the same key goes with them.
 */
static void
supp_delete_queue(struct ctx *ctx, const char *sub, const char *addr,
    int64_t id, const struct supp_rows *rs)
{
	sqlite3_stmt *st;

	gcl_queue(0, sub, addr, "", "admin", 0);
	for (size_t i = 0; i < rs->n; i++)
		gcl_queue(0, rs->v[i].subaccount, addr, "", "bounce", 0);
	if ((st = ctx_stmt(ctx, "SELECT DISTINCT ifnull(s.name, '') FROM "
	    "suppression p LEFT JOIN subaccount s ON s.id = p.subaccount_id "
	    "WHERE gw_addr_key(p.address) = gw_addr_key(?1) AND (?2 = 0 OR "
	    "p.subaccount_id = ?2)", "ti", addr, id)) == NULL)
		return;
	while (sqlite3_step(st) == SQLITE_ROW)
		gcl_queue(0, (const char *)sqlite3_column_text(st, 0), addr,
		    "", "admin", 0);
	sqlite3_finalize(st);
}

/*
 * Delete ADDRESS: with --subaccount, that subaccount's entries (admin
 * and bounce); without, every entry of the address.  gwd's entries go
 * first, through gwd: when it is not running nothing changes.
 */
int
suppress_delete(struct ctx *ctx, const struct cmd *c, struct args *a)
{
	const char *sub = args_get(a, "--subaccount");
	struct supp_rows rs = { NULL, 0 };
	char addr[ADDR_PATH_MAX + 1], line[512], out[256];
	int64_t id;
	int r, changes = 0, n = 0;

	if ((r = supp_address(a->argv[0], addr, NULL)) != EX_OK ||
	    (r = ctx_db(ctx)) != EX_OK ||
	    (r = supp_subaccount(ctx, a, &id)) != EX_OK ||
	    (r = supp_bounced(ctx, sub, addr, &rs)) != EX_OK)
		goto done;
	for (size_t i = 0; i < rs.n && r == EX_OK; i++) {
		snprintf(line, sizeof(line), "suppression delete %s %s",
		    rs.v[i].subaccount, addr);
		if ((r = control_request(ctx, line, out, sizeof(out))) ==
		    EX_OK && strncmp(out, "deleted 1", 9) == 0)
			n++;
	}
	if (r == EX_UNAVAILABLE)
		log_warnx("%s has an entry from a bounce, which only gwd can "
		    "delete: start gwd and try again", addr);
	if (r != EX_OK)
		goto done;
	if ((r = ctx_begin(ctx)) != EX_OK)
		goto done;
	supp_delete_queue(ctx, sub, addr, id, &rs);
	r = ctx_exec(ctx, &changes, "DELETE FROM suppression WHERE "
	    "gw_addr_key(address) = gw_addr_key(?1) AND (?2 = 0 OR "
	    "subaccount_id = ?2)", "ti", addr, id);
	if (r == EX_OK)
		r = ctx_commit(ctx);
	else
		ctx_rollback(ctx);
	if (r == EX_OK)
		r = gcl_flush(ctx);
	gcl_discard();
	if (r == EX_OK) {
		n += changes;
		if (n == 0) {
			log_warnx("%s is not on the suppression list%s%s", addr,
			    sub ? " of subaccount " : "", sub ? sub : "");
			r = EX_DATAERR;
		} else
			fprintf(stderr, "%d deleted\n", n);
	}
done:
	supp_rows_free(&rs);
	return r;
}
