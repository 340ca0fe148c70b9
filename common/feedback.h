/*
 * feedback.h - what a report that comes back to gw says: a delivery
 * status notification (a bounce, RFC 3464, or the plain-text shapes
 * older MTAs send), or an abuse report from a feedback loop (ARF,
 * RFC 5965).  The result is what gwd's feedback listener acts on: which
 * recipients failed or complained, and what of the original message the
 * report returns (its Message-ID, gw's queue id from gw's own Received:
 * field, its Return-Path), so that the report can be matched to the
 * message gw sent.
 *
 * Pure: bytes in, a struct out, no I/O.  Nothing in a report is trusted:
 * the caller matches it against its own records (a VERP token's HMAC, a
 * queue id and a recipient of that message) before acting on it.
 */
#ifndef GW_FEEDBACK_H
#define GW_FEEDBACK_H

#include <stddef.h>

enum fb_type {
	FB_UNKNOWN,	/* neither a bounce nor a report gw can read */
	FB_DSN,		/* multipart/report; report-type=delivery-status */
	FB_BOUNCE,	/* a 5xx reply quoted in a plain-text bounce */
	FB_ARF		/* multipart/report; report-type=feedback-report */
};

enum fb_action {
	FA_UNKNOWN, FA_FAILED, FA_DELAYED, FA_DELIVERED, FA_RELAYED,
	FA_EXPANDED
};

#define FB_MAX_RCPT	100	/* per-recipient blocks read; the rest are
				 * counted (fb_report.dropped) */
#define FB_MAX_FIELD	998	/* a field value kept is cut here */

struct fb_rcpt {
	char		*final;		/* Final-Recipient's address, the
					 * "rfc822;" type dropped; "" if none */
	char		*original;	/* Original-Recipient's, or "" */
	enum fb_action	 action;
	char		 status[16];	/* "5.1.1", or "" */
	int		 code;		/* the reply code in Diagnostic-Code
					 * (or the quoted reply): 550, or 0 */
	char		*diag;		/* Diagnostic-Code's text, or "" */
};

struct fb_report {
	enum fb_type	 type;
	struct fb_rcpt	*rcpt;
	int		 nrcpt;
	int		 dropped;	/* recipients past FB_MAX_RCPT */
	/* ARF (RFC 5965 3.1-3.2); "" when absent. */
	char		*feedback_type;	/* lower case: "abuse", "fraud",
					 * "opt-out", "virus", "other",
					 * "not-spam", ... */
	char		*orig_mail_from;	/* addresses, <> dropped */
	char		*orig_rcpt_to;	/* the first Original-Rcpt-To */
	char		*source_ip;
	char		*user_agent;
	char		*reporting_mta;	/* DSN's Reporting-MTA, type dropped */
	/* The returned message (message/rfc822 or text/rfc822-headers);
	 * "" when absent. */
	char		*ret_message_id;	/* with its <> */
	char		*ret_qid;	/* "id X" of a Received: written by
					 * gw ("by HOST (gw) with ... id X") */
	char		*ret_return_path;	/* <> dropped */
	char		*ret_from;
	char		*ret_to;
	char		*ret_subject;
};

/* Parse msg[0..len).  Never fails on content: what cannot be read
 * leaves type FB_UNKNOWN or fields "".  Every string is allocated,
 * NUL-terminated, free of control characters, at most FB_MAX_FIELD
 * bytes.  Returns 0. */
int	 feedback_parse(const char *msg, size_t len, struct fb_report *);
void	 feedback_free(struct fb_report *);

/* "dsn", "bounce", "arf", "unknown". */
const char *feedback_type_name(enum fb_type);
/* "failed", "delayed", ...; "" for FA_UNKNOWN. */
const char *feedback_action_name(enum fb_action);

/*
 * The quoted reply in a line of a plain-text bounce: its code (500..599)
 * and enhanced status ("5.1.1" or "" into status, 16 bytes).  Returns
 * the offset of the code in line, or -1 when the line quotes no 5xx.
 * Exposed for the unit tests.
 */
int	 feedback_find_reply(const char *line, size_t len, int *code,
	    char status[16]);

#endif
