/*
 * cpolicy.h - content policies (issue 11): rows of gw.db's
 * content_policy table, each a detector (dlp.h), the count at which it
 * fires, an action, and the mail it applies to.  A set is loaded with
 * its detectors compiled into one database; a message is walked
 * (mime_walk.h) and scanned once for every policy of the set.
 *
 * gwd loads the set with the subaccounts (the same gw.db snapshot) and
 * scans on a worker; gwctl's `policy test` loads it to show what gwd
 * would decide.  Nothing here sends, stores or logs.
 */
#ifndef GW_CPOLICY_H
#define GW_CPOLICY_H

#include <stdint.h>

#include <sqlite3.h>

#include "buf.h"
#include "dlp.h"
#include "mime_walk.h"

/* By precedence: a message that one policy blocks is refused whatever
 * the others say; one quarantined is held (and redacted and tagged, if
 * others say so).  Redaction applies to what is stored, held or not.
 * notify only sends the summary (any policy may name an address). */
enum cpol_action { CPOL_BLOCK, CPOL_TAG, CPOL_QUARANTINE, CPOL_REDACT,
	CPOL_NOTIFY };

#define CPOL_NAME_MAX	64

struct cpol {
	int64_t		 id;
	char		*name;
	char		*detector;	/* as written */
	int		 det;		/* its index in the set's database */
	int		 min;		/* fires at this many distinct values */
	enum cpol_action action;
	/* Conditions; NULL: any. */
	char		*subaccount;
	char		*from_domain;	/* pattern on the envelope sender */
	char		*to_domain;	/* pattern; any recipient matches */
	char		*notify;	/* a summary goes there when it fires;
					 * NULL: none */
};

struct cpol_set {
	struct cpol	*p;		/* in order (gwctl policy move) */
	int		 n;
	char		**specs;	/* the distinct detectors */
	int		 nspecs;
	struct dlp_db	*db;
	/* Among specs, decided once at load, not for every message: */
	int		 attach;	/* an attachment rule: libmagic */
	int		 uribl;		/* the "uribl" detector */
};

/*
 * The "uribl" detector's count: the registered domains of the walked
 * message's URLs that a URI blocklist lists, with each as a hit (the
 * domain, not masked).  Looking them up is the caller's (gwd asks DNS);
 * without one (gwctl's `policy test`) the count is 0.
 */
typedef void (*cpol_urls_fn)(void *arg, const struct mime_walk *,
	    struct dlp_count *);

/* What the conditions look at. */
struct cpol_msg {
	const char		*subaccount;	/* NULL or "": none */
	const char		*sender;	/* envelope, "" for <> */
	const char *const	*rcpt;
	int			 nrcpt;
};

/* The decision on one message. */
struct cpol_verdict {
	struct dlp_result	 res;		/* per detector of the set */
	int			*fired;		/* per policy: 1 fired */
	int			 nfired;
	int			 block;		/* first blocking policy; -1 */
	int			 quarantine;	/* first quarantining one; -1 */
	int			 ntag;		/* tagging policies fired */
	int			*redact;	/* per detector: 1 to redact */
	int			 nredact;	/* redacting policies fired */
	int			 walk_flags;	/* MW_* */
	int			 nparts, natt;
};

int	 cpol_action_parse(const char *);	/* -1: unknown */
const char *cpol_action_name(enum cpol_action);
/* A policy name: letters, digits, '-', '_', '.', 1..CPOL_NAME_MAX. */
int	 cpol_valid_name(const char *);

/*
 * Read the set (inside the caller's read transaction) and compile its
 * detectors: 0, or -1 with the reason in err (a database error, or a
 * detector that no longer compiles: the caller keeps its previous set).
 * A row whose action this version does not know is skipped.
 */
int	 cpol_load(sqlite3 *, struct cpol_set **, char *err, size_t errsz);
void	 cpol_set_free(struct cpol_set *);

/* Which policies apply to m: 1 for p, else 0. */
int	 cpol_applies(const struct cpol *, const struct cpol_msg *);
/* Walk msg and scan it for the policies that apply: 0, or -1 with err
 * (Hyperscan failed; nothing is decided).  Free v either way. */
int	 cpol_scan(const struct cpol_set *, const char *msg, size_t len,
	    const struct cpol_msg *, struct cpol_verdict *, char *err,
	    size_t errsz);
/* The same, with urls(arg, ...) counting the "uribl" detectors. */
int	 cpol_scan_urls(const struct cpol_set *, const char *msg, size_t len,
	    const struct cpol_msg *, cpol_urls_fn urls, void *arg,
	    struct cpol_verdict *, char *err, size_t errsz);
void	 cpol_verdict_free(struct cpol_verdict *);
/* The message with what the redacting policies that fired found
 * replaced (redact.h), into out: the number of values replaced (0: out
 * empty), or -1 with err. */
int	 cpol_redact(const struct cpol_set *, const struct cpol_verdict *,
	    const char *msg, size_t len, struct buf *out, char *err,
	    size_t errsz);

/* "pci(block) hr(tag)" into b: the policies that fired; "" if none. */
int	 cpol_fired_names(const struct cpol_set *, const struct cpol_verdict *,
	    struct buf *);
/* The audit detail: "fired=pci(block) counts=card:2,ssn:0 matches=
 * card@1:4111 **** **** 1111 parts=3 attachments=1 [unread=deep]",
 * matched values masked. */
int	 cpol_describe(const struct cpol_set *, const struct cpol_verdict *,
	    struct buf *);

#endif
