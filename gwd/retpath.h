/*
 * retpath.h - the return path gwd gives delivered mail: a VERP address
 * b-TOKEN@DOMAIN (common/verp.h) when a bounce domain applies, so a
 * bounce that comes back later (fbl.h) finds its message and
 * recipient; and the mailto: unsubscribe address u-TOKEN@DOMAIN of that
 * recipient's copy (unsubscribe.h), under the same rule.  The HMAC key
 * is gw.db's hmac_key row of purpose 'verp' (keyring.h), made by gw.db's
 * migration; after `gwctl key rotate verp` the replaced key still
 * verifies for its grace (common/hmackey.c), so mail sent before the
 * rotation still has its bounces matched.
 */
#ifndef GW_RETPATH_H
#define GW_RETPATH_H

#include <stddef.h>

#include "verp.h"

/* After accounts_init: 0 when the key was read, or -1 with err. */
int	 retpath_init(const char *state_dir, char *err, size_t errsz);
/* verp_decode() of addr under the current key, else the replaced one
 * within its grace: VERP_FORGED only when neither made it. */
enum verp_result retpath_decode(const char *addr, enum verp_kind *kind,
	    char qid[VERP_QID_LEN + 1], unsigned *idx);
/*
 * The return path for recipient idx of message qid of subaccount sub:
 * b-TOKEN@DOMAIN into out when a bounce domain applies (the
 * subaccount's, gwctl subaccount set --bounce-domain, else
 * feedback.bounce_domain): 0; -1 when none does (the sender is kept).
 */
int	 retpath_verp(const char *sub, const char *qid, unsigned idx,
	    char *out, size_t n);
/*
 * 1 when mail of sender (never the null one: its mail must not bounce)
 * and subaccount sub goes out with a VERP return path: then each
 * recipient is its own transaction (dest.c), so that each token names
 * exactly its recipient.
 */
int	 retpath_applies(const char *sender, const char *sub);
/* The same for the unsubscribe address u-TOKEN@DOMAIN: 0, or -1 when
 * no bounce domain applies (List-Unsubscribe has no mailto: then). */
int	 retpath_unsub(const char *sub, const char *qid, unsigned idx,
	    char *out, size_t n);

#endif
