/*
 * queue_info.h - gwd's queue as gwctl reads it from the control socket
 * (queue.c), shared with the commands that show a part of it
 * (quarantine.c).
 */
#ifndef GWCTL_QUEUE_INFO_H
#define GWCTL_QUEUE_INFO_H

#include "buf.h"
#include "gwctl.h"
#include "output.h"

/* One recipient, one message, as gwd described them. */
struct qrcpt_info {
	char	*address, *state, *last_reply;
	long long attempts, next_attempt;
};

struct qmsg_info {
	char	*qid, *sender, *subaccount, *message_id, *state;
	long long arrival, size;
	struct output_strv headers;
	struct qrcpt_info *rcpt;
	int	 nrcpt;
};

/* Ask gwd, and check the reply is whole (its last line is "end") or
 * say what gwd refused; *text is the reply. */
int	 queue_ask(struct ctx *, const char *req, struct buf *reply,
	    char **text);
/* cb() for each message of a list/show reply; how many.  *unknown: the
 * id gwd did not know (show). */
int	 queue_messages(char *text, void (*cb)(struct qmsg_info *, void *),
	    void *arg, char **unknown);
/* `queue show`'s text of one message, and its history from log.db. */
void	 queue_show_one(struct qmsg_info *, void *);
void	 queue_show_history(struct ctx *, const char *qid);
/* An action (c->verb) on the ids of a, opts (" --quarantined")
 * appended to each request; counts on stderr. */
int	 queue_act_opts(struct ctx *, const struct cmd *, struct args *,
	    const char *opts);

#endif
