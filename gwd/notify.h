/*
 * notify.h - content-policy notifications (issue 11): a summary mail
 * about one message's verdict, to the --notify address of each policy
 * that fired and, when a message is quarantined by a policy that names
 * none, to policy.admin_address (gwd.conf(5)).  It says the decision,
 * the queue id, envelope sender and recipients, the subaccount, the
 * subject (with whatever any detector finds in it replaced), the
 * policies that fired and each detector's count: never a matched value.
 *
 * gwd writes it as it writes a DSN: null sender, From: dsn_from or
 * MAILER-DAEMON@hostname, Auto-Submitted: auto-generated, DKIM-signed
 * when a key applies to that domain: queue.h's queue_notice(), as alert
 * mail is.  For a message that is stored it is inserted by the same
 * commit (store_op.also): both are there after a crash, or neither.
 * For a refused message it has a commit of its own.
 */
#ifndef GWD_NOTIFY_H
#define GWD_NOTIFY_H

#include <stdint.h>

#include "buf.h"

struct content_job;
struct qmsg;
struct store_op;

/* What the mail says; notify_text() writes it (pure). */
struct notify_msg {
	const char	*hostname;
	const char	*qid;		/* the message it is about */
	const char	*decision;	/* "quarantined", "refused (550 ...)" */
	const char	*sender;	/* "" for <> */
	const char	*subaccount;	/* NULL: none */
	char *const	*rcpt;
	int		 nrcpt;
	const char	*subject;	/* masked; NULL: none */
	const char	*summary;	/* policy and detector lines */
};

/* Its text, CRLF line ends, into out: 0, or -1 when out is full.  Untrusted text (subject, addresses) has control characters
 * replaced and is cut to fit a line. */
int	 notify_text(const struct notify_msg *, struct buf *out);

/*
 * Tell whom cj's verdict on m says to tell (decision: what gwd did, in
 * words).  With op (the commit that stores m), the notification goes in
 * as op->also and then(op, arg) runs once it is signed; without (m is
 * refused), it gets a commit of its own.  Returns 1 when a notification
 * was made (then() will run), 0 when nobody is to be told (then() is
 * not called: the caller goes on).
 */
int	 notify_send(const struct content_job *cj, const struct qmsg *m,
	    const char *decision, struct store_op *op,
	    void (*then)(struct store_op *, void *), void *arg);

#endif
