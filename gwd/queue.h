/*
 * queue.h - the main thread's view of the spool: every pending recipient,
 * the retry schedule, destinations with their jobs and connections, and
 * what happens when a delivery attempt ends (delivered, deferred,
 * bounced, expired; DSNs).
 */
#ifndef GW_QUEUE_H
#define GW_QUEUE_H

#include <stdint.h>

#include "gwd.h"

int	 queue_init(char *err, size_t errsz);
/* A message committed by a session: deliver it. */
void	 queue_add(struct qmsg *);
/* Build and own a new message (used by sessions and DSNs). */
struct qmsg *queue_msg_new(const char *sender, const char *subaccount,
	    int nrcpt);
void	 queue_shutdown(void);

struct queue_stats {
	int	messages;
	int	recipients;
	int	active;
	int	deferred;
	int	destinations;
	int	connections;
	int64_t	oldest_us;	/* arrival of the oldest queued message; 0 */
};
void	 queue_stats(struct queue_stats *);

#endif
