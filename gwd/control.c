/*
 * control.c - the control socket and the metrics listener.
 *
 * The control socket (control_socket, mode 0660) takes one command line
 * (after an optional protocol version word, ctlproto.h; the commands are
 * the table ctl_cmds) and answers with "key value" lines, then closes:
 * `stats` for counters and queue gauges, `ping`, `destinations [N]`
 * (qshape by domain, with each destination's throttle state), `pools`
 * (IP pools: addresses, connections, outcomes), `subaccounts` (one line
 * each: "sub NAME enabled=0|1 quota_hour=N used_hour=N quota_day=N
 * used_day=N paused=0|1 [reason=TEXT]"; quota 0: none), `suppression
 * delete`, `subaccount resume` (gwctl).  Peers are checked with
 * SO_PEERCRED: root, gwd's own user or its group.  The metrics listener
 * speaks just enough HTTP/1.0 for Prometheus and health checks: GET
 * /metrics, GET /health; it has no authentication, so it holds at most
 * metrics.connections clients, each for at most metrics.idle_timeout,
 * and neither listener takes descriptors SMTP needs (see "Descriptors"
 * below).
 *
 * Queue commands (control_queue.c; gwctl queue).  ID is a queue id, 16
 * upper-case hex digits; ALL (upper case only) is every message; at most
 * 100 IDs a request:
 *
 *   queue list [--domain D] [--subaccount S]
 *   queue show ID
 *   queue flush [ID ...|ALL|--domain D]	(nothing named: ALL)
 *   queue hold|release|delete|bounce ID ...|ALL
 *
 * A request gwd cannot parse gets one line, "error REASON".  Otherwise
 * the reply ends with the line "end"; a reply without it was cut short.
 * list and show: for each message, oldest first,
 *
 *   message QID          then: arrival UNIX-SECONDS, size BYTES,
 *                        sender ADDR ("<>": null sender), subaccount S,
 *                        message_id ID (if any), state held|active|
 *                        ready|deferred, header LINE ... (show only)
 *   recipient ADDR       per pending recipient (of D with --domain):
 *                        rcpt_state held|active|ready|deferred,
 *                        attempts N, next_attempt UNIX-SECONDS,
 *                        last_reply TEXT (if any)
 *
 * and "unknown QID" for a show of an id not queued.  Actions answer one
 * line per message: "flushed|held|released|deleted|bounced QID [NOTE]"
 * once the change and its audit event are committed to queue.db and
 * log.db (NOTE: recipients in delivery finish their attempt; no DSN);
 * "unchanged QID WHY" (already held, not held, held so not flushed,
 * nothing waiting), "busy QID WHY" (delete or bounce while an attempt is
 * under way), "unknown QID", or "failed QID ERROR" (queue.db refused).
 * Control bytes in values are sent as '?' (TAB as it is).
 * Exposure: parses the control protocol from root or gwd's own user or
 * group (SO_PEERCRED), and HTTP request lines from anyone who reaches
 * metrics.listen (capped in number and time); both read one line of less
 * than CTL_REQ_MAX bytes and nothing after it, and answer with gwd's own
 * figures.
 * Diagnostics: dies only when memory runs out; a request it cannot take
 * is answered with one "error ..." line, and control_bind() returns -1
 * with the reason in err at start-up.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "buf.h"
#include "cidr.h"
#include "conn.h"
#include "control_queue.h"
#include "control.h"
#include "ctlproto.h"
#include "gwd.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "pause.h"
#include "queue.h"
#include "quota.h"
#include "retention.h"
#include "store.h"
#include "suppress.h"
#include "util.h"

/* A request line, control or HTTP (ctlproto.h: the clients keep to it). */
#define REQ_MAX		CTL_REQ_MAX
#define OUT_MAX		(64 * 1024)	/* an HTTP answer */

struct gw_metrics gm;

struct ctl_listener {
	int		 fd;
	int		 http;
	struct ev_io	 io;
	struct ev_timer	 resume;	/* after EMFILE: accept again */
	uint64_t	 refused;	/* since the last warning */
	int64_t		 warned;	/* loop_now() of that warning */
};

static struct ctl_listener	 ctl = { .fd = -1, .http = 0 };
static struct ctl_listener	 http = { .fd = -1, .http = 1 };
static char			*ctl_path;

/* One snapshot of everything, as (name, help, type, value) rows. */
struct stat_row {
	const char	*name;		/* gwtop's key / Prometheus suffix */
	const char	*prom;		/* Prometheus name and labels */
	const char	*type;		/* counter, gauge */
	const char	*help;
	double		 value;
};

/* Every row, into *rows (the caller frees it): the array grows with the
 * rows, so none is ever left out.  How many. */
static int
snapshot(struct stat_row **rows)
{
	struct queue_stats q;
	struct stat_row *r = NULL;
	int64_t now = now_us(), pruned, oldest;
	int n = 0;

	queue_stats(&q);
#define ROW(nm, pr, ty, he, v) do {					\
	r = xreallocarray(r, (size_t)n + 1, sizeof(*r));		\
	r[n].name = nm; r[n].prom = pr; r[n].type = ty;			\
	r[n].help = he; r[n].value = (double)(v); n++;			\
} while (0)
	ROW("uptime_seconds", "gw_uptime_seconds", "gauge",
	    "Seconds since gwd started.", (now - gm.started_us) / 1000000);
	ROW("sessions_total", "gw_smtp_sessions_total", "counter",
	    "Inbound SMTP sessions accepted.", gm.sessions_total);
	ROW("sessions", "gw_smtp_sessions", "gauge",
	    "Inbound SMTP sessions open now.", gm.sessions_current);
	ROW("connections_out", "gw_delivery_connections", "gauge",
	    "Outbound delivery connections open now.", q.connections);
	ROW("messages_received_total", "gw_messages_received_total",
	    "counter", "Messages accepted (250 after DATA).",
	    gm.messages_received_total);
	ROW("bytes_received_total", "gw_received_bytes_total", "counter",
	    "Bytes of accepted messages.", gm.bytes_received_total);
	ROW("recipients_received_total", "gw_recipients_received_total",
	    "counter", "Recipients of accepted messages.",
	    gm.recipients_received_total);
	ROW("messages_rejected_total", "gw_messages_rejected_total",
	    "counter", "Messages refused after DATA.",
	    gm.messages_rejected_total);
	ROW("auth_failures_total", "gw_auth_failures_total", "counter",
	    "Failed SMTP AUTH attempts.", gm.auth_failures_total);
	ROW("delivered_total", "gw_deliveries_total{result=\"delivered\"}",
	    "counter", "Recipient delivery attempts by result.",
	    gm.delivered_total);
	ROW("deferred_total", "gw_deliveries_total{result=\"deferred\"}",
	    NULL, NULL, gm.deferred_total);
	ROW("bounced_total", "gw_deliveries_total{result=\"bounced\"}",
	    NULL, NULL, gm.bounced_total);
	ROW("expired_total", "gw_deliveries_total{result=\"expired\"}",
	    NULL, NULL, gm.expired_total);
	ROW("dsn_total", "gw_dsn_total", "counter",
	    "Delivery status notifications generated.", gm.dsn_total);
	ROW("dkim_signed_total", "gw_dkim_messages_total{result=\"signed\"}",
	    "counter", "Messages by DKIM outcome.", gm.dkim_signed_total);
	ROW("dkim_unsigned_total",
	    "gw_dkim_messages_total{result=\"unsigned\"}", NULL, NULL,
	    gm.dkim_unsigned_total);
	ROW("queue_messages", "gw_queue_messages", "gauge",
	    "Messages in the queue.", q.messages);
	ROW("queue_recipients", "gw_queue_recipients{state=\"all\"}", "gauge",
	    "Recipients in the queue by state.", q.recipients);
	ROW("queue_active", "gw_queue_recipients{state=\"active\"}", NULL,
	    NULL, q.active);
	ROW("queue_deferred", "gw_queue_recipients{state=\"deferred\"}", NULL,
	    NULL, q.deferred);
	ROW("queue_held", "gw_queue_recipients{state=\"held\"}", NULL, NULL,
	    q.held);
	ROW("queue_ready", "gw_queue_recipients{state=\"ready\"}", NULL, NULL,
	    q.recipients - q.active - q.deferred - q.held);
	ROW("queue_held_messages", "gw_queue_held", "gauge",
	    "Messages on hold (gwctl queue hold).", q.held_messages);
	ROW("queue_oldest_age_seconds", "gw_queue_oldest_age_seconds",
	    "gauge", "Age of the oldest queued message.",
	    q.oldest_us ? (now - q.oldest_us) / 1000000 : 0);
	ROW("queue_loading", "gw_queue_loading_messages", "gauge",
	    "Messages still to be read from queue.db after a start (not in "
	    "the other queue figures yet).", q.loading);
	ROW("destinations", "gw_destinations", "gauge",
	    "Delivery destinations known now.", q.destinations);
	retention_stats(&pruned, &oldest);
	ROW("log_pruned_total", "gw_log_pruned_total", "counter",
	    "Events pruned from log.db (log.retention_days).", pruned);
	ROW("log_oldest_age_seconds", "gw_log_oldest_event_age_seconds",
	    "gauge", "Age of the oldest event in log.db.",
	    oldest ? (now - oldest) / 1000000 : 0);
	ROW("store_blocked", "gw_store_blocked", "gauge",
	    "1 while queue.db refuses commits: changes wait, no delivery "
	    "starts.", store_blocked());
	ROW("store_commit_failures_total", "gw_store_commit_failures_total",
	    "counter", "queue.db commits refused (full or failing disk).",
	    store_commit_failures());
#undef ROW
	*rows = r;
	return n;
}

static void
write_stats(struct buf *out)
{
	struct stat_row *r;
	int n = snapshot(&r);

	for (int i = 0; i < n; i++)
		buf_printf(out, "%s %.0f\n", r[i].name, r[i].value);
	free(r);
}

/* Per IP pool; pool names are letters, digits, '-' and '_' (gwctl). */
static void
write_prometheus_pools(struct buf *out)
{
	static const char *const outcome[] = { "delivered", "deferred",
	    "bounced" };
	struct queue_pool *p;
	int n = queue_pools(&p);

	if (n > 0)
		buf_puts(out, "# HELP gw_pool_connections Outbound "
		    "connections open now per IP pool.\n"
		    "# TYPE gw_pool_connections gauge\n");
	for (int i = 0; i < n; i++)
		buf_printf(out, "gw_pool_connections{pool=\"%s\"} %d\n",
		    p[i].name, p[i].connections);
	if (n > 0)
		buf_puts(out, "# HELP gw_pool_messages_total Recipients per "
		    "IP pool by outcome (expired counts as bounced).\n"
		    "# TYPE gw_pool_messages_total counter\n");
	for (int i = 0; i < n; i++) {
		int64_t v[] = { p[i].delivered, p[i].deferred, p[i].bounced };

		for (size_t k = 0; k < nitems(outcome); k++)
			buf_printf(out, "gw_pool_messages_total{pool=\"%s\","
			    "outcome=\"%s\"} %lld\n", p[i].name, outcome[k],
			    (long long)v[k]);
	}
	queue_pools_free(p, n);
}

static void
write_prometheus(struct buf *out)
{
	struct stat_row *r;
	int n = snapshot(&r);

	for (int i = 0; i < n; i++) {
		if (r[i].type) {
			size_t base = strcspn(r[i].prom, "{");

			buf_printf(out, "# HELP %.*s %s\n# TYPE %.*s %s\n",
			    (int)base, r[i].prom, r[i].help, (int)base,
			    r[i].prom, r[i].type);
		}
		buf_printf(out, "%s %.0f\n", r[i].prom, r[i].value);
	}
	free(r);
	write_prometheus_pools(out);
}

/*
 * `destinations [N]`: the N (default and at most CTL_DEST_MAX) domains
 * with the most queued recipients, one line each after a line naming the
 * age buckets in minutes (ctlproto.h).  via= is the destination the domain goes through
 * ("-": none now), with its throttle state: limit= connections at most,
 * window= allowed now, gap_ms= between messages, per_minute= (0: no
 * limit), throttled=1 while backing off.  The error is a remote reply,
 * last: control bytes become '?' so it stays one line.
 */
/* One whole line or nothing: a full buffer never cuts a line. */
static int
write_dest(struct buf *out, const struct queue_dest *d)
{
	char err[sizeof(d->error)], age[CTL_AGES * 12], line[2048];
	size_t o = 0;

	gw_strlcpy(err, d->error[0] ? d->error : "-", sizeof(err));
	for (char *p = err; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	for (int i = 0; i < CTL_AGES; i++)
		o += (size_t)snprintf(age + o, sizeof(age) - o, "%s%d",
		    i ? "," : "", d->age[i]);
	if (snprintf(line, sizeof(line), "dest %s queued=%d active=%d "
	    "waiting=%d connections=%d next_attempt=%lld age=%s via=%s "
	    "limit=%d window=%d gap_ms=%lld per_minute=%d throttled=%d "
	    "error=%s\n", d->name, d->queued, d->active, d->waiting,
	    d->connections, (long long)d->next_attempt, age,
	    d->via[0] ? d->via : "-", d->limit, d->window,
	    (long long)d->gap_ms, d->per_minute, d->throttled, err) >=
	    (int)sizeof(line))
		return -1;
	return buf_puts(out, line);
}

static void
write_stats_cmd(struct buf *out, const char *arg)
{
	write_stats(out);
}

static void
write_destinations(struct buf *out, const char *arg)
{
	struct queue_dest *d;
	char *end;
	long max = CTL_DEST_MAX;
	int n;

	if (*arg != '\0')
		max = strtol(arg, &end, 10);
	if (*arg != '\0' && (end == arg || *end != '\0' || max < 1 ||
	    max > CTL_DEST_MAX)) {
		buf_printf(out, "error count: expected 1 to %d\n",
		    CTL_DEST_MAX);
		return;
	}
	n = queue_destinations(&d);
	buf_puts(out, "buckets");
	for (int i = 0; i < CTL_AGES - 1; i++)
		buf_printf(out, " %d", ctl_age_min[i]);
	buf_printf(out, " %d+\n", ctl_age_min[CTL_AGES - 2]);
	for (int i = 0; i < n && i < max; i++)
		if (write_dest(out, &d[i]) == -1)
			break;
	free(d);
}

/* One "sub" line: quotas and their use, paused or not. */
static void
write_sub(const struct subaccount *sa, void *arg)
{
	struct buf *out = arg;
	const char *why = pause_reason(sa->name);
	int64_t hour, day;
	char clean[256];

	quota_usage(sa, now_us(), &hour, &day);
	buf_printf(out, "sub %s enabled=%d quota_hour=%lld used_hour=%lld "
	    "quota_day=%lld used_day=%lld paused=%d", sa->name, sa->enabled,
	    (long long)sa->quota_hour, (long long)hour,
	    (long long)sa->quota_day, (long long)day, why != NULL);
	if (why) {
		size_t i;

		for (i = 0; why[i] && i < sizeof(clean) - 1; i++)
			clean[i] = (unsigned char)why[i] < 0x20 ? '?' : why[i];
		clean[i] = '\0';
		buf_printf(out, " reason=%s", clean);
	}
	buf_putc(out, '\n');
}

/*
 * `pools`: each IP pool of the current policy, then its addresses:
 *
 *   pool NAME connections=N delivered=N deferred=N bounced=N
 *       addresses=N destinations=DEST,...|-
 *   address NAME IP helo=HOST connections=N
 *
 * and "end".  Counts are recipients since gwd started (expired ones
 * count as bounced); connections are those open now, per source
 * address and for the whole pool.  Destinations are those sending from
 * the pool now.  Every value is from gw.db (checked by gwctl) or gwd.
 */
static void
write_pools(struct buf *out, const char *arg)
{
	struct queue_pool *p;
	int n = queue_pools(&p);

	for (int i = 0; i < n; i++) {
		buf_printf(out, "pool %s connections=%d delivered=%lld "
		    "deferred=%lld bounced=%lld addresses=%d destinations=%s\n",
		    p[i].name, p[i].connections, (long long)p[i].delivered,
		    (long long)p[i].deferred, (long long)p[i].bounced,
		    p[i].naddr, p[i].dests[0] ? p[i].dests : "-");
		for (int a = 0; a < p[i].naddr; a++)
			buf_printf(out, "address %s %s helo=%s connections=%d\n",
			    p[i].name, p[i].addr[a].address, p[i].addr[a].helo,
			    p[i].addr[a].connections);
	}
	buf_puts(out, "end\n");
	queue_pools_free(p, n);
}

/* Why gwd is not healthy, or NULL. */
static const char *
unhealthy(void)
{
	if (gm.stopping)
		return "shutting down";
	if (!gm.ready)
		return "starting";
	/* Commits are about to fail, or fail: send mail elsewhere. */
	if (store_space_short(0) || store_blocked())
		return "storage full";
	return NULL;
}

static void
write_subs(struct buf *out, const char *arg)
{
	accounts_foreach(write_sub, out);
}

static void
write_pong(struct buf *out, const char *arg)
{
	buf_puts(out, "pong\n");
}

static void
take_queue(struct conn *c, const char *line, const char *args)
{
	control_queue(c, line);		/* ctlproto.c parses "queue ..." */
}

static void
take_suppression(struct conn *c, const char *line, const char *args)
{
	suppress_control(c, args);
}

static void
take_subaccount(struct conn *c, const char *line, const char *args)
{
	pause_control(c, args);
}

/*
 * The commands: each either writes its whole answer at once (answer),
 * or takes the connection and answers it itself, later if it must wait
 * for a commit (take).  args: whether words may follow the name.
 */
static const struct ctl_cmd {
	const char	*name;
	int		 args;
	void		(*answer)(struct buf *out, const char *args);
	void		(*take)(struct conn *, const char *line,
			    const char *args);
} ctl_cmds[] = {
	{ "stats", 0, write_stats_cmd, NULL },
	{ "destinations", 1, write_destinations, NULL },
	{ "pools", 0, write_pools, NULL },
	{ "subaccounts", 0, write_subs, NULL },
	{ "ping", 0, write_pong, NULL },
	{ "queue", 1, NULL, take_queue },
	{ "suppression", 1, NULL, take_suppression },
	{ "subaccount", 1, NULL, take_subaccount },
};

/* Send out as the whole answer, then close. */
static void
answer_buf(struct conn *c, struct buf *out)
{
	conn_write(c, buf_ptr(out), buf_len(out));
	buf_free(out);
	conn_close_after_flush(c);
}

/* "error WHAT "WORD"[ (try: the commands)]": word is the first n bytes
 * of the request, escaped. */
static void
answer_error(struct conn *c, const char *what, const char *word, size_t n,
    int list)
{
	char esc[128];
	struct buf out;

	buf_init(&out, 0);
	log_escape(word, n, esc, sizeof(esc));
	buf_printf(&out, "error %s \"%s\"", what, esc);
	for (size_t i = 0; list && i < nitems(ctl_cmds); i++)
		buf_printf(&out, "%s%s", i ? ", " : " (try: ",
		    ctl_cmds[i].name);
	buf_puts(&out, list ? ")\n" : "\n");
	answer_buf(c, &out);
}

static void
answer_control(struct conn *c, const char *line)
{
	const struct ctl_cmd *cmd = NULL;
	char err[128];
	struct buf out;
	size_t n;

	if (ctl_version(&line, err, sizeof(err)) == -1) {
		buf_init(&out, 0);
		buf_printf(&out, "error %s\n", err);
		answer_buf(c, &out);
		return;
	}
	n = strcspn(line, " ");
	for (size_t i = 0; i < nitems(ctl_cmds) && cmd == NULL; i++)
		if (strlen(ctl_cmds[i].name) == n &&
		    memcmp(line, ctl_cmds[i].name, n) == 0)
			cmd = &ctl_cmds[i];
	if (cmd == NULL)
		answer_error(c, "unknown command", line, n, 1);
	else if (line[n] != '\0' && !cmd->args)
		answer_error(c, "no arguments to", line, n, 0);
	else if (cmd->take)
		cmd->take(c, line, line[n] ? line + n + 1 : "");
	else {
		/* The reply's own limit: gwctl and gwtop read it whole. */
		buf_init(&out, CTL_REPLY_MAX);
		cmd->answer(&out, line[n] ? line + n + 1 : "");
		answer_buf(c, &out);
	}
}

static void
answer_http(struct conn *c, const char *line)
{
	struct buf body;
	const char *status = "200 OK", *why;

	buf_init(&body, OUT_MAX);
	if (strncmp(line, "GET /metrics ", 13) == 0 ||
	    strcmp(line, "GET /metrics") == 0)
		write_prometheus(&body);
	else if (strncmp(line, "GET /health ", 12) == 0 ||
	    strcmp(line, "GET /health") == 0) {
		if ((why = unhealthy()) != NULL) {
			status = "503 Service Unavailable";
			buf_printf(&body, "%s\n", why);
		} else
			buf_puts(&body, "ok\n");
	} else if (strncmp(line, "GET ", 4) == 0) {
		status = "404 Not Found";
		buf_puts(&body, "not found: try /metrics or /health\n");
	} else {
		status = "405 Method Not Allowed";
		buf_puts(&body, "only GET\n");
	}
	conn_printf(c, "HTTP/1.0 %s\r\nContent-Type: text/plain; "
	    "version=0.0.4; charset=utf-8\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n", status, buf_len(&body));
	conn_write(c, buf_ptr(&body), buf_len(&body));
	buf_free(&body);
	conn_close_after_flush(c);
}

/* The first line, once complete, without its CRLF; else NULL (and the
 * conn closed at EOF or when the line outgrows REQ_MAX). */
static char *
request_line(struct conn *c)
{
	char *p = buf_ptr(&c->in), *nl;
	size_t n = buf_len(&c->in);

	if (c->closing)
		return NULL;
	nl = n ? memchr(p, '\n', n) : NULL;
	if (nl == NULL) {
		if (c->eof || n >= REQ_MAX - 1)
			conn_close(c);
		return NULL;
	}
	*nl = '\0';
	if (nl > p && nl[-1] == '\r')
		nl[-1] = '\0';
	return p;
}

static void
on_read(struct conn *c)
{
	char *line;

	if ((line = request_line(c)) != NULL)
		answer_control(c, line);
}

static void
on_error(struct conn *c)
{
	conn_close(c);
}

/* Commands answered after a commit: the connection, held meanwhile. */
struct ctl_wait {
	struct ctl_wait	*next;
	struct conn	*c;		/* NULL: the client went away */
	void		(*done)(struct store_op *, void *, struct buf *);
	void		*arg;
};
static struct ctl_wait	*waits;

static void
ctl_committed(struct store_op *op)
{
	struct ctl_wait *w = op->arg, **pp;
	struct buf out;

	for (pp = &waits; *pp && *pp != w; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = w->next;
	buf_init(&out, OUT_MAX);
	w->done(op, w->arg, &out);
	if (w->c) {
		conn_write(w->c, buf_ptr(&out), buf_len(&out));
		conn_close_after_flush(w->c);
	}
	buf_free(&out);
	free(w);
	store_op_free(op);
}

void
control_submit(struct conn *c, struct store_op *op,
    void (*done)(struct store_op *, void *, struct buf *), void *arg)
{
	struct ctl_wait *w = xcalloc(1, sizeof(*w));

	w->c = c;
	w->done = done;
	w->arg = arg;
	w->next = waits;
	waits = w;
	/* Nothing more is read from it: one command a connection. */
	conn_pause_read(c, 1);
	op->done = ctl_committed;
	op->arg = w;
	store_submit(op);
}

static void
on_close(struct conn *c)
{
	for (struct ctl_wait *w = waits; w; w = w->next)
		if (w->c == c)
			w->c = NULL;
}

static const struct conn_ops ctl_ops = {
	.on_read = on_read,
	.on_error = on_error,
	.on_close = on_close,
};

/*
 * Descriptors.  The metrics listener has no authentication, so it must
 * never take what SMTP needs (issue 19: 291 idle connections to it used
 * up a limit of 256, and then every SMTP client was refused).  So: at
 * most metrics.connections clients at once, each closed
 * metrics.idle_timeout after it connected, whatever it did meanwhile;
 * and no metrics or control connection is kept while fewer than a
 * quarter of RLIMIT_NOFILE descriptors are free.  accept() hands out the
 * lowest free descriptor, so when it returns N, 0..N are all in use.
 */
struct http_client {
	struct conn	*c;
	struct ev_timer	 deadline;
};

static int	 nhttp;		/* metrics clients connected now */
static int	 fd_limit;	/* RLIMIT_NOFILE's soft limit */

static int
fd_reserve_reached(int fd)
{
	return fd_limit > 0 && fd >= fd_limit - fd_limit / 4;
}

/*
 * Answer (HTTP: a 503 in one small write to a fresh socket) and close.
 * What the client already sent is read first: closing with unread input
 * sends RST, and an RST can make the client drop the 503 unread.
 */
static void
refuse_conn(struct ctl_listener *l, int fd, const char *why)
{
	static const char busy[] = "HTTP/1.0 503 Service Unavailable\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 5\r\n"
	    "Connection: close\r\n\r\nbusy\n";
	char in[REQ_MAX];

	if (l->http) {
		for (int i = 0; i < 4 && recv(fd, in, sizeof(in),
		    MSG_DONTWAIT) > 0; i++)
			;
		if (write(fd, busy, sizeof(busy) - 1) == -1)
			log_debug("metrics: 503 not sent: %s",
			    strerror(errno));
	}
	close(fd);
	/* A flood must not flood the log too: a line a minute at most. */
	l->refused++;
	if (l->warned == 0 || loop_now() - l->warned >= 60000) {
		log_warnx("%s: refused %llu connection%s: %s", l->http ?
		    "metrics.listen" : "control_socket",
		    (unsigned long long)l->refused, l->refused == 1 ? "" : "s",
		    why);
		l->refused = 0;
		l->warned = loop_now();
	}
}

static void
http_deadline(struct ev_timer *t)
{
	struct http_client *h = t->arg;

	conn_close(h->c);
}

static void
http_on_read(struct conn *c)
{
	char *line;

	if ((line = request_line(c)) != NULL)
		answer_http(c, line);
}

static void
http_on_close(struct conn *c)
{
	struct http_client *h = c->arg;

	timer_del(&h->deadline);
	nhttp--;
	free(h);
}

static const struct conn_ops http_ops = {
	.on_read = http_on_read,
	.on_error = on_error,
	.on_close = http_on_close,
};

static void
http_accept(struct ctl_listener *l, int fd)
{
	struct http_client *h;

	if (nhttp >= gcfg->metrics_connections) {
		refuse_conn(l, fd, "metrics.connections reached");
		return;
	}
	h = xcalloc(1, sizeof(*h));
	if ((h->c = conn_new(fd, &http_ops, h, REQ_MAX, OUT_MAX)) == NULL) {
		close(fd);
		free(h);
		return;
	}
	nhttp++;
	timer_init(&h->deadline, http_deadline, h);
	timer_add(&h->deadline, gcfg->metrics_idle_timeout_ms);
}

/* Root, gwd's own user, or its group may use the control socket. */
static int
ctl_peer_allowed(int fd)
{
	struct ucred uc = { .uid = (uid_t)-1 };
	socklen_t ul = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) == -1 ||
	    (uc.uid != 0 && uc.uid != geteuid() && uc.gid != getegid())) {
		log_warnx("control: refused a connection from uid %d",
		    (int)uc.uid);
		return 0;
	}
	return 1;
}

/* Out of descriptors: the pending connection stays in the backlog and
 * would wake the loop at once, again and again; look again in a second. */
static void
accept_resume(struct ev_timer *t)
{
	struct ctl_listener *l = t->arg;

	if (l->fd != -1)
		io_set(&l->io, EV_READ);
}

static void
accept_cb(struct ev_io *io, int revents)
{
	struct ctl_listener *l = io->arg;
	struct conn *c;
	int fd;

	while ((fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) != -1) {
		if (fd_reserve_reached(fd)) {
			refuse_conn(l, fd, "descriptors kept for SMTP");
			continue;
		}
		if (l->http)
			http_accept(l, fd);
		else if (!ctl_peer_allowed(fd) || (c = conn_new(fd, &ctl_ops,
		    l, REQ_MAX, CTL_OUT_MAX)) == NULL)
			close(fd);
	}
	if (errno == EMFILE || errno == ENFILE) {
		io_set(&l->io, 0);
		timer_add(&l->resume, 1000);
	}
}

static int
bind_control(char *err, size_t errsz)
{
	struct sockaddr_un sun;
	char *slash;
	mode_t old;
	uid_t uid;
	gid_t gid;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (gw_strlcpy(sun.sun_path, gcfg->control_socket,
	    sizeof(sun.sun_path)) >= sizeof(sun.sun_path)) {
		snprintf(err, errsz, "control_socket: path too long: %s",
		    gcfg->control_socket);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		snprintf(err, errsz, "socket: %s", strerror(errno));
		return -1;
	}
	/* A stale socket from a crash; a live gwd would still answer. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		snprintf(err, errsz, "%s: another gwd is running",
		    gcfg->control_socket);
		close(fd);
		return -1;
	}
	unlink(sun.sun_path);
	/* A directory made here (/run/gw after a boot) is the user's: its
	 * group reaches the socket, and gwd removes it at exit. */
	owner_ids(gcfg->user, &uid, &gid);
	if ((slash = strrchr(sun.sun_path, '/')) != NULL && slash != sun.sun_path) {
		*slash = '\0';
		if (mkdir_p_owned(sun.sun_path, 0750, uid, gid) == -1)
			log_warn("mkdir %s", sun.sun_path);
		*slash = '/';
	}
	old = umask(077);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(fd, 64) == -1) {
		snprintf(err, errsz, "%s: %s", gcfg->control_socket,
		    strerror(errno));
		umask(old);
		close(fd);
		return -1;
	}
	umask(old);
	/* 0660 for gwd's user and group: gwd (after dropping root) and the
	 * admins in group gw may talk to it. */
	if (uid != (uid_t)-1 && chown(sun.sun_path, uid, gid) == -1)
		log_warn("chown %s", sun.sun_path);
	if (chmod(sun.sun_path, 0660) == -1)
		log_warn("chmod %s", sun.sun_path);
	ctl.fd = fd;
	ctl_path = xstrdup(sun.sun_path);
	return 0;
}

static int
bind_http(char *err, size_t errsz)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (gcfg->metrics_listen == NULL || gcfg->metrics_listen[0] == '\0')
		return 0;
	if (sockaddr_parse(gcfg->metrics_listen, 9465, &ss, &len) == -1) {
		snprintf(err, errsz, "%s: metrics.listen: \"%s\" is not an "
		    "address (IP:port or [IPv6]:port)", gcfg->path,
		    gcfg->metrics_listen);
		return -1;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errsz, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, 64) == -1) {
		snprintf(err, errsz, "metrics.listen %s: %s",
		    gcfg->metrics_listen, strerror(errno));
		close(fd);
		return -1;
	}
	http.fd = fd;
	log_info("metrics on http://%s/metrics", gcfg->metrics_listen);
	return 0;
}

int
control_bind(char *err, size_t errsz)
{
	gm.started_us = now_us();
	if (gcfg->control_socket && gcfg->control_socket[0] &&
	    bind_control(err, errsz) == -1)
		return -1;
	return bind_http(err, errsz);
}

void
control_start(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		fd_limit = rl.rlim_cur > INT_MAX ? INT_MAX : (int)rl.rlim_cur;
	timer_init(&ctl.resume, accept_resume, &ctl);
	timer_init(&http.resume, accept_resume, &http);
	if (ctl.fd != -1) {
		io_init(&ctl.io, ctl.fd, accept_cb, &ctl);
		io_set(&ctl.io, EV_READ);
	}
	if (http.fd != -1) {
		io_init(&http.io, http.fd, accept_cb, &http);
		io_set(&http.io, EV_READ);
	}
}

void
control_stop(void)
{
	gm.stopping = 1;
	timer_del(&ctl.resume);
	if (ctl.fd != -1) {
		io_del(&ctl.io);
		close(ctl.fd);
		ctl.fd = -1;
		unlink(ctl_path);
		free(ctl_path);
	}
}
