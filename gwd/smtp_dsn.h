/*
 * smtp_dsn.h - the DSN extension's MAIL and RCPT parameters (RFC 3461):
 * RET and ENVID on MAIL, NOTIFY and ORCPT on RCPT, and xtext.  Pure: no
 * I/O, fuzzed with the rest of the command parsing (fuzz_smtp_cmd).
 *
 * ENVID and ORCPT are kept as the client wrote them (xtext, checked):
 * that is what goes on to a receiver offering DSN, and they are decoded
 * only for the reports gw writes itself.
 */
#ifndef GW_SMTP_DSN_H
#define GW_SMTP_DSN_H

#include <stddef.h>

/* NOTIFY (RFC 3461 4.1); none set: the client did not say. */
#define DSN_NOTIFY_SUCCESS	0x01
#define DSN_NOTIFY_FAILURE	0x02
#define DSN_NOTIFY_DELAY	0x04
#define DSN_NOTIFY_NEVER	0x08
#define DSN_NOTIFY_MASK		0x0f
/* gw's own mark, stored with the others: the delay notice went out. */
#define DSN_DELAY_SENT		0x100

enum dsn_ret { DSN_RET_UNSET, DSN_RET_FULL, DSN_RET_HDRS };

#define DSN_ENVID_MAX	100	/* RFC 3461 4.4 */
#define DSN_ORCPT_MAX	500	/* RFC 3461 4.2 */

struct dsn_mail {
	int	 ret;			/* enum dsn_ret */
	char	 envid[DSN_ENVID_MAX + 1];	/* xtext; "" none */
};

struct dsn_rcptp {
	int	 notify;		/* DSN_NOTIFY_* */
	char	 orcpt[DSN_ORCPT_MAX + 1];	/* "rfc822;xtext"; "" none */
};

/*
 * One parameter of MAIL (RET, ENVID) or RCPT (NOTIFY, ORCPT): k[0..klen)
 * its keyword, v[0..vlen) its value (v NULL: none given).  Returns 0 when
 * the keyword is not one of these, 1 when taken, -1 with *reply set to a
 * complete SMTP reply for a bad value or one given twice.
 */
int	smtp_dsn_mail_param(const char *k, size_t klen, const char *v,
	    size_t vlen, struct dsn_mail *, const char **reply);
int	smtp_dsn_rcpt_param(const char *k, size_t klen, const char *v,
	    size_t vlen, struct dsn_rcptp *, const char **reply);

/*
 * Decode xtext (RFC 3461 4) into out[outsz], NUL-terminated.  Returns
 * -1 when in is not xtext, when it decodes to a control, 8-bit byte or
 * NUL, or when out is too small.
 */
int	xtext_decode(const char *in, size_t len, char *out, size_t outsz);

#endif
