/*
 * schedule.h - what the scheduler (dest.c and its neighbours, see
 * queue_int.h) and the delivery client (mta.c) share: destinations,
 * jobs (one message's recipients for one destination, one SMTP
 * transaction), and the calls between them.
 */
#ifndef GW_SCHEDULE_H
#define GW_SCHEDULE_H

#include <sys/socket.h>

#include "gwd.h"
#include "loop.h"
#include "route.h"
#include "rules.h"

struct mta;
struct tgroup;
struct pool_count;
struct dest_fail;

/* code 0: not attempted, put the recipient back at once (e.g. a 452
 * "too many recipients" to the 101st: it goes in the next transaction). */
struct job_result {
	int	 code;
	char	 status[16];
	char	*text;		/* for the log: "mx1 said: ..." */
	char	*reply;		/* the remote reply as it was said, lines
				   joined by a space; NULL: gw's own */
};

/*
 * The next hop of an attempt as the audit log records it: who, and how
 * TLS went.  tls_verified: 1 the certificate chains to the CA store and
 * matches the host name, 0 it does not (tls_note says why), -1 no TLS
 * (tls_note may say why not).  started_ms: when the connection began,
 * which tells whether a throttling reply at its greeting is news
 * (throttle.c).
 */
struct hop {
	int64_t		 started_ms;	/* monotonic; 0: no connection */
	char		 host[256];
	char		 ip[64];
	char		 tls[128];	/* "TLSv1.3 TLS_AES_128_GCM..." */
	int		 tls_verified;
	char		 tls_note[160];
	const char	*tls_policy;	/* "dane" when TLSA records ruled
					   the attempt; NULL: the dest's */
};

/* A next hop that failed before any transaction (refused, timeout, a
 * greeting refused, TLS): one event each of the attempt that tried it. */
struct hop_fail {
	char		 host[256];
	char		 ip[64];
	char		 why[300];
};

struct job {
	struct job	*next;
	struct dest	*dest;
	struct qmsg	*msg;
	struct qrcpt	**rcpt;
	int		 nrcpt;
	int		 prio;		/* enum prio: which queue of dest */
	struct job_result *res;
	struct hop	 hop;		/* filled in by mta.c */
	int64_t		 started_ms;
	int		 maybe_dup;	/* no reply after the final dot */
	int		 body_held;	/* queue_load_body() succeeded */
	struct hop_fail	*tried;		/* hops that failed first, or NULL */
	int		 ntried;
	int		 dsn_passed;	/* the receiver offered DSN (RFC 3461):
					   NOTIFY went on, success reports
					   are its to send */
};

enum dest_route { DR_NONE, DR_RESOLVING, DR_READY };

/* A source address for connections (an IP pool's). */
struct dest_src {
	struct sockaddr_storage	 sa;
	socklen_t		 salen;
	char			 helo[256];
};

/*
 * Where mail goes and how: one per (recipient domain or smarthost, TLS
 * policy, IP pool), named like "example.com", "[smarthost]",
 * "[relay.example.net:2525]/tls=required@bulk".  Ready recipients wait
 * in one list per priority class, and become a job (one transaction)
 * only when a connection takes them, so a backlog costs no jobs; limits
 * come from gw.db's throttle table or gwd.conf's relay section, and
 * shrink for a while when the remote side says it is being sent too
 * much (adaptive backoff).
 */
/*
 * Credentials a routing rule gives its smarthost: one per distinct
 * user and password seen since start-up, numbered; the number is part
 * of the name of each dest that uses them, so that rules with other
 * credentials never share its connections.  Never freed: they are few,
 * and a dest may outlive the policy that named them.
 */
struct cred {
	int		 id;
	char		*user;
	char		*password;	/* "" when gw.db has none */
};

struct dest {
	char		*name;
	char		*domain;	/* MX lookup; NULL: smarthost */
	char		*host;		/* smarthost: the first (throttles) */
	struct shlist	*sh;		/* smarthost: the list (NULL: none
					   usable) */
	int		 port;		/* MX */
	int		 tls;		/* enum tls_policy */
	int		 auth;		/* relay.username/password apply */
	const struct cred *cred;	/* a rule's instead; NULL: none */
	struct dest_src	*src;		/* pool addresses; NULL: any */
	int		 nsrc, src_next;	/* dest_src_next() */
	char		*pool;		/* the IP pool's name; NULL: none */
	struct pool_count *pcount;	/* its outcomes since start-up */
	int		 policy_gen;	/* src and limits are as of this */
	/* Ready recipients wait in one list per priority class; a job is
	 * made of the first ones when a connection takes them. */
	struct qrcpt	*ready[PRIO_COUNT], *ready_last[PRIO_COUNT];
	int		 tail_n[PRIO_COUNT];	/* in the last one's job */
	int		 njobs;		/* jobs those lists make */
	int		 credit;	/* transactional jobs before a bulk one */
	int		 nconn;		/* every connection of this dest */
	int		 nconnecting;	/* not yet ready for a job */
	int		 nposted;	/* finished jobs not yet applied */
	struct mta	*idle;		/* ready connections without work */
	/* Limits. */
	int		 max_conn, per_conn, per_minute;
	int		 conn_shared;	/* max_conn is a throttle's: the
					   cluster's (throttle.c) */
	int		 cwnd;		/* connections allowed now */
	int64_t		 gap_ms;	/* backoff: at least this between
					   messages */
	int64_t		 last_send;	/* monotonic ms: the last job began */
	int64_t		 backoff_at;	/* the last step down: attempts
					   begun before it are one burst */
	int64_t		 calm_since;	/* the last step down, or the last
					   step up for calm */
	struct tgroup	*grp;		/* a shared MX-host throttle, or NULL */
	struct ev_timer	 pace;		/* the next job may go */
	struct ev_timer	 recover;	/* the next recovery step */
	struct dest_fail *fail;		/* failing its backlog (dest.c) */
	/* The TLS of its last attempt that connected (gwtop): the policy
	 * applied (a static name; NULL: none yet) and its result (1
	 * verified, 0 not, -1 no TLS). */
	const char	*tls_last;
	int		 tls_last_verified;
	enum dest_route	 route_state;
	struct route_req *rreq;
	struct route_result *route;
	int64_t		 route_expires;	/* monotonic ms */
	int64_t		 last_used;
	char		 lasterr[300];
};

/*
 * dest.c, called by mta.c.  None frees a job, a message or a
 * destination: a finished job's outcome is applied later, from the
 * loop (dest_job_done).  Only dest_conn_ready() calls the reporting
 * connection back, to hand it its next job.
 */
void	 dest_conn_up(struct dest *);	/* set up: no longer connecting */
void	 dest_conn_ready(struct dest *, struct mta *);
void	 dest_job_done(struct job *);
/* No target could be used; hop is the last one tried (or NULL), tried
 * every one that failed. */
void	 dest_conn_failed(struct dest *, int code, const char *status,
	    const char *text, const struct hop *, const struct hop_fail *tried,
	    int ntried);
/* A copy of tried[0..n) for a job (NULL when n is 0). */
struct hop_fail *hop_fail_copy(const struct hop_fail *tried, int n);
void	 dest_conn_closed(struct dest *, struct mta *, int was_up);
void	 dest_idle_remove(struct dest *, struct mta *);
/* The source address for a new connection (NULL: any). */
const struct dest_src *dest_src_next(struct dest *);
/* A job's body (qmsg.c); the job holds it until it is done. */
int	 queue_load_body(struct qmsg *);

/* The delivery client (mta.c and its parts, mta_priv.h), called by
 * dest.c; mta_run_job() gets a job whose recipients are already
 * active. */
void	 mta_start(struct dest *, const struct route_result *);
void	 mta_run_job(struct mta *, struct job *);
void	 mta_set_idle(struct mta *, struct mta *next);
struct mta *mta_next_idle(struct mta *);
void	 mta_shutdown(struct mta *);
int	 mta_count(void);
/* The hop and TLS outcome of an attempt into its audit event. */
struct audit_event;
void	 mta_audit_hop(struct audit_event *, const struct hop *,
	    const struct dest *);
/* Every connection's destination and source address (NULL: any). */
void	 mta_walk(void (*)(const struct dest *, const struct dest_src *,
	    void *), void *);

#endif
