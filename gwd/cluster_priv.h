/*
 * cluster_priv.h - what the parts of cluster mode share: the connection,
 * heartbeats and stats snapshot (cluster.c), rate tokens
 * (cluster_rate.c), the suppression stream (cluster_supp.c), the
 * quotas (cluster_quota.c), gw.db's shared configuration
 * (cluster_config.c, its conflicts cluster_conflict.c, its outbox
 * cluster_outbox.c, whose rows cluster_config_send.c sends), login
 * blocks and pauses (cluster_shared.c), connection leases
 * (cluster_lease.c), configuration snapshots (cluster_snap.c).
 */
#ifndef GW_CLUSTER_PRIV_H
#define GW_CLUSTER_PRIV_H

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <sqlite3.h>

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
	int		 snapshot_every; /* configuration entries */
	int64_t		 hb_sent;	/* a heartbeat waits since; 0: none */
	struct hmap	 rates;		/* key -> struct rate (cluster_rate.c) */
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
/* The value of field name in a Redis field/value array (NULL: none). */
const redisReply *cl_field(const redisReply *, const char *name);
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

/* cluster_config_send.c: the oldest of db's cluster_outbox rows not
 * sent yet to the stream, unless one is on its way (it calls for the
 * next itself when Redis has it); whether one is; the outbox emptied
 * (row ids may start again at 1); a new connection, or none. */
void	 config_send_next(sqlite3 *db);
int	 config_send_busy(void);
void	 config_send_emptied(void);
void	 config_send_start(void);
void	 config_send_stop(void);

/* cluster_conflict.c: sqlite3changeset_apply()'s conflict handler, its
 * arg a struct cs_applying; the rows other nodes' changes touched while
 * ours waited: cs's noted, or forgotten. */
struct cs_applying {
	const char	*id;		/* the stream entry's */
	int		 ours;		/* one of ours, applied again */
};
int	 conflict_resolve(void *arg, int why, sqlite3_changeset_iter *it);
void	 conflict_touched_add(const unsigned char *cs, size_t n);
void	 conflict_touched_clear(void);
void	 conflict_touched_all(void);	/* not known: every row */

/* cluster_outbox.c: this node's changes in db's cluster_outbox, each
 * kept till it is read back.  Whether none waits; this gw.db's origin
 * (made the first time; NULL: gw.db failing); the outbox row an
 * entry (fields f, changeset cs[0..n)) is, or 0: not ours; the seq an
 * entry of row carries (-1: gw.db failing); row read back (in the
 * caller's transaction); rows up to row sent (Redis has them); those
 * sent deleted, their entries gone with the stream's trimmed part (how
 * many, or -1); the marks of an entry (fields f) or of a snapshot (its
 * hash f) noted in the caller's transaction, ours in that snapshot
 * deleted (how many, or -1); the marks for a snapshot (free(); NULL:
 * gw.db failing); whether another node's change may have overwritten
 * one of ours waiting, noted as of stream id id, forgotten. */
int	 outbox_empty(sqlite3 *db);
/* db's cluster_applied: stream's last id into out (NULL: whether it
 * has one), -1 when none; that stream is applied up to id (in the
 * caller's transaction), 0 or -1. */
int	 config_applied_get(sqlite3 *db, const char *stream, char *out,
	    size_t outsz);
int	 config_note_applied(sqlite3 *db, const char *stream, const char *id);
int64_t	 outbox_ours(sqlite3 *db, const redisReply *f, const void *cs,
	    size_t n);
const char *outbox_origin(sqlite3 *db);
int64_t	 outbox_seq(sqlite3 *db, int64_t row);
int	 outbox_done(sqlite3 *db, int64_t row);
int	 outbox_sent(sqlite3 *db, int64_t row);
int	 outbox_drop_sent(sqlite3 *db);
int	 outbox_marks_note(sqlite3 *db, const redisReply *f, int snapshot);
char	*outbox_marks(sqlite3 *db);
int	 outbox_mixed(sqlite3 *db);
int	 outbox_mixed_set(sqlite3 *db, const char *id);
int	 outbox_mixed_clear(sqlite3 *db);

/* cluster_hmac.c: offer gw.db's HMAC keys to the cluster (done gets
 * the cluster's, arg passed on); take them into db, in a transaction of
 * its own.  0, or -1 (db busy: ask again). */
void	 hmac_offer(sqlite3 *db, creq_cb done, void *arg);
int	 hmac_adopt(sqlite3 *db, const redisReply *rep);

/* cluster_snap.c: gw.db's shared tables (path) as one changeset of
 * inserts; the changeset that makes them those of snapshot snap (both
 * sqlite3_free()); -1 logged. */
int	 snap_make(const char *path, void **cs, int *n);
int	 snap_diff(const char *path, const void *snap, int snapn, void **cs,
	    int *n);
/* Stream ids "MS-SEQ" compared: < 0, 0, > 0. */
int	 snap_id_cmp(const char *a, const char *b);

/* cluster_shared.c */
void	 shared_tick(void);		/* every second while up */

/* cluster_lease.c */
void	 lease_tick(void);		/* every second while up */

/* cluster_quota.c */
void	 cquota_reconcile(void);	/* up again */
void	 cquota_tick(void);		/* every second while up */

#endif
