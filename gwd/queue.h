/*
 * queue.h - the main thread's view of the spool: every pending recipient,
 * the retry schedule, destinations with their jobs and connections, and
 * what happens when a delivery attempt ends (delivered, deferred,
 * bounced, expired; DSNs).
 */
#ifndef GW_QUEUE_H
#define GW_QUEUE_H

#include <stdint.h>

#include "ctlproto.h"
#include "gwd.h"

/* Starts reading the queue from queue.db, which goes on from the loop
 * (queue.c); queue_loading(): the messages still to read, 0 once all
 * are in. */
int	 queue_init(char *err, size_t errsz);
int64_t	 queue_loading(void);
/* A message committed by a session: deliver it. */
void	 queue_add(struct qmsg *);
/* Build and own a new message (used by sessions and DSNs). */
struct qmsg *queue_msg_new(const char *sender, const char *subaccount,
	    int nrcpt);
void	 queue_shutdown(void);
/* DSNs being signed: their ops are not submitted yet (shutdown waits). */
int	 queue_dsn_signing(void);
/*
 * A notice gwd sends itself (alerts, content-policy notifications:
 * notify.c): queue_notice() makes it, From: from (with from_name as its
 * display name), To: the nto addresses (envelope too), Subject: subject,
 * text as its body (LF or CRLF lines; UTF-8 goes 8bit; or a report with
 * an attachment, queue_notice_report()), with the null
 * envelope sender and never bounced, as a DSN.  Its "received" event
 * (detail, NULL: "notice by gwd") goes into op, and it goes in as
 * op->insert (op->done then queues it once committed) or, when op
 * inserts a message already, as op->also: in the same commit.  NULL:
 * nto is 0.
 *
 * queue_notice_sign() signs n as DSNs are, on a worker, by the domain of
 * from (NULL: the host name) when a key applies ("signed" or "unsigned"
 * event in op), then then(op, arg) runs; queue_notice_submit() signs
 * op->insert and submits op.  A caller that takes op->done over calls
 * queue_notice_stored(op) first: it queues op's notices (or frees them
 * when op failed).
 */
struct store_op;
struct notice {
	const char	*from;
	const char	*from_name;	/* NULL: none */
	char *const	*to;
	int		 nto;
	const char	*subaccount;	/* NULL: none */
	const char	*subject;	/* ASCII */
	const char	*text;
	const char	*detail;
};
/* queue_notice_report(): a report (RFC 6522) instead of a plain text
 * notice: multipart/report; report-type=type, the notice's text its
 * first part and att (attlen bytes of att_type, named att_name) its
 * second, base64; headers (CRLF-ended fields, or NULL) go in the
 * message header. */
struct notice_report {
	const char	*type;
	const char	*headers;
	const char	*att_type, *att_name;
	const void	*att;
	size_t		 attlen;
};
struct qmsg *queue_notice(struct store_op *, const struct notice *);
struct qmsg *queue_notice_report(struct store_op *, const struct notice *,
	    const struct notice_report *);
void	 queue_notice_sign(struct store_op *, struct qmsg *n,
	    const char *from, void (*then)(struct store_op *, void *),
	    void *arg);
void	 queue_notice_submit(struct store_op *, const char *from);
void	 queue_notice_stored(struct store_op *);

/*
 * Routing rules (routing.c).  routing_rule(): the rule that decides for
 * what rm tells of a message (NULL: the defaults, or not known yet
 * before DATA).  routing_decide(): the same, for a recipient of a new
 * message at the end of DATA, with the decision kept in *route: the
 * session puts it in the recipient (qrcpt.route), and the queue follows
 * it.
 */
struct rule;
struct rule_msg;
const struct rule *routing_rule(const struct rule_msg *rm);
const struct rule *routing_decide(const struct rule_msg *rm,
	    struct rcpt_route *route);

struct queue_stats {
	int	messages;
	int	recipients;
	int	active;
	int	deferred;
	int	held;		/* recipients of held messages (not active) */
	int	held_messages;
	int	quarantined_messages;	/* of the held ones */
	int	destinations;
	int	connections;
	int64_t	oldest_us;	/* arrival of the oldest queued message; 0 */
	int64_t	loading;	/* messages not read from queue.db yet */
};
void	 queue_stats(struct queue_stats *);

/*
 * Admin actions (control.c: gwctl queue).  queue_admin() applies verb
 * (CTL_Q_FLUSH, _HOLD, _RELEASE, _DELETE, _BOUNCE, with cmd's domain
 * and reason; with cmd->quarantined, to a quarantined m only) at once,
 * which may free m (delete, bounce), never another message.  QA_DONE: done()
 * runs once the change and its audit events are committed (failed set
 * if queue.db refused); otherwise nothing changed and *why says why.
 * *why may also annotate QA_DONE.
 */
enum { QA_DONE, QA_UNCHANGED, QA_BUSY };
struct qmsg *queue_find(const char *qid);	/* may read it (queue.c) */
struct qmsg *queue_first(void);		/* oldest; then m->qnext */
int	 queue_msg_active(const struct qmsg *);	/* recipients in delivery */
int	 queue_admin(struct qmsg *, const struct ctl_queue_cmd *,
	    void (*done)(void *, int failed, const char *error), void *arg,
	    const char **why);

/*
 * Queued recipients per recipient domain, qshape-style: how many, how
 * old (age[i] counts those queued less than ctl_age_min[i] minutes,
 * the last bucket the rest: ctlproto.h), what they are doing, when the
 * next retry is due and the last reply that deferred one of them.
 */
#define QUEUE_AGES	CTL_AGES

struct queue_dest {
	char	 name[256];	/* recipient domain */
	int	 queued;
	int	 active;	/* in a transaction now */
	int	 waiting;	/* in backoff until next_attempt */
	int	 connections;	/* of the destination it goes through */
	/* That destination ("" if none exists now: the limits are the
	 * policy's) and its throttle state. */
	char	 via[CTL_DEST_NAME_MAX + 1];
	int	 limit;		/* connections at most */
	int	 window;	/* connections allowed now (backoff) */
	int64_t	 gap_ms;	/* backoff: between messages */
	int	 per_minute;	/* 0: no limit */
	int	 throttled;	/* window < limit or gap_ms > 0 */
	int	 sh_up, sh_total;	/* smarthosts of via up, of all;
					   0 of 0: not a smarthost */
	int	 age[QUEUE_AGES];
	int64_t	 next_attempt;	/* unix seconds; 0: none waiting */
	int	 error_attempts;
	char	 error[256];	/* last reply that deferred one; "" */
	/* The TLS of the last attempt through via that connected: policy
	 * ("": none yet), 1 verified, 0 not, -1 no TLS. */
	char	 tls[16];
	int	 tls_verified;
};
/* Every domain with queued recipients, most queued first; the caller
 * frees *out.  Returns how many. */
int	 queue_destinations(struct queue_dest **out);

/*
 * IP pools of the current policy with live figures: connections open
 * now (per source address, and in all), recipients delivered, deferred
 * and bounced (expired included) through the pool since gwd started,
 * and the destinations that send from it now.
 */
struct queue_pool_addr {
	char	 address[64];
	char	 helo[256];
	int	 connections;
};

struct queue_pool {
	char	 name[128];
	struct queue_pool_addr *addr;
	int	 naddr;
	int	 connections;
	int64_t	 delivered, deferred, bounced;
	char	*dests;		/* comma-separated; "" for none */
};
/* Every pool, in the policy's order; queue_pools_free() frees *out. */
int	 queue_pools(struct queue_pool **out);
void	 queue_pools_free(struct queue_pool *, int);

#endif
