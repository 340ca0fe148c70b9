/*
 * store_read.h - the main thread's reads of queue.db (store_read.c),
 * beside the store thread that writes it (store.h).
 */
#ifndef GW_STORE_READ_H
#define GW_STORE_READ_H

#include <stddef.h>
#include <stdint.h>

#include "gwd.h"

/*
 * Main-thread reads of queue.db, on a connection of their own, opened
 * after the store (store.c) and closed after it.  At start-up the queue is read a
 * slice at a time:
 * store_load_begin() notes the messages there now (*count of them);
 * each store_load_next() hands at most max more to cb, oldest first,
 * and removes those left without recipients; *consumed counts both.
 * It returns 1 while there may be more, 0 once all are read, -1 with
 * err when queue.db refused (try again: nothing is handed twice).
 * store_load_qid(): one message the slices have not reached yet, by
 * queue id (NULL: none such); store_load_end() returns how many were
 * removed empty.
 */
int	 store_read_open(const char *state_dir, char *err, size_t errsz);
void	 store_read_close(void);
int	 store_load_begin(int64_t *count, char *err, size_t errsz);
int	 store_load_next(void (*cb)(struct qmsg *, void *), void *arg,
	    int max, int *consumed, char *err, size_t errsz);
struct qmsg *store_load_qid(const char *qid);
int	 store_load_end(void);
/* A queued message's body (into m->body) or its Message-ID (the
 * caller frees; NULL: none). */
int	 store_load_body(struct qmsg *);
char	*store_message_id(const struct qmsg *);
/* A stored recipient's prefix (QMSG_RCPT_PREFIX) into *p, *len (the
 * caller frees; NULL: none): 0, or -1 when the row is gone. */
int	 store_load_prefix(const struct qrcpt *, char **p, size_t *len);

#endif
