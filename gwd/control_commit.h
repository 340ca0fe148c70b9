/*
 * control_commit.h - control-socket commands that change gwd's own
 * state in queue.db answer only once the change is committed.  The
 * modules that serve such commands (pause.c, suppress.c) answer
 * through it, below control.c, which dispatches to them.
 */
#ifndef GW_CONTROL_COMMIT_H
#define GW_CONTROL_COMMIT_H

struct buf;
struct conn;
struct store_op;

/*
 * Submit op and hold the connection c: once op is committed (or failed),
 * done(op, arg, out) runs on the main thread and writes the answer
 * lines into out, which go to the client if it is still there; then op
 * is freed.  Sets op->done and op->arg.
 */
void	 control_commit(struct conn *c, struct store_op *op,
	    void (*done)(struct store_op *, void *arg, struct buf *out),
	    void *arg);
/* c is closing: an answer still to come is dropped. */
void	 control_commit_gone(struct conn *c);

#endif
