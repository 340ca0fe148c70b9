/*
 * webhook.h - posting audit events to the webhooks of gw.db (issue 13;
 * the payload and its signature: man/gw-events.7).
 *
 * The events come from queue.db's outbox (outbox.h), where the store
 * thread gave the OUTBOX_HOOK bit to those some webhook wants
 * (hookset.h), in the transaction of the change they report.  The
 * dispatcher, on the main thread, reads those rows on a connection of
 * its own, queues each for every webhook that wants it, and POSTs JSON
 * batches through httpc (its own thread; completions come back on the
 * loop).  A row is acknowledged in the outbox, through the
 * store thread, once every webhook it was for answered 2xx or gave it
 * up: at least once, never lost by a kill -9, and sent again after a
 * restart when it was not acknowledged.  Nothing here waits on a
 * receiver: SMTP, deliveries and log.db never do.
 */
#ifndef GW_WEBHOOK_H
#define GW_WEBHOOK_H

#include <sqlite3.h>

struct buf;

/* gw.db's webhooks, in account.c's read transaction.  Main thread. */
void	 webhook_load(sqlite3 *gdb);
/* Open the outbox reader and start dispatching: 0, or -1 with err. */
int	 webhook_start(const char *state_dir, char *err, size_t errsz);
/* Hand over the acknowledgements made so far (before store_shutdown()),
 * then forget everything; in-flight requests must have been abandoned
 * (httpc_stop()) first. */
void	 webhook_stop(void);
/* Prometheus lines: per webhook, events pending, sent, dropped, and
 * requests failed. */
void	 webhook_prometheus(struct buf *);

/* What webhook_ctl.c (the control socket's "webhook test") needs: the URL and secret of the
 * webhook id (pointers valid until the next webhook_load()), 0 or -1. */
int	 webhook_lookup(long long id, const char **url, const char **secret);
/* webhook_post() and webhook_batch_body(): webhook_post.h. */

#endif
