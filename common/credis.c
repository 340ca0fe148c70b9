/*
 * credis.c - the tools' blocking connection to Redis (see credis.h).
 * Exposure: talks to the Redis gwd.conf names; its replies are read
 * by the callers, checked for type.
 * Diagnostics: NULL and a reason; never dies.
 */
#include <hiredis/hiredis.h>

#include <stdio.h>
#include <string.h>

#include "credis.h"
#include "cshare.h"

#define TIMEOUT_S	3

redisContext *
credis_connect(const char *addr, const char *password_file, char *err,
    size_t errsz)
{
	struct timeval tv = { TIMEOUT_S, 0 };
	char ip[64], pw[CSHARE_PASSWORD_MAX + 1];
	redisContext *rc;
	redisReply *rep;
	int port;

	if (cshare_redis_addr(addr, ip, sizeof(ip), &port) == -1) {
		snprintf(err, errsz, "Redis %s: not an address", addr);
		return NULL;
	}
	if ((rc = redisConnectWithTimeout(ip, port, tv)) == NULL ||
	    rc->err) {
		snprintf(err, errsz, "Redis %s: %s", addr, rc ? rc->errstr :
		    "out of memory");
		redisFree(rc);
		return NULL;
	}
	redisSetTimeout(rc, tv);
	if (password_file == NULL)
		return rc;
	if (cshare_password(password_file, pw, sizeof(pw), err, errsz) ==
	    -1) {
		redisFree(rc);
		return NULL;
	}
	rep = redisCommand(rc, "AUTH %s", pw);
	explicit_bzero(pw, sizeof(pw));
	if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
		snprintf(err, errsz, "Redis %s: AUTH: %s", addr, rep ?
		    rep->str : rc->errstr);
		freeReplyObject(rep);
		redisFree(rc);
		return NULL;
	}
	freeReplyObject(rep);
	return rc;
}
