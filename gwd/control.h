/*
 * control.h - the control socket: the commands gwctl and gwtop send.
 */
#ifndef GW_CONTROL_H
#define GW_CONTROL_H

#include <stddef.h>

/* Bind the control socket (when configured) before privileges are
 * dropped: -1 with err.  Then take commands from the loop, until
 * control_stop() removes the socket. */
int	 control_bind(char *err, size_t errsz);
void	 control_start(void);
void	 control_stop(void);
/* Once the loop has ended: close and free the connections still open
 * (a client waiting for a webhook test or a commit). */
void	 control_close_all(void);

#endif
