/*
 * whsig.h - the signature of a webhook request (man/gw-events.7):
 *
 *   GW-Signature: t=TIMESTAMP,v1=HEX(HMAC-SHA256(secret, TIMESTAMP "." BODY))
 *
 * TIMESTAMP is the unix time in seconds when the request was made, so a
 * receiver can refuse an old request replayed; the secret is the
 * webhook's (gwctl webhook add).  Pure: no I/O.
 */
#ifndef GW_WHSIG_H
#define GW_WHSIG_H

#include <stddef.h>
#include <stdint.h>

/* "t=...,v1=..." is at most this long, with its NUL. */
#define WHSIG_MAX	(2 + 20 + 4 + 64 + 1)

/* The value of GW-Signature into out (WHSIG_MAX bytes): 0, or -1. */
int	 whsig_value(const char *secret, int64_t t, const void *body,
	    size_t len, char *out, size_t outsz);

#endif
