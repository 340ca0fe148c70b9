/*
 * store_priv.h - what the store's files share (store.c, store_op.c,
 * store_apply.c, store_salvage.c, store_log.c); nothing outside the
 * store includes it.
 *
 * The store thread owns store_qdb and store_obx; the checkpointer
 * thread has connections of its own (store_log.c).
 */
#ifndef GW_STORE_PRIV_H
#define GW_STORE_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "outbox.h"
#include "store.h"

#define WARN_EVERY_US	(60 * 1000000LL)

/* Lists of ops, in order. */
struct oplist {
	struct store_op	*head, **tail;
	int		 n;
};

static inline void
oplist_init(struct oplist *l)
{
	l->head = NULL;
	l->tail = &l->head;
	l->n = 0;
}

static inline void
oplist_add(struct oplist *l, struct store_op *op)
{
	op->next = NULL;
	*l->tail = op;
	l->tail = &op->next;
	l->n++;
}

/* store.c: the store thread's queue.db connection and its outbox. */
extern sqlite3		*store_qdb;
extern struct outbox	 store_obx;
int	store_exec(sqlite3 *, const char *);
int	store_try_commit(struct store_op *, char *, size_t);

/* store_apply.c: an op's changes to queue.db (the store thread's). */
void	store_apply_prepare(sqlite3 *);
int	store_apply(struct store_op *);

/* store_salvage.c: what is left of a batch queue.db refused. */
void	store_salvage(struct store_op *, int, const char *, struct oplist *,
	    struct oplist *, int *);
void	store_cap_again(struct oplist *, struct oplist *);

/* store_log.c: log.db's side, the checkpointer thread, the disk. */
int	store_log_open(const char *, char *, size_t);
int	store_log_start(void);
void	store_log_stop(void);
void	store_log_close(void);
void	store_log_move(int);
int	store_log_sync_all(int64_t);
int64_t	store_log_synced(void);

#endif
