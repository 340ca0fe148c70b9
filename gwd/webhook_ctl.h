/*
 * webhook_ctl.h - the control socket's "webhook test ID" (gwctl webhook
 * test): a signed test event to one webhook, answered with the
 * receiver's reply once it came (webhook_ctl.c).
 */
#ifndef GW_WEBHOOK_CTL_H
#define GW_WEBHOOK_CTL_H

struct conn;

/* args: "test ID".  Holds c until the receiver answered. */
void	 webhook_control(struct conn *c, const char *args);
/* c is closing: its answer, still to come, is dropped. */
void	 webhook_control_gone(struct conn *c);

#endif
