/*
 * fbl.h - the feedback listener (listen role "feedback") and the VERP
 * return paths it reads: bounces that come back after a delivery and
 * abuse reports from mailbox providers' feedback loops.
 *
 * A feedback listener offers STARTTLS, never AUTH, and relays nothing:
 * RCPT is accepted only for feedback.domains (any local part: the VERP
 * addresses) and feedback.addresses (fbl@...), 550 5.7.1 for the rest;
 * a message is at most feedback.max_size, a client IP sends at most
 * feedback.rate of them, and its refusals past feedback.reject_log are
 * counted rather than each written to log.db.  A report is never queued: it is read
 * (common/feedback.c) on a worker, matched to the message gw sent (a
 * VERP token whose HMAC checks, else the queue id of gw's Received:
 * field or the Message-ID, with the recipient named in the report one of
 * that message's), and turned into events: "bounced" (async) or
 * "complained", the recipient suppressed for the subaccount, the
 * bounce or complaint rate counted (pause.h).  A mail to an unsubscribe
 * address u-TOKEN@DOMAIN (List-Unsubscribe's mailto:, unsubscribe.h) is
 * not read: its token, once its HMAC checks, names the message and the
 * recipient, who is unsubscribed as by the one-click POST.  Unmatched
 * and forged reports change nothing; they are logged ("feedback: ...
 * unmatched" or "forged") and answered 250 all the same, so nobody
 * learns which tokens are good.
 */
#ifndef GW_FBL_H
#define GW_FBL_H

#include <stddef.h>

struct session;

/* At start-up. */
int	 fbl_init(const char *state_dir, char *err, size_t errsz);
/* Is this session on a feedback listener? */
int	 fbl_session(const struct session *);
/* The largest message the session's listener takes. */
unsigned long long fbl_max_size(const struct session *);
/* MAIL on a feedback listener: NULL, or the refusal (the rate). */
const char *fbl_mail(struct session *);
/* RCPT on a feedback listener: NULL to accept addr, or the refusal. */
const char *fbl_rcpt(const char *addr, char *buf, size_t bufsz);
/*
 * A refusal (reply, at stage) of client ip on a feedback listener: 1 to
 * write it as a "rejected" event, 0 when ip is past feedback.reject_log
 * for its window (a scanner at port 25): then it is counted, and when
 * the window has ended one "rejected" event (the last such reply,
 * detail "unlogged=N") and one log line tell how many were not written.
 */
int	 fbl_refusal_logged(const char *ip, const char *stage,
	    const char *reply);
/* The end of DATA on a feedback listener: read, match, record, 250. */
void	 fbl_data_end(struct session *);

#endif
