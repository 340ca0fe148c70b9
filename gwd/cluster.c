/*
 * cluster.c - the connection to Redis and what goes over it (see
 * cluster.h): heartbeats and the live node count, this node's stats
 * snapshot (shared per-minute tokens: cluster_rate.c).
 * Exposure: reads Redis replies (a server the operator names; replies
 * are checked for type and size before use, never trusted to be
 * well formed); runs in gwd's loop, unprivileged.
 * Diagnostics: never dies but for memory; a Redis that cannot be
 * reached or answers wrongly makes the cluster degraded, logged once per
 * change of state.
 *
 * hiredis's async API wants four callbacks to add and remove read and
 * write interest on its socket: they are loop.c's io_set() here.
 * hiredis 0.14 has no timeouts, so a tick checks that the heartbeat is
 * answered: a Redis that stops answering (SIGSTOP, a dead network)
 * is dropped after HB_DEADLINE_MS like one that closes.  Every request
 * pending then is answered NULL by hiredis, and each caller treats NULL
 * as "not now".
 */
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cluster.h"
#include "cluster_priv.h"
#include "cshare.h"
#include "gwd.h"
#include "hmap.h"
#include "log.h"
#include "loop.h"
#include "util.h"

#define TICK_MS		1000
#define HB_DEADLINE_MS	3000
#define TWIN_SAY_MS	300000	/* a second node of this name, logged */
#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	5000

struct cl cl;

static void	 cl_connect(void);
static void	 heartbeat(void);

int
cluster_enabled(void)
{
	return cl.enabled;
}

int
cluster_up(void)
{
	return cl.up;
}

int
cluster_live(void)
{
	return cl.live > 0 ? cl.live : 1;
}

const char *
cluster_state(void)
{
	return !cl.enabled ? NULL : cl.up ? "ok" : "degraded";
}

const char *
cluster_node(void)
{
	return cl.node;
}

int
cluster_init(const struct gw_config *cfg, char *err, size_t errsz)
{
	char pw[CSHARE_PASSWORD_MAX + 1];
	const char *node;

	if (cfg->cluster.redis == NULL)
		return 0;
	node = cfg->cluster.node ? cfg->cluster.node : cfg->hostname;
	if (gw_strlcpy(cl.node, node, sizeof(cl.node)) >= sizeof(cl.node)) {
		snprintf(err, errsz, "cluster.node: \"%s\" is too long", node);
		return -1;
	}
	if (cshare_redis_addr(cfg->cluster.redis, cl.ip, sizeof(cl.ip),
	    &cl.port) == -1) {
		snprintf(err, errsz, "cluster.redis: \"%s\" is not IP:port",
		    cfg->cluster.redis);
		return -1;
	}
	if (cfg->cluster.password_file) {
		if (cshare_password(cfg->cluster.password_file, pw,
		    sizeof(pw), err, errsz) == -1)
			return -1;
		cl.password = xstrdup(pw);
	}
	cl.state_dir = xstrdup(cfg->state_dir);
	cl.snapshot_every = cfg->cluster.snapshot_every;
	cl.enabled = 1;
	cl.live = 1;
	return 0;
}

/* The loop as hiredis's event library. */

/* cl.io belongs to the context cl.io_ac (which outlives cl.ac by the
 * moment hiredis takes to free it). */
static void
ev_cb(struct ev_io *io, int revents)
{
	redisAsyncContext *ac = cl.io_ac;

	if (ac == NULL)
		return;
	if (revents & EV_READ)
		redisAsyncHandleRead(ac);
	/* Reading may have freed the context (the peer closed). */
	if ((revents & EV_WRITE) && cl.io_ac == ac)
		redisAsyncHandleWrite(ac);
}

static void
ev_add(int ev)
{
	io_set(&cl.io, cl.io.events | ev);
}

static void
ev_del(int ev)
{
	io_set(&cl.io, cl.io.events & ~ev);
}

static void ev_add_read(void *p) { ev_add(EV_READ); }
static void ev_del_read(void *p) { ev_del(EV_READ); }
static void ev_add_write(void *p) { ev_add(EV_WRITE); }
static void ev_del_write(void *p) { ev_del(EV_WRITE); }

static void
ev_cleanup(void *p)
{
	if (cl.io_ac == p) {
		io_del(&cl.io);
		cl.io_ac = NULL;
	}
}

/* Up or not, logged once per change. */

static void
set_up(int up, const char *why)
{
	if (up == cl.up && cl.said)
		return;
	cl.said = 1;
	cl.up = up;
	if (up) {
		log_info("cluster: Redis %s:%d answers: shared limits, %d "
		    "live node%s", cl.ip, cl.port, cl.live,
		    cl.live == 1 ? "" : "s");
		supp_stream_start();
		config_stream_start();
		pub_flush();
		cquota_reconcile();
	} else
		log_warnx("cluster: degraded: Redis %s:%d %s; each node "
		    "uses 1/%d of every shared limit until it is back",
		    cl.ip, cl.port, why, cluster_live());
}

/* The connection is gone (or never came): degraded, and again later. */
static void
lost(const char *why)
{
	cl.ac = NULL;
	cl.hb_sent = 0;
	supp_stream_stop();
	config_stream_stop();
	set_up(0, why);
	timer_add(&cl.retry, cl.backoff);
	cl.backoff = cl.backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
	    cl.backoff * 2;
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
	if (status != REDIS_OK) {
		/* hiredis frees ac after this returns. */
		lost(ac->errstr[0] ? ac->errstr : "refused the connection");
		return;
	}
	heartbeat();
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	if (cl.ac == ac)
		lost(cl.dropping ? cl.dropping : status == REDIS_OK ?
		    "closed the connection" : ac->errstr);
}

static void
retry_cb(struct ev_timer *t)
{
	cl_connect();
}

static void
cl_connect(void)
{
	redisAsyncContext *ac;

	if ((ac = redisAsyncConnect(cl.ip, cl.port)) == NULL)
		fatal("redisAsyncConnect: out of memory");
	if (ac->err) {
		char why[128];

		snprintf(why, sizeof(why), "%s", ac->errstr);
		redisAsyncFree(ac);
		lost(why);
		return;
	}
	cl.ac = cl.io_ac = ac;
	io_init(&cl.io, ac->c.fd, ev_cb, NULL);
	ac->ev.data = ac;
	ac->ev.addRead = ev_add_read;
	ac->ev.delRead = ev_del_read;
	ac->ev.addWrite = ev_add_write;
	ac->ev.delWrite = ev_del_write;
	ac->ev.cleanup = ev_cleanup;
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	/* First on the wire, before anything on_connect sends. */
	if (cl.password)
		redisAsyncCommand(ac, NULL, NULL, "AUTH %s", cl.password);
}

/* Drop a connection that stopped answering. */
void
cl_drop(const char *why)
{
	redisAsyncContext *ac = cl.ac;

	if (ac == NULL)
		return;
	cl.dropping = why;
	redisAsyncFree(ac);	/* calls on_disconnect when connected */
	if (cl.ac == ac)
		lost(why);
	cl.dropping = NULL;
}

/* Scripts: EVALSHA, and EVAL once when Redis does not know the script
 * (it restarted, or SCRIPT FLUSH). */

struct creq {
	enum cscript	 s;
	int		 argc;
	char		**argv;
	size_t		*lens;
	int		 retried;
	creq_cb		 cb;
	void		*arg;
};

static void
creq_free(struct creq *r)
{
	for (int i = 0; i < r->argc; i++)
		free(r->argv[i]);
	free(r->argv);
	free(r->lens);
	free(r);
}

static int	 creq_send(struct creq *);

static void
creq_reply(redisAsyncContext *ac, void *rv, void *priv)
{
	struct creq *r = priv;
	redisReply *rep = rv;

	if (rep && rep->type == REDIS_REPLY_ERROR && !r->retried &&
	    strncmp(rep->str, "NOSCRIPT", 8) == 0) {
		r->retried = 1;
		free(r->argv[0]);
		free(r->argv[1]);
		r->argv[0] = xstrdup("EVAL");
		r->argv[1] = xstrdup(cshare_script(r->s));
		r->lens[0] = 4;
		r->lens[1] = strlen(r->argv[1]);
		if (creq_send(r) == 0)
			return;
		rep = NULL;
	}
	if (rep && rep->type == REDIS_REPLY_ERROR)
		log_warnx("cluster: Redis: %s", rep->str);
	if (r->cb)
		r->cb(rep, r->arg);
	creq_free(r);
}

static int
creq_send(struct creq *r)
{
	if (cl.ac == NULL || cl.dropping)
		return -1;
	return redisAsyncCommandArgv(cl.ac, creq_reply, r, r->argc,
	    (const char **)r->argv, r->lens) == REDIS_OK ? 0 : -1;
}

/* Run script s with nkeys keys then the other arguments (strings);
 * cb(reply, arg) always once, perhaps at once; the reply is NULL when
 * the connection is gone, and may be an error. */
void
cl_eval(enum cscript s, creq_cb cb, void *arg, int nkeys, int nargs, ...)
{
	struct creq *r = xcalloc(1, sizeof(*r));
	char n[16];
	va_list ap;

	r->s = s;
	r->cb = cb;
	r->arg = arg;
	r->argc = 3 + nargs;
	r->argv = xcalloc((size_t)r->argc, sizeof(*r->argv));
	r->lens = xcalloc((size_t)r->argc, sizeof(*r->lens));
	r->argv[0] = xstrdup("EVALSHA");
	r->argv[1] = xstrdup(cshare_script_sha(s));
	snprintf(n, sizeof(n), "%d", nkeys);
	r->argv[2] = xstrdup(n);
	va_start(ap, nargs);
	for (int i = 0; i < nargs; i++)
		r->argv[3 + i] = xstrdup(va_arg(ap, const char *));
	va_end(ap);
	for (int i = 0; i < r->argc; i++)
		r->lens[i] = strlen(r->argv[i]);
	if (creq_send(r) == -1) {
		if (cb)
			cb(NULL, arg);
		creq_free(r);
	}
}

int
cl_is_str(const redisReply *r)
{
	return r && (r->type == REDIS_REPLY_STRING ||
	    r->type == REDIS_REPLY_STATUS);
}

const redisReply *
cl_field(const redisReply *f, const char *name)
{
	for (size_t i = 0; i + 1 < f->elements; i += 2)
		if (cl_is_str(f->element[i]) && cl_is_str(f->element[i + 1]) &&
		    strcmp(f->element[i]->str, name) == 0)
			return f->element[i + 1];
	return NULL;
}

redisReply **
cl_stream_entries(const redisReply *rep, size_t *n, const char *what)
{
	const redisReply *s;

	*n = 0;
	/* nil: nothing new; else [[stream, [entry, ...]]]. */
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 &&
	    (s = rep->element[0])->type == REDIS_REPLY_ARRAY &&
	    s->elements == 2 && s->element[1]->type == REDIS_REPLY_ARRAY) {
		*n = s->element[1]->elements;
		return s->element[1]->element;
	}
	if (rep->type != REDIS_REPLY_NIL)
		log_warnx("cluster: %s stream: unexpected reply", what);
	return NULL;
}

/* A plain command; cb as for cl_eval (cb NULL: none). */
void
cl_command(creq_cb cb, void *arg, int argc, const char **argv)
{
	struct creq *r = xcalloc(1, sizeof(*r));

	r->s = CS_COUNT;
	r->retried = 1;
	r->cb = cb;
	r->arg = arg;
	r->argc = argc;
	r->argv = xcalloc((size_t)argc, sizeof(*r->argv));
	r->lens = xcalloc((size_t)argc, sizeof(*r->lens));
	for (int i = 0; i < argc; i++) {
		r->argv[i] = xstrdup(argv[i]);
		r->lens[i] = strlen(argv[i]);
	}
	if (creq_send(r) == -1) {
		if (cb)
			cb(NULL, arg);
		creq_free(r);
	}
}

/* Heartbeat: this node is alive; how many are.  Its answer is what
 * makes the cluster up. */

/* A heartbeat names this gwd (CK_NODE_GWD) and hears the one before of
 * this name: another, after this one's first (which hears the gwd
 * before a restart), is a second node of one cluster.node. */
static char	 hb_gwd[128];
static int	 hb_done;	/* heartbeats of this gwd answered */
static int64_t	 twin_said;

static void
heartbeat_twin(const redisReply *prev)
{
	if (hb_done++ == 0 || !cl_is_str(prev) || prev->len == 0 ||
	    strcmp(prev->str, hb_gwd) == 0 || (twin_said &&
	    loop_now() - twin_said < TWIN_SAY_MS))
		return;
	twin_said = loop_now();
	log_warnx("cluster: another gwd heartbeats as node \"%s\" too (this "
	    "one is %s): each node needs its own cluster.node", cl.node,
	    hb_gwd);
}

static void
heartbeat_done(redisReply *rep, void *arg)
{
	const redisReply *n;

	cl.hb_sent = 0;
	if (rep == NULL)
		return;		/* the connection is going: lost() */
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
	    (n = rep->element[0])->type != REDIS_REPLY_INTEGER) {
		cl_drop(rep->type == REDIS_REPLY_ERROR ? rep->str :
		    "answered the heartbeat wrongly");
		return;
	}
	cl.live = n->integer > 0 && n->integer < 100000 ? (int)n->integer : 1;
	heartbeat_twin(rep->element[1]);
	cl.backoff = BACKOFF_MIN_MS;
	set_up(1, NULL);
}

static void
heartbeat(void)
{
	char ttl[32];

	if (cl.ac == NULL || cl.hb_sent)
		return;
	if (hb_gwd[0] == '\0') {
		char host[64] = "?";

		gethostname(host, sizeof(host) - 1);
		snprintf(hb_gwd, sizeof(hb_gwd), "%s pid %ld (%lld)", host,
		    (long)getpid(), (long long)loop_now());
	}
	cl.hb_sent = loop_now();
	snprintf(ttl, sizeof(ttl), "%d", CSHARE_NODE_TTL_MS);
	cl_eval(CS_HEARTBEAT, heartbeat_done, NULL, 2, 5, CK_NODES,
	    CK_NODE_GWD, cl.node, ttl, hb_gwd);
}

static void
stats_done(redisReply *rep, void *arg)
{
}

/*
 * This node's stats (the control socket's `stats` lines) for gwtop
 * --cluster, kept as long as a heartbeat: a node gone leaves no stale
 * row for long.
 */
static void
stats_publish(void)
{
	char key[sizeof(CK_STATS) + sizeof(cl.node)], ttl[16];
	const char *argv[] = { "SET", key, NULL, "PX", ttl };
	struct buf b;

	buf_init(&b, 1 << 20);
	cl.stats(&b);
	argv[2] = buf_cstr(&b);
	snprintf(key, sizeof(key), "%s%s", CK_STATS, cl.node);
	snprintf(ttl, sizeof(ttl), "%d", CSHARE_NODE_TTL_MS);
	cl_command(stats_done, NULL, nitems(argv), argv);
	buf_free(&b);
}

static void
tick_cb(struct ev_timer *t)
{
	timer_add(&cl.tick, TICK_MS);
	if (cl.ac == NULL)
		return;
	if (cl.hb_sent && loop_now() - cl.hb_sent > HB_DEADLINE_MS) {
		cl_drop("stopped answering");
		return;
	}
	heartbeat();
	cquota_tick();
	if (cl.up) {
		stats_publish();
		shared_tick();
		lease_tick();
	}
}

void
cluster_start(void (*supp)(int, const char *, const char *, const char *,
    int64_t), void (*stats)(struct buf *))
{
	if (!cl.enabled)
		return;
	cl.supp = supp;
	cl.stats = stats;
	hmap_init(&cl.rates);
	cl.backoff = BACKOFF_MIN_MS;
	timer_init(&cl.retry, retry_cb, NULL);
	timer_init(&cl.tick, tick_cb, NULL);
	supp_stream_init();
	config_stream_init();
	timer_add(&cl.tick, TICK_MS);
	cl_connect();
}
