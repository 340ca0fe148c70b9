/*
 * cluster.h - gwctl's side of cluster mode: changes of the suppression
 * list told to every gwd node through Redis (gwd/cluster_supp.c reads
 * them).  Changes are queued while the gw.db transaction is open and
 * sent after it commits; without cluster.redis nothing is sent.
 */
#ifndef GWCTL_CLUSTER_H
#define GWCTL_CLUSTER_H

#include <stdint.h>

struct ctx;

/* sub "" or NULL: the global list. */
void	 gcl_queue(int add, const char *sub, const char *addr,
	    const char *reason, const char *source, int64_t created);
void	 gcl_discard(void);
/* Send what is queued: EX_OK, or EX_TEMPFAIL after saying that the
 * change is made on this node only. */
int	 gcl_flush(struct ctx *);

#endif
