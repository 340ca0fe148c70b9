/*
 * unsubkey.c - the keys of unsubscribe links (see unsubkey.h), from
 * the keyring (keyring.h): "unsubscribe" signs; the key a `gwctl key
 * rotate` replaced still verifies for its grace (common/hmackey.c).
 * Exposure: tokens from URL paths; unsubtok.c parses them.
 * Diagnostics: without a key (gw.db unreadable since start) links are
 * neither made nor accepted.
 */
#include <string.h>

#include "keyring.h"
#include "unsubkey.h"
#include "unsubtok.h"

int
unsubkey_make(int64_t sub, const char *rcpt, char *out, size_t outsz)
{
	struct keyring_keys k;
	int r = -1;

	if (keyring_get(HMACKEY_UNSUB, &k) == 0)
		r = unsubtok_encode(k.cur, k.curlen, sub, rcpt, out, outsz);
	explicit_bzero(&k, sizeof(k));
	return r;
}

int
unsubkey_check(const char *tok, size_t n, struct unsubtok *t)
{
	struct keyring_keys k;
	int r = -1;

	if (unsubtok_decode(tok, n, t) == -1)
		return -1;
	if (keyring_get(HMACKEY_UNSUB, &k) == 0 &&
	    unsubtok_verify(t, k.cur, k.curlen))
		r = 0;
	else if (k.oldlen > 0 && unsubtok_verify(t, k.old, k.oldlen))
		r = 0;
	explicit_bzero(&k, sizeof(k));
	return r;
}
