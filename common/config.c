/*
 * config.c - gwd.conf (libconfig syntax), read by every gw program.
 *
 * Options are rows: a dotted name, a kind, where the value goes, a
 * default and bounds.  Every setting in the file must match a row (or be
 * a `listen` entry), so a typo is an error with its line, never silently
 * ignored.  All errors are reported before the caller exits.
 * Diagnostics: dies only when memory runs out; every error in the file
 * is printed ("file:line: reason") and counted, and config_load()
 * returns how many, so the caller can exit 78 after all of them.
 */
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cidr.h"
#include "config.h"
#include "log.h"
#include "util.h"

enum opt_kind { O_STR, O_PATH, O_INT, O_BOOL, O_MS, O_SIZE, O_ENUM,
    O_STRLIST };

struct opt {
	const char	*name;
	enum opt_kind	 kind;
	size_t		 off;
	const char	*dflt;		/* in config syntax; NULL = unset */
	int64_t		 min, max;	/* O_INT, O_MS, O_SIZE; O_STR: max
					   is the longest value (0: any) */
	const char *const *names;	/* O_ENUM: index = value */
	size_t		 count_off;	/* O_STRLIST: where the count goes */
	int		 max_items;
};

#define OFF(f)	offsetof(struct gw_config, f)

static const char *const tls_policies[] = { "none", "opportunistic",
    "required", "verify", NULL };
static const char *const relay_modes[] = { "mx", "smarthost", NULL };

static const struct opt opts[] = {
	{ "state_dir", O_PATH, OFF(state_dir), "/var/lib/gw", 0, 0, 0, 0, 0 },
	{ "hostname", O_STR, OFF(hostname), NULL, 0, 0, 0, 0, 0 },
	{ "user", O_STR, OFF(user), "", 0, 0, 0, 0, 0 },
	{ "control_socket", O_PATH, OFF(control_socket), "/run/gw/control",
	    0, 0, 0, 0, 0 },
	{ "syslog", O_BOOL, OFF(syslog), "false", 0, 0, 0, 0, 0 },
	{ "shutdown_timeout", O_MS, OFF(shutdown_timeout_ms), "20s", 0,
	    3600000, 0, 0, 0 },
	{ "metrics.listen", O_STR, OFF(metrics_listen), NULL, 0, 0, 0, 0,
	    0 },
	{ "metrics.min_free", O_SIZE, OFF(metrics_min_free), "64M", 0,
	    INT64_MAX, 0, 0, 0 },
	{ "metrics.connections", O_INT, OFF(metrics_connections), "16", 1,
	    10000, 0, 0, 0 },
	{ "metrics.idle_timeout", O_MS, OFF(metrics_idle_timeout_ms), "10s",
	    100, 3600000, 0, 0, 0 },

	{ "tls.certificate", O_PATH, OFF(tls.certificate), NULL, 0, 0, 0, 0,
	    0 },
	{ "tls.key", O_PATH, OFF(tls.key), NULL, 0, 0, 0, 0, 0 },
	{ "tls.self_signed", O_BOOL, OFF(tls.self_signed), "false", 0, 0, 0,
	    0, 0 },
	{ "tls.ciphers", O_STR, OFF(tls.ciphers),
	    "ECDHE+AESGCM:ECDHE+CHACHA20", 0, 0, 0, 0, 0 },

	{ "relay.mode", O_ENUM, OFF(relay.mode), "mx", 0, 0, relay_modes, 0,
	    0 },
	{ "relay.host", O_STR, OFF(relay.host), NULL, 0, 0, 0, 0, 0 },
	{ "relay.port", O_INT, OFF(relay.port), "25", 1, 65535, 0, 0, 0 },
	{ "relay.tls", O_ENUM, OFF(relay.tls), "opportunistic", 0, 0,
	    tls_policies, 0, 0 },
	{ "relay.ca_file", O_PATH, OFF(relay.ca_file), NULL, 0, 0, 0, 0, 0 },
	{ "relay.ca_dir", O_PATH, OFF(relay.ca_dir), NULL, 0, 0, 0, 0, 0 },
	{ "relay.allow_loopback_mx", O_BOOL, OFF(relay.allow_loopback_mx),
	    "false", 0, 0, 0, 0, 0 },
	{ "relay.username", O_STR, OFF(relay.username), NULL, 0,
	    RELAY_CRED_MAX, 0, 0, 0 },
	{ "relay.password", O_STR, OFF(relay.password), NULL, 0,
	    RELAY_CRED_MAX, 0, 0, 0 },
	{ "relay.mx_port", O_INT, OFF(relay.mx_port), "25", 1, 65535, 0, 0,
	    0 },
	{ "relay.connections", O_INT, OFF(relay.connections), "20", 1, 1000,
	    0, 0, 0 },
	{ "relay.messages_per_connection", O_INT,
	    OFF(relay.messages_per_connection), "1000", 1, 1000000, 0, 0, 0 },
	{ "relay.connect_timeout", O_MS, OFF(relay.connect_timeout_ms), "30s",
	    1, 600000, 0, 0, 0 },
	{ "relay.command_timeout", O_MS, OFF(relay.command_timeout_ms), "5m",
	    1, 3600000, 0, 0, 0 },
	{ "relay.data_timeout", O_MS, OFF(relay.data_timeout_ms), "10m", 1,
	    3600000, 0, 0, 0 },
	{ "relay.idle_time", O_MS, OFF(relay.idle_ms), "5s", 0, 300000, 0,
	    0, 0 },
	{ "relay.backoff_recovery", O_MS, OFF(relay.backoff_recovery_ms),
	    "30s", 100, 3600000, 0, 0, 0 },

	{ "dns.resolver", O_STRLIST, OFF(dns.resolver), NULL, 0, 0, 0,
	    OFF(dns.nresolver), GW_MAX_RESOLVERS },
	{ "dns.timeout", O_MS, OFF(dns.timeout_ms), "5s", 10, 60000, 0, 0, 0 },
	{ "dns.attempts", O_INT, OFF(dns.attempts), "2", 1, 10, 0, 0, 0 },

	{ "limits.message_size", O_SIZE, OFF(limits.message_size), "25M",
	    1024, (int64_t)1 << 31, 0, 0, 0 },
	{ "limits.recipients", O_INT, OFF(limits.recipients), "100", 1,
	    100000, 0, 0, 0 },
	{ "limits.line_length", O_INT, OFF(limits.line_length), "512", 512,
	    65536, 0, 0, 0 },
	{ "limits.idle_timeout", O_MS, OFF(limits.idle_timeout_ms), "5m", 100,
	    3600000, 0, 0, 0 },
	{ "limits.data_timeout", O_MS, OFF(limits.data_timeout_ms), "10m",
	    100, 3600000, 0, 0, 0 },
	{ "limits.connections", O_INT, OFF(limits.connections), "1000", 1,
	    1000000, 0, 0, 0 },
	{ "limits.connections_per_ip", O_INT, OFF(limits.connections_per_ip),
	    "100", 1, 1000000, 0, 0, 0 },
	{ "limits.auth_failures", O_INT, OFF(limits.auth_failures), "10", 1,
	    1000000, 0, 0, 0 },
	{ "limits.auth_failures_ip", O_INT, OFF(limits.auth_failures_ip), "30",
	    1, 1000000, 0, 0, 0 },
	{ "limits.auth_window", O_MS, OFF(limits.auth_window_ms), "10m", 1000,
	    86400000, 0, 0, 0 },
	{ "limits.auth_block", O_MS, OFF(limits.auth_block_ms), "10m", 1000,
	    86400000, 0, 0, 0 },
	{ "limits.auth_fail_delay", O_MS, OFF(limits.auth_fail_delay_ms), "1s",
	    0, 60000, 0, 0, 0 },
	{ "limits.unknown_commands", O_INT, OFF(limits.unknown_commands), "20",
	    1, 100000, 0, 0, 0 },
	{ "limits.received_headers", O_INT, OFF(limits.received_headers),
	    "100", 1, 100000, 0, 0, 0 },
	{ "limits.memory", O_SIZE, OFF(limits.memory), "1G", 1048576,
	    INT64_MAX, 0, 0, 0 },
	{ "limits.bounce_pause_percent", O_INT,
	    OFF(limits.bounce_pause_percent), "5", 0, 100, 0, 0, 0 },
	{ "limits.bounce_pause_minimum", O_INT,
	    OFF(limits.bounce_pause_minimum), "100", 1, 1000000000, 0, 0, 0 },

	{ "queue.lifetime", O_MS, OFF(queue.lifetime_ms), "5d", 1000,
	    (int64_t)365 * 86400000, 0, 0, 0 },
	{ "queue.retry_min", O_MS, OFF(queue.retry_min_ms), "5m", 100,
	    (int64_t)7 * 86400000, 0, 0, 0 },
	{ "queue.retry_max", O_MS, OFF(queue.retry_max_ms), "1h", 100,
	    (int64_t)7 * 86400000, 0, 0, 0 },
	{ "queue.commit_window", O_MS, OFF(queue.commit_window_us), "0", 0,
	    100, 0, 0, 0 },

	{ "log.retention_days", O_INT, OFF(log.retention_days), "30", 1, 2557,
	    0, 0, 0 },
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

/* Set one option from a string in config syntax (defaults use this). */
static int
opt_set_string(struct gw_config *cfg, const struct opt *o, const char *s,
    int line)
{
	char *base = (char *)cfg;
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
			cerr(line, "%s: expected true or false", o->name);
			return -1;
		}
		return 0;
	case O_INT:
		errno = 0;
		v = strtoll(s, &end, 10);
		if (errno || *end || end == s || v < o->min || v > o->max) {
			cerr(line, "%s: \"%s\" is not a number from %lld to "
			    "%lld", o->name, s, (long long)o->min,
			    (long long)o->max);
			return -1;
		}
		*(int *)(base + o->off) = (int)v;
		return 0;
	case O_MS:
		if (parse_duration_ms(s, &ms) == -1 || ms < o->min ||
		    ms > o->max) {
			cerr(line, "%s: \"%s\" is not a duration from %lldms "
			    "to %lldms (e.g. 30s, 10m, 5d)", o->name, s,
			    (long long)o->min, (long long)o->max);
			return -1;
		}
		*(int64_t *)(base + o->off) = ms;
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
		cerr(line, "%s: \"%s\" is not one of the allowed values",
		    o->name, s);
		return -1;
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

static void
opt_set_setting(struct gw_config *cfg, const struct opt *o,
    const config_setting_t *s)
{
	int line = (int)config_setting_source_line(s);
	char text[4096];
	int r;

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
	if ((r = setting_text(s, text, sizeof(text))) == -2) {
		cerr(line, "%s: longer than %zu bytes", o->name,
		    sizeof(text) - 1);
		return;
	}
	if (r == -1) {
		cerr(line, "%s: expected a single value", o->name);
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
		for (int j = 0; j < config_setting_length(e); j++) {
			const config_setting_t *s = config_setting_get_elem(e, j);
			const char *name = config_setting_name(s);
			int sl = (int)config_setting_source_line(s);
			int t = config_setting_type(s);

			if (strcmp(name, "address") == 0 &&
			    t == CONFIG_TYPE_STRING)
				l->address = xstrdup(config_setting_get_string(s));
			else if (strcmp(name, "port") == 0 &&
			    t == CONFIG_TYPE_INT) {
				l->port = config_setting_get_int(s);
				if (l->port < 1 || l->port > 65535)
					cerr(sl, "listen.port: %d is not a "
					    "port number", l->port);
			} else if (strcmp(name, "tls") == 0 &&
			    t == CONFIG_TYPE_STRING) {
				const char *v = config_setting_get_string(s);

				if (strcmp(v, "starttls") == 0)
					l->tls = LISTEN_STARTTLS;
				else if (strcmp(v, "implicit") == 0)
					l->tls = LISTEN_IMPLICIT;
				else
					cerr(sl, "listen.tls: \"%s\" is not "
					    "\"starttls\" or \"implicit\"", v);
			} else if (strcmp(name, "require_tls") == 0 &&
			    t == CONFIG_TYPE_BOOL)
				l->require_tls = config_setting_get_bool(s);
			else if (strcmp(name, "ip_auth") == 0 &&
			    t == CONFIG_TYPE_BOOL)
				l->ip_auth = config_setting_get_bool(s);
			else
				cerr(sl, "listen: unknown setting \"%s\" or "
				    "wrong type", name);
		}
		if (l->address == NULL)
			l->address = xstrdup("127.0.0.1");
		if (l->port == 0)
			cerr(line, "listen: entry %d has no port", i + 1);
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

static void
check(struct gw_config *cfg)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char host[256];

	if (cfg->hostname == NULL || *cfg->hostname == '\0') {
		free(cfg->hostname);
		if (gethostname(host, sizeof(host)) == -1)
			gw_strlcpy(host, "localhost", sizeof(host));
		host[sizeof(host) - 1] = '\0';
		cfg->hostname = xstrdup(host);
	}
	if (str_has_ctl(cfg->hostname, strlen(cfg->hostname)) ||
	    strchr(cfg->hostname, ' '))
		cerr(0, "hostname: \"%s\" is not a host name", cfg->hostname);
	if (cfg->nlisten > 0 && (cfg->tls.certificate == NULL ||
	    cfg->tls.key == NULL))
		cerr(0, "tls.certificate and tls.key are required: every "
		    "listener speaks TLS");
	if (cfg->relay.mode == RELAY_SMARTHOST && cfg->relay.host == NULL)
		cerr(0, "relay.host: required when relay.mode is "
		    "\"smarthost\"");
	if (cfg->metrics_listen && cfg->metrics_listen[0] &&
	    sockaddr_parse(cfg->metrics_listen, 9465, &ss, &sl) == -1)
		cerr(0, "metrics.listen: \"%s\" is not an address "
		    "(IP:port or [IPv6]:port)", cfg->metrics_listen);
	for (int i = 0; i < cfg->dns.nresolver; i++)
		if (sockaddr_parse(cfg->dns.resolver[i], 53, &ss, &sl) == -1)
			cerr(0, "dns.resolver: \"%s\" is not an address (IP, "
			    "IP:port or [IPv6]:port)", cfg->dns.resolver[i]);
	if ((cfg->relay.username == NULL) != (cfg->relay.password == NULL))
		cerr(0, "relay.username and relay.password go together");
	if (cfg->queue.retry_min_ms > cfg->queue.retry_max_ms)
		cerr(0, "queue.retry_min is longer than queue.retry_max");
	/* The option is written in milliseconds, used in microseconds. */
	cfg->queue.commit_window_us *= 1000;
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
		cerr(config_error_line(&lc), "%s", config_error_text(&lc));
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
	free(cfg->path);
	free(cfg->dir);
	memset(cfg, 0, sizeof(*cfg));
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
