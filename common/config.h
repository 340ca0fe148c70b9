/*
 * config.h - gwd.conf (libconfig syntax), read by every gw program.
 *
 * Settings are rows of a table (name, type, where it goes, default,
 * bounds); see config.c and examples/gwd.conf.  Relative paths are taken
 * relative to the directory of the configuration file.
 */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cidr.h"
#include "shlist.h"

#define GW_DEFAULT_CONFIG	"/etc/gw/gwd.conf"
#define GW_MAX_LISTEN		32
#define GW_MAX_RESOLVERS	4
#define GW_MAX_FEEDBACK		16	/* feedback.domains, .addresses */
#define GW_MAX_PROXY_NETS	16	/* trusted_proxies of one listener */
#define GW_MAX_URIBL		8	/* content.uribl zones */
/* relay.username and relay.password, each: the most RFC 4616 (SASL
 * PLAIN) makes every server accept, and what mta.c's buffers hold. */
#define RELAY_CRED_MAX		255

enum tls_listen { LISTEN_STARTTLS, LISTEN_IMPLICIT };
/* submission: authenticated clients' mail, queued for delivery;
 * feedback: bounces and abuse reports from anyone, to feedback.domains
 * and feedback.addresses only, read and never queued. */
enum listen_role { LISTEN_SUBMISSION, LISTEN_FEEDBACK };
enum tls_policy { TLSP_NONE, TLSP_MAY, TLSP_ENCRYPT, TLSP_VERIFY };
enum relay_mode { RELAY_MX, RELAY_SMARTHOST };
enum bare_lf_mode { BARE_LF_REFUSE, BARE_LF_NORMALIZE };
/* content.rspamd.fail: a scan rspamd cannot answer lets the message
 * go (open) or answers 451 4.7.1 (closed). */
enum content_fail { CFAIL_OPEN, CFAIL_CLOSED };
/* What gwd does on an rspamd action (content.rspamd.reject, ...), by
 * precedence: the strongest of the policies' and rspamd's wins. */
enum spam_act { SPAM_IGNORE, SPAM_TAG, SPAM_QUARANTINE, SPAM_DEFER,
	SPAM_BLOCK };
/* rspamd's actions that map to a spam_act, in content.rspamd.act[]. */
enum rspamd_action { RSA_REJECT, RSA_SOFT_REJECT, RSA_REWRITE_SUBJECT,
	RSA_ADD_HEADER, RSA_GREYLIST, RSA_COUNT };
/* What a running gwd does with a changed value on SIGHUP. */
enum config_reload { CONFIG_RESTART, CONFIG_LIVE };

struct gw_listen {
	char		*address;
	int		 port;
	enum tls_listen	 tls;
	int		 require_tls;	/* MAIL/AUTH only after TLS */
	int		 ip_auth;	/* admit allowlisted IPs without AUTH */
	enum listen_role role;
	/* A PROXY protocol header first (a load balancer in front), from
	 * these networks only. */
	int		 proxy_protocol;
	struct cidr	 proxies[GW_MAX_PROXY_NETS];
	int		 nproxies;
	int		 line;		/* where it was configured */
};

struct gw_config {
	char		*path;
	char		*dir;		/* directory of path */
	int		*lines;		/* per option row: its line, 0: default */
	char		*state_dir;
	char		*hostname;
	char		*dsn_from;	/* From: of DSNs; NULL:
					   MAILER-DAEMON@hostname */
	char		*user;
	char		*control_socket;
	char		*metrics_listen;	/* "127.0.0.1:9465"; NULL: off */
	int64_t		 metrics_min_free;	/* /health: bytes in state_dir */
	int		 metrics_connections;	/* HTTP clients at once */
	int64_t		 metrics_idle_timeout_ms; /* connect to answer */
	char		*http_listen;		/* HTTPS: "0.0.0.0:443"; NULL: off */
	char		*http_public_host;	/* "HOST[:PORT]" of unsubscribe
						   links; NULL: none */
	int		 http_connections;	/* HTTPS clients at once */
	int64_t		 http_idle_timeout_ms;	/* connect to answer */
	uint64_t	 http_api_max_size;	/* a send API request's body;
						   0: limits.message_size's */
	int		 http_api_rate;		/* API requests per second per
						   key; 0: no limit */
	int		 syslog;
	int		 sandbox;	/* Landlock, seccomp (gwd/sandbox.h) */
	int		 syslog_pen;	/* gwsearch syslog5424: gw@PEN */
	int64_t		 shutdown_timeout_ms;	/* deliveries under way */

	struct gw_listen listen[GW_MAX_LISTEN];
	int		 nlisten;

	struct {
		char	*certificate;
		char	*key;
		int	 self_signed;	/* make the pair on first start */
		char	*ciphers;	/* TLS 1.2 list */
		char	*ciphersuites;	/* TLS 1.3, in preference order */
		char	*groups;	/* key exchange, in preference order */
		int64_t	 ticket_lifetime_ms;	/* 0: no session tickets */
		int	 lean_sessions;	/* TLS 1.3: keys only after the
					   handshake (gwd/conn_rec.c) */
	} tls;

	struct {
		enum relay_mode	 mode;
		char		*hosts[SHLIST_MAX];	/* relay.host, */
		int		 nhosts;	/* a string or a list */
		char		*host;		/* the list's canonical text */
		struct shlist	 sh;		/* parsed (check()) */
		int		 port;		/* for an entry without one */
		struct {
			int64_t	 interval_ms;	/* 0: no probes */
			int64_t	 timeout_ms;
			int	 fall;		/* failures: down */
			int	 rise;		/* successes: up again */
		} health;
		enum tls_policy	 tls;
		char		*ca_file;	/* for tls = "verify" */
		char		*ca_dir;	/* neither: the system's */
		int		 allow_loopback_mx; /* MX may point at
						   loopback or ourselves */
		char		*username;
		char		*password;
		int		 mx_port;	/* port for MX delivery */
		int		 connections;	/* per destination */
		int		 messages_per_connection;
		int64_t		 connect_timeout_ms;
		int64_t		 command_timeout_ms;
		int64_t		 data_timeout_ms;
		int64_t		 idle_ms;	/* keep an idle conn open */
		int64_t		 connection_lifetime_ms; /* no new job on
						   an older conn */
		int64_t		 backoff_recovery_ms; /* calm before a
						   throttled dest speeds up */
	} relay;

	struct {
		char	*resolver[GW_MAX_RESOLVERS];
		int	 nresolver;
		int64_t	 timeout_ms;
		int	 attempts;
		int	 dnssec;	/* trust the resolver's AD bit */
	} dns;
	/* MTA-STS (gwd/sts.c): the policies of MX destinations. */
	struct {
		int	 enable;
		int64_t	 timeout_ms;	/* TXT lookup + policy fetch */
		char	*ca_file;	/* NULL: the system's CAs */
		char	*connect_to;	/* "host:port" every fetch connects
					   to instead (tests); NULL: none */
		int	 cache_size;	/* domains kept, with and without
					   a policy (each) */
	} mta_sts;
	/* TLS-RPT (gwd/tls_report.c): daily reports to policy domains. */
	struct {
		int	 enable;	/* count sessions, send daily */
		char	*org_name;	/* NULL: the host name */
		char	*contact;	/* NULL: postmaster@ the host name */
		char	*ca_file;	/* https: rua; NULL: the system's */
		char	*connect_to;	/* as mta_sts.connect_to (tests) */
	} tls_rpt;

	struct {
		uint64_t message_size;
		int	 recipients;
		int	 line_length;
		int64_t	 idle_timeout_ms;
		int64_t	 data_timeout_ms;
		int	 connections;
		int	 connections_per_ip;
		int	 auth_failures;	/* per address and user name */
		int	 auth_failures_ip;	/* per address, any names */
		int64_t	 auth_window_ms;
		int64_t	 auth_block_ms;
		int64_t	 auth_fail_delay_ms;
		int	 unknown_commands;
		int	 received_headers;
		uint64_t memory;	/* all messages being received */
		int	 bounce_pause_percent;	/* 0: never pause */
		int	 bounce_pause_minimum;	/* recipients in 24 h */
		int	 complaint_pause_ppm;	/* millionths; 0: never */
		int	 complaint_pause_minimum; /* recipients in 24 h */
		enum bare_lf_mode bare_lf;	/* in DATA */
	} limits;

	struct {
		int64_t	 lifetime_ms;
		int64_t	 retry_min_ms;
		int64_t	 retry_max_ms;
		int64_t	 delay_warning_ms; /* DSN NOTIFY=DELAY; 0: never */
		int64_t	 commit_window_us; /* wait for company before fsync */
		int	 store_backlog;	/* changes unrecorded: deliveries wait */
	} queue;

	struct {
		int	 retention_days; /* events older are pruned */
	} log;

	struct {
		int	 quarantine_days; /* quarantined mail older: deleted */
		char	*admin_address;	/* quarantine notifications, when the
					 * policy names no --notify; NULL */
	} policy;

	/* Several nodes sharing limits and the suppression list through
	 * Redis (gwd/cluster.c); redis NULL: one node, no Redis. */
	struct {
		char	*redis;		/* "IP:port" */
		char	*node;		/* this node's name; NULL: hostname */
		char	*password_file;	/* Redis AUTH; NULL: none */
		int	 tls;		/* not in this build: refused */
		int	 snapshot_every; /* gw:config entries a snapshot */
	} cluster;

	struct {
		struct {
			char	*url;		/* "http://127.0.0.1:11333";
						   NULL: no rspamd scan */
			int64_t	 timeout_ms;	/* the whole exchange */
			int	 fail;		/* enum content_fail */
			uint64_t max_size;	/* larger: not sent */
			int64_t	 retry_ms;	/* after a failure, not asked
						   for this long */
			int	 act[RSA_COUNT]; /* enum spam_act each */
		} rspamd;
		char	*uribl[GW_MAX_URIBL];	/* DNS URI blocklist zones */
		int	 nuribl;
		int64_t	 uribl_timeout_ms;	/* all lookups of a message */
		int	 uribl_domains;	/* looked up per message, at most */
		char	*url_blocklist;	/* file of domains; NULL: none */
	} content;

	struct {
		int	 store;		/* the local store (gwd/archive.h) */
		char	*journal;	/* journal reports go to; NULL: none */
		int	 all;		/* every message; 0: only what a rule
					   with --archive yes takes */
		int	 retention_days; /* day files older go; 0: never */
	} archive;

	struct {
		char	*domains[GW_MAX_FEEDBACK];	/* bounce domains: any
							   local part */
		int	 ndomains;
		char	*addresses[GW_MAX_FEEDBACK];	/* fbl@example.com */
		int	 naddresses;
		char	*bounce_domain;	/* VERP for every subaccount without
					   its own; NULL: senders kept */
		uint64_t max_size;
		char	*rate;		/* "60/min": messages per client IP */
		int	 rate_count;	/* from rate, by config_load */
		int64_t	 rate_window_ms;
		char	*reject_log;	/* "10/min": refusals per client IP
					   logged one by one */
		int	 reject_log_count;	/* from reject_log */
		int64_t	 reject_log_window_ms;
	} feedback;

	struct {
		int	 batch_max;	/* events per POST */
		int64_t	 batch_wait_ms;	/* the first waits no longer */
		int	 concurrency;	/* POSTs in flight per webhook */
		int64_t	 timeout_ms;	/* one POST */
		int64_t	 retry_max_ms;	/* the longest backoff */
		int64_t	 retry_for_ms;	/* then the events are dropped */
		int	 window;	/* events held in memory per webhook */
		char	*ca_file;	/* NULL: the system's CAs */
	} webhook;
	/* Alerts (gwd/alert.c; the rules are gw.db's, gwctl alert). */
	struct {
		char	*sender;	/* From: of alert mail; NULL:
					   gw-alerts@hostname */
		int64_t	 interval_ms;	/* how often they are evaluated */
		int64_t	 window_ms;	/* rates and latency over this */
		int	 min_outcomes;	/* fewer in the window: rate 0 */
		int	 resolve_ppm;	/* clear level, of the threshold */
		char	*pagerduty_url;	/* Events API v2 */
		char	*ca_file;	/* for https targets; NULL: system */
		int64_t	 volume_bucket_ms;	/* the volume counted per */
		int64_t	 volume_period_ms;	/* "the same time of day" */
		int64_t	 volume_span_ms;	/* "the same hour" */
		int	 volume_periods;	/* days of history */
		int	 volume_floor;	/* per bucket: never an anomaly */
	} alerts;
};

/*
 * Load `path` into *cfg (defaults first).  Every problem found is
 * printed as "PROG: FILE:LINE: reason" and counted; returns the count
 * (0 = OK).  A missing file is one error.
 */
int	config_load(const char *path, struct gw_config *cfg);
void	config_free(struct gw_config *cfg);
/*
 * Every setting with its value (defaults included), the line that set
 * it, and live or restart: what `gwd -n -v` prints.  relay.password is
 * not shown.
 */
void	config_print(FILE *f, const struct gw_config *cfg);
/*
 * SIGHUP: compare the running configuration with nw, just loaded.  For
 * each setting that differs, note(arg, name, old, new, live) with the
 * values as config text (secrets masked); a setting that needs a restart
 * gets its old value back in nw, so nw is what the running gwd can be.
 * Returns how many settings differ.
 */
int	config_reload_merge(const struct gw_config *old, struct gw_config *nw,
	    void (*note)(void *arg, const char *name, const char *oldv,
	    const char *newv, int live), void *arg);
/* 1 when h looks like a fully qualified domain name (EHLO material). */
int	config_hostname_fqdn(const char *h);
/* The line of the file that set `name` ("relay.mode"); 0: the default. */
int	config_line(const struct gw_config *cfg, const char *name);
/* CONFIG_LIVE or CONFIG_RESTART for `name` (every listen entry: restart);
 * -1 for a name that is no setting. */
int	config_reloadable(const char *name);
/*
 * What gwd does with the file or directory a path setting names (the
 * option table's column; the sandbox lets it do that and no more).
 */
enum config_path_use {
	CONFIG_PATH_READ,	/* a file, read */
	CONFIG_PATH_READ_DIR,	/* a directory, its files read */
	CONFIG_PATH_RW,		/* a directory gwd creates files under */
	CONFIG_PATH_SOCKET,	/* a socket gwd binds: its directory, rw */
};
/* The config_path_use of setting `name`; -1 when it names no file. */
int	config_path_use(const char *name);
/*
 * fn(arg, name, path, use) for the configuration file itself, then for
 * every path setting that has a value: the one list of the files gwd
 * may touch (a setting that names a file is O_PATH in config.c's table,
 * never O_STR).  Stops at the first non-zero return and returns it.
 */
int	config_each_path(const struct gw_config *cfg,
	    int (*fn)(void *arg, const char *name, const char *path,
	    enum config_path_use use), void *arg);
/*
 * The DNS servers to ask: dns.resolver (checked by config_load), or the
 * nameserver lines of /etc/resolv.conf when it is not set.  Fills at most
 * max addresses; returns how many (0: none known).
 */
int	config_dns_servers(const struct gw_config *cfg,
	    struct sockaddr_storage *ss, socklen_t *len, int max);
/*
 * The first setting named twice in one group of the libconfig text
 * (len bytes): 1 with its dotted name ("relay", "limits.recipients"),
 * the line of the repeat and of the first; 0 when there is none.
 */
int	config_find_duplicate(const char *text, size_t len, char *name,
	    size_t namesz, int *line, int *first);
const char *tls_policy_name(enum tls_policy);
/* "block", "defer", ...: the name of an enum spam_act. */
const char *spam_act_name(int);
/* The policy named s ("none", "opportunistic", ...), or -1. */
int	tls_policy_parse(const char *s);

#endif
