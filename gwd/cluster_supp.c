/*
 * cluster_supp.c - the suppression list shared by every node (see
 * cluster.h).
 * Exposure: entries come from Redis (written by gwctl and other gwd
 * nodes); suppress_shared() (cl.supp) checks each before it is kept.
 * Diagnostics: none fail; a reply of the wrong shape is logged and
 * skipped.
 *
 * Redis holds the list (hash CK_SUPP_HASH, "SUB\nADDR" -> "SOURCE\n
 * CREATED\nREASON") and tells its changes in a stream (CK_SUPP_STREAM);
 * both change in one script (cshare.c), so a node that reads the
 * stream's last id, then the hash, then the stream from that id misses
 * nothing.  Each time Redis answers again a node does that (so a Redis
 * restarted empty, or a stream trimmed while the node was away, costs
 * nothing), and then reads the stream every POLL_MS: a change reaches
 * every node within that and a round trip.  A reload adds, never
 * removes: a delete a node missed while Redis was away leaves the
 * address refused there until gwd restarts, the safe side of the error.
 *
 * A change made here (a bounce, a complaint, an unsubscribe, a delete
 * over the control socket) while Redis is away waits in memory and goes
 * when it is back; gwd's own entries are in queue.db too, so a restart
 * meanwhile loses only the sharing, never the entry here.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "cluster_priv.h"
#include "log.h"
#include "util.h"

#define POLL_MS		200
#define READ_COUNT	1000

struct pub {
	struct pub	*next;
	int		 add;
	char		*key, *reason, *source;
	int64_t		 created;
};

static struct pub	*pend, **pend_tail = &pend;
static char		 last_id[64] = "0-0";
static int		 following;	/* loaded: reading the stream */
static int		 reading;	/* an XREAD under way */
static uintptr_t	 gen;		/* of this connection's requests */
static struct ev_timer	 poll_timer;

static void	 poll_cb(struct ev_timer *);

void
supp_stream_init(void)
{
	timer_init(&poll_timer, poll_cb, NULL);
}

/* One stream entry: its id, then field, value, ... */
static void
apply_entry(const redisReply *e)
{
	const char *op = NULL, *key = NULL, *reason = "", *source = "admin";
	const redisReply *f;
	int64_t created = 0;

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    !cl_is_str(e->element[0]) || e->element[0]->len >= sizeof(last_id) ||
	    (f = e->element[1])->type != REDIS_REPLY_ARRAY)
		return;
	memcpy(last_id, e->element[0]->str, e->element[0]->len + 1);
	for (size_t i = 0; i + 1 < f->elements; i += 2) {
		const char *n = f->element[i]->str, *v = f->element[i + 1]->str;

		if (!cl_is_str(f->element[i]) || !cl_is_str(f->element[i + 1]))
			return;
		if (strcmp(n, "op") == 0)
			op = v;
		else if (strcmp(n, "key") == 0)
			key = v;
		else if (strcmp(n, "reason") == 0)
			reason = v;
		else if (strcmp(n, "source") == 0)
			source = v;
		else if (strcmp(n, "created") == 0)
			created = strtoll(v, NULL, 10);
	}
	if (op && key)
		cl.supp(strcmp(op, "add") == 0, key, reason, source,
		    created);
}

static void
read_done(redisReply *rep, void *arg)
{
	redisReply **e;
	size_t n = 0;

	if ((uintptr_t)arg != gen)
		return;
	reading = 0;
	if (rep == NULL)
		return;
	e = cl_stream_entries(rep, &n, "suppression");
	for (size_t i = 0; i < n; i++)
		apply_entry(e[i]);
	timer_add(&poll_timer, n >= READ_COUNT ? 0 : POLL_MS);
}

static void
poll_cb(struct ev_timer *t)
{
	char count[16];
	const char *argv[] = { "XREAD", "COUNT", count, "STREAMS",
	    CK_SUPP_STREAM, last_id };

	if (!following || reading)
		return;
	reading = 1;
	snprintf(count, sizeof(count), "%d", READ_COUNT);
	cl_command(read_done, (void *)gen, nitems(argv), argv);
}

/* The whole list: "SUB\nADDR" -> "SOURCE\nCREATED\nREASON". */
static void
load_done(redisReply *rep, void *arg)
{
	int n = 0;

	if ((uintptr_t)arg != gen || rep == NULL)
		return;
	if (rep->type != REDIS_REPLY_ARRAY) {
		log_warnx("cluster: suppression list: unexpected reply");
		return;
	}
	for (size_t i = 0; i + 1 < rep->elements; i += 2) {
		const redisReply *k = rep->element[i], *v = rep->element[i + 1];
		char *copy, *created, *reason;

		if (!cl_is_str(k) || !cl_is_str(v))
			continue;
		copy = xstrdup(v->str);
		if ((created = strchr(copy, '\n')) != NULL &&
		    (reason = strchr(created + 1, '\n')) != NULL) {
			*created++ = '\0';
			*reason++ = '\0';
			cl.supp(1, k->str, reason, copy,
			    strtoll(created, NULL, 10));
			n++;
		}
		free(copy);
	}
	log_info("cluster: suppression list loaded: %d shared entries", n);
	following = 1;
	timer_add(&poll_timer, 0);
}

static void
last_done(redisReply *rep, void *arg)
{
	const redisReply *e;

	if ((uintptr_t)arg != gen || rep == NULL ||
	    rep->type != REDIS_REPLY_ARRAY)
		return;
	gw_strlcpy(last_id, "0-0", sizeof(last_id));
	if (rep->elements == 1 && (e = rep->element[0])->type ==
	    REDIS_REPLY_ARRAY && e->elements == 2 && cl_is_str(e->element[0]) &&
	    e->element[0]->len < sizeof(last_id))
		memcpy(last_id, e->element[0]->str, e->element[0]->len + 1);
}

void
supp_stream_start(void)
{
	const char *last[] = { "XREVRANGE", CK_SUPP_STREAM, "+", "-",
	    "COUNT", "1" };
	const char *all[] = { "HGETALL", CK_SUPP_HASH };

	gen++;
	following = reading = 0;
	/* In this order on one connection: Redis answers in order. */
	cl_command(last_done, (void *)gen, nitems(last), last);
	cl_command(load_done, (void *)gen, nitems(all), all);
}

void
supp_stream_stop(void)
{
	gen++;
	following = reading = 0;
	timer_del(&poll_timer);
}

/* Publishing. */

static void	 pub_send(struct pub *);

static void
pub_free(struct pub *p)
{
	free(p->key);
	free(p->reason);
	free(p->source);
	free(p);
}

static void
pub_keep(struct pub *p)
{
	p->next = NULL;
	*pend_tail = p;
	pend_tail = &p->next;
}

static void
pub_done(redisReply *rep, void *arg)
{
	struct pub *p = arg;

	if (rep == NULL || rep->type == REDIS_REPLY_ERROR)
		pub_keep(p);	/* again when Redis is back */
	else
		pub_free(p);
}

static void
pub_send(struct pub *p)
{
	char created[32];

	snprintf(created, sizeof(created), "%lld", (long long)p->created);
	cl_eval(CS_SUPPRESS, pub_done, p, 2, 8, CK_SUPP_HASH, CK_SUPP_STREAM,
	    p->add ? "add" : "del", p->key, p->reason, p->source, created,
	    cl.node);
}

void
pub_flush(void)
{
	struct pub *p = pend, *next;

	pend = NULL;
	pend_tail = &pend;
	for (; p; p = next) {
		next = p->next;
		pub_send(p);
	}
}

void
cluster_suppress_publish(int add, const char *key, const char *reason,
    const char *source, int64_t created)
{
	struct pub *p;

	if (!cl.enabled)
		return;
	p = xcalloc(1, sizeof(*p));
	p->add = add;
	p->key = xstrdup(key);
	p->reason = xstrdup(reason ? reason : "");
	p->source = xstrdup(source ? source : "admin");
	p->created = created;
	if (cl.up)
		pub_send(p);
	else
		pub_keep(p);
}
