/*
 * schedule.h - what the scheduler (queue.c) and the delivery client (mta.c)
 * share: destinations, jobs (one message's recipients for one
 * destination, one SMTP transaction), and the calls between them.
 */
#ifndef GW_SCHEDULE_H
#define GW_SCHEDULE_H

#include "gwd.h"
#include "route.h"

struct mta;

/* code 0: not attempted, put the recipient back at once (e.g. a 452
 * "too many recipients" to the 101st: it goes in the next transaction). */
struct job_result {
	int	 code;
	char	 status[16];
	char	*text;
};

struct job {
	struct job	*next;
	struct dest	*dest;
	struct qmsg	*msg;
	struct qrcpt	**rcpt;
	int		 nrcpt;
	struct job_result *res;
	/* Filled by the delivery client for the audit log. */
	char		 host[256];
	char		 ip[64];
	char		 tls[128];
	int64_t		 started_ms;
	int		 maybe_dup;	/* no reply after the final dot */
	int		 body_held;	/* queue_load_body() succeeded */
};

enum dest_route { DR_NONE, DR_RESOLVING, DR_READY };

struct dest {
	char		*name;		/* domain, or "[smarthost]" */
	struct job	*jobs;
	struct job	*jobs_last;
	int		 njobs;
	int		 nconn;		/* every connection of this dest */
	int		 nconnecting;	/* not yet ready for a job */
	struct mta	*idle;		/* ready connections without work */
	enum dest_route	 route_state;
	struct route_req *rreq;
	struct route_result *route;
	int64_t		 route_expires;	/* monotonic ms */
	int64_t		 last_used;
};

/* queue.c, called by mta.c */
void	 dest_conn_ready(struct dest *, struct mta *);
void	 dest_job_done(struct job *, struct mta *);
void	 dest_conn_failed(struct dest *, int code, const char *status,
	    const char *text);
void	 dest_conn_closed(struct dest *, struct mta *);
void	 dest_idle_remove(struct dest *, struct mta *);
int	 queue_load_body(struct qmsg *);
/* The job's recipients are now in a transaction. */
void	 queue_job_started(struct job *);
void	 queue_release_body(struct qmsg *);

/* mta.c, called by queue.c */
void	 mta_start(struct dest *, const struct route_result *);
void	 mta_run_job(struct mta *, struct job *);
void	 mta_set_idle(struct mta *, struct mta *next);
struct mta *mta_next_idle(struct mta *);
void	 mta_shutdown(struct mta *);
int	 mta_count(void);

#endif
