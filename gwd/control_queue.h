/*
 * control_queue.h - the control socket's queue commands (gwctl queue):
 * listing, showing, and the admin actions on queued messages.
 */
#ifndef GW_CONTROL_QUEUE_H
#define GW_CONTROL_QUEUE_H

#include "conn.h"
#include "ctlproto.h"

/* Room for a whole queue listing on one control connection. */
#define CTL_OUT_MAX	CTL_REPLY_MAX

/* line starts with "queue": answer it on c, then close c. */
void	 control_queue(struct conn *c, const char *line);
/* c is a control connection whose queue command is under way. */
int	 control_queue_conn(const struct conn *c);

#endif
