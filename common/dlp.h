/*
 * dlp.h - the content scanner: a set of detectors compiled once into one
 * Hyperscan database, run over a walked message (mime_walk.h) in one
 * pass per text part, every pattern hit confirmed by its validator
 * (dlp_valid.h) before it counts.
 *
 * A detector is written as the admin writes it in `gwctl policy add
 * --detector`:
 *   card  ssn  iban  email  phone      the built-in detectors
 *   regex:PATTERN                       a regular expression (Hyperscan's
 *                                       PCRE subset; "(?i)" for caseless)
 *   keywords:WORD[,WORD...]             whole words, caseless
 *   attachment:RULE                     attachments, not text (attrule.h):
 *                                       each one matching counts once
 *   uribl                               the registered domains of the
 *                                       message's URLs that a URI
 *                                       blocklist lists: counted by the
 *                                       caller (cpolicy.h), not here
 * A detector counts distinct values: the same card number in the text
 * and the HTML alternative of a message counts once.
 *
 * A database is read-only once compiled and may be scanned from many
 * threads at once (each thread keeps its own scratch space).
 */
#ifndef GW_DLP_H
#define GW_DLP_H

#include <stddef.h>

#include "dlp_valid.h"
#include "mime_walk.h"

enum dlp_kind { DLP_CARD, DLP_SSN, DLP_IBAN, DLP_EMAIL, DLP_PHONE, DLP_REGEX,
	DLP_KEYWORDS, DLP_ATTACHMENT, DLP_URIBL };

#define DLP_SPEC_MAX	1024	/* a detector as written */
#define DLP_KEYWORDS_MAX 256	/* words in one keywords: detector */
#define DLP_SAMPLES	8	/* masked matches kept per detector */

struct dlp_db;

/* Check a detector as written (it is compiled alone): 0, or -1 with the
 * reason in err. */
int	 dlp_detector_check(const char *spec, char *err, size_t errsz);
/* The kind of a detector as written (after dlp_detector_check). */
enum dlp_kind dlp_detector_kind(const char *spec);

/* Compile n detectors into one database: NULL with the reason in err
 * (naming the detector) when one does not compile.  n may be 0. */
struct dlp_db *dlp_compile(const char *const *specs, int n, char *err,
	    size_t errsz);
void	 dlp_db_free(struct dlp_db *);
int	 dlp_db_count(const struct dlp_db *);

struct dlp_hit {
	char	 path[32];		/* the part it was found in */
	char	 masked[DLP_MASK_MAX];
};

struct dlp_count {
	int		 count;		/* distinct values */
	int		 nhits;		/* hits[] kept, the first found */
	struct dlp_hit	 hits[DLP_SAMPLES];
};

struct dlp_result {
	struct dlp_count	*c;	/* one per detector, in order */
	int			 n;
};

/* Scan every text of w: 0, or -1 when Hyperscan fails (no memory for
 * its scratch space) with the reason in err.  Free with
 * dlp_result_free() either way. */
int	 dlp_scan(const struct dlp_db *, const struct mime_walk *,
	    struct dlp_result *, char *err, size_t errsz);
/* The same over one buffer (the benchmark; "text" as its path). */
int	 dlp_scan_text(const struct dlp_db *, const char *text, size_t len,
	    struct dlp_result *, char *err, size_t errsz);
void	 dlp_result_free(struct dlp_result *);

#endif
