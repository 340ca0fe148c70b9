/*
 * signer.h - which DKIM keys sign a message, and signing it off the
 * event loop.
 *
 * The private keys live in the key process (keyproc.h); this side knows
 * only their names.  Whenever gw.db changes (with the subaccounts), the
 * key process re-reads the keys and answers with the active ones.  A
 * message is signed with the active keys of its From: domain (or the
 * nearest parent domain that has any), plus those of the subaccount's
 * organisation-wide domain when it has one.  A worker canonicalizes and
 * hashes; the key process signs the digests; the caller continues in
 * done() on the main thread.  When the key process dies, the jobs it had
 * fail (the session answers 451) or, with `wait` set, are held and sent
 * to the next one, which is started at once (at most once a second).
 */
#ifndef GW_SIGNER_H
#define GW_SIGNER_H

#include <sqlite3.h>

#include "buf.h"
#include "dkim.h"
#include "msg.h"
#include "worker.h"

#define SIGNER_MAX_KEYS	DKIM_MAX_SIGS

struct gw_config;

/* Start the key process (before dropping root).  0, or -1 with err. */
int	 signer_start(const struct gw_config *, int verbose, char *err,
	    size_t errsz);
/* Have the key process re-read gw.db's keys and take the names of the
 * active ones (the argument, gw.db of the caller's snapshot, is not read:
 * the network process never reads the dkim_key table).  Returns the
 * number of active keys, or -1 when the key process could not (the
 * previous keys stay, on both sides). */
int	 signer_load(sqlite3 *);
void	 signer_free(void);

struct sign_job {
	struct work	 w;
	/* in */
	const char	*msg;		/* the message as it will be stored */
	size_t		 len;
	int64_t		 now;
	struct dkim_key	 keys[SIGNER_MAX_KEYS];	/* names only */
	int		 nkeys;
	int		 wait;		/* set by the caller: held, never
					 * failed, while no key process runs */
	/* out */
	struct buf	 sigs;		/* the DKIM-Signature fields */
	int		 failed;
	char		 err[160];
	char		 detail[600];	/* what was signed, for the audit log */
	/* the caller's */
	void		(*done)(struct sign_job *);
	void		*arg;
	/* signer.c's and signer_kp.c's */
	struct dkim_part parts[SIGNER_MAX_KEYS];
	struct sign_job	*kp_next;	/* sent or held, in order */
	uint32_t	 kp_id;
	int64_t		 kp_sent;	/* loop_now() */
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
/* signer_run()'s work on the calling thread: a content worker that has
 * the message in hand already (one hop for both, content.h).  Then
 * signer_send(), on the main thread with job->done set, goes on as the
 * worker's completion would. */
void	 signer_prepare(struct sign_job *, const char *msg, size_t len,
	    int64_t now);
void	 signer_send(struct sign_job *);
void	 sign_job_free(struct sign_job *);
/* Put a finished job's signatures on top of *msg (len *len), which it
 * frees and replaces; returns how many bytes were added. */
size_t	 signer_prepend(const struct sign_job *, char **msg, size_t *len);

#endif
