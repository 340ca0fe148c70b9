/*
 * unsubscribe.h - one-click unsubscribe (RFC 8058): the links gwd puts
 * into bulk mail, and the HTTPS listener (http.listen) that serves them.
 *
 * Bulk mail (its subaccount's bulk setting, or a routing rule of the
 * bulk class) gets, for each recipient IDX,
 *   List-Unsubscribe: <https://http.public_host/u/TOKEN>,
 *    <mailto:u-QID-IDX-MAC@BOUNCE-DOMAIN>
 *   List-Unsubscribe-Post: List-Unsubscribe=One-Click
 * the mailto: only when a bounce domain applies (retpath.h); a mail to
 * it at the feedback listener unsubscribes as the POST does (fbl.h).
 * before it is signed (both are in dkim.c's h= list), unless it has a
 * List-Unsubscribe of its own; with several recipients, each copy's
 * own fields and signature are kept apart from the body
 * (data_assemble.c, sign_each.h, mta_body.c).  TOKEN
 * (common/unsubtok.h) names the subaccount and the recipient under
 * gw.db's "unsubscribe" key.
 * POST /u/TOKEN suppresses the recipient for that subaccount
 * (suppress.h) and logs "unsubscribed"; GET shows a page whose button
 * POSTs.  A GET never unsubscribes: mail scanners fetch links.
 */
#ifndef GW_UNSUBSCRIBE_H
#define GW_UNSUBSCRIBE_H

#include <stddef.h>

struct buf;
struct store_op;
struct subaccount;

/* The two header fields for the subaccount's message qid to rcpt, its
 * recipient number idx, appended to out: 1 done, 0 none (no key or no
 * http.public_host: said in the log), -1 out of memory. */
int	 unsub_fields(const struct subaccount *, const char *rcpt,
	    const char *qid, unsigned idx, struct buf *out);

/*
 * The recipient rcpt unsubscribes from subaccount sub's mail (a POST, or
 * a mail to the mailto: address): suppressed with reason unsubscribe and
 * an "unsubscribed" event (qid: the message, or NULL; ip: the client,
 * or ""; via: how, for the event's detail), both committed with op.
 * 1 done, 0 already suppressed (nothing added), -1 not an address.
 */
int	 unsub_record(struct store_op *, const char *sub, const char *rcpt,
	    const char *qid, const char *ip, const char *via);

/* Bind http.listen when configured (before privileges are dropped),
 * then serve it from the loop: -1 with err. */
int	 unsub_http_bind(char *err, size_t errsz);
int	 unsub_http_start(char *err, size_t errsz);

#endif
