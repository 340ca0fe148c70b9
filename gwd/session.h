/*
 * session.h - inbound SMTP sessions and the listeners that accept them.
 */
#ifndef GW_SESSION_H
#define GW_SESSION_H

#include <stdint.h>

#include "config.h"

/* Bind every configured listener (as root, before dropping privileges). */
int	listeners_bind(char *err, size_t errsz);
/* Start accepting (after the queue is loaded). */
void	listeners_start(void);
/* Stop accepting and say goodbye to every session (shutdown). */
void	listeners_stop(void);
void	sessions_close_all(void);
int	sessions_count(void);
/* Bytes held for inbound mail now, against limits.memory. */
uint64_t sessions_memory(void);

#endif
