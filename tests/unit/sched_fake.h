/*
 * sched_fake.h - the fakes of sched_fake.c, as test_sched.c drives them.
 */
#ifndef GW_SCHED_FAKE_H
#define GW_SCHED_FAKE_H

#include <stdint.h>

#include "gwd.h"
#include "policy.h"
#include "store.h"

#define T0_S		1800000000LL		/* the fake unix clock's start */
#define HOUR_MS		(3600 * 1000LL)
#define BODY		"From: <app@example.com>\r\nSubject: t\r\n\r\nbody\r\n"

struct dest;
struct job;

extern struct gw_config	 cfg;		/* gcfg points here */

/* Clocks: loop_now() (monotonic ms) and sched_clock (unix us) move
 * together, by advance() only. */
extern int64_t		 fake_ms, unix_us;
int64_t	 fake_unix_us(void);
int64_t	 now_s(void);
/* One loop turn (the idle hook, due timers, the idle hook again). */
void	 turn(void);
/* Move time on by ms, running each timer when its time comes. */
void	 advance(int64_t ms);
extern void	(*idle_fn)(void *);

/* The policy policy_now() returns; each change is a new generation. */
extern struct policy	 pol;
extern int		 pol_gen;
void	 set_rules(struct rule *, int);
void	 set_throttles(struct throttle *, int);

/* The store: submitted ops wait in ops[] until commit_all(). */
extern struct store_op	*ops[4096];
extern int		 nops;
extern int		 nlogged[2];	/* store_event(): "routed", others */
extern int		 nsuppressed, npause;
extern int		 body_missing;	/* store_load_body() fails */
/* Fake queue.db at start-up: what queue_load_start() reads, in order. */
extern struct qmsg	*disk[8192];
extern int		 ndisk;
extern int		 fake_verp;	/* retpath_applies() says yes */
extern int		 fake_store_blocked;	/* store_deliveries_allowed() says no */
extern void		(*store_resume_fn)(void);	/* store_on_resume() */
void	 commit_all(void);
/* How many events of the waiting ops have this action (and recipient,
 * unless NULL); *first: the first of them. */
int	 events(const char *action, const char *rcpt,
	    struct audit_event **first);

/* DNS: every lookup waits until resolve_all() answers it (one target). */
void	 resolve_all(void);

/* Connections: mta_start() adds one to conns[]; the test plays it. */
struct mta {
	struct dest	*d;
	struct job	*job;
	struct mta	*next_idle;
	int64_t		 started;	/* loop_now() at mta_start() */
	int		 up, shut, closed;
};
extern struct mta	*conns[256];
extern int		 nconns;
extern int		 prios[64], nprios;	/* each job's class, in order */
/* Set up: it asks for work, as mta.c's would. */
void	 conn_up(struct mta *);
/* The transaction ends with this reply for every recipient: the job is
 * reported and the connection asks for the next. */
void	 conn_finish(struct mta *, int code, const char *status,
	    const char *text);
void	 conn_close(struct mta *);
/* Setup failed on every target with this reply (a 421 greeting, say):
 * reported and closed, as mta.c's next_target() does. */
void	 conn_fail(struct mta *, int code, const char *status,
	    const char *text);

#endif
