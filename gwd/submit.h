/*
 * submit.h - one path from a whole message to the store, whoever brought
 * it: an SMTP session at the end of DATA (data_end.c) or the HTTP send
 * API (api.c).  Both fill a struct tx (envelope and unstuffed CRLF
 * data), say where the message came from (struct submit_origin), and
 * hand it to submit_message(): the verdict stages (clean data, header
 * policy, quota, routing rules), the stored form (data_assemble.c), the
 * "received" event, the content policies, DKIM signing and the group
 * commit.  The answer ("250 2.0.0 Ok: queued as QID", or the refusal
 * SMTP would send) comes back through the caller's struct submit_waiter
 * once the commit is done, so an acknowledgement always follows the
 * fsync.
 *
 * The envelope checks SMTP makes at MAIL and RCPT (envelope.c) are
 * shared the same way, so the HTTP API refuses what SMTP refuses, with
 * the same reply.
 */
#ifndef GW_SUBMIT_H
#define GW_SUBMIT_H

#include <stddef.h>
#include <stdint.h>

#include "bounce.h"
#include "metrics.h"
#include "msg.h"
#include "smtp_proto.h"

struct rcpt_route;
struct rule;
struct store_op;
struct subaccount;

/* The envelope and the message (MAIL to the end of DATA). */
struct tx {
	int			 active;	/* MAIL accepted */
	struct mail_args	 mail;
	char			**rcpt;
	struct dsn_rcptp	*rdsn;		/* each one's NOTIFY, ORCPT */
	int			 nrcpt;
	struct buf		 data;
	struct data_parser	 dp;
	/* BDAT (RFC 3030): the message so far came in chunks; the chunk
	 * being read, its LAST, and the refusal it gets once its octets
	 * are read (they are skipped, never read as commands). */
	int			 bdat;
	uint64_t		 bdat_size;
	uint64_t		 bdat_left;
	int			 bdat_last;
	const char		*bdat_refusal;
	/* A token of the cluster's quota is held for this transaction
	 * (cluster.h): spent when its message is accepted. */
	int			 cq_held;
};

/*
 * Memory held for inbound mail, against limits.memory: every session's
 * buffers (the message so far, input, replies not yet sent), the send
 * API's request bodies, and the messages between the end of DATA and
 * their commit.
 */
extern uint64_t	 session_memory;

/* Free what t holds, and clear it. */
void	 tx_free(struct tx *);

/* Where a message came from: our Received: field and its "received"
 * event say it. */
struct submit_origin {
	const char	*subaccount;	/* the sending subaccount's name */
	const char	*ip;		/* the client's address */
	const char	*helo;		/* Received: from NAME */
	const char	*proto;		/* Received: with PROTO (RFC 3848
					   for SMTP; "HTTPS" for the API) */
	char		 tlsdesc[128];	/* "TLSv1.3 CIPHER", or "" */
	const char	*detail;	/* the "received" event's detail:
					   the credential, the protocol */
	const char	*auth;		/* the credential, for the archive:
					   "ip", "password", "apikey KEYID" */
};

/*
 * Who waits for the answer.  held() runs once the message is handed
 * over (op: its commit), before any answer can come; answer() once,
 * later (or from inside submit_message(), after held(), when the content
 * scan cannot even start): reply is the SMTP reply line, qid the queue
 * id when the message was stored (NULL: refused, rej says why).  A
 * waiter that goes away first sets op->arg to NULL: the message is then
 * stored (or not) without it.
 */
struct submit_waiter {
	void	(*held)(struct submit_waiter *, struct store_op *op);
	void	(*answer)(struct submit_waiter *, const char *reply,
		    const char *qid, enum gm_reject rej);
};

/* session_reply.c: a refusal as a "rejected" event of the audit trail:
 * reply r ("550 5.7.1 text"), the stage refused ("mail", "api"), the
 * client, subaccount, sender, recipient (each NULL when not known) and
 * the bounce class's name (or NULL). */
void	 audit_refusal(const char *r, const char *stage, const char *ip,
	    const char *sub, const char *sender, const char *rcpt,
	    const char *cls);
/* Refusals of ip not written one by one: one event, the last reply r,
 * detail "stage=STAGE " + more ("unlogged=N"). */
void	 audit_refusal_more(const char *r, const char *stage, const char *ip,
	    const char *more);

/* The verdict stages' answer. */
enum verdict { V_CONTINUE, V_REPLY, V_QUARANTINE };

/* The message as the stages see it. */
struct incoming {
	const struct submit_origin *o;
	const struct subaccount	*sa;	/* the sending subaccount */
	struct tx		*t;
	struct msg_info		 mi;
	int64_t			 now;	/* unix microseconds */
	/* V_REPLY: the refusal, the recipient it names (or NULL), and why
	 * delivery would have failed (BC_NONE: not said). */
	const char		*reply;
	const char		*rcpt;
	enum bounce_class	 cls;
	enum gm_reject		 rej;	/* for the metrics */
	char			 rbuf[600];	/* a composed reply */
	/* V_QUARANTINE: the rule that holds the message, and for whom. */
	const struct rule	*hold;
	const char		*hold_rcpt;
	struct rcpt_route	*route;	/* each recipient's routing decision */
	int			 bulk;	/* a --bulk rule took one */
	int			 archive; /* the compliance archive keeps it */
	char			*rcpt_list;	/* for the "received" event */
};

/*
 * The message in->t from in->o, sent by in->sa (enabled; in->now set):
 * 0 when handed over (w->held() has run; w->answer() comes), -1 when it
 * is refused at once: in->reply, in->rcpt, in->cls and in->rej say how,
 * counted in the metrics, for the caller to answer and log.
 */
int	 submit_message(struct incoming *in, struct submit_waiter *w);

/* data_assemble.c: the stored form, or NULL with in->reply set. */
struct qmsg *data_assemble(struct incoming *);

/*
 * envelope.c: the checks of MAIL and RCPT, for SMTP and the API alike.
 * Each returns NULL when the sender or recipient may go, or the SMTP
 * reply (static, or in buf) with *rej and *cls saying why.
 */
struct envelope_verdict {
	enum gm_reject		 rej;
	enum bounce_class	 cls;
};
/* Count the refusal in the metrics (some are not counted). */
void	 envelope_count(const struct envelope_verdict *);
/* Room in the store, the sender's domain, pauses, quota.  size: the
 * message's size if known, else 0. */
const char *envelope_check_sender(const struct subaccount *,
	    const struct mailpath *, uint64_t size, char *buf, size_t bufsz,
	    struct envelope_verdict *);
/* The address of recipient ra, in a transaction from mail: SMTPUTF8,
 * address literals. */
const char *envelope_check_rcpt_addr(const struct mail_args *,
	    const struct rcpt_args *, struct envelope_verdict *);
/* Then subaccount sub's policy on it, with nrcpt recipients taken
 * already (dup: ra is one of them): the suppression list, and unless
 * dup, limits.recipients, one recipient for <>, a routing rule's
 * refusal. */
const char *envelope_check_rcpt(const char *sub,
	    const struct mail_args *, const struct rcpt_args *, int nrcpt,
	    int dup, char *buf, size_t bufsz, struct envelope_verdict *);

#endif
