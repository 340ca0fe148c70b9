/*
 * metrics_report.c - one snapshot of every figure (the counters of
 * metrics.h, the queue's, the store's, the log's, the logins'), written
 * two ways: "name value" lines for the control socket's `stats`
 * (gwtop, scripts) and Prometheus text for /metrics (metrics_http.c),
 * with the labelled families (rejections, deliveries by class,
 * subaccounts, histograms) and the process_* figures of /proc/self.
 * Exposure: none; the figures are gwd's own, pool names come from gw.db
 * (checked by gwctl); subaccount names, also from gw.db but written
 * there by other programs too, are escaped as label values.
 * Diagnostics: dies only when memory runs out.
 */
#include <sys/resource.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert.h"
#include "auth.h"
#include "buf.h"
#include "cluster.h"
#include "metrics.h"
#include "metrics_report.h"
#include "pause.h"
#include "queue.h"
#include "retention.h"
#include "session.h"
#include "smarthost.h"
#include "store.h"
#include "sts.h"
#include "util.h"
#include "webhook.h"
#include "window.h"

/* One snapshot of everything, as (name, help, type, value) rows. */
struct stat_row {
	const char	*name;		/* gwtop's key / Prometheus suffix */
	const char	*prom;		/* Prometheus name and labels, or
					 * NULL: `stats` only */
	const char	*type;		/* counter, gauge */
	const char	*help;
	double		 value;
};

static void
count_paused(const struct subaccount *sa, void *arg)
{
	if (pause_reason(sa->name) != NULL)
		(*(int *)arg)++;
}

static int
subaccounts_paused(void)
{
	int n = 0;

	accounts_foreach(count_paused, &n);
	return n;
}

/* gw_feedback_reports_total by result: stats name, series. */
static const char *const fb_rows[][2] = {
	{ "feedback_matched_total",
	    "gw_feedback_reports_total{result=\"matched\"}" },
	{ "feedback_nothing_total",
	    "gw_feedback_reports_total{result=\"nothing\"}" },
	{ "feedback_unmatched_total",
	    "gw_feedback_reports_total{result=\"unmatched\"}" },
	{ "feedback_forged_total",
	    "gw_feedback_reports_total{result=\"forged\"}" },
	{ "feedback_unreadable_total",
	    "gw_feedback_reports_total{result=\"unreadable\"}" },
};
_Static_assert(sizeof(fb_rows) / sizeof(fb_rows[0]) ==
    sizeof(gm.feedback_reports_total) / sizeof(gm.feedback_reports_total[0]),
    "a row per feedback verdict");

/* Every row, into *rows (the caller frees it): the array grows with the
 * rows, so none is ever left out.  How many. */
static int
snapshot(struct stat_row **rows)
{
	struct queue_stats q;
	struct stat_row *r = NULL;
	int64_t now = now_us(), pruned, oldest;
	int n = 0, sts_domains, sts_policies;

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
	ROW("proxy_refused_untrusted_total",
	    "gw_proxy_refused_total{reason=\"untrusted\"}", "counter",
	    "Connections to a proxy_protocol listener closed for their "
	    "PROXY header: from outside trusted_proxies, malformed, or "
	    "missing (closed or silent before a whole header).",
	    gm.proxy_refused[GM_PROXY_UNTRUSTED]);
	ROW("proxy_refused_malformed_total",
	    "gw_proxy_refused_total{reason=\"malformed\"}", NULL, NULL,
	    gm.proxy_refused[GM_PROXY_MALFORMED]);
	ROW("proxy_refused_missing_total",
	    "gw_proxy_refused_total{reason=\"missing\"}", NULL, NULL,
	    gm.proxy_refused[GM_PROXY_MISSING]);
	/* By result here; by result and class in /metrics
	 * (write_deliveries). */
	ROW("delivered_total", NULL, NULL, NULL,
	    metrics_result_total(GM_DELIVERED));
	ROW("deferred_total", NULL, NULL, NULL,
	    metrics_result_total(GM_DEFERRED));
	ROW("bounced_total", NULL, NULL, NULL,
	    metrics_result_total(GM_BOUNCED));
	ROW("expired_total", NULL, NULL, NULL,
	    metrics_result_total(GM_EXPIRED));
	ROW("dsn_total", "gw_dsn_total", "counter",
	    "Delivery status notifications generated.", gm.dsn_total);
	ROW("complaints_total", "gw_complaints_total", "counter",
	    "Abuse reports (ARF) matched to a recipient gw delivered to.",
	    gm.complaints_total);
	ROW("async_bounces_total", "gw_async_bounces_total", "counter",
	    "Bounces after delivery (DSNs to a VERP return path) matched to a "
	    "recipient.", gm.async_bounces_total);
	/* In the order of fbl.c's verdicts; the first row has the help. */
	for (size_t i = 0; i < nitems(fb_rows); i++)
		ROW(fb_rows[i][0], fb_rows[i][1], i ? NULL : "counter",
		    i ? NULL : "Reports to the feedback listener by what came "
		    "of them.", gm.feedback_reports_total[i]);
	ROW("dkim_signed_total", "gw_dkim_messages_total{result=\"signed\"}",
	    "counter", "Messages by DKIM outcome.", gm.dkim_signed_total);
	ROW("dkim_unsigned_total",
	    "gw_dkim_messages_total{result=\"unsigned\"}", NULL, NULL,
	    gm.dkim_unsigned_total);
	ROW("sts_txt_queries_total",
	    "gw_mta_sts_txt_lookups_total{source=\"dns\"}", "counter",
	    "MTA-STS TXT record lookups by where the answer came from: a DNS "
	    "query, or the cache (for the record's TTL).",
	    gm.sts_txt_queries_total);
	ROW("sts_txt_cache_hits_total",
	    "gw_mta_sts_txt_lookups_total{source=\"cache\"}", NULL, NULL,
	    gm.sts_txt_cache_hits_total);
	ROW("sts_fetches_total", "gw_mta_sts_fetches_total", "counter",
	    "MTA-STS policy fetches started (HTTPS).", gm.sts_fetches_total);
	ROW("sts_fetch_failures_total", "gw_mta_sts_fetch_failures_total",
	    "counter", "MTA-STS policy fetches that brought no valid policy.",
	    gm.sts_fetch_failures_total);
	ROW("sts_fetch_backoff_total", "gw_mta_sts_fetch_backoff_total",
	    "counter", "MTA-STS lookups not fetched because the last fetch of "
	    "that policy id failed recently.", gm.sts_fetch_backoff_total);
	sts_cache_counts(&sts_domains, &sts_policies);
	ROW("sts_cache_domains", "gw_mta_sts_cache_domains", "gauge",
	    "Domains in the MTA-STS cache (mta_sts.cache_size each with and "
	    "without a policy).", sts_domains);
	ROW("sts_cache_policies", "gw_mta_sts_cache_policies", "gauge",
	    "Domains in the MTA-STS cache with a policy.",
	    sts_policies);
	ROW("queue_messages", "gw_queue_messages", "gauge",
	    "Messages in the queue.", q.messages);
	/* The states below add up to it: a series of its own in /metrics
	 * would make sum() count every recipient twice. */
	ROW("queue_recipients", NULL, NULL, NULL, q.recipients);
	ROW("queue_active", "gw_queue_recipients{state=\"active\"}", "gauge",
	    "Recipients in the queue by state.", q.active);
	ROW("queue_deferred", "gw_queue_recipients{state=\"deferred\"}", NULL,
	    NULL, q.deferred);
	ROW("queue_held", "gw_queue_recipients{state=\"held\"}", NULL, NULL,
	    q.held);
	ROW("queue_ready", "gw_queue_recipients{state=\"ready\"}", NULL, NULL,
	    q.recipients - q.active - q.deferred - q.held);
	ROW("queue_held_messages", "gw_queue_held", "gauge",
	    "Messages on hold (gwctl queue hold).", q.held_messages);
	ROW("queue_quarantined_messages", "gw_queue_quarantined", "gauge",
	    "Held messages a content policy quarantined.",
	    q.quarantined_messages);
	ROW("queue_oldest_age_seconds", "gw_queue_oldest_age_seconds",
	    "gauge", "Age of the oldest queued message.",
	    q.oldest_us ? (now - q.oldest_us) / 1000000 : 0);
	ROW("queue_loading", "gw_queue_loading_messages", "gauge",
	    "Messages still to be read from queue.db after a start (not in "
	    "the other queue figures yet).", q.loading);
	ROW("destinations", "gw_destinations", "gauge",
	    "Delivery destinations known now.", q.destinations);
	ROW("subaccounts_paused", "gw_subaccounts_paused", "gauge",
	    "Subaccounts paused for their bounce rate (MAIL gets 451).",
	    subaccounts_paused());
	ROW("cluster_degraded", "gw_cluster_degraded", "gauge",
	    "1 while the cluster's Redis does not answer (each limit cut to "
	    "this node's share).", cluster_enabled() && !cluster_up());
	ROW("cluster_nodes", "gw_cluster_nodes", "gauge",
	    "Live nodes at the last heartbeat (0: no cluster).",
	    cluster_enabled() ? cluster_live() : 0);
	retention_stats(&pruned, &oldest);
	ROW("log_pruned_total", "gw_log_pruned_total", "counter",
	    "Events pruned from log.db (log.retention_days).", pruned);
	ROW("log_oldest_age_seconds", "gw_log_oldest_event_age_seconds",
	    "gauge", "Age of the oldest event in log.db.",
	    oldest ? (now - oldest) / 1000000 : 0);
	ROW("store_blocked", "gw_store_blocked", "gauge",
	    "1 while queue.db refuses commits: changes wait, no delivery "
	    "starts.", store_blocked());
	ROW("store_backlog", "gw_store_backlog", "gauge",
	    "Changes handed to the store thread and not recorded yet.",
	    store_backlog());
	ROW("store_behind", "gw_store_behind", "gauge",
	    "1 while the store backlog is above queue.store_backlog: no "
	    "delivery starts until it is down to half.", store_behind());
	ROW("store_behind_total", "gw_store_behind_total", "counter",
	    "Times deliveries waited for the store backlog.",
	    store_behind_count());
	ROW("store_batch_ops_max", "gw_store_batch_ops_max", "gauge",
	    "The most changes one queue.db transaction took since the "
	    "start (1000 new ones at most, and those waiting to be tried "
	    "again).", store_batch_most());
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
	alert_stats(out);
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
family(struct buf *out, const char *name, const char *type,
    const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

/* Every result with each class it can have: delivered none, the
 * others every class of a failure (expired: its last reply's). */
static void
write_deliveries(struct buf *out)
{
	static const char *const result[GM_NRESULTS] = { "delivered",
	    "deferred", "bounced", "expired" };

	family(out, "gw_deliveries_total", "counter", "Recipient delivery "
	    "attempts by result and bounce class of the reply.");
	for (int r = 0; r < GM_NRESULTS; r++)
		for (int c = 0; c < BC_COUNT; c++) {
			if ((r == GM_DELIVERED) != (c == BC_NONE) ||
			    c == BC_EXPIRED)
				continue;
			buf_printf(out, "gw_deliveries_total{result=\"%s\","
			    "class=\"%s\"} %llu\n", result[r], c == BC_NONE ?
			    "none" : bounce_class_name(c),
			    (unsigned long long)gm.deliveries[r][c]);
		}
}

/* The stage and reason labels of each refusal of metrics.h. */
static const char *const rejections[REJ_COUNT][2] = {
	[REJ_MAIL_TLS] = { "mail", "tls_required" },
	[REJ_MAIL_AUTH] = { "mail", "auth" },
	[REJ_MAIL_DISABLED] = { "mail", "disabled" },
	[REJ_MAIL_SIZE] = { "mail", "size" },
	[REJ_MAIL_STORAGE] = { "mail", "storage" },
	[REJ_MAIL_SENDER] = { "mail", "sender_domain" },
	[REJ_MAIL_PAUSED] = { "mail", "paused" },
	[REJ_MAIL_QUOTA] = { "mail", "quota" },
	[REJ_RCPT_LITERAL] = { "rcpt", "address_literal" },
	[REJ_RCPT_SUPPRESSION] = { "rcpt", "suppression" },
	[REJ_RCPT_LIMIT] = { "rcpt", "recipient_limit" },
	[REJ_RCPT_POLICY] = { "rcpt", "policy" },
	[REJ_DATA_MEMORY] = { "data", "memory" },
	[REJ_DATA_CONTENT] = { "data", "content" },
	[REJ_DATA_HEADERS] = { "data", "headers" },
	[REJ_DATA_QUOTA] = { "data", "quota" },
	[REJ_DATA_POLICY] = { "data", "policy" },
	[REJ_DATA_CONTENT_POLICY] = { "data", "content_policy" },
	[REJ_DATA_STORAGE] = { "data", "storage" },
	[REJ_DATA_DKIM] = { "data", "dkim" },
};

static void
write_rejections(struct buf *out)
{
	family(out, "gw_rejections_total", "counter", "Refusals of MAIL, "
	    "RCPT and DATA by stage and reason.");
	for (int i = 0; i < REJ_COUNT; i++)
		buf_printf(out, "gw_rejections_total{stage=\"%s\",reason="
		    "\"%s\"} %llu\n", rejections[i][0], rejections[i][1],
		    (unsigned long long)gm.rejections[i]);
}

/* A label value as the text format wants it: \\, \" and \n escaped. */
static void
label_value(struct buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			buf_printf(out, "\\%c", *s);
		else if (*s == '\n')
			buf_puts(out, "\\n");
		else
			buf_printf(out, "%c", *s);
	}
}

static void
write_sub(const char *name, const uint64_t *counts, void *arg)
{
	static const char *const counter[GM_SUB_NCOUNTERS] = { "accepted",
	    "delivered", "bounced", "complained" };
	struct buf *out = arg;

	for (int i = 0; i < GM_SUB_NCOUNTERS; i++) {
		buf_puts(out, "gw_subaccount_messages_total{subaccount=\"");
		label_value(out, name);
		buf_printf(out, "\",outcome=\"%s\"} %llu\n", counter[i],
		    (unsigned long long)counts[i]);
	}
}

/* The complaint rate the pause watches (pause.h): complaints per final
 * outcome in the last 24 hours, a fraction; none without outcomes. */
static void
write_sub_complaints(const char *name, const uint64_t *counts, void *arg)
{
	int64_t now = now_us(), fin = window_sum(name, WIN_FINAL, now, WIN_DAY);
	struct buf *out = arg;

	(void)counts;
	if (fin == 0)
		return;
	buf_puts(out, "gw_subaccount_complaint_ratio{subaccount=\"");
	label_value(out, name);
	buf_printf(out, "\"} %g\n", (double)window_sum(name, WIN_COMPLAINED,
	    now, WIN_DAY) / (double)fin);
}

/* Each subaccount that sent since start. */
static void
write_subaccounts(struct buf *out)
{
	family(out, "gw_subaccount_messages_total", "counter", "Per "
	    "subaccount: messages accepted, recipients delivered, bounced "
	    "(expired and async bounces included) and complained of; its own "
	    "mail, not gwd's DSNs.");
	metrics_sub_foreach(write_sub, out);
	family(out, "gw_subaccount_complaint_ratio", "gauge", "Per "
	    "subaccount: complaints per recipient delivered, bounced or "
	    "expired in the last 24 hours, as limits.complaint_pause_percent "
	    "weighs them (0.001 is 0.1%).");
	metrics_sub_foreach(write_sub_complaints, out);
}

static void
write_histogram(struct buf *out, const char *name, const char *help,
    enum gm_hist_id id)
{
	struct gm_hist *h = &gm.hist[id];
	const double *bounds;
	int n = metrics_hist_bounds(id, &bounds);
	uint64_t cum = 0;

	family(out, name, "histogram", help);
	for (int i = 0; i <= n; i++) {
		cum += atomic_load_explicit(&h->counts[i],
		    memory_order_relaxed);
		if (i < n)
			buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", name,
			    bounds[i], (unsigned long long)cum);
		else
			buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n", name,
			    (unsigned long long)cum);
	}
	/* The count is the buckets' total, so it always equals +Inf's. */
	buf_printf(out, "%s_sum %.6f\n%s_count %llu\n", name,
	    (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) /
	    1e6, name, (unsigned long long)cum);
}

/* The process_* figures every Prometheus client library exports, from
 * /proc/self (readable by gwd after it dropped privileges: Linux lets a
 * process read its own fd directory even when not dumpable). */
static void
write_process(struct buf *out)
{
	char line[1024], *p;
	unsigned long long utime = 0, stime = 0, vsize = 0, rss = 0;
	long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	struct rlimit rl;
	struct dirent *de;
	FILE *f;
	DIR *d;
	int fds = 0;

	if ((f = fopen("/proc/self/stat", "r")) != NULL) {
		/* After the command name, which may hold spaces: fields 3
		 * (state) on; utime and stime are 14 and 15, vsize and rss
		 * 23 and 24. */
		if (fgets(line, sizeof(line), f) != NULL &&
		    (p = strrchr(line, ')')) != NULL &&
		    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
		    "%*u %llu %llu %*d %*d %*d %*d %*d %*d %*u %llu %llu",
		    &utime, &stime, &vsize, &rss) != 4)
			utime = stime = vsize = rss = 0;
		fclose(f);
	}
	if ((d = opendir("/proc/self/fd")) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				fds++;
		closedir(d);
		fds--;			/* opendir's own */
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		rl.rlim_cur = 0;
	family(out, "process_cpu_seconds_total", "counter", "User and "
	    "system CPU time spent, in seconds.");
	buf_printf(out, "process_cpu_seconds_total %.2f\n", tck > 0 ?
	    (double)(utime + stime) / (double)tck : 0.0);
	family(out, "process_resident_memory_bytes", "gauge", "Resident "
	    "memory size in bytes.");
	buf_printf(out, "process_resident_memory_bytes %llu\n",
	    rss * (unsigned long long)(page > 0 ? page : 4096));
	family(out, "process_virtual_memory_bytes", "gauge", "Virtual "
	    "memory size in bytes.");
	buf_printf(out, "process_virtual_memory_bytes %llu\n", vsize);
	family(out, "process_open_fds", "gauge", "Open file descriptors.");
	buf_printf(out, "process_open_fds %d\n", fds);
	family(out, "process_max_fds", "gauge", "The limit of open file "
	    "descriptors (RLIMIT_NOFILE).");
	buf_printf(out, "process_max_fds %llu\n",
	    (unsigned long long)rl.rlim_cur);
	family(out, "process_start_time_seconds", "gauge", "Start time of "
	    "gwd since the epoch, in seconds.");
	buf_printf(out, "process_start_time_seconds %.3f\n",
	    (double)gm.started_us / 1e6);
}

void
metrics_report_prometheus(struct buf *out)
{
	struct stat_row *r;
	int n = snapshot(&r);

	for (int i = 0; i < n; i++) {
		if (r[i].prom == NULL)
			continue;
		if (r[i].type) {
			size_t base = strcspn(r[i].prom, "{");

			buf_printf(out, "# HELP %.*s %s\n# TYPE %.*s %s\n",
			    (int)base, r[i].prom, r[i].help, (int)base,
			    r[i].prom, r[i].type);
		}
		buf_printf(out, "%s %.0f\n", r[i].prom, r[i].value);
	}
	free(r);
	write_deliveries(out);
	write_rejections(out);
	write_subaccounts(out);
	write_histogram(out, "gw_delivery_latency_seconds", "Seconds from "
	    "a message's acceptance to the delivery of a recipient.",
	    GM_HIST_DELIVERY);
	write_histogram(out, "gw_store_commit_seconds", "Seconds per queue.db "
	    "group commit, its fsync included.", GM_HIST_COMMIT);
	buf_printf(out, "# HELP gw_build_info The running gwd's version.\n"
	    "# TYPE gw_build_info gauge\ngw_build_info{version=\"%s\"} 1\n",
	    GW_VERSION);
	write_process(out);
	write_prometheus_pools(out);
	alert_prometheus(out);
	smarthost_prometheus(out);
	webhook_prometheus(out);
}
