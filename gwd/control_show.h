/*
 * control_show.h - the control socket's read-only reports (control.c's
 * table calls them): each writes its whole answer into out; args is
 * what followed the command's name ("" for none).
 */
#ifndef GW_CONTROL_SHOW_H
#define GW_CONTROL_SHOW_H

#include "buf.h"

void	 control_show_destinations(struct buf *out, const char *args);
void	 control_show_pools(struct buf *out, const char *args);
void	 control_show_subaccounts(struct buf *out, const char *args);

#endif
