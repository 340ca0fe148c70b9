/*
 * fbl_job.h - the job a feedback report becomes, shared by the
 * listener's files (fbl.c: the listener, the worker's run and the main
 * thread's recording; fbl_match.c: which message and recipients a
 * report is about).
 */
#ifndef GW_FBL_JOB_H
#define GW_FBL_JOB_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "feedback.h"
#include "gwd.h"
#include "worker.h"

struct store_op;

#define FBL_MAX_RCPT	1000	/* a matched message's recipients read */

enum fbl_verdict {
	FV_MATCHED,	/* events recorded */
	FV_NOTHING,	/* a report of no failure (delayed, delivered) */
	FV_UNMATCHED,	/* no message of gw's, or not its recipient */
	FV_FORGED,	/* a VERP token whose HMAC does not check */
	FV_UNREADABLE	/* neither a bounce nor an abuse report */
};

/* A recipient the report is about. */
struct fbl_hit {
	char		*addr;
	int		 complaint;
	int		 code;		/* bounces: the reply */
	char		 status[16];
	char		*text;
};

struct fbl_job {
	struct work		 w;
	struct store_op		*op;	/* op->arg: the session, or NULL */
	char			*msg;
	size_t			 len;
	char			**env_rcpt;
	int			 nenv;
	char			 ip[INET6_ADDRSTRLEN];
	uint64_t		 sid;
	/* What the worker found. */
	enum fbl_verdict	 verdict;
	struct fb_report	 rep;
	char			 qid[QID_LEN + 1];
	char			*subaccount;
	char			*sender;
	char			*message_id;
	char			 how[24];	/* "verp", "queue-id", ... */
	int			 unsub;		/* a mail to a u- address */
	struct fbl_hit		*hits;
	int			 nhits;
	char			 why[160];
};


/* Add a recipient the report is about (once per address). */
void	 fbl_hit_add(struct fbl_job *, const char *addr, int complaint,
	    int code, const char *status, const char *text);
/* The message j->qid as log.db's "received" event has it (its
 * subaccount, sender, Message-ID into j; its recipients into *rcpts):
 * 0, or -1 when gw never received it. */
int	 fbl_message_find(sqlite3 *, struct fbl_job *, char ***rcpts,
	    int *nrcpt);
/* Which message the report is about: a VERP token, else gw's queue id
 * of the returned Received:, else the returned Message-ID. */
enum fbl_verdict fbl_which_message(struct fbl_job *, sqlite3 *,
	    unsigned *idx, int *by_verp);
/* The report's recipients that are recipients of that message, as
 * hits. */
void	 fbl_which_rcpts(struct fbl_job *, char **rcpts, int n);

#endif
