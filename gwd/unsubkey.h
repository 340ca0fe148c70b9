/*
 * unsubkey.h - one-click unsubscribe tokens (common/unsubtok.h) made
 * and checked under the keyring's "unsubscribe" keys (keyring.h), for
 * unsubscribe.c.
 */
#ifndef GW_UNSUBKEY_H
#define GW_UNSUBKEY_H

#include <stddef.h>
#include <stdint.h>

struct unsubtok;

/* TOKEN for (subaccount id, rcpt) under the current key: its length, or
 * -1 (no key, or rcpt not one a token can carry). */
int	 unsubkey_make(int64_t subaccount, const char *rcpt, char *out,
	    size_t outsz);
/* Parse tok[0..n) into t: 0 when its MAC verifies under the current
 * key, or the previous one within its grace; else -1. */
int	 unsubkey_check(const char *tok, size_t n, struct unsubtok *t);

#endif
