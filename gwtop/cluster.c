/*
 * cluster.c - gwtop --cluster: every node of the cluster (gwd.conf's
 * cluster section) with its stats snapshot from Redis, and the totals,
 * as a table or JSON lines.
 * Exposure: reads what gwd nodes wrote to Redis: names are checked
 * before they are printed, values read as numbers.
 * Diagnostics: exits 78 without cluster.redis, 69 when Redis does not
 * answer, with the reason on stderr.
 */
#include <hiredis/hiredis.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "config.h"
#include "credis.h"
#include "cshare.h"
#include "gwtop.h"
#include "log.h"
#include "util.h"

/* The columns: a stats name (gwd's control socket `stats`) each. */
static const struct {
	const char	*stat, *head;
} cols[] = {
	{ "queue_messages", "QUEUED" },
	{ "messages_received_total", "RECEIVED" },
	{ "delivered_total", "DELIVERED" },
	{ "deferred_total", "DEFERRED" },
	{ "bounced_total", "BOUNCED" },
	{ "sessions", "SESSIONS" },
};
#define NCOLS	nitems(cols)

/* A name safe to print (config.c's rule for cluster.node). */
static int
node_ok(const char *n)
{
	return n[0] && strlen(n) <= 64 && strspn(n, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == strlen(n);
}

/* The snapshot's "name value" lines into v (columns not found: -1). */
static void
parse_stats(const char *text, long long v[NCOLS])
{
	for (size_t c = 0; c < NCOLS; c++) {
		const char *p = text;
		size_t n = strlen(cols[c].stat);

		v[c] = -1;
		while (p && *p) {
			if (strncmp(p, cols[c].stat, n) == 0 && p[n] == ' ') {
				v[c] = strtoll(p + n + 1, NULL, 10);
				break;
			}
			if ((p = strchr(p, '\n')) != NULL)
				p++;
		}
	}
}

static void
print_row(int json, const char *node, const char *state, long long age,
    const long long v[NCOLS])
{
	if (json) {
		printf("{\"node\":\"%s\",\"state\":\"%s\",\"seen_s\":%lld",
		    node, state, age);
		for (size_t c = 0; c < NCOLS; c++)
			printf(",\"%s\":%lld", cols[c].stat, v[c]);
		printf("}\n");
		return;
	}
	printf("%-16s %-6s %6lld", node, state, age);
	for (size_t c = 0; c < NCOLS; c++)
		printf(" %10lld", v[c]);
	printf("\n");
}

/* Nodes by name: ZRANGE gives them by last heartbeat. */
static int
by_name(const void *a, const void *b)
{
	const redisReply *const *x = a, *const *y = b;

	return strcmp(x[0]->str ? x[0]->str : "", y[0]->str ? y[0]->str :
	    "");
}

static int64_t
redis_now_ms(redisContext *rc)
{
	redisReply *r = redisCommand(rc, "TIME");
	int64_t ms = -1;

	if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2)
		ms = strtoll(r->element[0]->str, NULL, 10) * 1000 +
		    strtoll(r->element[1]->str, NULL, 10) / 1000;
	freeReplyObject(r);
	return ms;
}

int
cluster_print(const struct gw_config *cfg, int json)
{
	char err[600];
	long long tot[NCOLS] = { 0 }, v[NCOLS];
	redisContext *rc;
	redisReply *nodes, *st;
	int64_t now;
	int live = 0;

	if (cfg->cluster.redis == NULL) {
		log_warnx("--cluster: no cluster.redis in %s", cfg->path);
		return EX_CONFIG;
	}
	if ((rc = credis_connect(cfg->cluster.redis,
	    cfg->cluster.password_file, err, sizeof(err))) == NULL) {
		log_warnx("%s", err);
		return EX_UNAVAILABLE;
	}
	now = redis_now_ms(rc);
	nodes = redisCommand(rc, "ZRANGE %s 0 -1 WITHSCORES", CK_NODES);
	if (now < 0 || nodes == NULL || nodes->type != REDIS_REPLY_ARRAY) {
		log_warnx("Redis %s: %s", cfg->cluster.redis, rc->err ?
		    rc->errstr : "unexpected reply");
		freeReplyObject(nodes);
		redisFree(rc);
		return EX_UNAVAILABLE;
	}
	/* Pairs (name, score), sorted by name. */
	qsort(nodes->element, nodes->elements / 2, 2 * sizeof(*nodes->element),
	    by_name);
	if (!json) {
		printf("%-16s %-6s %6s", "NODE", "STATE", "SEEN");
		for (size_t c = 0; c < NCOLS; c++)
			printf(" %10s", cols[c].head);
		printf("\n");
	}
	for (size_t i = 0; i + 1 < nodes->elements; i += 2) {
		const char *n = nodes->element[i]->str;
		long long age = (now - strtoll(nodes->element[i + 1]->str,
		    NULL, 10)) / 1000;
		int up;

		if (nodes->element[i]->type != REDIS_REPLY_STRING ||
		    !node_ok(n))
			continue;
		st = redisCommand(rc, "GET %s%s", CK_STATS, n);
		up = age * 1000 < CSHARE_NODE_TTL_MS && st &&
		    st->type == REDIS_REPLY_STRING;
		parse_stats(up ? st->str : "", v);
		freeReplyObject(st);
		print_row(json, n, up ? "up" : "gone", age, v);
		for (size_t c = 0; up && c < NCOLS; c++)
			tot[c] += v[c] > 0 ? v[c] : 0;
		live += up;
	}
	freeReplyObject(nodes);
	redisFree(rc);
	print_row(json, "TOTAL", live ? "up" : "none", (long long)live, tot);
	return EX_OK;
}
