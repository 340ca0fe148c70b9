/*
 * keyring.h - gwd's copy of gw.db's HMAC keys (common/hmackey.h): read
 * by purpose with each snapshot of gw.db (account.c), so a `gwctl key
 * rotate` takes effect within a poll; the key a rotation replaced still
 * verifies for its purpose's grace.  Any thread may ask (the feedback
 * worker checks VERP tokens): each caller gets a copy.
 */
#ifndef GW_KEYRING_H
#define GW_KEYRING_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "hmackey.h"

struct keyring_keys {
	unsigned char	 cur[HMACKEY_LEN];
	size_t		 curlen;	/* 0: no key */
	unsigned char	 old[HMACKEY_LEN];
	size_t		 oldlen;	/* 0: none, or past its grace */
};

/* Read every purpose's keys, inside the caller's read transaction on
 * gw.db: 0, or -1 (then the previous keys stay, and a warning says
 * why). */
int	 keyring_load(sqlite3 *gdb);
/* Purpose p's keys as of now into k: 0, or -1 when it has no current
 * key. */
int	 keyring_get(enum hmackey_purpose p, struct keyring_keys *k);

#endif
