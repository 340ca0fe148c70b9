/*
 * signer.h - which DKIM keys sign a message, and signing it off the
 * event loop.
 *
 * The active keys come from gw.db (read with the subaccounts, in the same
 * transaction, whenever gw.db changes).  A message is signed with the
 * active keys of its From: domain (or the nearest parent domain that has
 * any), plus those of the subaccount's organisation-wide domain when it
 * has one.  Signing runs on a worker; the caller continues in done().
 */
#ifndef GW_SIGNER_H
#define GW_SIGNER_H

#include <sqlite3.h>

#include "buf.h"
#include "dkim.h"
#include "msg.h"
#include "worker.h"

#define SIGNER_MAX_KEYS	4

/* Replace the key set from gw.db (inside the caller's read transaction).
 * Returns the number of active keys, or -1 on a database error. */
int	 signer_load(sqlite3 *);
void	 signer_free(void);

struct sign_job {
	struct work	 w;
	/* in */
	const char	*msg;		/* the message as it will be stored */
	size_t		 len;
	int64_t		 now;
	struct dkim_key	 keys[SIGNER_MAX_KEYS];	/* own references */
	int		 nkeys;
	/* out */
	struct buf	 sigs;		/* the DKIM-Signature fields */
	int		 failed;
	char		 err[160];
	char		 detail[600];	/* what was signed, for the audit log */
	/* the caller's */
	void		(*done)(struct sign_job *);
	void		*arg;
};

/*
 * Choose the keys for a message from `from_domain` (lower case) and the
 * subaccount's organisation-wide domain (NULL: none).  Returns a job with
 * nkeys > 0, or NULL with why[] saying why nothing signs.
 */
struct sign_job *signer_plan(const char *from_domain, const char *org_domain,
	    char *why, size_t whysz);
/* The domain a message signs for: its first From: address's, else the
 * envelope sender's; lower case, "" when neither has one. */
void	 signer_domain(const struct msg_info *, const char *sender,
	    char *dom, size_t domsz);
/* Sign msg[0..len) on a worker; job->done(job) runs on the main thread. */
void	 signer_run(struct sign_job *, const char *msg, size_t len,
	    int64_t now);
void	 sign_job_free(struct sign_job *);
/* Put a finished job's signatures on top of *msg (len *len), which it
 * frees and replaces; returns how many bytes were added. */
size_t	 signer_prepend(const struct sign_job *, char **msg, size_t *len);

#endif
