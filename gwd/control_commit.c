/*
 * control_commit.c - control-socket commands that change gwd's own
 * state in queue.db answer only once the change is committed
 * (control_commit.h).
 * Exposure: none of its own; the commands were parsed by their modules.
 * Diagnostics: dies only when memory runs out; a failed commit is the
 * command's to answer.
 */
#include <stdlib.h>

#include "buf.h"
#include "conn.h"
#include "control_commit.h"
#include "store.h"
#include "util.h"

#define OUT_MAX		(64 * 1024)	/* an answer after a commit */

/* Commands answered after a commit: the connection, held meanwhile. */
struct ctl_wait {
	struct ctl_wait	*next;
	struct conn	*c;		/* NULL: the client went away */
	void		(*done)(struct store_op *, void *, struct buf *);
	void		*arg;
};
static struct ctl_wait	*waits;

static void
ctl_committed(struct store_op *op)
{
	struct ctl_wait *w = op->arg, **pp;
	struct buf out;

	for (pp = &waits; *pp && *pp != w; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = w->next;
	buf_init(&out, OUT_MAX);
	w->done(op, w->arg, &out);
	if (w->c) {
		conn_write(w->c, buf_ptr(&out), buf_len(&out));
		conn_close_after_flush(w->c);
	}
	buf_free(&out);
	free(w);
	store_op_free(op);
}

void
control_commit(struct conn *c, struct store_op *op,
    void (*done)(struct store_op *, void *, struct buf *), void *arg)
{
	struct ctl_wait *w = xcalloc(1, sizeof(*w));

	w->c = c;
	w->done = done;
	w->arg = arg;
	w->next = waits;
	waits = w;
	/* Nothing more is read from it: one command a connection. */
	conn_pause_read(c, 1);
	op->done = ctl_committed;
	op->arg = w;
	store_submit(op);
}

void
control_commit_gone(struct conn *c)
{
	for (struct ctl_wait *w = waits; w; w = w->next)
		if (w->c == c)
			w->c = NULL;
}

struct ctl_wait *
control_hold(struct conn *c)
{
	struct ctl_wait *w = xcalloc(1, sizeof(*w));

	w->c = c;
	w->next = waits;
	waits = w;
	conn_pause_read(c, 1);
	return w;
}

void
control_hold_answer(struct ctl_wait *w, struct buf *out)
{
	struct ctl_wait **pp;

	for (pp = &waits; *pp && *pp != w; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = w->next;
	if (w->c) {
		conn_write(w->c, buf_ptr(out), buf_len(out));
		conn_close_after_flush(w->c);
	}
	free(w);
}
