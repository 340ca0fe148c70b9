/*
 * msg.h - the header section of a submitted message: what the audit log
 * and policy need from it, and the stored form with gwd's own headers.
 * Pure; fuzzed.  Standards: RFC 5322 (header fields, addresses),
 * RFC 6409 8 (fields a submission server may add), RFC 5321 4.4 (trace).
 */
#ifndef GW_MSG_H
#define GW_MSG_H

#include <stddef.h>

#include "buf.h"

#define MSG_FROM_MAX	8	/* addresses kept from From: */

struct msg_info {
	size_t	 header_len;	/* bytes of the header section */
	size_t	 body_off;	/* where the body starts (after CRLF CRLF) */
	int	 has_blank;	/* a blank line separates header and body */
	int	 nreceived;
	int	 nfrom;		/* From: fields */
	int	 has_date;
	int	 has_message_id;
	int	 nbcc;		/* Bcc: and Resent-Bcc: fields */
	char	 message_id[256];	/* unfolded value, trimmed */
	char	 subject[512];		/* unfolded, raw (may hold =?..?=) */
	char	 from[512];		/* unfolded From: value */
	int	 nfrom_addr;		/* addresses found in From: */
	char	 from_addr[MSG_FROM_MAX][256];	/* "local@domain" */
	int	 from_bad;		/* From: did not parse */
};

/* Scan msg[0..len) (CRLF lines, unstuffed). */
void	msg_scan(const char *msg, size_t len, struct msg_info *);

/*
 * Append the stored form to out: `prepend` (our Received:, CRLF-ended
 * lines), the original header fields without Bcc: and Resent-Bcc:, then
 * `append` (added
 * Message-ID:/Date:/From:, CRLF-ended), then the rest.  -1 when out's
 * maximum is reached.
 */
int	msg_build(const char *msg, size_t len, const struct msg_info *,
	    const char *prepend, const char *append, struct buf *out);

/* Strip control characters and bound the length, for header values we
 * compose from untrusted text (e.g. the HELO name). */
void	msg_sanitize(const char *in, size_t len, char *out, size_t outsz);

#endif
