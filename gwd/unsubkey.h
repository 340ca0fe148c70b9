/*
 * unsubkey.h - the keys of one-click unsubscribe links: read from gw.db
 * with each snapshot of it (auth.c), used to make and check tokens
 * (common/unsubtok.h) by unsubscribe.c.  Main thread only.
 */
#ifndef GW_UNSUBKEY_H
#define GW_UNSUBKEY_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

struct unsubtok;

/* The keys, inside the caller's read transaction on gw.db. */
void	 unsubkey_load(sqlite3 *gdb);
/* TOKEN for (subaccount id, rcpt) under the current key: its length, or
 * -1 (no key, or rcpt not one a token can carry). */
int	 unsubkey_make(int64_t subaccount, const char *rcpt, char *out,
	    size_t outsz);
/* Parse tok[0..n) into t: 0 when its MAC verifies under the current
 * key, or the previous one within its grace; else -1. */
int	 unsubkey_check(const char *tok, size_t n, struct unsubtok *t);

#endif
