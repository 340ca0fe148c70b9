/*
 * cluster.c - gwctl's changes of the suppression list to Redis (see
 * cluster.h), with the script gwd's nodes use (common/cshare.c), so
 * the list in Redis and its stream change together.
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

static int
send_one(redisContext *rc, const struct change *c, const char **why)
{
	char created[32];
	const char *argv[] = { "EVALSHA", cshare_script_sha(CS_SUPPRESS), "2",
	    CK_SUPP_HASH, CK_SUPP_STREAM, c->add ? "add" : "del", c->key,
	    c->reason, c->source, created, "gwctl" };
	redisReply *rep;
	int ok;

	snprintf(created, sizeof(created), "%lld", (long long)c->created);
	rep = redisCommandArgv(rc, nitems(argv), argv, NULL);
	if (rep && rep->type == REDIS_REPLY_ERROR &&
	    strncmp(rep->str, "NOSCRIPT", 8) == 0) {
		freeReplyObject(rep);
		argv[0] = "EVAL";
		argv[1] = cshare_script(CS_SUPPRESS);
		rep = redisCommandArgv(rc, nitems(argv), argv, NULL);
	}
	static char e[300];

	ok = rep && rep->type != REDIS_REPLY_ERROR;
	if (!ok) {
		snprintf(e, sizeof(e), "Redis: %s", rep ? rep->str :
		    rc->errstr);
		*why = e;
	}
	freeReplyObject(rep);
	return ok ? 0 : -1;
}

int
gcl_flush(struct ctx *ctx)
{
	const char *why = NULL;
	static char err[600];
	redisContext *rc;
	size_t i = 0;
	int r = EX_OK;

	if (nq == 0 || ctx->cfg.cluster.redis == NULL) {
		gcl_discard();
		return EX_OK;
	}
	if ((rc = credis_connect(ctx->cfg.cluster.redis,
	    ctx->cfg.cluster.password_file, err, sizeof(err))) == NULL)
		why = err;
	for (; why == NULL && i < nq; i++)
		if (send_one(rc, &q[i], &why) == -1)
			break;
	if (why) {
		log_warnx("cluster: %s: %zu change%s made on this node only; "
		    "run the command again when Redis answers", why, nq - i,
		    nq - i == 1 ? "" : "s");
		r = EX_TEMPFAIL;
	}
	if (rc)
		redisFree(rc);
	gcl_discard();
	return r;
}
