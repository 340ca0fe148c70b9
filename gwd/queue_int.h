/*
 * queue_int.h - what the scheduler's files share; queue.h is the
 * scheduler's face to the rest of gwd, schedule.h its interface with
 * the delivery client (mta.c).
 *
 * The files in layers: each calls only files below it.
 *
 *   queue_admin.c    gwctl queue flush/hold/release/delete/bounce
 *   queue_report.c   counters, queued recipients per domain, pools
 *   queue.c          entry points: start-up, new mail, policy, shutdown
 *   outcome.c        the end of an attempt: classify, record, move on
 *   dsn_queue.c      DSNs to senders; gwd's own notices (alerts)
 *   routing.c        routing decisions; where a recipient goes next
 *   dest.c           destinations and their jobs
 *   dest_conn.c      what they hear from their connections; failing jobs
 *                    (dest.c and dest_conn.c, one layer, call each other)
 *   throttle.c       limits, shared MX-host budgets, adaptive backoff
 *   rcpt.c           the recipient state machine and the counters
 *   qmsg.c           the message registry and the body cache
 *
 * Two calls go up, neither inside a caller's call: dest.c applies a
 * finished job's outcome from the loop through the function queue.c
 * gave it (outcome_apply), and mta.c, which dest.c drives, reports
 * back through schedule.h's dest_* calls, which never free anything.
 */
#ifndef GW_QUEUE_INT_H
#define GW_QUEUE_INT_H

#include <stdint.h>

#include "dsn.h"
#include "gwd.h"
#include "policy.h"
#include "rules.h"
#include "store.h"

struct dest;
struct job;
struct job_result;
struct hop;
struct hop_fail;
struct mta;
struct route_result;
struct ev_timer;

#define SMARTHOST_DEST	"[smarthost]"

/*
 * Time, one unit per thing.  What is stored is unix time: a message's
 * arrival in microseconds (received_us), a recipient's next attempt in
 * seconds (next_attempt).  What only this process needs is monotonic
 * milliseconds, like the settings: a destination's pacing, backoff and
 * route cache, a job's start (loop_now()).  sched_clock is the unix
 * clock the scheduler reads (now_us; tests move it by hand).
 */
#define MS_PER_S	1000
#define US_PER_S	1000000
#define MS_PER_MIN	(60 * MS_PER_S)
#define US_PER_MIN	((int64_t)60 * US_PER_S)

extern int64_t	(*sched_clock)(void);

static inline int64_t
sched_unix_s(void)
{
	return sched_clock() / US_PER_S;
}

static inline int64_t
sched_unix_ms(void)
{
	return sched_clock() / (US_PER_S / MS_PER_S);
}

static inline int64_t
us_to_s(int64_t us)
{
	return us / US_PER_S;
}

/* Rounded up: a retry is never early. */
static inline int64_t
ms_to_s_up(int64_t ms)
{
	return (ms + MS_PER_S - 1) / MS_PER_S;
}

/* When m's recipients stop being retried (unix seconds). */
static inline int64_t
msg_expires_s(const struct qmsg *m)
{
	return us_to_s(m->received_us) + gcfg->queue.lifetime_ms / MS_PER_S;
}

/* What the policy says now for one recipient. */
struct choice {
	const struct rule *rule;	/* NULL: the defaults */
	char		 name[1024];	/* the dest */
	const char	*domain;	/* MX; NULL: smarthost */
	const struct shlist *sh;	/* the smarthosts (NULL: none usable) */
	int		 port, tls, auth, prio;
	const struct cred *cred;	/* a rule's smarthost credentials */
	const struct pool *pool;
};

/* Outcomes per IP pool name since start-up: outlive the dests. */
struct pool_count {
	int64_t	 delivered, deferred, bounced;
};

/* qmsg.c */
void	 qmsg_init(void);
void	 qmsg_register(struct qmsg *);
void	 qmsg_register_loaded(struct qmsg *);
struct qmsg *qmsg_find(const char *qid);
void	 qmsg_set_held(struct qmsg *, int held);
int	 qmsg_count(void);
int	 qmsg_count_held(void);
int	 qmsg_count_quarantined(void);	/* held by a content policy */
void	 qmsg_stored(struct qmsg *);
void	 queue_release_body(struct qmsg *);
void	 qmsg_drop_body(struct qmsg *);
void	 qmsg_maybe_drop_body(struct qmsg *);
void	 qmsg_forget(struct qmsg *);

/* rcpt.c */
void	 rcpt_move(struct qrcpt *, enum qrcpt_state);
int	 rcpt_count(enum qrcpt_state);
int	 rcpt_pending(void);		/* waiting, ready, active or held */
struct qrcpt *rcpt_next_retry(void);	/* the earliest waiting one */

/* routing.c */
void	 routing_init(void);
void	 routing_arm_retry(void);
void	 routing_match(struct qrcpt *, const struct policy *, int gen);
void	 routing_choose(struct qrcpt *, struct choice *);
struct dest *routing_place(struct qrcpt *, int kick);
void	 routing_add(struct qmsg *);
void	 routing_load(struct qmsg *);
void	 routing_repolicy(void);

/* dest.c */
void	 dest_init(void (*done)(struct job *));
void	 dest_shutdown(void);
struct dest *dest_get(const struct choice *);
struct dest *dest_find(const char *name);
int	 dest_count(void);
void	 dest_foreach(int (*)(const char *, void *, void *), void *);
void	 dest_resume_all(void);
void	 dest_ready(struct dest *, struct qrcpt *, int prio);
void	 dest_unready(struct qrcpt *);
void	 job_free(struct job *);
void	 dest_kick(struct dest *);
/* Every destination of an MX-host budget that has work (throttle.c). */
struct tgroup;
void	 dest_kick_group(struct tgroup *);
void	 dest_sift_ready(struct dest *, int (*stays)(struct qrcpt *,
	    const struct dest *, int prio, void *),
	    void (*leave)(struct qrcpt *, void *), void *);
void	 dest_policy_changed(void);
struct pool_count *dest_pool_count(const char *name);
struct job *dest_pop(struct dest *);
struct job *dest_take(struct dest *);
void	 job_run(struct mta *, struct job *);

/* dest_conn.c (the rest of its calls are schedule.h's) */
void	 dest_fail_all(struct dest *, int code, const char *status,
	    const char *text, const struct hop *, const struct hop_fail *tried,
	    int ntried);

/* throttle.c */
void	 throttle_init(void);
void	 throttle_limits(const struct policy *, const char *name,
	    int *max_conn, int *per_conn, int *per_minute);
int64_t	 throttle_wait(const struct dest *, int64_t now);
void	 throttle_sent(struct dest *, int64_t now);
int	 throttle_room(const struct dest *);
void	 throttle_conn(struct dest *, int delta);
void	 throttle_forget(struct dest *);
void	 throttle_group(struct dest *, const struct route_result *);
void	 throttle_refresh(struct dest *, const struct policy *);
int	 throttle_backoff(struct dest *, int64_t started, int code,
	    const char *status, const char *text);
int	 throttle_success(struct dest *, int64_t started);
int	 throttle_recover(struct dest *);
int	 throttle_active(const struct dest *);

/* queue.c (queue_init() does it at start-up; tests again) */
int	 queue_load_start(char *err, size_t errsz);

/* outcome.c */
void	 outcome_apply(struct job *);

/* dsn_queue.c */
void	 dsn_queue_stored(struct store_op *);
void	 dsn_queue_submit(struct store_op *);
void	 dsn_queue_build(struct store_op *, struct qmsg *,
	    const struct dsn_rcpt *, int nfr);
/* Did r's client ask for a report of this kind (DSN_NOTIFY_SUCCESS,
 * _FAILURE or _DELAY)?  Without NOTIFY: failures only. */
int	 dsn_wanted(const struct qrcpt *r, int what);

#endif
