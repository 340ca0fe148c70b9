/*
 * control.h - the control socket.  Commands that change gwd's own
 * state in queue.db answer only once the change is committed.
 */
#ifndef GW_CONTROL_H
#define GW_CONTROL_H

#include <stddef.h>

struct buf;
struct conn;
struct store_op;

/* Bind the control socket (when configured) before privileges are
 * dropped: -1 with err.  Then take commands from the loop, until
 * control_stop() removes the socket. */
int	 control_bind(char *err, size_t errsz);
void	 control_start(void);
void	 control_stop(void);

/*
 * Submit op and hold the connection c: once op is committed (or failed),
 * done(op, arg, out) runs on the main thread and writes the answer
 * lines into out, which go to the client if it is still there; then op
 * is freed.  Sets op->done and op->arg.
 */
void	 control_submit(struct conn *c, struct store_op *op,
	    void (*done)(struct store_op *, void *arg, struct buf *out),
	    void *arg);

#endif
