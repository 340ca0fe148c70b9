/*
 * retpath.c - VERP return paths and their key (see retpath.h).
 * Exposure: addresses from anyone (retpath_decode); the key is the
 * keyring's "verp" (keyring.h), taken anew with each gw.db snapshot.
 * Diagnostics: retpath_init() says why the key cannot be had.
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "db.h"
#include "gwd.h"
#include "keyring.h"
#include "retpath.h"
#include "util.h"
#include "verp.h"

/* At start-up the key must be there: gw.db's migration 10 made it (gwd
 * only reads gw.db), and the first snapshot (accounts_init) read it. */
int
retpath_init(const char *dir, char *err, size_t errsz)
{
	struct keyring_keys k;
	int r = keyring_get(HMACKEY_VERP, &k);

	(void)dir;
	explicit_bzero(&k, sizeof(k));
	if (r == -1)
		snprintf(err, errsz, "gw.db: hmac_key 'verp': missing or "
		    "shorter than %d bytes", HMACKEY_MIN);
	return r;
}

enum verp_result
retpath_decode(const char *addr, enum verp_kind *kind,
    char qid[VERP_QID_LEN + 1], unsigned *idx)
{
	struct keyring_keys k;
	enum verp_result r;

	if (keyring_get(HMACKEY_VERP, &k) == -1) {
		explicit_bzero(&k, sizeof(k));
		return VERP_NONE;
	}
	r = verp_decode(k.cur, k.curlen, addr, kind, qid, idx);
	/* Mail that went out before a rotation bounces days later. */
	if (r == VERP_FORGED && k.oldlen > 0)
		r = verp_decode(k.old, k.oldlen, addr, kind, qid, idx);
	explicit_bzero(&k, sizeof(k));
	return r;
}

/* The subaccount's bounce domain, else feedback.bounce_domain, or NULL. */
static const char *
bounce_domain(const char *sub)
{
	const struct subaccount *sa = sub ? account_find(sub) : NULL;
	const char *d = sa && sa->bounce_domain ? sa->bounce_domain :
	    gcfg->feedback.bounce_domain;

	return d != NULL && d[0] != '\0' ? d : NULL;
}

static int
retpath_make(enum verp_kind kind, const char *sub, const char *qid,
    unsigned idx, char *out, size_t n)
{
	const char *d = bounce_domain(sub);
	struct keyring_keys k;
	int r = -1;

	if (d != NULL && keyring_get(HMACKEY_VERP, &k) == 0)
		r = verp_encode(k.cur, k.curlen, kind, qid, idx, d, out, n);
	explicit_bzero(&k, sizeof(k));
	return r;
}

int
retpath_applies(const char *sender, const char *sub)
{
	return sender[0] != '\0' && bounce_domain(sub) != NULL;
}

int
retpath_verp(const char *sub, const char *qid, unsigned idx, char *out,
    size_t n)
{
	return retpath_make(VERP_BOUNCE, sub, qid, idx, out, n);
}

int
retpath_unsub(const char *sub, const char *qid, unsigned idx, char *out,
    size_t n)
{
	return retpath_make(VERP_UNSUB, sub, qid, idx, out, n);
}
