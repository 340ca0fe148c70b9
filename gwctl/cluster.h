/*
 * cluster.h - gwctl's side of cluster mode: changes of the suppression
 * list told to every gwd node through Redis (gwd/cluster_supp.c reads
 * them), and changes of the shared configuration kept for this node's
 * gwd to send (gwd/cluster_config.c).  Changes are queued while the gw.db transaction is open and
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

/*
 * Configuration changes (gwd/cluster_config.c).  With cluster.redis,
 * gcl_session_open() records every change of the shared tables
 * (cshare_config_tables) made on db; gcl_session_save() writes what was
 * recorded as one changeset into cluster_outbox inside the open
 * transaction (ctx_commit calls it just before COMMIT), so the change
 * and its record commit together; this node's gwd sends it to Redis.
 * gcl_session_close() saves what autocommit statements changed.
 * -1 when SQLite refuses (the transaction should then roll back).
 */
int	 gcl_session_open(struct ctx *);
int	 gcl_session_save(struct ctx *);
void	 gcl_session_reset(struct ctx *);
void	 gcl_session_close(struct ctx *);

#endif
