/*
 * credis.h - a blocking connection to the cluster's Redis for the
 * command-line tools (gwctl, gwtop --cluster); gwd's own is async
 * (gwd/cluster.c).
 */
#ifndef GW_CREDIS_H
#define GW_CREDIS_H

#include <stddef.h>

struct redisContext;

/*
 * Connect to addr (cluster.redis) with a timeout of a few seconds, and
 * AUTH with the password in password_file (NULL: none).  NULL with the
 * reason in err.
 */
struct redisContext *credis_connect(const char *addr,
	    const char *password_file, char *err, size_t errsz);

#endif
