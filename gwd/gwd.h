/*
 * gwd.h - what gwd's modules share (gwd.c): the configuration, the TLS
 * contexts, and the queued message and recipient as the main thread
 * holds them.
 *
 * gcfg is never changed in place.  SIGHUP loads a new one on the loop
 * thread and publishes it through this atomic pointer; the old one is
 * kept until exit (main.c).  So a thread reads a field where it uses it
 * (gcfg->limits.x), and may keep a pointer into a configuration, but
 * should not expect two reads of gcfg to see the same struct unless it
 * runs on the loop thread between two events.
 */
#ifndef GW_GWD_H
#define GW_GWD_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "config.h"

extern struct gw_config	*_Atomic gcfg;
extern SSL_CTX		*server_tls;
extern SSL_CTX		*client_tls;

#define QID_LEN		16

#define QMSG_DSN	0x01	/* a bounce: never bounced itself */
#define QMSG_8BIT	0x02	/* BODY=8BITMIME */
#define QMSG_SMTPUTF8	0x08	/* MAIL ... SMTPUTF8 (RFC 6531) */
#define QMSG_CLIENT_DKIM 0x04	/* the client's message has a DKIM-Signature
				   (no 8BITMIME downgrade: mta_8bit.c) */
#define QMSG_REQUIRETLS	0x10	/* MAIL ... REQUIRETLS (RFC 8689): only over
				   verified TLS, to servers that pass it on */
#define QMSG_RCPT_PREFIX 0x20	/* each recipient's copy starts with its
				   own fields (queue.db recipient.prefix:
				   List-Unsubscribe, DKIM-Signature), before
				   the body: one recipient per transaction */

/* A recipient's own fields, until its message is stored. */
struct rcpt_prefix {
	char		*p;
	size_t		 len;
};

/* Where a recipient is; rcpt.c moves it.  QR_HELD: its message is on
 * hold (gwctl queue hold); in no heap or job. */
enum qrcpt_state {
	QR_NEW, QR_WAITING, QR_READY, QR_ACTIVE, QR_HELD, QR_DONE, QR_NSTATES
};

struct qmsg;
struct dest;

/* The routing decision carried with a recipient (routing.c): the rule
 * that decides, as of policy generation gen (0: not decided yet). */
struct rcpt_route {
	int		 gen;
	int		 rule;		/* index in that policy's rules; -1: none */
	int64_t		 rule_id;	/* its id, to log a change of rule */
};

/*
 * A queued recipient and its message, as compact as a deep queue needs
 * (bench/RESULTS.md, "A million queued messages"): what repeats across
 * recipients (domain, sender, subaccount, the reply that deferred it)
 * is the string pool's (gwd.c), held once for all; the
 * Message-ID and the body stay in queue.db and are read back when
 * wanted.  A message and its recipients are one allocation.
 */
struct qrcpt {
	int64_t		 dbid;
	struct qmsg	*msg;
	char		*addr;
	const char	*domain;	/* pooled: qmsg_set_rcpt() */
	const char	*last_reply;	/* pooled: qrcpt_set_reply(); or NULL */
	int64_t		 next_attempt;	/* unix seconds */
	char		*dsn_orcpt;	/* ORCPT as received (xtext), or NULL */
	struct rcpt_route route;
	struct dest	*dest;		/* QR_READY: in this one's ready list */
	struct qrcpt	*ready_next, *ready_prev;	/* that list (dest.c) */
	int		 heap_idx;	/* retry heap slot, -1 when not in it */
	int		 attempts;
	int		 dsn_notify;	/* DSN_NOTIFY_* and DSN_DELAY_SENT */
	enum qrcpt_state state : 8;
	unsigned	 prio : 4;	/* QR_READY: which list of dest */
	unsigned	 job_head : 1;	/* QR_READY: its transaction starts here */
};

struct qmsg {
	int64_t		 dbid;
	int64_t		 received_us;
	struct qmsg	*qprev, *qnext;	/* queued messages, oldest first */
	struct qmsg	*hnext;		/* qmsg.c's table by queue id */
	const char	*sender;	/* pooled; "" = null sender */
	const char	*subaccount;	/* pooled */
	char		*message_id;	/* until stored; then in queue.db */
	char		*dsn_envid;	/* ENVID as received (xtext), or NULL */
	char		*body;		/* may be NULL: load from queue.db */
	size_t		 bodylen;
	struct rcpt_prefix *prefix;	/* QMSG_RCPT_PREFIX, until stored:
					   nrcpt of them; then in queue.db */
	size_t		 size;
	int		 flags;
	int		 dsn_ret;	/* enum dsn_ret (RFC 3461 RET) */
	int		 body_users;	/* deliveries using body now */
	int		 nrcpt;
	int		 npending;	/* recipients not yet final */
	unsigned	 qhash;		/* of qid, while registered */
	unsigned char	 held;		/* on hold: never attempted; 1, or
					 * QMSG_QUARANTINED */
	unsigned char	 released;	/* by an admin: rules' holds are off */
	char		 qid[QID_LEN + 1];
	struct qrcpt	 rcpt[];	/* nrcpt of them */
};

/* qmsg.held (and queue.db's message.held) of a message a content
 * policy quarantined: held until an admin releases or deletes it, or
 * policy.quarantine_days pass.  (2 in queue.db: released.) */
#define QMSG_QUARANTINED	3

void	 qid_make(char out[QID_LEN + 1]);
struct qmsg *qmsg_new(const char *sender, const char *subaccount,
	    int nrcpt);
void	 qmsg_free(struct qmsg *);
/* Forget the recipients' prefixes (queue.db has them once stored). */
void	 qmsg_free_prefix(struct qmsg *);
/* Recipient i is addr (its domain: what follows the last '@'). */
void	 qmsg_set_rcpt(struct qmsg *, int i, const char *addr);
/* The reply that last deferred r (NULL: none). */
void	 qrcpt_set_reply(struct qrcpt *, const char *reply);
/* The pooled strings: how many, and their bytes. */
void	 qmsg_pool_stats(size_t *n, size_t *bytes);

#endif
