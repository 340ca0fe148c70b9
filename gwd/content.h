/*
 * content.h - the content-policy stage of gwd (issue 11): the policies
 * of gw.db (cpolicy.h) as gwd holds them, and the scan of one message on
 * a worker of its own, never on the event loop.
 *
 * The set is replaced whenever gw.db changes (auth.c reads it in the
 * same snapshot as the subaccounts); a scan holds a reference to the set
 * it started with, so a reload never frees a database in use.  The
 * caller (data_end.c) acts on the verdict: refuse, defer (451), hold,
 * put the redacted message in place of the original, add the header, go
 * on.  A job also carries what rspamd is asked with (content.rspamd,
 * copied from gcfg on the loop) and the URL checks' settings (uribl.h),
 * so the worker never reads gcfg.
 */
#ifndef GW_CONTENT_H
#define GW_CONTENT_H

#include <sqlite3.h>
#include <stddef.h>

#include "config.h"
#include "uribl.h"
#include "worker.h"

struct content_set;
struct sign_job;

struct content_job {
	struct work		 w;
	/* in */
	struct content_set	*set;		/* a reference */
	const char		*msg;		/* the caller's; kept alive */
	size_t			 len;
	char			*subaccount;
	char			*sender;
	char			**rcpt;
	int			 nrcpt;
	char			*ip;		/* content_job_client() */
	char			*helo;
	char			*qid;
	int			 policies;	/* a policy applies */
	/* rspamd (content.rspamd, copied): url NULL when off */
	char			*rs_url;
	int64_t			 rs_timeout_ms;
	int			 rs_fail;
	uint64_t		 rs_max_size;
	int64_t			 rs_retry_ms;
	int			 rs_act[RSA_COUNT];
	struct uribl_job	 uj;		/* the "uribl" detector's */
	/* out */
	int			 failed;	/* no verdict: reply 451 */
	char			 err[200];
	char			*block;		/* the blocking policy's name
						   ("rspamd": rspamd's verdict) */
	/* "451 4.7.1 ...": rspamd's soft reject, or rspamd unavailable
	 * with content.rspamd.fail = "closed" */
	char			*defer;
	/* "pci (card)": the first quarantining policy, its detector */
	char			*quarantine;
	char			*tag;		/* "pci, hr": tagging policies */
	/* The message with values replaced (redacting policies), or NULL:
	 * what is stored and signed instead of msg. */
	char			*redacted;
	size_t			 redlen;
	int			 nredacted;	/* values replaced */
	/* Notifications (notify.h): the distinct --notify addresses of the
	 * policies that fired; admin: quarantined by a policy naming none
	 * (policy.admin_address is told); the summary (policies fired and
	 * detector counts, never a value). */
	char			**notify;
	int			 nnotify;
	int			 admin;
	char			*summary;
	/* in: the message's subject (the caller's copy, or NULL); out:
	 * with what any detector finds in it replaced */
	char			*subject;
	char			*detail;	/* the "scanned" event's, masked */
	/* in: the message's signing plan (signer.h), or NULL; out: 1 when
	 * it was prepared here (signer_prepare()), after a verdict that
	 * leaves the message as it came: no refusal, tag, redaction or
	 * notification.  One hop to a worker for both. */
	struct sign_job		*sign;
	int			 presigned;
	/* the caller's */
	void			(*done)(struct content_job *);
	void			*arg;
};

/* Replace the set from gw.db (inside the caller's read transaction):
 * the number of policies, or -1 (logged) when it cannot be read or
 * compiled whole; the previous set stays. */
int	 content_load(sqlite3 *);
/* The policies loaded (for the log line). */
int	 content_count(void);

/* A job for a message from subaccount/sender to rcpt[], or NULL when no
 * policy applies to it and rspamd is off (nothing to scan). */
struct content_job *content_plan(const char *subaccount, const char *sender,
	    char *const *rcpt, int nrcpt);
/* What rspamd is told of the client: its address, EHLO name, and the
 * queue id. */
void	 content_job_client(struct content_job *, const char *ip,
	    const char *helo, const char *qid);
/* Scan msg[0..len) on the content worker; job->done(job) runs on the
 * main thread.  -1 when too many scans wait already (the job is not
 * taken; the caller answers 451 and frees it). */
int	 content_run(struct content_job *, const char *msg, size_t len);
void	 content_job_free(struct content_job *);

#endif
