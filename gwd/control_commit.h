/*
 * control_commit.h - control-socket commands that change gwd's own
 * state in queue.db answer only once the change is committed (and some
 * others once something else is done: control_hold).  The
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
/*
 * Hold c for an answer that comes later for another reason (alert test
 * waits for HTTP replies): control_hold_answer() writes out to it, if
 * the client is still there, and closes it.
 */
struct ctl_wait;
struct ctl_wait *control_hold(struct conn *c);
void	 control_hold_answer(struct ctl_wait *, struct buf *out);
/* c is closing: an answer still to come is dropped. */
void	 control_commit_gone(struct conn *c);

#endif
