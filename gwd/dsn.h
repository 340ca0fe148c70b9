/*
 * dsn.h - delivery status notifications (RFC 3464 multipart/report,
 * RFC 3462/6522 report media type, RFC 3463 status codes).
 *
 * Pure: everything the report says comes in through struct dsn; the
 * caller supplies time, ids and the boundary so output is reproducible
 * (golden tests).
 */
#ifndef GW_DSN_H
#define GW_DSN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct dsn_rcpt {
	const char	*address;	/* final recipient, "user@domain" */
	const char	*action;	/* "failed", "delayed", "relayed" */
	const char	*status;	/* "5.1.1" */
	const char	*remote_mta;	/* host name, or NULL */
	const char	*diagnostic;	/* the remote reply as it was said,
					   "550 5.1.1 no such user"; NULL:
					   none (RFC 3464 2.3.6) */
	int64_t		 last_attempt;	/* unix seconds, 0 = none */
	const char	*reason;	/* our own words ("mx1 said: ...",
					   "delivery time expired"), for the
					   notice and X-Gw-Diagnostic; NULL:
					   the diagnostic alone */
	const char	*orcpt;		/* ORCPT decoded, "rfc822;user@domain",
					   or NULL */
};

struct dsn {
	const char	*reporting_mta;	/* our host name */
	const char	*postmaster;	/* From: address, "MAILER-DAEMON@host" */
	const char	*to;		/* the envelope sender we report to */
	const char	*message_id;	/* "<...>" for the DSN itself */
	const char	*boundary;	/* unique MIME boundary */
	const char	*qid;		/* our queue id of the original */
	int64_t		 arrival;	/* unix seconds the original arrived */
	int64_t		 now;		/* unix seconds, for Date: */
	const char	*envid;		/* ENVID decoded, or NULL */
	const char	*original;	/* original message, CRLF lines */
	size_t		 original_len;
	int		 full;		/* return all of it (RET=FULL), not
					   only its header section */
	int		 full_8bit;	/* ... and it has 8-bit text */
	int		 utf8;		/* the original was SMTPUTF8: a global
					   DSN (RFC 6533), UTF-8 kept */
	const struct dsn_rcpt *rcpts;
	int		 nrcpts;
};

/*
 * Append the whole DSN message (headers and body, CRLF line ends, no
 * line over 998 octets, long values folded) to out.  The third part is
 * text/rfc822-headers, the original's header section only, or with
 * full the whole original as message/rfc822 (its lines as stored: gwd
 * took only CRLF lines of at most 998 octets).  The report is of
 * failures when any recipient failed, else of delays when any was
 * delayed, else of successes (RFC 3461 "relayed").  With utf8 it is
 * a global DSN (RFC 6533): report-type global-delivery-status, a
 * message/global-delivery-status part whose UTF-8 recipients are of
 * type utf-8, message/global-headers or message/global for the
 * original, and well-formed UTF-8 kept everywhere (other 8-bit bytes
 * still become '?').  Returns 0,
 * or -1 when out's maximum would be passed.  Untrusted text (addresses,
 * diagnostics) has CR, LF and other controls replaced so that it can
 * never start a header or a MIME part of its own.
 */
int	dsn_build(const struct dsn *, struct buf *out);
/* The Subject dsn_build() gives the report. */
const char *dsn_subject(const struct dsn *);

#endif
