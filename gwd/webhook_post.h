/*
 * webhook_post.h - a batch of events as a webhook receives it: its JSON
 * and its signed POST (webhook_post.c), for the dispatcher (webhook.c)
 * and "gwctl webhook test" (webhook_ctl.c).
 */
#ifndef GW_WEBHOOK_POST_H
#define GW_WEBHOOK_POST_H

#include <stddef.h>

struct buf;
struct httpc_reply;

/* Build the POST of body to url signed with secret and submit it;
 * done(arg, reply) as httpc's.  0, or -1 (httpc refused it). */
int	 webhook_post(const char *url, const char *secret, const char *body,
	    size_t len, void (*done)(void *, const struct httpc_reply *),
	    void *arg);
/* The JSON of a batch: {"events":[...]} around the objects in objs. */
void	 webhook_batch_body(struct buf *out, const char *const *objs, int n);

#endif
