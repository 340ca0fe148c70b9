/*
 * config.c - gwd.conf (libconfig syntax), read by every gw program.
 *
 * Options are rows: a dotted name, a kind, where the value goes, a
 * default, bounds, and whether a running gwd can take a new value on
 * SIGHUP (LIVE) or needs a restart (RESTART).  Every setting in the file
 * must match a row (or be a `listen` entry), so a typo is an error with
 * its line, never silently ignored.  All errors are reported before the
 * caller exits.
 *
 * A row is LIVE only when gwd reads the value where it uses it (through
 * gcfg, at that moment), never copies it at start-up into something that
 * lives on; a new row is RESTART until someone checks that.
 * Diagnostics: dies only when memory runs out; every error in the file
 * is printed ("file:line: reason") and counted, and config_load()
 * returns how many, so the caller can exit 78 after all of them.
 */
#include <errno.h>
#include <libconfig.h>
#include <netdb.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "cidr.h"
#include "config.h"
#include "log.h"
#include "util.h"

/* O_US: written as a duration like O_MS (bounds in ms), kept in µs. */
/* O_PERCENT: "0.1", 0.1 or 5, kept as an int in millionths (1000 = 0.1%),
 * bounds in millionths too. */
enum opt_kind { O_STR, O_PATH, O_INT, O_BOOL, O_MS, O_US, O_SIZE, O_ENUM,
    O_STRLIST, O_PERCENT };

struct opt {
	const char	*name;
	enum opt_kind	 kind;
	size_t		 off;
	const char	*dflt;		/* in config syntax; NULL = unset */
	int64_t		 min, max;	/* O_INT, O_MS, O_SIZE; O_STR: max
					   is the longest value (0: any);
					   O_PATH: min is what gwd does
					   there (config_path_use) */
	const char *const *names;	/* O_ENUM: index = value */
	size_t		 count_off;	/* O_STRLIST: where the count goes */
	int		 max_items;
	enum config_reload reload;	/* LIVE or RESTART */
};

#define OFF(f)	offsetof(struct gw_config, f)
#define LIVE	CONFIG_LIVE
#define RESTART	CONFIG_RESTART

static const char *const tls_policies[] = { "none", "opportunistic",
    "required", "verify", NULL };
static const char *const relay_modes[] = { "mx", "smarthost", NULL };
static const char *const bare_lf_modes[] = { "refuse", "normalize", NULL };
static const char *const content_fails[] = { "open", "closed", NULL };
static const char *const spam_acts[] = { "ignore", "tag", "quarantine",
    "defer", "block", NULL };
/* content.rspamd.NAME: what gwd does on rspamd's action I. */
#define SPAM_ACT(name, i, dflt) { "content.rspamd." name, O_ENUM, \
	OFF(content.rspamd.act[i]), dflt, 0, 0, spam_acts, 0, 0, LIVE }

static const struct opt opts[] = {
	{ "state_dir", O_PATH, OFF(state_dir), "/var/lib/gw", CONFIG_PATH_RW,
	    0, 0, 0, 0, RESTART },
	{ "hostname", O_STR, OFF(hostname), NULL, 0, 0, 0, 0, 0, LIVE },
	{ "dsn_from", O_STR, OFF(dsn_from), NULL, 0, 254, 0, 0, 0, LIVE },
	{ "user", O_STR, OFF(user), "", 0, 0, 0, 0, 0, RESTART },
	{ "control_socket", O_PATH, OFF(control_socket), "/run/gw/control",
	    CONFIG_PATH_SOCKET, 0, 0, 0, 0, RESTART },
	{ "syslog", O_BOOL, OFF(syslog), "false", 0, 0, 0, 0, 0, RESTART },
	{ "sandbox", O_BOOL, OFF(sandbox), "true", 0, 0, 0, 0, 0, RESTART },
	{ "syslog_enterprise_number", O_INT, OFF(syslog_pen), "32473", 1,
	    INT32_MAX, 0, 0, 0, LIVE },
	{ "shutdown_timeout", O_MS, OFF(shutdown_timeout_ms), "20s", 0,
	    3600000, 0, 0, 0, LIVE },
	{ "metrics.listen", O_STR, OFF(metrics_listen), NULL, 0, 0, 0, 0,
	    0, RESTART },
	{ "metrics.min_free", O_SIZE, OFF(metrics_min_free), "64M", 0,
	    INT64_MAX, 0, 0, 0, LIVE },
	{ "metrics.connections", O_INT, OFF(metrics_connections), "16", 1,
	    10000, 0, 0, 0, LIVE },
	{ "metrics.idle_timeout", O_MS, OFF(metrics_idle_timeout_ms), "10s",
	    100, 3600000, 0, 0, 0, LIVE },
	{ "http.listen", O_STR, OFF(http_listen), NULL, 0, 0, 0, 0, 0,
	    RESTART },
	{ "http.public_host", O_STR, OFF(http_public_host), NULL, 0, 260, 0,
	    0, 0, LIVE },
	{ "http.connections", O_INT, OFF(http_connections), "256", 1, 100000,
	    0, 0, 0, LIVE },
	{ "http.idle_timeout", O_MS, OFF(http_idle_timeout_ms), "30s", 100,
	    3600000, 0, 0, 0, LIVE },
	{ "http.api_max_size", O_SIZE, OFF(http_api_max_size), "0", 0,
	    INT64_MAX, 0, 0, 0, LIVE },
	{ "http.api_rate", O_INT, OFF(http_api_rate), "100", 0, 1000000, 0,
	    0, 0, LIVE },

	{ "tls.certificate", O_PATH, OFF(tls.certificate), NULL, 0, 0, 0, 0,
	    0, RESTART },
	{ "tls.key", O_PATH, OFF(tls.key), NULL, 0, 0, 0, 0, 0, RESTART },
	{ "tls.self_signed", O_BOOL, OFF(tls.self_signed), "false", 0, 0, 0,
	    0, 0, RESTART },
	{ "tls.ciphers", O_STR, OFF(tls.ciphers),
	    "ECDHE+AESGCM:ECDHE+CHACHA20", 0, 0, 0, 0, 0, RESTART },
	{ "tls.ciphersuites", O_STR, OFF(tls.ciphersuites),
	    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
	    "TLS_CHACHA20_POLY1305_SHA256", 0, 0, 0, 0, 0, RESTART },
	{ "tls.groups", O_STR, OFF(tls.groups), "X25519:P-256:X448:P-384:P-521",
	    0, 0, 0, 0, 0, RESTART },
	{ "tls.ticket_lifetime", O_MS, OFF(tls.ticket_lifetime_ms), "1h", 0,
	    (int64_t)7 * 86400000, 0, 0, 0, RESTART },
	{ "tls.lean_sessions", O_BOOL, OFF(tls.lean_sessions), "true", 0, 0,
	    0, 0, 0, RESTART },

	{ "relay.mode", O_ENUM, OFF(relay.mode), "mx", 0, 0, relay_modes, 0,
	    0, RESTART },
	{ "relay.host", O_STRLIST, OFF(relay.hosts), NULL, 0, 0, 0,
	    OFF(relay.nhosts), SHLIST_MAX, RESTART },
	{ "relay.port", O_INT, OFF(relay.port), "25", 1, 65535, 0, 0, 0,
	    RESTART },
	{ "relay.tls", O_ENUM, OFF(relay.tls), "opportunistic", 0, 0,
	    tls_policies, 0, 0, RESTART },
	{ "relay.ca_file", O_PATH, OFF(relay.ca_file), NULL, 0, 0, 0, 0, 0,
	    RESTART },
	{ "relay.ca_dir", O_PATH, OFF(relay.ca_dir), NULL,
	    CONFIG_PATH_READ_DIR, 0, 0, 0, 0, RESTART },
	{ "relay.allow_loopback_mx", O_BOOL, OFF(relay.allow_loopback_mx),
	    "false", 0, 0, 0, 0, 0, LIVE },
	{ "relay.username", O_STR, OFF(relay.username), NULL, 0,
	    RELAY_CRED_MAX, 0, 0, 0, LIVE },
	{ "relay.password", O_STR, OFF(relay.password), NULL, 0,
	    RELAY_CRED_MAX, 0, 0, 0, LIVE },
	{ "relay.mx_port", O_INT, OFF(relay.mx_port), "25", 1, 65535, 0, 0,
	    0, RESTART },
	{ "relay.connections", O_INT, OFF(relay.connections), "20", 1, 1000,
	    0, 0, 0, LIVE },
	{ "relay.messages_per_connection", O_INT,
	    OFF(relay.messages_per_connection), "1000", 1, 1000000, 0, 0, 0,
	    LIVE },
	{ "relay.connect_timeout", O_MS, OFF(relay.connect_timeout_ms), "30s",
	    1, 600000, 0, 0, 0, LIVE },
	{ "relay.command_timeout", O_MS, OFF(relay.command_timeout_ms), "5m",
	    1, 3600000, 0, 0, 0, LIVE },
	{ "relay.data_timeout", O_MS, OFF(relay.data_timeout_ms), "10m", 1,
	    3600000, 0, 0, 0, LIVE },
	{ "relay.idle_time", O_MS, OFF(relay.idle_ms), "5s", 0, 300000, 0,
	    0, 0, LIVE },
	{ "relay.connection_lifetime", O_MS,
	    OFF(relay.connection_lifetime_ms), "5m", 1, 86400000, 0, 0, 0,
	    LIVE },
	{ "relay.backoff_recovery", O_MS, OFF(relay.backoff_recovery_ms),
	    "30s", 100, 3600000, 0, 0, 0, LIVE },
	{ "relay.health_check.interval", O_MS,
	    OFF(relay.health.interval_ms), "10s", 0, 86400000, 0, 0, 0,
	    LIVE },
	{ "relay.health_check.timeout", O_MS, OFF(relay.health.timeout_ms),
	    "5s", 10, 300000, 0, 0, 0, LIVE },
	{ "relay.health_check.fall", O_INT, OFF(relay.health.fall), "3", 1,
	    1000, 0, 0, 0, LIVE },
	{ "relay.health_check.rise", O_INT, OFF(relay.health.rise), "2", 1,
	    1000, 0, 0, 0, LIVE },

	{ "dns.resolver", O_STRLIST, OFF(dns.resolver), NULL, 0, 0, 0,
	    OFF(dns.nresolver), GW_MAX_RESOLVERS, LIVE },
	{ "dns.timeout", O_MS, OFF(dns.timeout_ms), "5s", 10, 60000, 0, 0, 0,
	    LIVE },
	{ "dns.attempts", O_INT, OFF(dns.attempts), "2", 1, 10, 0, 0, 0,
	    LIVE },
	{ "dns.dnssec", O_BOOL, OFF(dns.dnssec), "false", 0, 0, 0, 0, 0,
	    LIVE },

	{ "mta_sts.enable", O_BOOL, OFF(mta_sts.enable), "true", 0, 0, 0, 0,
	    0, LIVE },
	{ "mta_sts.timeout", O_MS, OFF(mta_sts.timeout_ms), "10s", 100,
	    120000, 0, 0, 0, LIVE },
	{ "mta_sts.ca_file", O_PATH, OFF(mta_sts.ca_file), NULL, 0, 0, 0, 0,
	    0, LIVE },
	{ "mta_sts.connect_to", O_STR, OFF(mta_sts.connect_to), NULL, 0, 300,
	    0, 0, 0, LIVE },
	{ "mta_sts.cache_size", O_INT, OFF(mta_sts.cache_size), "10000", 1,
	    1000000, 0, 0, 0, LIVE },

	{ "tls_rpt.enable", O_BOOL, OFF(tls_rpt.enable), "false", 0, 0, 0, 0,
	    0, LIVE },
	{ "tls_rpt.org_name", O_STR, OFF(tls_rpt.org_name), NULL, 0, 200, 0,
	    0, 0, LIVE },
	{ "tls_rpt.contact", O_STR, OFF(tls_rpt.contact), NULL, 0, 200, 0, 0,
	    0, LIVE },
	{ "tls_rpt.ca_file", O_PATH, OFF(tls_rpt.ca_file), NULL, 0, 0, 0, 0,
	    0, LIVE },
	{ "tls_rpt.connect_to", O_STR, OFF(tls_rpt.connect_to), NULL, 0, 300,
	    0, 0, 0, LIVE },

	{ "limits.message_size", O_SIZE, OFF(limits.message_size), "25M",
	    1024, (int64_t)1 << 31, 0, 0, 0, LIVE },
	{ "limits.recipients", O_INT, OFF(limits.recipients), "100", 1,
	    100000, 0, 0, 0, RESTART },
	{ "limits.line_length", O_INT, OFF(limits.line_length), "512", 512,
	    65536, 0, 0, 0, LIVE },
	{ "limits.idle_timeout", O_MS, OFF(limits.idle_timeout_ms), "5m", 100,
	    3600000, 0, 0, 0, LIVE },
	{ "limits.data_timeout", O_MS, OFF(limits.data_timeout_ms), "10m",
	    100, 3600000, 0, 0, 0, LIVE },
	{ "limits.connections", O_INT, OFF(limits.connections), "1000", 1,
	    1000000, 0, 0, 0, LIVE },
	{ "limits.connections_per_ip", O_INT, OFF(limits.connections_per_ip),
	    "100", 1, 1000000, 0, 0, 0, LIVE },
	{ "limits.auth_failures", O_INT, OFF(limits.auth_failures), "10", 1,
	    1000000, 0, 0, 0, LIVE },
	{ "limits.auth_failures_ip", O_INT, OFF(limits.auth_failures_ip), "30",
	    1, 1000000, 0, 0, 0, LIVE },
	{ "limits.auth_window", O_MS, OFF(limits.auth_window_ms), "10m", 1000,
	    86400000, 0, 0, 0, LIVE },
	{ "limits.auth_block", O_MS, OFF(limits.auth_block_ms), "10m", 1000,
	    86400000, 0, 0, 0, LIVE },
	{ "limits.auth_fail_delay", O_MS, OFF(limits.auth_fail_delay_ms), "1s",
	    0, 60000, 0, 0, 0, LIVE },
	{ "limits.unknown_commands", O_INT, OFF(limits.unknown_commands), "20",
	    1, 100000, 0, 0, 0, LIVE },
	{ "limits.received_headers", O_INT, OFF(limits.received_headers),
	    "100", 1, 100000, 0, 0, 0, LIVE },
	{ "limits.memory", O_SIZE, OFF(limits.memory), "1G", 1048576,
	    INT64_MAX, 0, 0, 0, LIVE },
	{ "limits.bounce_pause_percent", O_INT,
	    OFF(limits.bounce_pause_percent), "5", 0, 100, 0, 0, 0, LIVE },
	{ "limits.bounce_pause_minimum", O_INT,
	    OFF(limits.bounce_pause_minimum), "100", 1, 1000000000, 0, 0, 0,
	    LIVE },
	{ "limits.complaint_pause_percent", O_PERCENT,
	    OFF(limits.complaint_pause_ppm), "0.1", 0, 1000000, 0, 0, 0, LIVE },
	{ "limits.complaint_pause_minimum", O_INT,
	    OFF(limits.complaint_pause_minimum), "1000", 1, 1000000000, 0, 0,
	    0, LIVE },
	{ "limits.bare_lf", O_ENUM, OFF(limits.bare_lf), "refuse", 0, 0,
	    bare_lf_modes, 0, 0, LIVE },

	{ "queue.lifetime", O_MS, OFF(queue.lifetime_ms), "5d", 1000,
	    (int64_t)365 * 86400000, 0, 0, 0, LIVE },
	{ "queue.retry_min", O_MS, OFF(queue.retry_min_ms), "5m", 100,
	    (int64_t)7 * 86400000, 0, 0, 0, LIVE },
	{ "queue.retry_max", O_MS, OFF(queue.retry_max_ms), "1h", 100,
	    (int64_t)7 * 86400000, 0, 0, 0, LIVE },
	{ "queue.delay_warning", O_MS, OFF(queue.delay_warning_ms), "4h", 0,
	    (int64_t)365 * 86400000, 0, 0, 0, LIVE },
	{ "queue.commit_window", O_US, OFF(queue.commit_window_us), "0", 0,
	    100, 0, 0, 0, LIVE },
	{ "queue.store_backlog", O_INT, OFF(queue.store_backlog), "5000", 10,
	    1000000, 0, 0, 0, LIVE },

	{ "feedback.domains", O_STRLIST, OFF(feedback.domains), NULL, 0, 0, 0,
	    OFF(feedback.ndomains), GW_MAX_FEEDBACK, LIVE },
	{ "feedback.addresses", O_STRLIST, OFF(feedback.addresses), NULL, 0, 0,
	    0, OFF(feedback.naddresses), GW_MAX_FEEDBACK, LIVE },
	{ "feedback.bounce_domain", O_STR, OFF(feedback.bounce_domain), NULL, 0,
	    253, 0, 0, 0, LIVE },
	{ "feedback.max_size", O_SIZE, OFF(feedback.max_size), "1M", 1024,
	    64 << 20, 0, 0, 0, LIVE },
	{ "feedback.rate", O_STR, OFF(feedback.rate), "60/min", 0, 32, 0, 0, 0,
	    LIVE },
	{ "feedback.reject_log", O_STR, OFF(feedback.reject_log), "10/min", 0,
	    32, 0, 0, 0, LIVE },

	{ "webhook.batch_max", O_INT, OFF(webhook.batch_max), "100", 1, 1000,
	    0, 0, 0, LIVE },
	{ "webhook.batch_wait", O_MS, OFF(webhook.batch_wait_ms), "1s", 0,
	    60000, 0, 0, 0, LIVE },
	{ "webhook.concurrency", O_INT, OFF(webhook.concurrency), "2", 1, 64,
	    0, 0, 0, LIVE },
	{ "webhook.timeout", O_MS, OFF(webhook.timeout_ms), "10s", 100,
	    300000, 0, 0, 0, LIVE },
	{ "webhook.retry_max", O_MS, OFF(webhook.retry_max_ms), "5m", 100,
	    86400000, 0, 0, 0, LIVE },
	{ "webhook.retry_for", O_MS, OFF(webhook.retry_for_ms), "24h", 1000,
	    (int64_t)30 * 86400000, 0, 0, 0, LIVE },
	{ "webhook.window", O_INT, OFF(webhook.window), "10000", 1, 1000000,
	    0, 0, 0, LIVE },
	{ "webhook.ca_file", O_PATH, OFF(webhook.ca_file), NULL, 0, 0, 0, 0,
	    0, LIVE },

	{ "log.retention_days", O_INT, OFF(log.retention_days), "30", 1, 2557,
	    0, 0, 0, LIVE },

	{ "policy.quarantine_days", O_INT, OFF(policy.quarantine_days), "30",
	    1, 3650, 0, 0, 0, LIVE },
	{ "policy.admin_address", O_STR, OFF(policy.admin_address), NULL, 0,
	    254, 0, 0, 0, LIVE },

	{ "alerts.sender", O_STR, OFF(alerts.sender), NULL, 0, 254, 0, 0, 0,
	    LIVE },
	{ "alerts.interval", O_MS, OFF(alerts.interval_ms), "5s", 100,
	    3600000, 0, 0, 0, LIVE },
	{ "alerts.window", O_MS, OFF(alerts.window_ms), "15m", 1000,
	    86400000, 0, 0, 0, RESTART },
	{ "alerts.min_outcomes", O_INT, OFF(alerts.min_outcomes), "20", 1,
	    1000000, 0, 0, 0, LIVE },
	{ "alerts.resolve_ratio", O_PERCENT, OFF(alerts.resolve_ppm), "90", 0,
	    1000000, 0, 0, 0, LIVE },
	{ "alerts.pagerduty_url", O_STR, OFF(alerts.pagerduty_url),
	    "https://events.pagerduty.com/v2/enqueue", 0, 1024, 0, 0, 0, LIVE },
	{ "alerts.ca_file", O_PATH, OFF(alerts.ca_file), NULL, 0, 0, 0, 0, 0,
	    LIVE },
	{ "alerts.volume_bucket", O_MS, OFF(alerts.volume_bucket_ms), "5m",
	    1000, 86400000, 0, 0, 0, RESTART },
	{ "alerts.volume_period", O_MS, OFF(alerts.volume_period_ms), "1d",
	    1000, (int64_t)28 * 86400000, 0, 0, 0, RESTART },
	{ "alerts.volume_span", O_MS, OFF(alerts.volume_span_ms), "1h", 1000,
	    (int64_t)28 * 86400000, 0, 0, 0, RESTART },
	{ "alerts.volume_days", O_INT, OFF(alerts.volume_periods), "7", 1, 28,
	    0, 0, 0, RESTART },
	{ "alerts.volume_floor", O_INT, OFF(alerts.volume_floor), "50", 1,
	    1000000000, 0, 0, 0, LIVE },
	/* content.c copies these into each scan on the loop thread. */
	{ "content.rspamd.url", O_STR, OFF(content.rspamd.url), NULL, 0, 1024,
	    0, 0, 0, LIVE },
	{ "content.rspamd.timeout", O_MS, OFF(content.rspamd.timeout_ms),
	    "10s", 100, 600000, 0, 0, 0, LIVE },
	{ "content.rspamd.fail", O_ENUM, OFF(content.rspamd.fail), "open", 0,
	    0, content_fails, 0, 0, LIVE },
	{ "content.rspamd.retry", O_MS, OFF(content.rspamd.retry_ms), "5s", 0,
	    3600000, 0, 0, 0, LIVE },
	{ "content.rspamd.max_size", O_SIZE, OFF(content.rspamd.max_size),
	    "20M", 1024, (int64_t)1 << 31, 0, 0, 0, LIVE },
	SPAM_ACT("reject", RSA_REJECT, "block"),
	SPAM_ACT("soft_reject", RSA_SOFT_REJECT, "defer"),
	SPAM_ACT("rewrite_subject", RSA_REWRITE_SUBJECT, "tag"),
	SPAM_ACT("add_header", RSA_ADD_HEADER, "tag"),
	SPAM_ACT("greylist", RSA_GREYLIST, "ignore"),
	{ "content.uribl", O_STRLIST, OFF(content.uribl), NULL, 0, 0, 0,
	    OFF(content.nuribl), GW_MAX_URIBL, LIVE },
	{ "content.uribl_timeout", O_MS, OFF(content.uribl_timeout_ms), "5s",
	    100, 60000, 0, 0, 0, LIVE },
	{ "content.uribl_domains", O_INT, OFF(content.uribl_domains), "20", 1,
	    1000, 0, 0, 0, LIVE },
	{ "content.url_blocklist", O_PATH, OFF(content.url_blocklist), NULL, 0,
	    0, 0, 0, 0, LIVE },
	{ "cluster.redis", O_STR, OFF(cluster.redis), NULL, 0, 64, 0, 0, 0,
	    RESTART },
	{ "cluster.node", O_STR, OFF(cluster.node), NULL, 0, 64, 0, 0, 0,
	    RESTART },
	{ "cluster.password_file", O_PATH, OFF(cluster.password_file), NULL,
	    0, 0, 0, 0, 0, RESTART },
	{ "cluster.tls", O_BOOL, OFF(cluster.tls), "false", 0, 0, 0, 0, 0,
	    RESTART },
	{ "cluster.snapshot_every", O_INT, OFF(cluster.snapshot_every),
	    "1000", 10, 1000000, 0, 0, 0, RESTART },
	{ "archive.store", O_BOOL, OFF(archive.store), "false", 0, 0, 0, 0, 0,
	    LIVE },
	{ "archive.journal", O_STR, OFF(archive.journal), NULL, 0, 254, 0, 0,
	    0, LIVE },
	{ "archive.all", O_BOOL, OFF(archive.all), "true", 0, 0, 0, 0, 0,
	    LIVE },
	{ "archive.retention_days", O_INT, OFF(archive.retention_days), "0", 0,
	    36500, 0, 0, 0, LIVE },
};

static int nerrors;
static const char *cur_file;

static void
cerr(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
cerr(int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		fprintf(stderr, "%s: %s:%d: %s\n", log_progname(), cur_file,
		    line, msg);
	else
		fprintf(stderr, "%s: %s: %s\n", log_progname(), cur_file, msg);
	nerrors++;
}

const char *
spam_act_name(int a)
{
	return a >= 0 && a < (int)nitems(spam_acts) - 1 ? spam_acts[a] : "?";
}

const char *
tls_policy_name(enum tls_policy p)
{
	return tls_policies[p];
}

int
tls_policy_parse(const char *s)
{
	for (int i = 0; tls_policies[i]; i++)
		if (strcmp(s, tls_policies[i]) == 0)
			return i;
	return -1;
}

static char *
resolve_path(const struct gw_config *cfg, const char *p)
{
	if (p[0] == '/' || p[0] == '\0')
		return xstrdup(p);
	return xasprintf("%s/%s", cfg->dir, p);
}

/* "a, b, c": the allowed values of an enumeration, for errors. */
static const char *
names_list(const char *const *names, char *out, size_t n)
{
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; names[i] && o < n; i++)
		o += (size_t)snprintf(out + o, n - o, "%s%s", i ? ", " : "",
		    names[i]);
	return out;
}

/* "0.1", "0.1%", "5": percent with up to 4 decimals, in millionths. */
static int
parse_percent_ppm(const char *s, long long *out)
{
	long long v = 0;
	int frac = -1;

	if (*s == '\0')
		return -1;
	for (; *s && *s != '%'; s++) {
		if (*s == '.' && frac == -1) {
			frac = 0;
			continue;
		}
		if (*s < '0' || *s > '9' || frac == 4 || v > 1000000000)
			return -1;
		v = v * 10 + (*s - '0');
		if (frac >= 0)
			frac++;
	}
	if (*s == '%' && s[1] != '\0')
		return -1;
	for (frac = frac < 0 ? 0 : frac; frac < 4; frac++)
		v *= 10;
	*out = v;
	return 0;
}

/* Set one option from a string in config syntax (defaults use this). */
static int
opt_set_string(struct gw_config *cfg, const struct opt *o, const char *s,
    int line)
{
	char *base = (char *)cfg, list[256];
	int64_t ms;
	uint64_t sz;
	long long v;
	char *end;

	switch (o->kind) {
	case O_STR:
		/* Not the value itself: it may be a password. */
		if (o->max > 0 && strlen(s) > (size_t)o->max) {
			cerr(line, "%s: longer than %lld bytes", o->name,
			    (long long)o->max);
			return -1;
		}
		free(*(char **)(base + o->off));
		*(char **)(base + o->off) = xstrdup(s);
		return 0;
	case O_PATH:
		free(*(char **)(base + o->off));
		*(char **)(base + o->off) = resolve_path(cfg, s);
		return 0;
	case O_BOOL:
		if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0)
			*(int *)(base + o->off) = 1;
		else if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0)
			*(int *)(base + o->off) = 0;
		else {
			cerr(line, "%s = %s: expected true or false", o->name,
			    s);
			return -1;
		}
		return 0;
	case O_INT:
		errno = 0;
		v = strtoll(s, &end, 10);
		if (errno || *end || end == s || v < o->min || v > o->max) {
			cerr(line, "%s = %s: expected an integer from %lld to "
			    "%lld", o->name, s, (long long)o->min,
			    (long long)o->max);
			return -1;
		}
		*(int *)(base + o->off) = (int)v;
		return 0;
	case O_MS:
	case O_US:
		if (parse_duration_ms(s, &ms) == -1 || ms < o->min ||
		    ms > o->max) {
			cerr(line, "%s: \"%s\" is not a duration from %lldms "
			    "to %lldms (e.g. 30s, 10m, 5d)", o->name, s,
			    (long long)o->min, (long long)o->max);
			return -1;
		}
		*(int64_t *)(base + o->off) = o->kind == O_US ? ms * 1000 : ms;
		return 0;
	case O_SIZE:
		if (parse_size(s, &sz) == -1 || sz < (uint64_t)o->min ||
		    sz > (uint64_t)o->max) {
			cerr(line, "%s: \"%s\" is not a size from %lld to %lld "
			    "bytes (e.g. 25M)", o->name, s, (long long)o->min,
			    (long long)o->max);
			return -1;
		}
		*(uint64_t *)(base + o->off) = sz;
		return 0;
	case O_ENUM:
		for (int i = 0; o->names[i]; i++) {
			if (strcmp(s, o->names[i]) == 0) {
				*(int *)(base + o->off) = i;
				return 0;
			}
		}
		cerr(line, "%s: \"%s\" is not one of %s", o->name, s,
		    names_list(o->names, list, sizeof(list)));
		return -1;
	case O_PERCENT:
		if (parse_percent_ppm(s, &v) == -1 || v < o->min ||
		    v > o->max) {
			cerr(line, "%s = %s: expected a percentage from %g to "
			    "%g (e.g. 0.1)", o->name, s, (double)o->min / 10000,
			    (double)o->max / 10000);
			return -1;
		}
		*(int *)(base + o->off) = (int)v;
		return 0;
	case O_STRLIST:
		break;
	}
	return -1;
}

/* Render a scalar libconfig setting as config-syntax text: 0, -1 (not
 * a scalar), -2 (a string longer than n - 1 bytes). */
static int
setting_text(const config_setting_t *s, char *out, size_t n)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_STRING:
		if (gw_strlcpy(out, config_setting_get_string(s), n) >= n)
			return -2;
		return 0;
	case CONFIG_TYPE_INT:
		snprintf(out, n, "%d", config_setting_get_int(s));
		return 0;
	case CONFIG_TYPE_INT64:
		snprintf(out, n, "%lld", config_setting_get_int64(s));
		return 0;
	case CONFIG_TYPE_BOOL:
		snprintf(out, n, "%s", config_setting_get_bool(s) ? "true" :
		    "false");
		return 0;
	default:
		return -1;
	}
}

/* A number with a fraction where the row wants something else. */
static void
opt_float_error(const struct opt *o, double v, int line)
{
	char list[256];

	switch (o->kind) {
	case O_INT:
		cerr(line, "%s = %g: expected an integer from %lld to %lld",
		    o->name, v, (long long)o->min, (long long)o->max);
		break;
	case O_MS:
	case O_US:
		cerr(line, "%s = %g: expected a duration as a string "
		    "(\"1500ms\", \"30s\", \"10m\")", o->name, v);
		break;
	case O_SIZE:
		cerr(line, "%s = %g: expected a size as a string (\"512k\", "
		    "\"25M\")", o->name, v);
		break;
	case O_BOOL:
		cerr(line, "%s = %g: expected true or false", o->name, v);
		break;
	case O_ENUM:
		cerr(line, "%s = %g: expected one of %s", o->name, v,
		    names_list(o->names, list, sizeof(list)));
		break;
	default:
		cerr(line, "%s = %g: expected a string in double quotes",
		    o->name, v);
		break;
	}
}

static void
opt_set_setting(struct gw_config *cfg, const struct opt *o,
    const config_setting_t *s)
{
	int line = (int)config_setting_source_line(s);
	char text[4096];
	int r;

	cfg->lines[o - opts] = line;
	if (o->kind == O_STRLIST) {
		char **arr = (char **)((char *)cfg + o->off);
		int *count = (int *)((char *)cfg + o->count_off);
		int n;

		if (config_setting_type(s) == CONFIG_TYPE_STRING) {
			arr[0] = xstrdup(config_setting_get_string(s));
			*count = 1;
			return;
		}
		if (!config_setting_is_aggregate(s) ||
		    (n = config_setting_length(s)) > o->max_items) {
			cerr(line, "%s: expected a string or a list of at "
			    "most %d strings", o->name, o->max_items);
			return;
		}
		for (int i = 0; i < n; i++) {
			const char *v = config_setting_get_string_elem(s, i);

			if (v == NULL) {
				cerr(line, "%s: element %d is not a string",
				    o->name, i + 1);
				return;
			}
			arr[(*count)++] = xstrdup(v);
		}
		return;
	}
	if (config_setting_type(s) == CONFIG_TYPE_FLOAT && o->kind == O_PERCENT) {
		snprintf(text, sizeof(text), "%.4f", config_setting_get_float(s));
		opt_set_string(cfg, o, text, line);
		return;
	}
	if (config_setting_type(s) == CONFIG_TYPE_FLOAT) {
		opt_float_error(o, config_setting_get_float(s), line);
		return;
	}
	if ((r = setting_text(s, text, sizeof(text))) == -2) {
		cerr(line, "%s: longer than %zu bytes", o->name,
		    sizeof(text) - 1);
		return;
	}
	if (r == -1) {
		cerr(line, "%s: expected a single value, not a group or a "
		    "list", o->name);
		return;
	}
	if (config_setting_type(s) == CONFIG_TYPE_BOOL && o->kind != O_BOOL) {
		cerr(line, "%s: expected a %s, not true/false", o->name,
		    o->kind == O_STR || o->kind == O_PATH ? "string" : "value");
		return;
	}
	if (config_setting_type(s) != CONFIG_TYPE_STRING &&
	    (o->kind == O_STR || o->kind == O_PATH || o->kind == O_ENUM)) {
		cerr(line, "%s: expected a string in double quotes", o->name);
		return;
	}
	opt_set_string(cfg, o, text, line);
}

static const char *const listen_tls[] = { "starttls", "implicit", NULL };
static const char *const listen_roles[] = { "submission", "feedback", NULL };

/* trusted_proxies = [ "192.0.2.10", "2001:db8::/64" ]: who may send a
 * PROXY header to this listener. */
static void
listen_proxies(struct gw_listen *l, const config_setting_t *s, int line)
{
	int n = config_setting_length(s);

	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		cerr(line, "listen.trusted_proxies: expected a list of "
		    "networks [ \"192.0.2.10\", \"2001:db8::/64\" ]");
		return;
	}
	if (n > GW_MAX_PROXY_NETS) {
		cerr(line, "listen.trusted_proxies: more than %d networks",
		    GW_MAX_PROXY_NETS);
		return;
	}
	l->nproxies = 0;
	for (int i = 0; i < n; i++) {
		const char *v = config_setting_get_string_elem(s, i);
		struct cidr *c = &l->proxies[l->nproxies];

		if (v == NULL || cidr_parse(v, c) == -1)
			cerr(line, "listen.trusted_proxies: entry %d is not an "
			    "IP address or network", i + 1);
		else if (cidr_host_bits(v, c))
			cerr(line, "listen.trusted_proxies: \"%s\" has bits "
			    "set past its prefix", v);
		else
			l->nproxies++;
	}
}

/* One setting of a listen entry: address, port, tls, require_tls, ip_auth,
 * proxy_protocol, trusted_proxies. */
static void
listen_set(struct gw_listen *l, const config_setting_t *s)
{
	const char *name = config_setting_name(s), *v;
	int line = (int)config_setting_source_line(s);
	int t = config_setting_type(s), i;
	struct addrinfo hints, *ai;
	char list[64];

	if (strcmp(name, "address") == 0) {
		if (t != CONFIG_TYPE_STRING) {
			cerr(line, "listen.address: expected an IP address in "
			    "double quotes");
			return;
		}
		v = config_setting_get_string(s);
		/* gwd binds it with AI_NUMERICHOST: a name never binds. */
		memset(&hints, 0, sizeof(hints));
		hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
		hints.ai_socktype = SOCK_STREAM;
		if (getaddrinfo(v, NULL, &hints, &ai) != 0)
			cerr(line, "listen.address: \"%s\" is not an IP "
			    "address (e.g. \"0.0.0.0\", \"::\", "
			    "\"192.0.2.1\")", v);
		else
			freeaddrinfo(ai);
		free(l->address);
		l->address = xstrdup(v);
	} else if (strcmp(name, "port") == 0) {
		l->port = t == CONFIG_TYPE_INT ? config_setting_get_int(s) :
		    -1;
		if (l->port < 1 || l->port > 65535)
			cerr(line, "listen.port: expected a port number from "
			    "1 to 65535");
	} else if (strcmp(name, "tls") == 0) {
		v = t == CONFIG_TYPE_STRING ? config_setting_get_string(s) :
		    "";
		for (i = 0; listen_tls[i] && strcmp(v, listen_tls[i]) != 0;
		    i++)
			;
		if (listen_tls[i] == NULL)
			cerr(line, "listen.tls: \"%s\" is not one of %s", v,
			    names_list(listen_tls, list, sizeof(list)));
		else
			l->tls = i == 0 ? LISTEN_STARTTLS : LISTEN_IMPLICIT;
	} else if (strcmp(name, "role") == 0) {
		v = t == CONFIG_TYPE_STRING ? config_setting_get_string(s) :
		    "";
		for (i = 0; listen_roles[i] && strcmp(v, listen_roles[i]) != 0;
		    i++)
			;
		if (listen_roles[i] == NULL)
			cerr(line, "listen.role: \"%s\" is not one of %s", v,
			    names_list(listen_roles, list, sizeof(list)));
		else
			l->role = (enum listen_role)i;
	} else if (strcmp(name, "require_tls") == 0 ||
	    strcmp(name, "ip_auth") == 0 ||
	    strcmp(name, "proxy_protocol") == 0) {
		if (t != CONFIG_TYPE_BOOL)
			cerr(line, "listen.%s: expected true or false", name);
		else if (*name == 'r')
			l->require_tls = config_setting_get_bool(s);
		else if (*name == 'i')
			l->ip_auth = config_setting_get_bool(s);
		else
			l->proxy_protocol = config_setting_get_bool(s);
	} else if (strcmp(name, "trusted_proxies") == 0)
		listen_proxies(l, s, line);
	else
		cerr(line, "listen: unknown setting \"%s\" (one of address, "
		    "port, tls, require_tls, ip_auth, role, proxy_protocol, "
		    "trusted_proxies)", name);
}

static void
load_listen(struct gw_config *cfg, const config_setting_t *list)
{
	int n = config_setting_length(list);

	if (!config_setting_is_list(list) && !config_setting_is_array(list)) {
		cerr((int)config_setting_source_line(list), "listen: expected "
		    "a list ( { address = ...; port = ...; }, ... )");
		return;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(list, i);
		struct gw_listen *l;
		int line = (int)config_setting_source_line(e);

		if (!config_setting_is_group(e)) {
			cerr(line, "listen: entry %d is not a group { }", i + 1);
			continue;
		}
		if (cfg->nlisten == GW_MAX_LISTEN) {
			cerr(line, "listen: more than %d listeners",
			    GW_MAX_LISTEN);
			return;
		}
		l = &cfg->listen[cfg->nlisten++];
		memset(l, 0, sizeof(*l));
		l->line = line;
		l->require_tls = 1;
		for (int j = 0; j < config_setting_length(e); j++)
			listen_set(l, config_setting_get_elem(e, j));
		if (l->address == NULL)
			l->address = xstrdup("127.0.0.1");
		if (l->port == 0)
			cerr(line, "listen: entry %d has no port", i + 1);
		/* Reports come from any MTA: TLS is offered, never required
		 * (RFC 3207 4: a publicly-referenced server must not). */
		if (l->role == LISTEN_FEEDBACK)
			l->require_tls = 0;
		if (l->proxy_protocol && l->nproxies == 0)
			cerr(line, "listen: entry %d: proxy_protocol = true "
			    "needs trusted_proxies (the load balancers' "
			    "addresses)", i + 1);
	}
}

static const struct opt *
find_opt(const char *name)
{
	for (size_t i = 0; i < nitems(opts); i++)
		if (strcmp(opts[i].name, name) == 0)
			return &opts[i];
	return NULL;
}

static int
is_group_prefix(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < nitems(opts); i++)
		if (strncmp(opts[i].name, name, n) == 0 &&
		    opts[i].name[n] == '.')
			return 1;
	return 0;
}

/* Walk every setting of the file and apply it through the table. */
static void
walk(struct gw_config *cfg, const config_setting_t *g, const char *prefix)
{
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, i);
		const char *name = config_setting_name(s);
		int line = (int)config_setting_source_line(s);
		const struct opt *o;
		char full[256];

		snprintf(full, sizeof(full), "%s%s%s", prefix,
		    *prefix ? "." : "", name);
		if (*prefix == '\0' && strcmp(name, "listen") == 0) {
			load_listen(cfg, s);
			continue;
		}
		if ((o = find_opt(full)) != NULL) {
			opt_set_setting(cfg, o, s);
			continue;
		}
		if (config_setting_is_group(s) && is_group_prefix(full)) {
			walk(cfg, s, full);
			continue;
		}
		cerr(line, "unknown setting \"%s\"", full);
	}
}

/*
 * The HTTPS listener (unsubscribe links) serves the SMTP listeners'
 * certificate.  http.public_host goes into a header of signed mail, so
 * it is a host name (and port), nothing more.
 */
static void
config_check_http(struct gw_config *cfg)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	const char *h = cfg->http_public_host, *colon;
	int64_t port;

	if (cfg->http_listen && cfg->http_listen[0]) {
		if (sockaddr_parse(cfg->http_listen, 443, &ss, &sl) == -1)
			cerr(config_line(cfg, "http.listen"), "http.listen: "
			    "\"%s\" is not an address (IP:port or "
			    "[IPv6]:port)", cfg->http_listen);
		if (cfg->tls.certificate == NULL || cfg->tls.key == NULL)
			cerr(config_line(cfg, "http.listen"), "http.listen: "
			    "HTTPS needs tls.certificate and tls.key");
	}
	if (h == NULL)
		return;
	colon = strchr(h, ':');
	if (h[0] == '\0' || h[0] == '.' || h[0] == '-' ||
	    strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-") != (colon ? (size_t)(colon - h) : strlen(h)) ||
	    (colon && parse_int(colon + 1, 1, 65535, &port) == -1))
		cerr(config_line(cfg, "http.public_host"), "http.public_host: "
		    "\"%s\" is not a host name (HOST or HOST:PORT)", h);
}

/* relay.host: each string is a part of one smarthost list. */
static void
check_relay_hosts(struct gw_config *cfg)
{
	char err[512], text[SHLIST_MAX * 300];

	cfg->relay.sh.n = 0;
	for (int i = 0; i < cfg->relay.nhosts; i++)
		if (shlist_parse(cfg->relay.hosts[i], cfg->relay.port,
		    &cfg->relay.sh, err, sizeof(err)) == -1) {
			cerr(config_line(cfg, "relay.host"), "relay.host: %s",
			    err);
			return;
		}
	free(cfg->relay.host);
	cfg->relay.host = NULL;
	if (cfg->relay.sh.n > 0 && shlist_format(&cfg->relay.sh, text,
	    sizeof(text)) == 0)
		cfg->relay.host = xstrdup(text);
}

/* "60/min", "5/s", "1000/h": the count and the window. */
static int
parse_rate(const char *s, int *count, int64_t *window_ms)
{
	static const struct { const char *u; int64_t ms; } units[] = {
	    { "s", 1000 }, { "sec", 1000 }, { "min", 60000 }, { "m", 60000 },
	    { "h", 3600000 }, { "hour", 3600000 } };
	long long v;
	char *end;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end != '/' || v < 1 || v > 1000000)
		return -1;
	for (size_t i = 0; i < nitems(units); i++)
		if (strcmp(end + 1, units[i].u) == 0) {
			*count = (int)v;
			*window_ms = units[i].ms;
			return 0;
		}
	return -1;
}

static void
check_feedback(struct gw_config *cfg)
{
	char addr[ADDR_PATH_MAX + 1];
	int fb = 0;

	for (int i = cfg->nlisten - 1; i >= 0; i--)
		if (cfg->listen[i].role == LISTEN_FEEDBACK)
			fb = cfg->listen[i].line;
	if (parse_rate(cfg->feedback.rate, &cfg->feedback.rate_count,
	    &cfg->feedback.rate_window_ms) == -1)
		cerr(config_line(cfg, "feedback.rate"), "feedback.rate: \"%s\" "
		    "is not a rate (e.g. \"60/min\", \"5/s\", \"1000/h\")",
		    cfg->feedback.rate);
	if (parse_rate(cfg->feedback.reject_log,
	    &cfg->feedback.reject_log_count,
	    &cfg->feedback.reject_log_window_ms) == -1)
		cerr(config_line(cfg, "feedback.reject_log"),
		    "feedback.reject_log: \"%s\" is not a rate (e.g. "
		    "\"10/min\", \"1/s\", \"100/h\")",
		    cfg->feedback.reject_log);
	for (int i = 0; i < cfg->feedback.ndomains; i++)
		if (!config_hostname_fqdn(cfg->feedback.domains[i]))
			cerr(config_line(cfg, "feedback.domains"),
			    "feedback.domains: \"%s\" is not a domain name",
			    cfg->feedback.domains[i]);
	for (int i = 0; i < cfg->feedback.naddresses; i++)
		if (addr_canon(cfg->feedback.addresses[i], 0, addr,
		    sizeof(addr)) == -1)
			cerr(config_line(cfg, "feedback.addresses"),
			    "feedback.addresses: \"%s\" is not an address "
			    "(local@domain)", cfg->feedback.addresses[i]);
	if (cfg->feedback.bounce_domain &&
	    !config_hostname_fqdn(cfg->feedback.bounce_domain))
		cerr(config_line(cfg, "feedback.bounce_domain"),
		    "feedback.bounce_domain: \"%s\" is not a domain name",
		    cfg->feedback.bounce_domain);
	if (fb && cfg->feedback.ndomains == 0 && cfg->feedback.naddresses == 0)
		cerr(fb, "a listener has role "
		    "\"feedback\" but neither feedback.domains nor "
		    "feedback.addresses is set: it would refuse every "
		    "recipient");
}

/* The alert sender is an address; the volume shape nests: a bucket
 * fits in the span, the span in the period. */
static void
check_alerts(struct gw_config *cfg)
{
	char addr[ADDR_PATH_MAX + 1];

	if (cfg->alerts.sender && addr_canon(cfg->alerts.sender, 0, addr,
	    sizeof(addr)) == -1)
		cerr(config_line(cfg, "alerts.sender"), "alerts.sender: \"%s\" "
		    "is not an address (local@domain)", cfg->alerts.sender);
	if (cfg->alerts.pagerduty_url && strncmp(cfg->alerts.pagerduty_url,
	    "https://", 8) != 0 && strncmp(cfg->alerts.pagerduty_url,
	    "http://", 7) != 0)
		cerr(config_line(cfg, "alerts.pagerduty_url"),
		    "alerts.pagerduty_url: not an http(s) URL");
	if (cfg->alerts.volume_span_ms < cfg->alerts.volume_bucket_ms ||
	    cfg->alerts.volume_span_ms > cfg->alerts.volume_period_ms)
		cerr(config_line(cfg, "alerts.volume_span"), "alerts.volume_span:"
		    " must be at least alerts.volume_bucket and at most "
		    "alerts.volume_period");
	else if (cfg->alerts.volume_period_ms / cfg->alerts.volume_bucket_ms *
	    (cfg->alerts.volume_periods + 1) > 100000)
		cerr(config_line(cfg, "alerts.volume_period"), "alerts.volume_"
		    "period: more than 100000 buckets of alerts.volume_bucket "
		    "in alerts.volume_days periods");
}

/* An rspamd URL curl can use; zones that are domain names. */
static void
check_content(struct gw_config *cfg)
{
	const char *u = cfg->content.rspamd.url;

	if (u && *u && strncmp(u, "http://", 7) != 0 &&
	    strncmp(u, "https://", 8) != 0)
		cerr(config_line(cfg, "content.rspamd.url"), "content.rspamd."
		    "url: \"%s\" is not an http:// or https:// URL", u);
	if (u && str_has_ctl(u, strlen(u)))
		cerr(config_line(cfg, "content.rspamd.url"), "content.rspamd."
		    "url: control characters");
	for (int i = 0; i < cfg->content.nuribl; i++)
		if (!config_hostname_fqdn(cfg->content.uribl[i]))
			cerr(config_line(cfg, "content.uribl"), "content.uribl: "
			    "\"%s\" is not a DNS zone name",
			    cfg->content.uribl[i]);
}

/*
 * cluster: Redis by address, never by name (hiredis would resolve a name
 * with a blocking call on gwd's loop); a node name that is safe in a
 * Redis key and in the log; TLS is not in Debian 12's hiredis 0.14.
 */
static void
check_cluster(struct gw_config *cfg)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	const char *n = cfg->cluster.node;

	if (cfg->cluster.redis == NULL) {
		if (n || cfg->cluster.password_file || cfg->cluster.tls)
			cerr(config_line(cfg, n ? "cluster.node" :
			    cfg->cluster.tls ? "cluster.tls" :
			    "cluster.password_file"), "cluster: "
			    "cluster.redis is required with the other "
			    "cluster settings");
		return;
	}
	if (sockaddr_parse(cfg->cluster.redis, 6379, &ss, &sl) == -1)
		cerr(config_line(cfg, "cluster.redis"), "cluster.redis: \"%s\" "
		    "is not an address (IP:port or [IPv6]:port)",
		    cfg->cluster.redis);
	if (n && (n[0] == '\0' || strspn(n, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") != strlen(n)))
		cerr(config_line(cfg, "cluster.node"), "cluster.node: \"%s\" "
		    "is not a node name (letters, digits, . - _)", n);
	if (cfg->cluster.tls)
		cerr(config_line(cfg, "cluster.tls"), "cluster.tls: this "
		    "build's hiredis has no TLS; reach Redis over a private "
		    "network or a local stunnel");
}

static void
check(struct gw_config *cfg)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char host[256], addr[ADDR_PATH_MAX + 1];

	if (cfg->hostname == NULL || *cfg->hostname == '\0') {
		free(cfg->hostname);
		if (gethostname(host, sizeof(host)) == -1)
			gw_strlcpy(host, "localhost", sizeof(host));
		host[sizeof(host) - 1] = '\0';
		cfg->hostname = xstrdup(host);
	}
	if (str_has_ctl(cfg->hostname, strlen(cfg->hostname)) ||
	    strchr(cfg->hostname, ' '))
		cerr(config_line(cfg, "hostname"), "hostname: \"%s\" is not a "
		    "host name", cfg->hostname);
	if (cfg->archive.journal && addr_canon(cfg->archive.journal, 0, addr,
	    sizeof(addr)) == -1)
		cerr(config_line(cfg, "archive.journal"), "archive.journal: "
		    "\"%s\" is not an address (local@domain)",
		    cfg->archive.journal);
	if (cfg->dsn_from && addr_canon(cfg->dsn_from, 0, addr,
	    sizeof(addr)) == -1)
		cerr(config_line(cfg, "dsn_from"), "dsn_from: \"%s\" is not "
		    "an address (local@domain)", cfg->dsn_from);
	if (cfg->policy.admin_address && addr_canon(cfg->policy.admin_address,
	    0, addr, sizeof(addr)) == -1)
		cerr(config_line(cfg, "policy.admin_address"),
		    "policy.admin_address: \"%s\" is not an address "
		    "(local@domain)", cfg->policy.admin_address);
	check_alerts(cfg);
	if (cfg->nlisten > 0 && (cfg->tls.certificate == NULL ||
	    cfg->tls.key == NULL))
		cerr(cfg->listen[0].line, "tls.certificate and tls.key are "
		    "required: every listener speaks TLS (with "
		    "tls.self_signed = true, gwd makes a pair there on first "
		    "start)");
	if (cfg->relay.mode == RELAY_SMARTHOST && cfg->relay.nhosts == 0)
		cerr(config_line(cfg, "relay.mode"), "relay.host: required "
		    "when relay.mode is \"smarthost\"");
	check_relay_hosts(cfg);
	if (cfg->metrics_listen && cfg->metrics_listen[0] &&
	    sockaddr_parse(cfg->metrics_listen, 9465, &ss, &sl) == -1)
		cerr(config_line(cfg, "metrics.listen"), "metrics.listen: "
		    "\"%s\" is not an address (IP:port or [IPv6]:port)",
		    cfg->metrics_listen);
	config_check_http(cfg);
	for (int i = 0; i < cfg->dns.nresolver; i++)
		if (sockaddr_parse(cfg->dns.resolver[i], 53, &ss, &sl) == -1)
			cerr(config_line(cfg, "dns.resolver"), "dns.resolver: "
			    "\"%s\" is not an address (IP, IP:port or "
			    "[IPv6]:port)", cfg->dns.resolver[i]);
	if ((cfg->relay.username == NULL) != (cfg->relay.password == NULL))
		cerr(config_line(cfg, cfg->relay.username ? "relay.username" :
		    "relay.password"), "relay.username and relay.password go "
		    "together");
	check_feedback(cfg);
	check_content(cfg);
	check_cluster(cfg);
	if (cfg->queue.retry_min_ms > cfg->queue.retry_max_ms)
		cerr(config_line(cfg, "queue.retry_min") ?
		    config_line(cfg, "queue.retry_min") :
		    config_line(cfg, "queue.retry_max"), "queue.retry_min is "
		    "longer than queue.retry_max");
}

/*
 * libconfig stops at a repeated name with "duplicate setting name" and no
 * name: find it.  A small scanner of libconfig's syntax (comments,
 * strings, groups, lists) that keeps the names set in each group; the
 * first name set twice in one group is the one libconfig stopped at.
 */
#define DUP_DEPTH	32

struct dup_frame {
	int	 group;		/* 1: { } names settings; 0: ( ) or [ ] */
	size_t	 prefix;	/* length of the dotted name of the group */
	char	**names;
	int	*lines;
	int	 n;
};

static void
dup_frame_free(struct dup_frame *f)
{
	for (int i = 0; i < f->n; i++)
		free(f->names[i]);
	free(f->names);
	free(f->lines);
	memset(f, 0, sizeof(*f));
}

/* Skip blanks and comments from p; count newlines into *line. */
static size_t
dup_skip(const char *t, size_t len, size_t p, int *line)
{
	while (p < len) {
		if (t[p] == '\n') {
			(*line)++;
			p++;
		} else if (t[p] == ' ' || t[p] == '\t' || t[p] == '\r' ||
		    t[p] == '\f' || t[p] == '\v')
			p++;
		else if (t[p] == '#' || (t[p] == '/' && p + 1 < len &&
		    t[p + 1] == '/')) {
			while (p < len && t[p] != '\n')
				p++;
		} else if (t[p] == '/' && p + 1 < len && t[p + 1] == '*') {
			for (p += 2; p < len && !(t[p] == '*' && p + 1 < len &&
			    t[p + 1] == '/'); p++)
				if (t[p] == '\n')
					(*line)++;
			p = p < len ? p + 2 : len;
		} else
			break;
	}
	return p;
}

static int
dup_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '*';
}

static int
dup_ident(char c)
{
	return dup_ident_start(c) || (c >= '0' && c <= '9') || c == '-' ||
	    c == '_';
}

int
config_find_duplicate(const char *t, size_t len, char *name, size_t namesz,
    int *line, int *first)
{
	struct dup_frame st[DUP_DEPTH];
	char path[512], last[256] = "";
	int depth = 0, ln = 1, found = 0;
	size_t p = 0;

	memset(st, 0, sizeof(st));
	st[0].group = 1;
	path[0] = '\0';
	while (!found && (p = dup_skip(t, len, p, &ln)) < len) {
		char c = t[p];

		if (c == '"') {
			for (p++; p < len && t[p] != '"'; p++) {
				if (t[p] == '\\' && p + 1 < len)
					p++;
				if (t[p] == '\n')
					ln++;
			}
			p++;
		} else if (dup_ident_start(c)) {
			size_t s = p, q;
			int l2 = ln;

			while (p < len && dup_ident(t[p]))
				p++;
			q = dup_skip(t, len, p, &l2);
			if (q >= len || (t[q] != '=' && t[q] != ':') ||
			    !st[depth].group || p - s >= sizeof(last))
				continue;
			memcpy(last, t + s, p - s);
			last[p - s] = '\0';
			for (int i = 0; i < st[depth].n; i++) {
				if (strcmp(st[depth].names[i], last) != 0)
					continue;
				snprintf(name, namesz, "%.*s%s%s",
				    (int)st[depth].prefix, path,
				    st[depth].prefix ? "." : "", last);
				*line = ln;
				*first = st[depth].lines[i];
				found = 1;
				break;
			}
			if (found)
				break;
			st[depth].names = realloc(st[depth].names,
			    sizeof(char *) * (size_t)(st[depth].n + 1));
			st[depth].lines = realloc(st[depth].lines,
			    sizeof(int) * (size_t)(st[depth].n + 1));
			if (st[depth].names == NULL || st[depth].lines == NULL)
				fatal("realloc");
			st[depth].names[st[depth].n] = xstrdup(last);
			st[depth].lines[st[depth].n++] = ln;
		} else if (c == '{' || c == '(' || c == '[') {
			size_t pre = st[depth].prefix;

			p++;
			if (depth + 1 == DUP_DEPTH)
				break;
			/* A group's name is the last name set: the one
			 * whose value this is ("listen" for its entries). */
			if (st[depth].group && *last) {
				size_t n = strlen(last);

				if (pre + n + 2 < sizeof(path)) {
					if (pre)
						path[pre++] = '.';
					memcpy(path + pre, last, n);
					pre += n;
				}
			}
			last[0] = '\0';
			depth++;
			st[depth].group = c == '{';
			st[depth].prefix = pre;
		} else if (c == '}' || c == ')' || c == ']') {
			p++;
			if (depth > 0)
				dup_frame_free(&st[depth--]);
			last[0] = '\0';
		} else {
			p++;
			if (c == ';' || c == ',')
				last[0] = '\0';
		}
	}
	for (int i = 0; i <= depth; i++)
		dup_frame_free(&st[i]);
	return found;
}

/* Name the setting libconfig found twice in `file`; -1 if unsure. */
static int
report_duplicate(const char *file)
{
	char name[256], *text;
	int line, first, r = -1;
	FILE *f;
	long n;

	if ((f = fopen(file, "r")) == NULL)
		return -1;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    n < 16 * 1024 * 1024 && fseek(f, 0, SEEK_SET) == 0) {
		text = xmalloc((size_t)n + 1);
		if (fread(text, 1, (size_t)n, f) == (size_t)n &&
		    config_find_duplicate(text, (size_t)n, name, sizeof(name),
		    &line, &first)) {
			cerr(line, "duplicate setting \"%s\" (first set on "
			    "line %d)", name, first);
			r = 0;
		}
		free(text);
	}
	fclose(f);
	return r;
}

int
config_load(const char *path, struct gw_config *cfg)
{
	config_t lc;
	char *slash;

	memset(cfg, 0, sizeof(*cfg));
	nerrors = 0;
	cur_file = path;
	cfg->path = xstrdup(path);
	cfg->dir = xstrdup(path);
	if ((slash = strrchr(cfg->dir, '/')) != NULL)
		*(slash == cfg->dir ? slash + 1 : slash) = '\0';
	else {
		free(cfg->dir);
		cfg->dir = xstrdup(".");
	}
	cfg->lines = xcalloc(nitems(opts), sizeof(*cfg->lines));
	for (size_t i = 0; i < nitems(opts); i++)
		if (opts[i].dflt != NULL)
			opt_set_string(cfg, &opts[i], opts[i].dflt, 0);

	config_init(&lc);
	config_set_include_dir(&lc, cfg->dir);
	if (access(path, R_OK) == -1) {
		cerr(0, "%s", strerror(errno));
		config_destroy(&lc);
		return nerrors;
	}
	if (config_read_file(&lc, path) != CONFIG_TRUE) {
		const char *f = config_error_file(&lc);

		if (f)
			cur_file = f;
		if (strcmp(config_error_text(&lc), "duplicate setting name") !=
		    0 || report_duplicate(cur_file) == -1)
			cerr(config_error_line(&lc), "%s",
			    config_error_text(&lc));
		cur_file = path;
		config_destroy(&lc);
		return nerrors;
	}
	walk(cfg, config_root_setting(&lc), "");
	config_destroy(&lc);
	check(cfg);
	return nerrors;
}

void
config_free(struct gw_config *cfg)
{
	for (size_t i = 0; i < nitems(opts); i++) {
		char *base = (char *)cfg;

		if (opts[i].kind == O_STR || opts[i].kind == O_PATH)
			free(*(char **)(base + opts[i].off));
		if (opts[i].kind == O_STRLIST) {
			char **arr = (char **)(base + opts[i].off);

			for (int j = 0; j < opts[i].max_items; j++)
				free(arr[j]);
		}
	}
	for (int i = 0; i < cfg->nlisten; i++)
		free(cfg->listen[i].address);
	free(cfg->relay.host);
	free(cfg->path);
	free(cfg->dir);
	free(cfg->lines);
	memset(cfg, 0, sizeof(*cfg));
}

int
config_line(const struct gw_config *cfg, const char *name)
{
	const struct opt *o = find_opt(name);

	return o && cfg->lines ? cfg->lines[o - opts] : 0;
}

int
config_reloadable(const char *name)
{
	const struct opt *o;

	if (strcmp(name, "listen") == 0 || strncmp(name, "listen.", 7) == 0)
		return CONFIG_RESTART;
	return (o = find_opt(name)) != NULL ? (int)o->reload : -1;
}

int
config_path_use(const char *name)
{
	const struct opt *o = find_opt(name);

	return o != NULL && o->kind == O_PATH ? (int)o->min : -1;
}

int
config_each_path(const struct gw_config *cfg,
    int (*fn)(void *, const char *, const char *, enum config_path_use),
    void *arg)
{
	const char *base = (const char *)cfg, *v;
	int r;

	if (cfg->path != NULL && (r = fn(arg, "(configuration file)",
	    cfg->path, CONFIG_PATH_READ)) != 0)
		return r;
	for (size_t i = 0; i < nitems(opts); i++) {
		if (opts[i].kind != O_PATH ||
		    (v = *(char *const *)(base + opts[i].off)) == NULL ||
		    *v == '\0')
			continue;
		if ((r = fn(arg, opts[i].name, v,
		    (enum config_path_use)opts[i].min)) != 0)
			return r;
	}
	return 0;
}

int
config_dns_servers(const struct gw_config *cfg, struct sockaddr_storage *ss,
    socklen_t *len, int max)
{
	char line[256], addr[128];
	FILE *f;
	int n = 0;

	for (int i = 0; i < cfg->dns.nresolver && n < max; i++)
		if (sockaddr_parse(cfg->dns.resolver[i], 53, &ss[n],
		    &len[n]) == 0)
			n++;
	if (n > 0 || (f = fopen("/etc/resolv.conf", "r")) == NULL)
		return n;
	while (fgets(line, sizeof(line), f) && n < max)
		if (sscanf(line, "nameserver %127s", addr) == 1 &&
		    sockaddr_parse(addr, 53, &ss[n], &len[n]) == 0)
			n++;
	fclose(f);
	return n;
}

/* v in the largest unit that divides it: "5m", "1500ms", "25M". */
static void
scaled_text(uint64_t v, const char *const *units, const uint64_t *scale,
    int n, char *out, size_t sz)
{
	int i;

	for (i = n - 1; i > 0 && (v == 0 || v % scale[i] != 0); i--)
		;
	if (v == 0)
		i = 0;
	snprintf(out, sz, "%llu%s", (unsigned long long)(v / scale[i]),
	    units[i]);
}

/* A string in double quotes, with libconfig's escapes. */
static void
quoted_text(const char *v, char *out, size_t sz)
{
	size_t o = 0;

	if (sz < 3) {
		out[0] = '\0';
		return;
	}
	out[o++] = '"';
	for (; v && *v && o + 5 < sz; v++) {
		if (*v == '"' || *v == '\\')
			out[o++] = '\\';
		if ((unsigned char)*v < 0x20)
			o += (size_t)snprintf(out + o, sz - o, "\\x%02x",
			    (unsigned char)*v);
		else
			out[o++] = *v;
	}
	out[o++] = '"';
	out[o] = '\0';
}

/* The value of row o in cfg, in config syntax; secrets masked unless
 * raw (for comparing). */
static void
opt_text(const struct gw_config *cfg, const struct opt *o, char *out,
    size_t sz, int raw)
{
	static const char *const ms_units[] = { "ms", "s", "m", "h", "d" };
	static const uint64_t ms_scale[] = { 1, 1000, 60000, 3600000,
	    86400000 };
	static const char *const sz_units[] = { "", "k", "M", "G" };
	static const uint64_t sz_scale[] = { 1, 1024, 1048576, 1073741824 };
	const char *base = (const char *)cfg;
	char one[1024], num[64];
	size_t len = strlen(o->name);
	int64_t ms;

	switch (o->kind) {
	case O_STR:
	case O_PATH:
		if (!raw && len >= 8 &&
		    strcmp(o->name + len - 8, "password") == 0 &&
		    *(char *const *)(base + o->off) != NULL)
			snprintf(out, sz, "\"(not shown)\"");
		else
			quoted_text(*(char *const *)(base + o->off), out, sz);
		break;
	case O_INT:
		snprintf(out, sz, "%d", *(const int *)(base + o->off));
		break;
	case O_PERCENT:
		snprintf(out, sz, "%g", (double)*(const int *)(base + o->off) /
		    10000);
		break;
	case O_BOOL:
		snprintf(out, sz, "%s", *(const int *)(base + o->off) ?
		    "true" : "false");
		break;
	case O_MS:
	case O_US:
		ms = *(const int64_t *)(base + o->off);
		if (o->kind == O_US)
			ms /= 1000;
		scaled_text((uint64_t)ms, ms_units, ms_scale,
		    (int)nitems(ms_units), num, sizeof(num));
		snprintf(out, sz, "\"%s\"", num);
		break;
	case O_SIZE:
		scaled_text(*(const uint64_t *)(base + o->off), sz_units,
		    sz_scale, (int)nitems(sz_units), num, sizeof(num));
		snprintf(out, sz, "\"%s\"", num);
		break;
	case O_ENUM:
		snprintf(out, sz, "\"%s\"",
		    o->names[*(const int *)(base + o->off)]);
		break;
	case O_STRLIST: {
		char *const *arr = (char *const *)(base + o->off);
		int n = *(const int *)(base + o->count_off);
		size_t w;

		w = (size_t)snprintf(out, sz, "[");
		for (int i = 0; i < n && w < sz; i++) {
			quoted_text(arr[i], one, sizeof(one));
			w += (size_t)snprintf(out + w, sz - w, "%s %s",
			    i ? "," : "", one);
		}
		if (w < sz)
			snprintf(out + w, sz - w, " ]");
		break;
	}
	}
}

/* One listen entry in config syntax (the PROXY settings only when on). */
static void
listen_text(const struct gw_listen *l, char *out, size_t sz)
{
	char addr[512], nets[GW_MAX_PROXY_NETS * 56 + 32] = "";
	size_t w = 0;

	quoted_text(l->address, addr, sizeof(addr));
	for (int i = 0; i < l->nproxies; i++) {
		char one[64];

		cidr_format(&l->proxies[i], one, sizeof(one));
		w += (size_t)snprintf(nets + w, sizeof(nets) - w, "%s\"%s\"",
		    i ? ", " : " trusted_proxies = [ ", one);
	}
	if (w > 0)
		snprintf(nets + w, sizeof(nets) - w, " ];");
	snprintf(out, sz, "{ address = %s; port = %d; tls = \"%s\"; "
	    "require_tls = %s; ip_auth = %s;%s%s%s }", addr, l->port,
	    listen_tls[l->tls], l->require_tls ? "true" : "false",
	    l->ip_auth ? "true" : "false", l->role == LISTEN_FEEDBACK ?
	    " role = \"feedback\";" : "", l->proxy_protocol ?
	    " proxy_protocol = true;" : "", nets);
}

static void
print_row(FILE *f, const char *name, const char *value, int line, int live)
{
	char where[32], set[4200];

	if (line > 0)
		snprintf(where, sizeof(where), "line %d", line);
	else
		snprintf(where, sizeof(where), "default");
	snprintf(set, sizeof(set), "%s = %s;", name, value);
	fprintf(f, "%-54s # %s, %s\n", set, where, live ? "live" : "restart");
}

void
config_print(FILE *f, const struct gw_config *cfg)
{
	char value[4096];

	fprintf(f, "# The effective configuration of %s: every setting, with\n"
	    "# the line that set it or \"default\", and what a running gwd\n"
	    "# does with a new value on SIGHUP (live: takes it; restart: "
	    "keeps\n# the old one until restarted).\n", cfg->path);
	for (size_t i = 0; i < nitems(opts); i++) {
		opt_text(cfg, &opts[i], value, sizeof(value), 0);
		print_row(f, opts[i].name, value, cfg->lines[i],
		    opts[i].reload == CONFIG_LIVE);
	}
	if (cfg->nlisten == 0)
		print_row(f, "listen", "( )", 0, 0);
	for (int i = 0; i < cfg->nlisten; i++) {
		listen_text(&cfg->listen[i], value, sizeof(value));
		print_row(f, "listen", value, cfg->listen[i].line, 0);
	}
}

int
config_hostname_fqdn(const char *h)
{
	size_t n = strlen(h), label = 0;
	int labels = 1, digits = 1;
	const char *last;

	if (n == 0 || n > 253 || h[0] == '.' || h[n - 1] == '.' ||
	    (last = strrchr(h, '.')) == NULL)
		return 0;
	for (const char *p = h; *p; p++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return 0;
			labels++;
			label = 0;
			digits = 1;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-'))
			return 0;
		if (++label > 63 || (label == 1 && *p == '-'))
			return 0;
		if (*p < '0' || *p > '9')
			digits = 0;
	}
	/* An IP address, or a name only this host knows. */
	if (digits || h[n - 1] == '-' ||
	    strcasecmp(last + 1, "localhost") == 0 ||
	    strcasecmp(last + 1, "localdomain") == 0 ||
	    strcasecmp(last + 1, "local") == 0)
		return 0;
	return labels >= 2;
}

/* Give nw the value old has for row o (a setting that needs a restart). */
static void
opt_keep(const struct gw_config *old, struct gw_config *nw,
    const struct opt *o)
{
	const char *ob = (const char *)old;
	char *nb = (char *)nw;

	switch (o->kind) {
	case O_STR:
	case O_PATH: {
		const char *v = *(char *const *)(ob + o->off);

		free(*(char **)(nb + o->off));
		*(char **)(nb + o->off) = v ? xstrdup(v) : NULL;
		break;
	}
	case O_STRLIST: {
		char *const *from = (char *const *)(ob + o->off);
		char **to = (char **)(nb + o->off);
		int n = *(const int *)(ob + o->count_off);

		for (int i = 0; i < o->max_items; i++) {
			free(to[i]);
			to[i] = i < n ? xstrdup(from[i]) : NULL;
		}
		*(int *)(nb + o->count_off) = n;
		break;
	}
	case O_MS:
	case O_US:
		*(int64_t *)(nb + o->off) = *(const int64_t *)(ob + o->off);
		break;
	case O_SIZE:
		*(uint64_t *)(nb + o->off) = *(const uint64_t *)(ob + o->off);
		break;
	case O_INT:
	case O_PERCENT:
	case O_BOOL:
	case O_ENUM:
		*(int *)(nb + o->off) = *(const int *)(ob + o->off);
		break;
	}
}

static void
listens_text(const struct gw_config *cfg, char *out, size_t sz)
{
	char one[1024];
	size_t w = 0;

	out[0] = '\0';
	for (int i = 0; i < cfg->nlisten && w < sz; i++) {
		listen_text(&cfg->listen[i], one, sizeof(one));
		w += (size_t)snprintf(out + w, sz - w, "%s%s", i ? ", " : "",
		    one);
	}
	if (cfg->nlisten == 0)
		snprintf(out, sz, "( )");
}

int
config_reload_merge(const struct gw_config *old, struct gw_config *nw,
    void (*note)(void *, const char *, const char *, const char *, int),
    void *arg)
{
	char a[8192], b[8192];
	int changed = 0;

	for (size_t i = 0; i < nitems(opts); i++) {
		const struct opt *o = &opts[i];

		opt_text(old, o, a, sizeof(a), 1);
		opt_text(nw, o, b, sizeof(b), 1);
		if (strcmp(a, b) == 0)
			continue;
		changed++;
		opt_text(old, o, a, sizeof(a), 0);
		opt_text(nw, o, b, sizeof(b), 0);
		note(arg, o->name, a, b, o->reload == CONFIG_LIVE);
		if (o->reload != CONFIG_LIVE)
			opt_keep(old, nw, o);
	}
	listens_text(old, a, sizeof(a));
	listens_text(nw, b, sizeof(b));
	if (strcmp(a, b) != 0) {
		changed++;
		note(arg, "listen", a, b, 0);
		for (int i = 0; i < nw->nlisten; i++)
			free(nw->listen[i].address);
		memcpy(nw->listen, old->listen, sizeof(nw->listen));
		nw->nlisten = old->nlisten;
		for (int i = 0; i < nw->nlisten; i++)
			nw->listen[i].address = xstrdup(old->listen[i].address);
	}
	/* relay.host and relay.port need a restart: so does their list. */
	nw->relay.sh = old->relay.sh;
	free(nw->relay.host);
	nw->relay.host = old->relay.host ? xstrdup(old->relay.host) : NULL;
	return changed;
}
