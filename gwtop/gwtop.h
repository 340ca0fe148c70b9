/*
 * gwtop.h - the pieces of gwtop: a model that reads queue.db, log.db
 * (model.c) and gwd's control socket (ctl.c) into a snapshot, derived
 * rates (rates.c), remote replies shortened for columns (reply.c),
 * panels that draw a snapshot (panel_*.c) with their tables (table.c),
 * the screen that arranges them (view.c), and the one-shot printer
 * (once.c).
 */
#ifndef GWTOP_H
#define GWTOP_H

#include <stddef.h>
#include <stdint.h>

#include "ctlproto.h"
#include "event.h"

#define RECENT_MAX	200

/* Windows over which log.db events are counted. */
enum win { WIN_1M, WIN_5M, WIN_1H, NWIN };
/* Event actions counted: event.h's first EV_NTALLY (EV_RECEIVED ...),
 * the order of columns and keys. */
#define NACT	EV_NTALLY

extern const char *const win_name[NWIN];	/* "1m", "5m", "1h" */
extern const int	 win_seconds[NWIN];

struct recent {
	int64_t		 id, ts;
	char		 action[16];
	char		 qid[32];
	char		 rcpt[256];
	char		 result[256];	/* "250 2.0.0 mx.example.com" */
};

/* gwd's live counters, from `stats` on its control socket. */
struct live {
	int		 ok;		/* gwd answered */
	int64_t		 uptime_s;
	int64_t		 sessions;	/* inbound SMTP sessions now */
	int64_t		 connections_out;
	int64_t		 received_total;	/* messages accepted */
	int64_t		 delivered_total;	/* recipients delivered */
	int64_t		 deferred_total;
	int64_t		 bounced_total;
	int64_t		 cluster_degraded;	/* Redis away (cluster.h) */
	int64_t		 alerts_firing;	/* gwd's alerts firing now */
	char		 alert_first[65];	/* the first one's name */
};

/* Recent samples of the live counters, for msg/s and sparklines. */
#define HIST_MAX	120
struct hist {
	int		 n;		/* samples held, oldest first */
	int64_t		 t_us[HIST_MAX];
	int64_t		 in[HIST_MAX];	/* received_total */
	int64_t		 out[HIST_MAX];	/* delivered_total */
};

/* One line of gwd's `destinations`: queued recipients of a domain,
 * by age (ctlproto.h: CTL_AGES buckets, at most CTL_DEST_MAX lines). */

struct dest {
	char		 name[CTL_DOMAIN_MAX + 1];
	int64_t		 queued, active, waiting, connections;
	int64_t		 age[CTL_AGES];
	int64_t		 next_attempt;	/* unix seconds; 0: none */
	char		 error[256];
	/* The destination it goes through and its throttle state; only
	 * if has_throttle (an older gwd does not say). */
	int		 has_throttle;
	char		 via[CTL_DEST_NAME_MAX + 1];
	int64_t		 limit, window, gap_ms, per_minute, throttled;
	/* Of the smarthosts it goes through, how many are up (has_health:
	 * gwd said, and sh_total > 0: not by MX). */
	int		 has_health;
	int64_t		 sh_up, sh_total;
	/* The TLS policy of the last attempt through it that connected
	 * and its result (1 verified, 0 not, -1 no TLS); only if has_tls
	 * (gwd said, and there was one). */
	int		 has_tls;
	char		 tls[16];
	int64_t		 tls_verified;
};

/* gwd's health record of one smarthost, from `destinations`. */
#define SMARTHOST_MAX	64

struct smarthost {
	char		 name[300];	/* "host:port" */
	int		 up;
	int64_t		 failures, successes;	/* in a row */
	int64_t		 changed;	/* unix seconds */
	char		 error[256];
};

/*
 * gwd's `pools`: each IP pool with its figures, and its source
 * addresses (the table's rows; a pool without any has one row, "-").
 */
#define POOL_MAX	100
#define PADDR_MAX	500

struct pool {
	char		 name[CTL_NAME_MAX + 1];
	int64_t		 connections;
	int64_t		 delivered, deferred, bounced;	/* since gwd started */
	char		 dests[1024];	/* "a,b"; "-": none */
};

struct paddr {
	int		 pool;		/* index in snapshot.pool */
	char		 address[64];
	char		 helo[256];
	int64_t		 connections;
};

/*
 * A subaccount's outcomes over the last hour and day, from log.db, and
 * its quotas and pause, from gwd's `subaccounts` (if known: gwd listed
 * it; quota 0: none).
 */
#define SUB_MAX		200
enum subwin { SUB_1H, SUB_24H, NSUBWIN };

struct sub {
	char		 name[CTL_NAME_MAX + 1];
	int64_t		 count[NSUBWIN][NACT];
	int		 known;
	int		 enabled, paused;
	int64_t		 quota_hour, used_hour, quota_day, used_day;
	char		 reason[256];	/* "" unless paused */
};

/* A message in queue.db. */
#define QMSG_MAX	500

struct qmsg {
	char		 qid[32];
	char		 sender[256];
	char		 subaccount[CTL_NAME_MAX + 1];
	char		 rcpt[256];	/* the first pending recipient */
	char		 last_reply[256];
	int64_t		 received_us;
	int64_t		 size;
	int64_t		 nrcpt;
	int64_t		 attempts;	/* the most of any recipient */
	int64_t		 next_attempt;	/* the soonest; unix seconds */
};

/* A pending recipient of the message on the message screen. */
#define LIFE_RCPT_MAX	50

struct life_rcpt {
	char		 address[256];
	int64_t		 attempts;
	int64_t		 next_attempt;	/* unix seconds */
	char		 last_reply[2600];	/* whole (gwd's reply.h) */
};

struct snapshot {
	int64_t		 now_us;
	const char	*gwd;		/* running, stopped, refused, unknown */
	struct live	 live;
	struct hist	 hist;		/* kept across refreshes */

	int		 queue_ok;
	int		 queue_missing;	/* queue.db does not exist */
	char		 queue_err[512];
	int64_t		 rcpt_total, rcpt_ready, rcpt_deferred;
	int64_t		 messages;
	int64_t		 oldest_age_s;	/* 0: the queue is empty */

	int		 log_ok;
	int		 log_missing;
	char		 log_err[512];
	int64_t		 count[NWIN][NACT];
	int64_t		 hard[NWIN];	/* bounced, class 'hard' */
	int64_t		 complained[NWIN];	/* abuse reports matched */
	struct recent	 recent[RECENT_MAX];
	int		 nrecent;
	/* Delivery latency (received -> delivered) in ms, -1: none. */
	int64_t		 lat_p50[NWIN], lat_p95[NWIN];
	struct sub	 sub[SUB_MAX];
	int		 nsub;
	int		 subs_ok;	/* gwd answered `subaccounts` */

	int		 dest_ok;	/* gwd answered `destinations` */
	struct dest	 dest[CTL_DEST_MAX];
	int		 ndest;
	struct smarthost sh[SMARTHOST_MAX];
	int		 nsh;

	int		 pools_ok;	/* gwd answered `pools` */
	struct pool	 pool[POOL_MAX];
	int		 npool;
	struct paddr	 paddr[PADDR_MAX];
	int		 npaddr;

	struct qmsg	 qmsg[QMSG_MAX];	/* oldest first */
	int		 nqmsg;

	/* Recent events: also the routine ones (event.h: signed, routed),
	 * as the view asks. */
	int		 all_events;

	/* The lifecycle of one message, when asked for: its events, and
	 * its recipients still queued (life_queued of them; the first
	 * LIFE_RCPT_MAX listed). */
	char		 life_qid[32];
	struct recent	 life[RECENT_MAX];
	int		 nlife;
	struct life_rcpt life_rcpt[LIFE_RCPT_MAX];
	int		 nlife_rcpt;
	int		 life_queued;
};

struct model;

/* model.c: databases opened read-only, reopened after any failure. */
struct model *model_new(const char *state_dir, const char *control_socket);
/* s->life_qid says which message's events to read ("" for none). */
void	 model_refresh(struct model *, struct snapshot *);
void	 model_free(struct model *);

/* hist.c: per-second rates between samples i-1 and i (i >= 1). */
void	 hist_add(struct hist *, int64_t t_us, const struct live *);
double	 hist_rate(const struct hist *, int i, int out);

/* ctl.c: gwd's control socket, one command per connection.  The
 * state ("running", "stopped", "refused", "unknown"); the whole answer
 * in reply, or nothing (no answer in time, or an "error" one). */
struct buf;
const char *ctl_ask(const char *path, const char *cmd, struct buf *reply);
/* Why the control socket refused us (gwd's words), or NULL. */
const char *ctl_refusal(void);
void	 ctl_stats(char *text, struct live *);
int	 ctl_destinations(char *text, struct dest *, int max);
/* The "smarthost" lines of a `destinations` answer (text unchanged). */
int	 ctl_smarthosts(const char *text, struct smarthost *, int max);
/* The title of age bucket i: "<5m" ... "80m+" (ctlproto.h). */
void	 ctl_age_title(int i, char *, size_t);
/* 0, or -1 if the answer is not a whole `pools` reply. */
int	 ctl_pools(char *text, struct snapshot *);
/* Quotas and pauses into s->sub, adding subaccounts without traffic;
 * the number of lines understood. */
int	 ctl_subaccounts(char *text, struct snapshot *);
/* model.c: the row of a subaccount, added if new; NULL when full. */
struct sub *model_sub(struct snapshot *, const char *name);

/* rates.c: derived figures; -1 when there is nothing to divide by. */
enum rate { RATE_IN, RATE_OUT, RATE_DELIVERY, RATE_DEFERRAL, RATE_BOUNCE,
    RATE_HARD, RATE_P50, RATE_P95, RATE_COMPLAINT, NRATE };
enum level { LEVEL_NONE, LEVEL_GOOD, LEVEL_WARN, LEVEL_BAD };

extern const char *const rate_name[NRATE];	/* "in_per_s", ... */
double	 rates_get(const struct snapshot *, enum win, enum rate);
int	 rates_is_percent(enum rate);
enum level rates_level(enum rate, double);
void	 rates_format(enum rate, double, char *, size_t);

/* reply.c: "451 4.2.1 mx.example.net said: busy" as "451 4.2.1 busy";
 * other text as it is. */
void	 reply_brief(const char *in, char *out, size_t n);

/* once.c: gwtop --once [--screen destinations] */
enum once_screen { ONCE_OVERVIEW, ONCE_DESTINATIONS };
int	 once_print(const struct snapshot *, int json, enum once_screen);
/* cluster.c: gwtop --cluster, every node's stats from Redis. */
struct gw_config;
int	 cluster_print(const struct gw_config *, int json);

/* The first paused subaccount known to gwd and how many are; 0: none. */
int	 subs_paused(const struct snapshot *, const char **first);
/* Percent of the fuller quota used, -1 if none; "3/10 h" in out. */
double	 subs_quota(const struct sub *, char *out, size_t n);

#endif
