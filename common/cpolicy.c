/*
 * cpolicy.c - content policies from gw.db, and the decision on one
 * message.
 * Exposure: gw.db is written by gwctl, which checks every value (a
 * detector that does not compile is refused there); the message is
 * untrusted and goes through mime_walk.c and dlp.c, both bounded.
 * Diagnostics: cpol_load() and cpol_scan() return the reason; nothing
 * here is fatal but memory running out.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpolicy.h"
#include "db.h"
#include "redact.h"
#include "rules.h"
#include "util.h"

static const char *const actions[] = {
	[CPOL_BLOCK] = "block", [CPOL_TAG] = "tag",
	[CPOL_QUARANTINE] = "quarantine", [CPOL_REDACT] = "redact",
	[CPOL_NOTIFY] = "notify",
};

int
cpol_action_parse(const char *s)
{
	for (size_t i = 0; i < nitems(actions); i++)
		if (strcmp(s, actions[i]) == 0)
			return (int)i;
	return -1;
}

const char *
cpol_action_name(enum cpol_action a)
{
	return (size_t)a < nitems(actions) ? actions[a] : "?";
}

int
cpol_valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CPOL_NAME_MAX)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("-_.", *s))
			return 0;
	return 1;
}

static char *
col(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s ? xstrdup((const char *)s) : NULL;
}

struct load {
	struct cpol_set	*set;
	int		 cap;
};

static void
row(sqlite3_stmt *st, void *arg)
{
	struct load *l = arg;
	struct cpol_set *s = l->set;
	const char *act = (const char *)sqlite3_column_text(st, 4);
	struct cpol *p;
	int a = act ? cpol_action_parse(act) : -1;

	/* An action of a later version: not this one's to take. */
	if (a == -1)
		return;
	if (s->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		s->p = xreallocarray(s->p, (size_t)l->cap, sizeof(*s->p));
	}
	p = &s->p[s->n++];
	memset(p, 0, sizeof(*p));
	p->id = sqlite3_column_int64(st, 0);
	p->name = col(st, 1);
	p->detector = col(st, 2);
	p->min = sqlite3_column_int(st, 3);
	p->action = (enum cpol_action)a;
	p->subaccount = col(st, 5);
	p->from_domain = col(st, 6);
	p->to_domain = col(st, 7);
	p->notify = col(st, 8);
	p->det = -1;
}

/* Each policy's detector, once: the set's specs, and p->det; which
 * kinds are among them. */
static void
distinct_specs(struct cpol_set *s)
{
	s->specs = xcalloc((size_t)(s->n ? s->n : 1), sizeof(*s->specs));
	for (int i = 0; i < s->n; i++) {
		struct cpol *p = &s->p[i];

		for (int k = 0; k < s->nspecs && p->det < 0; k++)
			if (strcmp(s->specs[k], p->detector) == 0)
				p->det = k;
		if (p->det < 0) {
			p->det = s->nspecs;
			s->specs[s->nspecs++] = xstrdup(p->detector);
		}
	}
	for (int k = 0; k < s->nspecs; k++) {
		enum dlp_kind kind = dlp_detector_kind(s->specs[k]);

		s->attach |= kind == DLP_ATTACHMENT;
		s->uribl |= kind == DLP_URIBL;
	}
}

int
cpol_load(sqlite3 *db, struct cpol_set **out, char *err, size_t errsz)
{
	struct cpol_set *s = xcalloc(1, sizeof(*s));
	struct load l = { s, 0 };
	char why[300];

	if (db_rows(db, "SELECT id, name, detector, min_count, action, "
	    "subaccount, from_domain, to_domain, notify FROM content_policy "
	    "ORDER BY position, id", row, &l) == -1) {
		snprintf(err, errsz, "%s", sqlite3_errmsg(db));
		cpol_set_free(s);
		return -1;
	}
	distinct_specs(s);
	s->db = dlp_compile((const char *const *)s->specs, s->nspecs, why,
	    sizeof(why));
	if (s->db == NULL) {
		snprintf(err, errsz, "%s", why);
		cpol_set_free(s);
		return -1;
	}
	*out = s;
	return 0;
}

void
cpol_set_free(struct cpol_set *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < s->n; i++) {
		free(s->p[i].name);
		free(s->p[i].detector);
		free(s->p[i].subaccount);
		free(s->p[i].from_domain);
		free(s->p[i].to_domain);
		free(s->p[i].notify);
	}
	for (int i = 0; i < s->nspecs; i++)
		free(s->specs[i]);
	free(s->specs);
	free(s->p);
	dlp_db_free(s->db);
	free(s);
}

static const char *
domain_of(const char *addr)
{
	const char *at = addr ? strrchr(addr, '@') : NULL;

	return at ? at + 1 : "";
}

int
cpol_applies(const struct cpol *p, const struct cpol_msg *m)
{
	int any = 0;

	if (p->subaccount && (m->subaccount == NULL ||
	    strcmp(p->subaccount, m->subaccount) != 0))
		return 0;
	if (p->from_domain && !rules_domain_match(p->from_domain,
	    domain_of(m->sender)))
		return 0;
	if (p->to_domain == NULL)
		return 1;
	for (int i = 0; i < m->nrcpt && !any; i++)
		any = rules_domain_match(p->to_domain, domain_of(m->rcpt[i]));
	return any;
}

/* The uribl detectors that a policy applying to m uses: the caller's
 * lookups, once per detector. */
static void
count_urls(const struct cpol_set *s, const struct cpol_msg *m,
    cpol_urls_fn urls, void *arg, const struct mime_walk *w,
    struct cpol_verdict *v)
{
	for (int k = 0; k < s->nspecs; k++) {
		int used = 0;

		if (dlp_detector_kind(s->specs[k]) != DLP_URIBL)
			continue;
		for (int i = 0; i < s->n && !used; i++)
			used = s->p[i].det == k && cpol_applies(&s->p[i], m);
		if (used)
			urls(arg, w, &v->res.c[k]);
	}
}

int
cpol_scan(const struct cpol_set *s, const char *msg, size_t len,
    const struct cpol_msg *m, struct cpol_verdict *v, char *err,
    size_t errsz)
{
	return cpol_scan_urls(s, msg, len, m, NULL, NULL, v, err, errsz);
}

int
cpol_scan_urls(const struct cpol_set *s, const char *msg, size_t len,
    const struct cpol_msg *m, cpol_urls_fn urls, void *arg,
    struct cpol_verdict *v, char *err, size_t errsz)
{
	struct mime_limits lim = mime_limits_default;
	struct mime_walk w;
	int r, any = 0;

	memset(v, 0, sizeof(*v));
	v->block = v->quarantine = -1;
	v->fired = xcalloc((size_t)(s->n ? s->n : 1), sizeof(*v->fired));
	v->redact = xcalloc((size_t)(s->nspecs ? s->nspecs : 1),
	    sizeof(*v->redact));
	for (int i = 0; i < s->n && !any; i++)
		any = cpol_applies(&s->p[i], m);
	/* No policy applies: nothing to read. */
	if (!any) {
		v->res.c = xcalloc((size_t)(s->nspecs ? s->nspecs : 1),
		    sizeof(*v->res.c));
		v->res.n = s->nspecs;
		return 0;
	}
	/* libmagic only for attachment rules (mime_walk.h). */
	lim.no_magic = !s->attach;
	mime_walk(msg, len, &lim, &w);
	v->walk_flags = w.flags;
	v->nparts = w.nparts;
	v->natt = w.natt;
	r = dlp_scan(s->db, &w, &v->res, err, errsz);
	if (r == 0 && urls && s->uribl)
		count_urls(s, m, urls, arg, &w, v);
	mime_walk_free(&w);
	if (r == -1)
		return -1;
	for (int i = 0; i < s->n; i++) {
		const struct cpol *p = &s->p[i];

		if (!cpol_applies(p, m) || v->res.c[p->det].count < p->min)
			continue;
		v->fired[i] = 1;
		v->nfired++;
		if (p->action == CPOL_BLOCK && v->block < 0)
			v->block = i;
		else if (p->action == CPOL_QUARANTINE && v->quarantine < 0)
			v->quarantine = i;
		else if (p->action == CPOL_TAG)
			v->ntag++;
		else if (p->action == CPOL_REDACT) {
			v->redact[p->det] = 1;
			v->nredact++;
		}
	}
	return 0;
}

void
cpol_verdict_free(struct cpol_verdict *v)
{
	dlp_result_free(&v->res);
	free(v->fired);
	free(v->redact);
	v->fired = NULL;
	v->redact = NULL;
}

int
cpol_redact(const struct cpol_set *s, const struct cpol_verdict *v,
    const char *msg, size_t len, struct buf *out, char *err, size_t errsz)
{
	if (v->nredact == 0)
		return 0;
	return redact_message(s->db, v->redact, msg, len, out, err, errsz);
}

int
cpol_fired_names(const struct cpol_set *s, const struct cpol_verdict *v,
    struct buf *b)
{
	int first = 1;

	for (int i = 0; i < s->n; i++) {
		if (!v->fired[i])
			continue;
		if (buf_printf(b, "%s%s(%s)", first ? "" : " ", s->p[i].name,
		    cpol_action_name(s->p[i].action)) == -1)
			return -1;
		first = 0;
	}
	return 0;
}

/*
 * Written without printf: it runs for every scanned message, on the
 * scan's worker, and stdio's formatting was most of its cost.  Each
 * append's failure (b's maximum) is collected in r.
 */
int
cpol_describe(const struct cpol_set *s, const struct cpol_verdict *v,
    struct buf *b)
{
	static const struct { int flag; const char *name; } unread[] = {
	    { MW_DEEP, "deep" }, { MW_MANY_PARTS, "parts" },
	    { MW_TEXT_CUT, "text" }, { MW_BAD_CHARSET, "charset" } };
	const char *sep = "";
	int r = 0;

	if (buf_puts(b, "fired=") == -1 || cpol_fired_names(s, v, b) == -1)
		return -1;
	r |= buf_puts(b, " counts=");
	for (int k = 0; k < s->nspecs; k++) {
		r |= k ? buf_putc(b, ',') : 0;
		r |= buf_puts(b, s->specs[k]);
		r |= buf_putc(b, ':');
		r |= buf_putnum(b, v->res.c[k].count);
	}
	r |= buf_puts(b, " matches=");
	for (int k = 0; k < s->nspecs; k++)
		for (int h = 0; h < v->res.c[k].nhits; h++) {
			r |= buf_puts(b, sep);
			r |= buf_puts(b, s->specs[k]);
			r |= buf_putc(b, '@');
			r |= buf_puts(b, v->res.c[k].hits[h].path);
			r |= buf_putc(b, ':');
			r |= buf_puts(b, v->res.c[k].hits[h].masked);
			sep = "; ";
		}
	r |= buf_puts(b, " parts=");
	r |= buf_putnum(b, v->nparts);
	r |= buf_puts(b, " attachments=");
	r |= buf_putnum(b, v->natt);
	for (size_t i = 0, n = 0; i < nitems(unread); i++)
		if (v->walk_flags & unread[i].flag) {
			r |= buf_puts(b, n++ ? "," : " unread=");
			r |= buf_puts(b, unread[i].name);
		}
	return r ? -1 : 0;
}
