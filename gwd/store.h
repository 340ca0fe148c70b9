/*
 * store.h - the store thread: the only writer of queue.db and log.db.
 *
 * Work arrives as store_ops.  The thread takes every op that is waiting,
 * applies them all in one queue.db transaction (one fsync: group commit)
 * and one log.db transaction, then hands the ops back to the main thread,
 * where each op's done() runs.  A message is acknowledged (250) from
 * done(), so the acknowledgement always follows the fsync.
 */
#ifndef GW_STORE_H
#define GW_STORE_H

#include <stdint.h>

#include "archive.h"
#include "auditlog.h"
#include "gwd.h"

struct rcpt_update {
	int64_t		 dbid;
	int		 attempts;
	int64_t		 next_attempt;
	char		*last_reply;
	int		 dsn_notify;	/* DSN_DELAY_SENT once it has gone */
};

/* A suppression entry of gwd's own (queue.db): added or deleted. */
struct supp_change {
	int		 del;
	char		*subaccount;
	char		*address;
	char		*reason;
	int64_t		 created;
};

struct outbox_hook_ack;

struct store_op {
	struct store_op	*next;
	struct qmsg	*insert;	/* new message and its recipients */
	/* A message gwd made about insert (a content-policy notification,
	 * notify.h), inserted in the same commit; the op's owner queues or
	 * frees it in done(). */
	struct qmsg	*also;
	struct archive_req *archive;	/* insert's archiving, or NULL */
	struct qmsg	*journal;	/* insert's journal report, or NULL */
	int64_t		*del_rcpt;
	int		 ndel_rcpt;
	struct rcpt_update *upd;
	int		 nupd;
	int64_t		 del_msg;	/* 0 = none */
	int64_t		 held_msg;	/* set this message's held; 0 = none */
	int		 held;
	struct supp_change *supp;
	int		 nsupp;
	char		*pause_sub;	/* subaccount_pause row, or NULL */
	int		 pause_paused;
	int64_t		 pause_since;
	char		*pause_reason;
	/* An MTA-STS policy to keep (sts.c), or sts_domain NULL. */
	char		*sts_domain, *sts_id, *sts_policy;
	int64_t		 sts_fetched, sts_expires;
	/* A TLS-RPT session to count (tls_report.c), or rpt.domain NULL;
	 * rpt_sent_domain: the rows of day rpt_sent_day for that domain
	 * go (its report is queued in this op), or NULL. */
	struct {
		int64_t	 day;
		char	*domain, *policy, *result, *sending_ip, *mx_host,
			*receiving_ip;
	}		 rpt;
	char		*rpt_sent_domain;
	int64_t		 rpt_sent_day;
	struct outbox_hook_ack *hook_ack; /* outbox rows webhooks are
					   done with (webhook.c) */
	int		 nhook_ack;
	int		 hook_sweep;	/* the webhooks changed (outbox.h) */
	struct audit_event *events;
	struct audit_event **events_tail;
	void		(*done)(struct store_op *);
	void		*arg;
	/* New mail from a client: refused (failed set) when queue.db
	 * refuses it.  Every other op records what has happened already
	 * and is tried again until it lands. */
	int		 refusable;
	int		 failed;	/* queue.db part did not commit */
	char		 error[160];
};

int	 store_init(const char *state_dir, char *err, size_t errsz);
struct store_op *store_op_new(void);
void	 store_op_free(struct store_op *);
void	 store_op_del_rcpt(struct store_op *, int64_t dbid);
void	 store_op_upd_rcpt(struct store_op *, const struct qrcpt *);
void	 store_op_supp(struct store_op *, int del, const char *subaccount,
	    const char *address, const char *reason, int64_t created);
struct audit_event *store_op_event(struct store_op *, const char *action,
	    const char *qid);
/* Hand the op over; the caller must not touch it until done() runs. */
void	 store_submit(struct store_op *);
/* Log-only shortcut: one event, no completion needed. */
void	 store_event(struct audit_event *);
struct audit_event *audit_new(const char *action, const char *qid);
void	 audit_free(struct audit_event *);
/* Drain and stop the thread (at shutdown). */
void	 store_shutdown(void);
/* Ops handed over and not yet done (waiting to be retried included). */
int	 store_backlog(void);

/*
 * May a delivery start now?  Not while queue.db refuses commits (its
 * outcome could not be recorded: the changes waiting are retried until
 * they land), nor while the store is behind (more than
 * queue.store_backlog ops wait, until half that: what is delivered and
 * not recorded would be delivered again after a crash), nor once gwd
 * stops (store_stop_deliveries()).  When commits work again or the
 * store has caught up, the function given to store_on_resume() runs on
 * the main thread.
 */
int	 store_deliveries_allowed(void);
void	 store_stop_deliveries(void);
void	 store_on_resume(void (*)(void));
int	 store_blocked(void);		/* changes wait to be recorded */
int	 store_behind(void);		/* the backlog holds deliveries */
uint64_t store_behind_count(void);	/* times it began to */
int	 store_batch_most(void);	/* the most ops one commit took */
uint64_t store_commit_failures(void);	/* queue.db commits refused */

/*
 * Is state_dir's file system short of space for a message of `size`
 * bytes (0: not known yet)?  Below metrics.min_free plus 1.5 times the
 * size, or below 1% free: MAIL is answered 452 and /health says
 * "storage full".  Main thread.
 */
int	 store_space_short(uint64_t size);

#endif
