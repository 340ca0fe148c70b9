/*
 * hmackey.h - gw's HMAC keys by purpose, and the one truncated
 * HMAC-SHA256 every token gw makes is checked with.
 *
 * gw.db's hmac_key holds one row per purpose ("unsubscribe": one-click
 * links, unsubtok.h; "verp": return paths and mailto: unsubscribe
 * addresses, verp.h), made by gw.db's migrations.  `gwctl key rotate
 * PURPOSE` renames the current row "PURPOSE.previous", dated by the
 * rotation, and makes a new one; gwd verifies with the previous key for
 * the purpose's grace_days after that date, then only with the new one.
 *
 * Pure: no I/O.  gwd reads the rows (gwd/keyring.h), gwctl rotates them.
 */
#ifndef GW_HMACKEY_H
#define GW_HMACKEY_H

#include <stddef.h>

#define HMACKEY_LEN	32	/* what the migrations and a rotation make */
#define HMACKEY_MIN	16	/* a shorter row is no key */

enum hmackey_purpose {
	HMACKEY_UNSUB,
	HMACKEY_VERP,
	HMACKEY_NPURPOSES
};

struct hmackey_info {
	const char	*name;		/* gw.db's purpose */
	const char	*previous;	/* the purpose of the replaced key */
	int		 grace_days;	/* the replaced key still verifies */
	const char	*what;		/* what a rotation's message calls */
};

/* The row of purpose p. */
const struct hmackey_info *hmackey_info(enum hmackey_purpose p);
/* The purpose named name (gw.db's, or gwctl's argument): 0, or -1. */
int	 hmackey_by_name(const char *name, enum hmackey_purpose *p);

/*
 * HMAC-SHA256(key, d[0..n)) cut to its first outlen bytes (1..32) into
 * out: 0, or -1 (then out is zeroed, so it verifies nothing).
 */
int	 hmackey_mac(const unsigned char *key, size_t keylen, const void *d,
	    size_t n, unsigned char *out, size_t outlen);

#endif
