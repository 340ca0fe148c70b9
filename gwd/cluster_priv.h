/*
 * cluster_priv.h - what the parts of cluster mode share: the connection,
 * heartbeats, stats snapshot and rate tokens (cluster.c), the
 * suppression stream (cluster_supp.c), the quotas (cluster_quota.c),
 * gw.db's shared configuration (cluster_config.c), login blocks and
 * pauses (cluster_shared.c).
 */
#ifndef GW_CLUSTER_PRIV_H
#define GW_CLUSTER_PRIV_H

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "buf.h"
#include "cshare.h"
#include "hmap.h"
#include "loop.h"

struct cl {
	int		 enabled;
	char		 ip[64];
	int		 port;
	char		 node[65];
	char		*password;
	char		*state_dir;	/* gw.db's (cluster_config.c) */
	redisAsyncContext *ac;		/* NULL: not connected */
	redisAsyncContext *io_ac;	/* the one io watches */
	struct ev_io	 io;
	struct ev_timer	 retry, tick;
	int64_t		 backoff;	/* ms before the next attempt */
	const char	*dropping;	/* why cl_drop() drops */
	int		 up, said;
	int		 live;		/* nodes at the last heartbeat */
	int64_t		 hb_sent;	/* a heartbeat waits since; 0: none */
	struct hmap	 rates;		/* key -> struct rate */
	void		(*supp)(int, const char *, const char *,
			    const char *, int64_t);
	void		(*stats)(struct buf *);
};

extern struct cl cl;

/* A reply (NULL: the connection is gone; maybe an error reply). */
typedef void (*creq_cb)(redisReply *, void *arg);
void	 cl_eval(enum cscript, creq_cb, void *arg, int nkeys, int nargs,
	    ...);
void	 cl_command(creq_cb, void *arg, int argc, const char **argv);
void	 cl_drop(const char *why);
/* A string (or status) reply. */
int	 cl_is_str(const redisReply *);
/* XREAD's answer for one stream: its entries ([id, [field, value,
 * ...]] each), NULL with *n 0 for nil (nothing new) or, logged as
 * what's, a reply of another shape. */
redisReply **cl_stream_entries(const redisReply *, size_t *n,
	    const char *what);

/* cluster_supp.c */
void	 supp_stream_init(void);
void	 supp_stream_start(void);	/* up: load, then follow */
void	 supp_stream_stop(void);
void	 pub_flush(void);		/* changes kept while away */

/* cluster_config.c */
void	 config_stream_init(void);
void	 config_stream_start(void);	/* up: send, then follow */
void	 config_stream_stop(void);

/* cluster_shared.c */
void	 shared_tick(void);		/* every second while up */

/* cluster_quota.c */
void	 cquota_reconcile(void);	/* up again */
void	 cquota_tick(void);		/* every second while up */

#endif
