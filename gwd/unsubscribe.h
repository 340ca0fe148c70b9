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
 * Without http.public_host, the mailto: alone and no
 * List-Unsubscribe-Post (one-click needs an https URI, RFC 8058 3.1);
 * with neither, no field (said in the log).  The fields are added
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

#include <microhttpd.h>

struct buf;
struct store_op;
struct subaccount;

/* The header fields for the subaccount's message qid to rcpt, its
 * recipient number idx, appended to out: 1 done, 0 none (no key, or
 * neither http.public_host nor a bounce domain: said in the log), -1
 * out of memory. */
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

/* The HTTPS listener's handler and completion for the links
 * (https.c; cls: the struct http_server). */
enum MHD_Result unsub_answer(void *cls, struct MHD_Connection *,
	    const char *url, const char *method, const char *version,
	    const char *upload_data, size_t *upload_data_size,
	    void **req_cls);
void	 unsub_done(void *cls, struct MHD_Connection *, void **req_cls,
	    enum MHD_RequestTerminationCode);

#endif
