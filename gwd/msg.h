/*
 * msg.h - the header section of a submitted message: what the audit log
 * and policy need from it, and the stored form with gwd's own headers.
 * Pure; fuzzed.  Standards: RFC 5322 (header fields; addresses through
 * addrlist.h),
 * RFC 6409 8 (fields a submission server may add), RFC 5321 4.4 (trace).
 */
#ifndef GW_MSG_H
#define GW_MSG_H

#include <stddef.h>

#include "addr.h"
#include "buf.h"

/*
 * From: addresses kept and checked.  A From: with more is refused whole
 * (msg_check_authors), never checked in part; 32 is far beyond what
 * authors of one message need (RFC 5322 3.6.2).
 */
#define MSG_FROM_MAX	32

struct msg_info {
	size_t	 header_len;	/* bytes of the header section */
	size_t	 body_off;	/* where the body starts (after CRLF CRLF) */
	int	 has_blank;	/* a blank line separates header and body */
	int	 nreceived;
	int	 nfrom;		/* From: fields */
	int	 nsender;	/* Sender: fields */
	int	 has_date;
	int	 has_message_id;
	int	 nbcc;		/* Bcc: and Resent-Bcc: fields */
	char	 message_id[256];	/* unfolded value, trimmed */
	char	 subject[512];		/* unfolded, raw (may hold =?..?=) */
	char	 from[512];		/* unfolded From: value, for the log
					   (cut to fit; never parsed) */
	/* Every address of the first From: (addrlist.h, canonical), or
	 * from_err saying why it cannot be read; nothing when it can't. */
	int	 nfrom_addr;
	char	 from_addr[MSG_FROM_MAX][ADDR_PATH_MAX + 1];
	const char *from_err;
	/* The one mailbox of the first Sender:, or sender_err. */
	char	 sender_addr[ADDR_PATH_MAX + 1];
	const char *sender_err;
};

/* Scan msg[0..len) (CRLF lines, unstuffed). */
void	msg_scan(const char *msg, size_t len, struct msg_info *);

/*
 * Append the stored form to out: `prepend` (our Received:, CRLF-ended
 * lines), the original header fields without Bcc:, Resent-Bcc: and
 * X-GW-Policy: (the content policies' verdict, gwd's alone to write), then
 * `append` (added
 * Message-ID:/Date:/From:, CRLF-ended), then the rest.  -1 when out's
 * maximum is reached.
 */
int	msg_build(const char *msg, size_t len, const struct msg_info *,
	    const char *prepend, const char *append, struct buf *out);

/*
 * Who a message says wrote and sent it, against what the sending
 * subaccount (`who`, for the reply) owns: `owns(arg, domain)` is 1 for a
 * domain it may use (asked in A-labels).  NULL when the message may go,
 * else the reply (in buf or static): 554 5.6.0 for a second From: or
 * Sender: field, 550 5.7.1 for a From: or Sender: that cannot be read
 * completely and unambiguously (never checked in part), a From: without
 * an address, a Sender: that is not one mailbox, or an address in a
 * domain not owned; 550 5.6.7 for an internationalized address (RFC
 * 6532) when the transaction is not `smtputf8`.
 * A message without From: is the caller's to judge (one is added).
 */
const char *msg_check_authors(const struct msg_info *, int smtputf8,
	    int (*owns)(const void *arg, const char *domain), const void *arg,
	    const char *who, char *buf, size_t bufsz);

/* Strip control characters and bound the length, for header values we
 * compose from untrusted text (e.g. the HELO name). */
void	msg_sanitize(const char *in, size_t len, char *out, size_t outsz);

#endif
