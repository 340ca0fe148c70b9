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

#endif
