/*
 * sign_each.h - DKIM for a message whose recipients each have their own
 * fields (QMSG_RCPT_PREFIX: List-Unsubscribe naming that recipient):
 * each copy, its fields and the shared body, is signed on its own, and
 * its DKIM-Signature goes on top of its fields, so every copy verifies
 * with the fields it carries signed.
 */
#ifndef GW_SIGN_EACH_H
#define GW_SIGN_EACH_H

struct qmsg;
struct sign_job;

/*
 * Sign m->prefix[i] + m->body for each recipient with plan's keys, one
 * copy after another (a worker and the key process each), and put the
 * signatures on top of m->prefix[i].  Then done(j): j->failed and
 * j->err as for one signing, j->detail what signed, j->arg = arg, and
 * nothing in j->sigs left to prepend.  plan is the caller's no more.
 */
void	 sign_each(struct sign_job *plan, struct qmsg *m,
	    void (*done)(struct sign_job *), void *arg);

#endif
