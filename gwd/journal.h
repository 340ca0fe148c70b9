/*
 * journal.h - what the compliance archive takes of a message handed to
 * submit_message() (submit.h), by SMTP or the HTTP API: its envelope
 * report, kept with it in the local store
 * (archive.h), and the journal report, an extra message to
 * archive.journal through the normal queue.
 *
 * A journal report is multipart/mixed (RFC 2046): a text/plain part with
 * the envelope as "Name: value" lines (Queue-ID, Arrival-Date, Sender,
 * one Recipient per envelope recipient, Bcc ones included, Subaccount,
 * Client-IP, Auth, Message-ID), then the message as delivered (signed),
 * byte for byte, as message/rfc822.  Its header says X-GW-Journal: QID;
 * it is DKIM-signed as a DSN is.
 * It is inserted by the commit that stores the message, so a message
 * acknowledged with 250 has its journal report queued too.
 */
#ifndef GW_JOURNAL_H
#define GW_JOURNAL_H

#include <stdint.h>

#include "archive.h"

struct store_op;

/* The envelope of a message to archive. */
struct journal_env {
	const char	*qid;
	int64_t		 received_us;
	const char	*sender;
	char *const	*rcpts;
	int		 nrcpt;
	const char	*subaccount;
	const char	*client_ip;
	const char	*auth;		/* "password", "apikey KEYID", "ip" */
	const char	*message_id;	/* or NULL */
};

/*
 * What to archive of a message the rules let archive (archive.store,
 * archive.journal as they are now): NULL when neither is on.
 */
struct archive_req *journal_plan(const struct journal_env *);

/*
 * op (a new message, its body final) to the store thread, with its
 * journal report as op->journal when one is wanted: the report
 * DKIM-signed first like a DSN (queue.h's queue_notice_sign(): by the
 * domain of its From:, dsn_from or MAILER-DAEMON@hostname, when a key
 * applies; "signed" or "unsigned" event).  The op is the caller's no
 * more.
 */
void	 journal_submit(struct store_op *op);
/* op committed: the journal report is queued, or (op failed) freed. */
void	 journal_stored(struct store_op *op);

#endif
