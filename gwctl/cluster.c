/*
 * cluster.c - gwctl's changes of the suppression list to Redis (see
 * cluster.h), with the script gwd's nodes use (common/cshare.c), so
 * the list in Redis and its stream change together; and the record of
 * its configuration changes (an SQLite session on gw.db), which this
 * node's gwd sends to the others (gwd/cluster_config.c).
 * Exposure: talks to the Redis of gwd.conf (cluster.redis), with a
 * timeout; reads only the type of its replies.
 * Diagnostics: a Redis that cannot be reached is a warning and
 * EX_TEMPFAIL: gw.db has changed, the other nodes have not heard.
 */
#include <hiredis/hiredis.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "addr.h"
#include "cluster.h"
#include "credis.h"
#include "cshare.h"
#include "gwctl.h"
#include "log.h"
#include "util.h"

struct change {
	int	 add;
	char	*key, *reason, *source;
	int64_t	 created;
};

static struct change	*q;
static size_t		 nq, capq;

void
gcl_queue(int add, const char *sub, const char *addr, const char *reason,
    const char *source, int64_t created)
{
	char k[ADDR_PATH_MAX + 1], key[ADDR_PATH_MAX + 130];

	if (addr_key(addr, k, sizeof(k)) == -1)
		return;
	snprintf(key, sizeof(key), "%s\n%s", sub ? sub : "", k);
	if (nq == capq) {
		capq = capq ? capq * 2 : 16;
		q = xreallocarray(q, capq, sizeof(*q));
	}
	q[nq].add = add;
	q[nq].key = xstrdup(key);
	q[nq].reason = xstrdup(reason ? reason : "");
	q[nq].source = xstrdup(source ? source : "admin");
	q[nq].created = created;
	nq++;
}

void
gcl_discard(void)
{
	for (size_t i = 0; i < nq; i++) {
		free(q[i].key);
		free(q[i].reason);
		free(q[i].source);
	}
	nq = 0;
}

#define PIPE	1000	/* changes sent before their replies are read */

/* The script, by its SHA1, for the EVALSHAs after. */
static int
load_script(redisContext *rc, char *err, size_t errsz)
{
	redisReply *rep = redisCommand(rc, "SCRIPT LOAD %s",
	    cshare_script(CS_SUPPRESS));
	int ok = rep && rep->type == REDIS_REPLY_STRING;

	if (!ok)
		snprintf(err, errsz, "Redis: SCRIPT LOAD: %s", rep ? rep->str :
		    rc->errstr);
	freeReplyObject(rep);
	return ok ? 0 : -1;
}

/* q[from..from+n) in one pipeline: a large import costs a few round
 * trips, not one a line. */
static int
send_batch(redisContext *rc, size_t from, size_t n, char *err,
    size_t errsz)
{
	redisReply *rep;
	char created[32];
	int bad = 0;

	for (size_t i = from; i < from + n; i++) {
		const char *argv[] = { "EVALSHA",
		    cshare_script_sha(CS_SUPPRESS), "2", CK_SUPP_HASH,
		    CK_SUPP_STREAM, q[i].add ? "add" : "del", q[i].key,
		    q[i].reason, q[i].source, created, "gwctl" };

		snprintf(created, sizeof(created), "%lld",
		    (long long)q[i].created);
		redisAppendCommandArgv(rc, nitems(argv), argv, NULL);
	}
	for (size_t i = 0; i < n; i++) {
		if (redisGetReply(rc, (void **)&rep) != REDIS_OK) {
			snprintf(err, errsz, "Redis: %s", rc->errstr);
			return -1;
		}
		if (rep->type == REDIS_REPLY_ERROR && !bad++)
			snprintf(err, errsz, "Redis: %s", rep->str);
		freeReplyObject(rep);
	}
	return bad ? -1 : 0;
}

int
gcl_flush(struct ctx *ctx)
{
	static char err[600];
	redisContext *rc;
	size_t sent = 0, n;
	int r = EX_OK, failed;

	if (nq == 0 || ctx->cfg.cluster.redis == NULL) {
		gcl_discard();
		return EX_OK;
	}
	rc = credis_connect(ctx->cfg.cluster.redis,
	    ctx->cfg.cluster.password_file, err, sizeof(err));
	failed = rc == NULL || load_script(rc, err, sizeof(err)) == -1;
	while (!failed && sent < nq) {
		n = nq - sent < PIPE ? nq - sent : PIPE;
		if (!(failed = send_batch(rc, sent, n, err, sizeof(err)) == -1))
			sent += n;
	}
	if (failed) {
		/* A batch that failed may have been applied in part: it
		 * counts as not sent, and sending it again does no harm. */
		log_warnx("cluster: %s: %zu change%s made on this node only; "
		    "run the command again when Redis answers", err,
		    nq - sent, nq - sent == 1 ? "" : "s");
		r = EX_TEMPFAIL;
	}
	if (rc)
		redisFree(rc);
	gcl_discard();
	return r;
}

/* Configuration changes: an SQLite session on gw.db. */

static sqlite3_session	*sess;

int
gcl_session_open(struct ctx *ctx)
{
	if (sess != NULL || ctx->cfg.cluster.redis == NULL)
		return 0;
	if (sqlite3session_create(ctx->db, "main", &sess) != SQLITE_OK) {
		log_warnx("gw.db: cannot record changes for the cluster: %s",
		    sqlite3_errmsg(ctx->db));
		sess = NULL;
		return -1;
	}
	for (size_t i = 0; cshare_config_tables[i] != NULL; i++)
		if (sqlite3session_attach(sess, cshare_config_tables[i]) !=
		    SQLITE_OK) {
			log_warnx("gw.db: cannot record changes of %s for the "
			    "cluster", cshare_config_tables[i]);
			sqlite3session_delete(sess);
			sess = NULL;
			return -1;
		}
	return 0;
}

static int
outbox_insert(struct ctx *ctx, const void *cs, int n)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(ctx->db, "INSERT INTO cluster_outbox "
	    "(changeset, created) VALUES (?, ?)", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_blob(st, 1, cs, n, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, ctx_now());
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
gcl_session_save(struct ctx *ctx)
{
	void *cs = NULL;
	int n = 0, r = 0;

	if (sess == NULL || sqlite3session_isempty(sess))
		return 0;
	if (sqlite3session_changeset(sess, &n, &cs) != SQLITE_OK)
		r = -1;
	else if (n > 0)
		r = outbox_insert(ctx, cs, n);
	sqlite3_free(cs);
	if (r == 0)
		gcl_session_reset(ctx);
	else
		log_warnx("gw.db: cannot keep the change for the cluster");
	return r;
}

/* A new session: what the last one recorded is saved or rolled back. */
void
gcl_session_reset(struct ctx *ctx)
{
	if (sess == NULL)
		return;
	sqlite3session_delete(sess);
	sess = NULL;
	gcl_session_open(ctx);
}

void
gcl_session_close(struct ctx *ctx)
{
	if (sess == NULL)
		return;
	if (!sqlite3session_isempty(sess) && sqlite3_get_autocommit(ctx->db) &&
	    ctx_begin(ctx) == EX_OK) {
		if (gcl_session_save(ctx) == 0)
			ctx_commit(ctx);
		else
			ctx_rollback(ctx);
	}
	sqlite3session_delete(sess);
	sess = NULL;
}
