/*
 * metrics_report.c - one snapshot of every figure (the counters of
 * metrics.h, the queue's, the store's, the log's, the logins'), written
 * two ways: "name value" lines for the control socket's `stats`
 * (gwtop, scripts) and Prometheus text for /metrics (metrics_http.c).
 * Exposure: none; the figures are gwd's own, pool names come from gw.db
 * (checked by gwctl).
 * Diagnostics: dies only when memory runs out.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "buf.h"
#include "metrics.h"
#include "metrics_report.h"
#include "queue.h"
#include "retention.h"
#include "session.h"
#include "store.h"
#include "util.h"

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
	ROW("auth_checks_total", "gw_auth_checks_total", "counter",
	    "Passwords checked with scrypt (not from the login cache).",
	    gm.auth_checks_total);
	ROW("auth_busy_total", "gw_auth_busy_total", "counter",
	    "Logins refused with 454 4.7.0: the check queue was full.",
	    gm.auth_busy_total);
	ROW("auth_queue", "gw_auth_queue", "gauge",
	    "Password checks queued or running.", auth_queue_depth());
	ROW("auth_waiting", "gw_auth_waiting", "gauge",
	    "Logins waiting while attempts under way could reach "
	    "limits.auth_failures.", auth_waiting());
	ROW("memory_bytes", "gw_smtp_memory_bytes", "gauge",
	    "Memory held for inbound mail (limits.memory).", sessions_memory());
	ROW("memory_closed_total", "gw_smtp_memory_closed_total", "counter",
	    "Sessions closed with 421 4.3.1 at limits.memory.",
	    gm.memory_closed_total);
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

void
metrics_report_stats(struct buf *out)
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

void
metrics_report_prometheus(struct buf *out)
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
