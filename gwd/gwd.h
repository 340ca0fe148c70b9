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

struct qrcpt {
	int64_t		 dbid;
	struct qmsg	*msg;
	char		*addr;
	char		*domain;
	int		 attempts;
	int64_t		 next_attempt;	/* unix seconds */
	char		*last_reply;
	int		 dsn_notify;	/* DSN_NOTIFY_* and DSN_DELAY_SENT */
	char		*dsn_orcpt;	/* ORCPT as received (xtext), or NULL */
	enum qrcpt_state state;
	struct rcpt_route route;
	struct dest	*dest;		/* QR_READY: in a job of this one */
	int		 heap_idx;	/* retry heap slot, -1 when not in it */
	struct qrcpt	*next_ready;	/* in a job */
};

struct qmsg {
	int64_t		 dbid;
	char		 qid[QID_LEN + 1];
	char		*sender;	/* "" = null sender */
	char		*subaccount;
	int64_t		 received_us;
	size_t		 size;
	int		 flags;
	char		*message_id;
	int		 dsn_ret;	/* enum dsn_ret (RFC 3461 RET) */
	char		*dsn_envid;	/* ENVID as received (xtext), or NULL */
	char		*body;		/* may be NULL: load from queue.db */
	size_t		 bodylen;
	int		 body_users;	/* deliveries using body now */
	int		 held;		/* on hold: never attempted */
	int		 released;	/* by an admin: rules' holds are off */
	int		 nrcpt;
	int		 npending;	/* recipients not yet final */
	struct qrcpt	*rcpt;		/* array of nrcpt */
	struct qmsg	*qprev, *qnext;	/* queued messages, oldest first */
};

void	 qid_make(char out[QID_LEN + 1]);
struct qmsg *qmsg_new(const char *sender, const char *subaccount,
	    int nrcpt);
void	 qmsg_free(struct qmsg *);

#endif
