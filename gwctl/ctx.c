/*
 * ctx.c - what every gwctl command stands on: the configuration, the
 * state directory, privileges and gw.db.
 *
 * Security: gwctl is the only writer of gw.db.  Run as root with a `user`
 * in the configuration, it creates state_dir for that user and becomes
 * that user before it opens any database, so every file it creates is
 * owned by gwd's user and never by root.
 * Diagnostics: never dies; configuration, state directory, privilege and
 * database failures return a sysexits status (78, 73, 71, 66, 69 ...)
 * with the reason on stderr.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <sysexits.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "db.h"
#include "gwctl.h"
#include "log.h"
#include "util.h"

int
ctx_config(struct ctx *ctx)
{
	const char *path = ctx->config_path ? ctx->config_path :
	    GW_DEFAULT_CONFIG;

	if (ctx->cfg_loaded)
		return EX_OK;
	if (config_load(path, &ctx->cfg) > 0) {
		config_free(&ctx->cfg);
		return EX_CONFIG;
	}
	ctx->cfg_loaded = 1;
	return EX_OK;
}

/*
 * Create state_dir if missing: parents 0755 so gwd's user can reach it,
 * state_dir itself 0750 and, as root, owned by that user.
 */
static int
ctx_mkstate(struct ctx *ctx, int asroot, uid_t uid, gid_t gid)
{
	const char *dir = ctx->cfg.state_dir;
	char parent[4096], *slash;
	struct stat st;

	if (stat(dir, &st) == 0)
		return EX_OK;
	if (errno != ENOENT) {
		log_warn("%s", dir);
		return EX_NOINPUT;
	}
	gw_strlcpy(parent, dir, sizeof(parent));
	if ((slash = strrchr(parent, '/')) != NULL && slash != parent) {
		*slash = '\0';
		if (mkdir_p(parent, 0755) == -1) {
			log_warn("cannot create %s", parent);
			return EX_CANTCREAT;
		}
	}
	if (mkdir(dir, 0750) == -1 && errno != EEXIST) {
		log_warn("cannot create %s", dir);
		return EX_CANTCREAT;
	}
	if (asroot && chown(dir, uid, gid) == -1) {
		log_warn("chown %s", dir);
		return EX_OSERR;
	}
	return EX_OK;
}

/* Configuration loaded, state_dir present, privileges dropped. */
int
ctx_state(struct ctx *ctx)
{
	const char *user, *errstr = NULL;
	int asroot, r;
	uid_t uid = 0;
	gid_t gid = 0;

	if ((r = ctx_config(ctx)) != EX_OK || ctx->privs_dropped)
		return r;
	user = ctx->cfg.user;
	asroot = geteuid() == 0 && user != NULL && *user != '\0';
	if (asroot && lookup_user(user, &uid, &gid) == -1) {
		log_warnx("%s: user \"%s\" does not exist", ctx->cfg.path,
		    user);
		return EX_CONFIG;
	}
	if ((r = ctx_mkstate(ctx, asroot, uid, gid)) != EX_OK)
		return r;
	if (drop_privileges(user, &errstr) == -1) {
		log_warnx("cannot become user %s: %s", user, errstr);
		return EX_OSERR;
	}
	ctx->privs_dropped = 1;
	return EX_OK;
}

int
ctx_db(struct ctx *ctx)
{
	char err[1024];
	int r;

	if (ctx->db != NULL)
		return EX_OK;
	if ((r = ctx_state(ctx)) != EX_OK)
		return r;
	ctx->db = db_open(ctx->cfg.state_dir, DB_GW, 0, err, sizeof(err));
	if (ctx->db == NULL) {
		log_warnx("%s", err);
		return EX_UNAVAILABLE;
	}
	/* In a cluster, what changes here goes to every node. */
	if (gcl_session_open(ctx) == -1) {
		db_close(ctx->db);
		ctx->db = NULL;
		return EX_SOFTWARE;
	}
	return EX_OK;
}

void
ctx_close(struct ctx *ctx)
{
	if (ctx->db != NULL)
		gcl_session_close(ctx);
	db_close(ctx->db);
	ctx->db = NULL;
	if (ctx->cfg_loaded)
		config_free(&ctx->cfg);
	ctx->cfg_loaded = 0;
}

int
ctx_sqlerr(struct ctx *ctx, const char *what)
{
	int rc = sqlite3_errcode(ctx->db);

	log_warnx("%s: %s", what, sqlite3_errmsg(ctx->db));
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return EX_TEMPFAIL;
	return EX_SOFTWARE;
}

/* IMMEDIATE: take the write lock now, so reads and writes agree. */
int
ctx_begin(struct ctx *ctx)
{
	if (sqlite3_exec(ctx->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return ctx_sqlerr(ctx, "gw.db: begin");
	return EX_OK;
}

int
ctx_commit(struct ctx *ctx)
{
	int r;

	if (gcl_session_save(ctx) == -1) {
		r = ctx_sqlerr(ctx, "gw.db: keeping the change for the cluster");
		ctx_rollback(ctx);
		return r;
	}
	if (sqlite3_exec(ctx->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
		return EX_OK;
	r = ctx_sqlerr(ctx, "gw.db: commit");
	ctx_rollback(ctx);
	return r;
}

void
ctx_rollback(struct ctx *ctx)
{
	if (!sqlite3_get_autocommit(ctx->db))
		sqlite3_exec(ctx->db, "ROLLBACK", NULL, NULL, NULL);
	gcl_session_reset(ctx);
}

static sqlite3_stmt *
ctx_vstmt(struct ctx *ctx, const char *sql, const char *types, va_list ap)
{
	sqlite3_stmt *st;
	const char *s;
	int i, rc = SQLITE_OK;

	if (sqlite3_prepare_v2(ctx->db, sql, -1, &st, NULL) != SQLITE_OK) {
		ctx_sqlerr(ctx, "gw.db");
		return NULL;
	}
	for (i = 1; *types && rc == SQLITE_OK; types++, i++) {
		if (*types == 't') {
			s = va_arg(ap, const char *);
			rc = s ? sqlite3_bind_text(st, i, s, -1,
			    SQLITE_STATIC) : sqlite3_bind_null(st, i);
		} else
			rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
	}
	if (rc != SQLITE_OK) {
		ctx_sqlerr(ctx, "gw.db");
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

/*
 * Prepare sql and bind its parameters in order: `types` has 't' for a
 * const char * (NULL binds NULL) and 'i' for an int64_t per parameter.
 */
sqlite3_stmt *
ctx_stmt(struct ctx *ctx, const char *sql, const char *types, ...)
{
	sqlite3_stmt *st;
	va_list ap;

	va_start(ap, types);
	st = ctx_vstmt(ctx, sql, types, ap);
	va_end(ap);
	return st;
}

/* Run a statement that returns no rows; *changes = rows it changed. */
int
ctx_exec(struct ctx *ctx, int *changes, const char *sql, const char *types,
    ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int rc;

	va_start(ap, types);
	st = ctx_vstmt(ctx, sql, types, ap);
	va_end(ap);
	if (st == NULL)
		return EX_SOFTWARE;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE) {
		rc = ctx_sqlerr(ctx, "gw.db");
		sqlite3_finalize(st);
		return rc;
	}
	sqlite3_finalize(st);
	if (changes)
		*changes = sqlite3_changes(ctx->db);
	return EX_OK;
}

int64_t
ctx_now(void)
{
	return (int64_t)time(NULL);
}

/*
 * A secret from one line of standard input, not echoed when that is a
 * terminal (the prompt, "what: ", then goes to stderr): 1 to max bytes,
 * into out (outsz > max).  The line's copy is wiped.
 */
int
ctx_read_secret(const char *what, size_t max, char *out, size_t outsz)
{
	struct termios old, noecho;
	int tty = isatty(STDIN_FILENO), r = EX_OK;
	size_t linesz = max + 3, n;
	char *line = xmalloc(linesz);

	if (tty && tcgetattr(STDIN_FILENO, &old) == 0) {
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		fprintf(stderr, "%s: ", what);
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho);
	} else
		tty = 0;
	if (fgets(line, (int)linesz, stdin) == NULL)
		line[0] = '\0';
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	n = strcspn(line, "\r\n");
	if (n == 0) {
		log_warnx("empty %s refused", what);
		r = EX_DATAERR;
	} else if (n > max || n >= outsz) {
		log_warnx("%s longer than %zu bytes", what, max);
		r = EX_DATAERR;
	} else {
		memcpy(out, line, n);
		out[n] = '\0';
	}
	explicit_bzero(line, linesz);
	free(line);
	return r;
}

/*
 * Row id of `table` (a constant of gwctl's, with dense positions 1..n in
 * its column "position") from position `from` to `to`: the others keep
 * their order.  Inside the caller's transaction.
 */
int
ctx_reorder(struct ctx *ctx, const char *table, int64_t id, int64_t from,
    int64_t to)
{
	char sql[3][160];
	int r;

	/* Close the gap, open one at the new place, put it there. */
	if (snprintf(sql[0], sizeof(sql[0]), "UPDATE %s SET position = "
	    "position - 1 WHERE position > ?", table) >= (int)sizeof(sql[0]) ||
	    snprintf(sql[1], sizeof(sql[1]), "UPDATE %s SET position = "
	    "position + 1 WHERE position >= ? AND id != ?", table) >=
	    (int)sizeof(sql[1]) || snprintf(sql[2], sizeof(sql[2]), "UPDATE "
	    "%s SET position = ? WHERE id = ?", table) >= (int)sizeof(sql[2]))
		fatalx("ctx_reorder: table name too long");
	if ((r = ctx_exec(ctx, NULL, sql[0], "i", from)) != EX_OK ||
	    (r = ctx_exec(ctx, NULL, sql[1], "ii", to, id)) != EX_OK)
		return r;
	return ctx_exec(ctx, NULL, sql[2], "ii", to, id);
}

int
ctx_words(struct ctx *ctx, const char *sql, void (*add)(void *, const char *),
    void *arg)
{
	sqlite3_stmt *st;

	if (ctx->db == NULL || sqlite3_prepare_v2(ctx->db, sql, -1, &st,
	    NULL) != SQLITE_OK)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW)
		add(arg, (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return 0;
}
