/*
 * uribl.c - URL checks: the local domain blocklist and DNS URI
 * blocklists (the SURBL/URIBL convention: DOMAIN.ZONE has an A record in
 * 127.0.0.0/8 when DOMAIN is listed).
 * Standards: RFC 5782 (DNS blocklists: 127.0.0.2 and up list; the
 * lists' own 127.0.0.1 and 127.255.255.0/24 answers say "query refused",
 * not listed).
 * Exposure: the hosts come from untrusted message text through urlx.c;
 * the blocklist file is the admin's.
 * Diagnostics: a blocklist that cannot be read keeps the previous one
 * (logged once per reason); lookups that get no answer are counted in
 * the scan's detail, never fatal.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dns_wait.h"
#include "log.h"
#include "loop.h"
#include "uribl.h"
#include "urlx.h"
#include "util.h"

#define BLOCKLIST_MAX	(16 << 20)	/* bytes of file read */

struct blocklist {
	char		**dom;		/* sorted, lower case */
	int		  n;
	int		  refs;		/* atomic: workers let go */
	char		 *path;
	struct stat	  st;
};

static struct blocklist	*cur_bl;

struct blocklist *
blocklist_ref(struct blocklist *b)
{
	if (b)
		__atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
	return b;
}

void
blocklist_unref(struct blocklist *b)
{
	if (b == NULL || __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	for (int i = 0; i < b->n; i++)
		free(b->dom[i]);
	free(b->dom);
	free(b->path);
	free(b);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One domain a line; "#" starts a comment; "*.d" and ".d" mean d. */
static struct blocklist *
blocklist_read(const char *path, const struct stat *st, char *err,
    size_t errsz)
{
	struct blocklist *b;
	char line[512];
	FILE *f;
	int cap = 0;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return NULL;
	}
	b = xcalloc(1, sizeof(*b));
	b->refs = 1;
	b->path = xstrdup(path);
	b->st = *st;
	while (fgets(line, sizeof(line), f) && ftell(f) <= BLOCKLIST_MAX) {
		char *s = line, *e;

		s[strcspn(s, "#\r\n")] = '\0';
		s += strspn(s, " \t");
		for (e = s + strlen(s); e > s && (e[-1] == ' ' ||
		    e[-1] == '\t' || e[-1] == '.'); e--)
			;
		*e = '\0';
		if (strncmp(s, "*.", 2) == 0)
			s += 2;
		else if (*s == '.')
			s++;
		if (*s == '\0')
			continue;
		for (char *p = s; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if (b->n == cap) {
			cap = cap ? cap * 2 : 64;
			b->dom = xreallocarray(b->dom, (size_t)cap,
			    sizeof(*b->dom));
		}
		b->dom[b->n++] = xstrdup(s);
	}
	fclose(f);
	if (b->n)
		qsort(b->dom, (size_t)b->n, sizeof(*b->dom), cmp_str);
	return b;
}

struct blocklist *
blocklist_current(const char *path)
{
	static int64_t checked;
	static char failed[300];
	struct blocklist *b;
	struct stat st;
	char err[300];

	if (path == NULL) {
		blocklist_unref(cur_bl);
		cur_bl = NULL;
		return NULL;
	}
	if (cur_bl && strcmp(cur_bl->path, path) == 0 &&
	    loop_now() - checked < 1000)
		return cur_bl;
	checked = loop_now();
	if (stat(path, &st) == -1) {
		snprintf(err, sizeof(err), "%s: %s", path, strerror(errno));
		b = NULL;
	} else if (cur_bl && strcmp(cur_bl->path, path) == 0 &&
	    st.st_mtim.tv_sec == cur_bl->st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == cur_bl->st.st_mtim.tv_nsec &&
	    st.st_size == cur_bl->st.st_size && st.st_ino == cur_bl->st.st_ino)
		return cur_bl;
	else
		b = blocklist_read(path, &st, err, sizeof(err));
	if (b == NULL) {
		if (strcmp(err, failed) != 0)
			log_warnx("content.url_blocklist: %s; keeping the "
			    "previous list", err);
		gw_strlcpy(failed, err, sizeof(failed));
		return cur_bl;
	}
	failed[0] = '\0';
	log_info("content.url_blocklist: %s: %d domains", path, b->n);
	blocklist_unref(cur_bl);
	cur_bl = b;
	return cur_bl;
}

/* host, or a domain it is under, is listed. */
static int
blocklist_has(const struct blocklist *b, const char *host)
{
	for (const char *h = host; h; h = strchr(h, '.'), h = h ? h + 1 : NULL)
		if (bsearch(&h, b->dom, (size_t)b->n, sizeof(*b->dom),
		    cmp_str))
			return 1;
	return 0;
}

void
uribl_job_init(struct uribl_job *j, const struct gw_config *cfg)
{
	memset(j, 0, sizeof(*j));
	j->nzones = cfg->content.nuribl;
	j->zones = xcalloc((size_t)(j->nzones ? j->nzones : 1),
	    sizeof(*j->zones));
	for (int i = 0; i < j->nzones; i++)
		j->zones[i] = xstrdup(cfg->content.uribl[i]);
	j->timeout_ms = cfg->content.uribl_timeout_ms;
	j->max_domains = cfg->content.uribl_domains;
	j->bl = blocklist_ref(blocklist_current(cfg->content.url_blocklist));
	buf_init(&j->flagged, 64 * 1024);
}

void
uribl_job_free(struct uribl_job *j)
{
	for (int i = 0; i < j->nzones; i++)
		free(j->zones[i]);
	free(j->zones);
	blocklist_unref(j->bl);
	buf_free(&j->flagged);
}

/* An answer that lists: 127.0.0.2 .. 127.255.254.255. */
static int
listed(const struct dns_addr *a, int n)
{
	for (int i = 0; i < n; i++)
		if (a[i].family == AF_INET && a[i].addr[0] == 127 &&
		    !(a[i].addr[1] == 0 && a[i].addr[2] == 0 &&
		    a[i].addr[3] == 1) &&
		    !(a[i].addr[1] == 255 && a[i].addr[2] == 255))
			return 1;
	return 0;
}

/* What was flagged: counted once per domain, kept as a hit. */
static void
flag(struct uribl_job *j, struct dlp_count *c, const char *path,
    const char *dom, const char *why)
{
	struct dlp_hit *h;

	c->count++;
	buf_printf(&j->flagged, "%s%s(%s)", buf_len(&j->flagged) ? "," : "",
	    dom, why);
	if (c->nhits == DLP_SAMPLES)
		return;
	h = &c->hits[c->nhits++];
	snprintf(h->path, sizeof(h->path), "%s", path);
	if (strlen(dom) >= sizeof(h->masked))
		snprintf(h->masked, sizeof(h->masked), "%.*s...",
		    (int)sizeof(h->masked) - 4, dom);
	else
		snprintf(h->masked, sizeof(h->masked), "%s", dom);
}

struct dom {
	char	 name[URLX_HOST_MAX + 1];
	char	*path;			/* the part it was first seen in */
	int	 flagged;
};

/* The hosts of w: by registered domain, each with its part; hosts the
 * blocklist names are flagged here. */
static int
collect(struct uribl_job *j, const struct mime_walk *w, struct dlp_count *c,
    struct dom *d, int max)
{
	struct urlx u = { 0 };
	char rd[URLX_HOST_MAX + 1];
	int nd = 0;

	for (int i = 0; i < w->ntexts; i++) {
		int before = u.n;

		urlx_text(&u, w->texts[i].text, w->texts[i].len);
		if (w->texts[i].links)
			urlx_text(&u, w->texts[i].links, w->texts[i].linkslen);
		for (int k = before; k < u.n; k++) {
			const char *host = u.host[k];
			int seen = 0;

			if (j->bl && blocklist_has(j->bl, host)) {
				flag(j, c, w->texts[i].path, host,
				    "blocklist");
				continue;
			}
			if (urlx_registered(host, rd, sizeof(rd)) == -1)
				continue;
			for (int m = 0; m < nd && !seen; m++)
				seen = strcmp(d[m].name, rd) == 0;
			if (seen || nd == max)
				continue;
			gw_strlcpy(d[nd].name, rd, sizeof(d[nd].name));
			d[nd].path = w->texts[i].path;
			d[nd++].flagged = 0;
		}
	}
	j->ips = u.ips;
	urlx_free(&u);
	return nd;
}

void
uribl_count(void *arg, const struct mime_walk *w, struct dlp_count *c)
{
	struct uribl_job *j = arg;
	struct dom *d = xcalloc((size_t)j->max_domains, sizeof(*d));
	struct dns_wait *dw;
	const struct dns_addr *a;
	char q[DNS_NAME_MAX + 2];
	int nd, na, k = 0;

	nd = collect(j, w, c, d, j->max_domains);
	if (nd == 0 || j->nzones == 0) {
		free(d);
		return;
	}
	dw = dns_wait_new();
	for (int i = 0; i < nd; i++)
		for (int z = 0; z < j->nzones; z++) {
			/* Too long a name: asked as is, it fails alone. */
			snprintf(q, sizeof(q), "%s.%s", d[i].name, j->zones[z]);
			dns_wait_add(dw, q, DNS_T_A);
		}
	dns_wait_run(dw, j->timeout_ms);
	for (int i = 0; i < nd; i++)
		for (int z = 0; z < j->nzones; z++, k++) {
			enum dns_status st = dns_wait_result(dw, k, &a, &na);

			/* No answer in time, SERVFAIL: not known, not listed. */
			if (st == DNS_TEMPFAIL)
				j->unanswered++;
			if (st != DNS_OK || d[i].flagged || !listed(a, na))
				continue;
			d[i].flagged = 1;
			flag(j, c, d[i].path, d[i].name, j->zones[z]);
		}
	dns_wait_free(dw);
	free(d);
}
