/*
 * uribl.h - the URL checks of the content policy (the "uribl"
 * detector): the hosts of a walked message's URLs (urlx.h) against the
 * local domain blocklist (content.url_blocklist) and, reduced to their
 * registered domains, against the DNS URI blocklists (content.uribl),
 * asked through gwd's resolver from the scan's worker (dns_wait.h).
 */
#ifndef GW_URIBL_H
#define GW_URIBL_H

#include <stdint.h>

#include "buf.h"
#include "cpolicy.h"
#include "mime_walk.h"

struct blocklist;

/* The blocklist of path (loop thread): re-read when the file changed
 * since the last call (at most once a second); NULL when path is NULL,
 * or the previous list when the file cannot be read (logged once). */
struct blocklist *blocklist_current(const char *path);
struct blocklist *blocklist_ref(struct blocklist *);
void	 blocklist_unref(struct blocklist *);

/* One message's lookups: filled by content.c on the loop, used on the
 * worker. */
struct uribl_job {
	char			**zones;
	int			  nzones;
	int64_t			  timeout_ms;
	int			  max_domains;
	struct blocklist	 *bl;		/* a reference, or NULL */
	/* out */
	struct buf		  flagged;	/* "d(zone),d2(blocklist)" */
	int			  unanswered;	/* lookups with no answer
						   (timeout, SERVFAIL) */
	int			  ips;		/* IP-literal URLs, not checked */
};

void	 uribl_job_init(struct uribl_job *, const struct gw_config *);
void	 uribl_job_free(struct uribl_job *);
/* cpol_urls_fn: count the flagged domains of w into c (arg: the job). */
void	 uribl_count(void *arg, const struct mime_walk *w, struct dlp_count *c);

#endif
