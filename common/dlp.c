/*
 * dlp.c - detectors compiled into one Hyperscan database, and the scan.
 * Exposure: scans decoded message text (untrusted) with patterns from
 * gw.db (gwctl checked them by compiling each).  Hyperscan runs in time
 * linear in the text with a fixed scratch; each hit costs a validator
 * that looks at most 64 bytes around it, and the distinct values kept
 * per detector are bounded (SEEN_MAX), so a text of nothing but card
 * numbers costs time linear in its length and bounded memory.
 * Diagnostics: dlp_compile() and dlp_scan() return the reason; nothing
 * here is fatal but memory running out.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <hs/hs.h>

#include "attrule.h"
#include "dlp.h"
#include "util.h"

#define SEEN_MAX	4096	/* distinct values remembered per detector */

/*
 * The built-in patterns only find candidates; validators decide.  They
 * are few and loose on purpose: Hyperscan is fast on a small set, and
 * slows down many times over when several digit-class patterns share a
 * database.  So cards, SSNs and phone numbers share one trigger, a run
 * of nine digits or more (single separators or two, "(212) 555"), and
 * each validator finds its own value from where the run ends; an IBAN
 * triggers on its head, an e-mail address on its "@".
 */
enum trig { T_NONE, T_NUMRUN, T_IBAN, T_EMAIL, T_ICD, T_MRN, T_REGEX,
	T_WORD };

/* PHI has two triggers: a code's head, and the words before an MRN. */
static const struct {
	const char	*name;
	enum dlp_kind	 kind;
	enum trig	 trig, trig2;
} builtins[] = {
	{ "card", DLP_CARD, T_NUMRUN, T_NONE },
	{ "ssn", DLP_SSN, T_NUMRUN, T_NONE },
	{ "iban", DLP_IBAN, T_IBAN, T_NONE },
	{ "email", DLP_EMAIL, T_EMAIL, T_NONE },
	{ "phone", DLP_PHONE, T_NUMRUN, T_NONE },
	{ "phi", DLP_PHI, T_ICD, T_MRN },
};

static const struct {
	const char	*re;
	unsigned	 flags;
} trig_re[] = {
	[T_NUMRUN] = { "\\d(?:[ .\\-()]{0,2}\\d){8}", 0 },
	[T_IBAN] = { "[A-Z]{2}\\d{2}", 0 },
	[T_EMAIL] = { "[A-Za-z0-9]@[A-Za-z0-9]", 0 },
	[T_ICD] = { "[A-Z]\\d\\d", 0 },
	[T_MRN] = { "mrn|medical\\s+record", HS_FLAG_CASELESS |
	    HS_FLAG_SOM_LEFTMOST },
};

/* One Hyperscan expression: what it triggers, and for which detector
 * (-1: every built-in detector it serves). */
struct pat {
	int		 det;
	enum trig	 trig;
	size_t		 width;		/* keywords: the word's length */
};

struct dlp_db {
	hs_database_t	*hs;		/* NULL: no detector */
	unsigned long	 serial;
	struct pat	*pat;
	int		 npat;
	enum dlp_kind	*kind;		/* per detector */
	struct attrule	*att;		/* per detector: DLP_ATTACHMENT's */
	int		 ndet;
};

/* A thread's scratch, grown to fit any database it scanned with; it is
 * checked against a database once (by serial: an address may be reused
 * by the next database).  Freed when the thread ends. */
struct scratch {
	hs_scratch_t	*hs;
	unsigned long	 fits;
};
static pthread_key_t		 scratch_key;
static pthread_once_t		 scratch_once = PTHREAD_ONCE_INIT;
static unsigned long		 db_serial;	/* atomic */

static void
scratch_free(void *p)
{
	struct scratch *sc = p;

	hs_free_scratch(sc->hs);
	free(sc);
}

static void
scratch_key_make(void)
{
	if (pthread_key_create(&scratch_key, scratch_free) != 0)
		abort();
}

/* This thread's scratch, fitted to db; NULL when Hyperscan fails. */
static hs_scratch_t *
scratch_for(const struct dlp_db *db)
{
	struct scratch *sc;

	pthread_once(&scratch_once, scratch_key_make);
	if ((sc = pthread_getspecific(scratch_key)) == NULL) {
		sc = xcalloc(1, sizeof(*sc));
		if (pthread_setspecific(scratch_key, sc) != 0)
			abort();
	}
	if (sc->fits != db->serial) {
		if (hs_alloc_scratch(db->hs, &sc->hs) != HS_SUCCESS)
			return NULL;
		sc->fits = db->serial;
	}
	return sc->hs;
}

enum dlp_kind
dlp_detector_kind(const char *spec)
{
	for (size_t i = 0; i < nitems(builtins); i++)
		if (strcmp(spec, builtins[i].name) == 0)
			return builtins[i].kind;
	if (attrule_is(spec))
		return DLP_ATTACHMENT;
	if (strcmp(spec, "uribl") == 0)
		return DLP_URIBL;
	return strncmp(spec, "regex:", 6) == 0 ? DLP_REGEX : DLP_KEYWORDS;
}

/* A keyword as a pattern: every byte but letters and digits escaped. */
static char *
keyword_re(const char *w, size_t n)
{
	char *re = xmalloc(n * 4 + 1), *o = re;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)w[i];

		if (isalnum(c))
			*o++ = (char)c;
		else
			o += sprintf(o, "\\x%02x", c);
	}
	*o = '\0';
	return re;
}

struct build {
	char		**re;
	unsigned	 *flags, *ids;
	struct pat	 *pat;
	int		  n, cap;
};

static void
add_pat(struct build *b, char *re, unsigned flags, int det, enum trig trig,
    size_t width)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 16;
		b->re = xreallocarray(b->re, (size_t)b->cap, sizeof(*b->re));
		b->flags = xreallocarray(b->flags, (size_t)b->cap,
		    sizeof(*b->flags));
		b->ids = xreallocarray(b->ids, (size_t)b->cap, sizeof(*b->ids));
		b->pat = xreallocarray(b->pat, (size_t)b->cap,
		    sizeof(*b->pat));
	}
	b->re[b->n] = re;
	b->flags[b->n] = flags;
	b->ids[b->n] = (unsigned)b->n;
	b->pat[b->n] = (struct pat){ det, trig, width };
	b->n++;
}

static void
add_trigger(struct build *b, enum trig t)
{
	if (t == T_NONE)
		return;
	for (int k = 0; k < b->n; k++)
		if (b->pat[k].trig == t)
			return;
	add_pat(b, xstrdup(trig_re[t].re), trig_re[t].flags, -1, t, 0);
}

/* The patterns of one detector into b: 0, or -1 with err. */
static int
add_detector(struct build *b, const char *spec, int det, char *err,
    size_t errsz)
{
	const char *p, *e;

	/* A built-in detector's triggers once, whoever else shares them. */
	for (size_t i = 0; i < nitems(builtins); i++)
		if (strcmp(spec, builtins[i].name) == 0) {
			add_trigger(b, builtins[i].trig);
			add_trigger(b, builtins[i].trig2);
			return 0;
		}
	if (strlen(spec) >= DLP_SPEC_MAX) {
		snprintf(err, errsz, "detector longer than %d bytes",
		    DLP_SPEC_MAX - 1);
		return -1;
	}
	if (strncmp(spec, "regex:", 6) == 0) {
		if (spec[6] == '\0') {
			snprintf(err, errsz, "regex: needs a pattern");
			return -1;
		}
		add_pat(b, xstrdup(spec + 6), HS_FLAG_SOM_LEFTMOST, det,
		    T_REGEX, 0);
		return 0;
	}
	if (strncmp(spec, "keywords:", 9) != 0) {
		snprintf(err, errsz, "unknown detector \"%.60s\" (card, ssn, "
		    "iban, email, phone, phi, regex:PATTERN, keywords:WORD,..., "
		    "attachment:RULE, uribl)", spec);
		return -1;
	}
	for (p = spec + 9; ; p = e + 1) {
		size_t n;

		e = strchr(p, ',');
		n = e ? (size_t)(e - p) : strlen(p);
		while (n > 0 && *p == ' ')
			p++, n--;
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (n > 0)
			add_pat(b, keyword_re(p, n), HS_FLAG_CASELESS, det,
			    T_WORD, n);
		if (e == NULL)
			break;
	}
	if (b->n == 0 || b->pat[b->n - 1].det != det) {
		snprintf(err, errsz, "keywords: needs at least one word");
		return -1;
	}
	return 0;
}

static void
build_free(struct build *b)
{
	for (int i = 0; i < b->n; i++)
		free(b->re[i]);
	free(b->re);
	free(b->flags);
	free(b->ids);
	free(b->pat);
}

struct dlp_db *
dlp_compile(const char *const *specs, int n, char *err, size_t errsz)
{
	struct build b = { 0 };
	struct dlp_db *db = xcalloc(1, sizeof(*db));
	hs_compile_error_t *ce = NULL;
	char why[200];

	db->ndet = n;
	db->kind = xcalloc((size_t)(n ? n : 1), sizeof(*db->kind));
	db->att = xcalloc((size_t)(n ? n : 1), sizeof(*db->att));
	for (int i = 0; i < n; i++) {
		int before = b.n;

		/* Attachments are matched by rule, not by a pattern. */
		if (attrule_is(specs[i])) {
			db->kind[i] = DLP_ATTACHMENT;
			if (attrule_parse(specs[i], &db->att[i], why,
			    sizeof(why)) == -1)
				goto bad;
			continue;
		}
		/* URLs are looked up by the caller, not scanned here. */
		if (strcmp(specs[i], "uribl") == 0) {
			db->kind[i] = DLP_URIBL;
			continue;
		}
		if (add_detector(&b, specs[i], i, why, sizeof(why)) == -1)
			goto bad;
		db->kind[i] = dlp_detector_kind(specs[i]);
		if (db->kind[i] == DLP_KEYWORDS &&
		    b.n - before > DLP_KEYWORDS_MAX) {
			snprintf(why, sizeof(why), "more than %d keywords",
			    DLP_KEYWORDS_MAX);
			goto bad;
		}
	}
	if (b.n > 0 && hs_compile_multi((const char *const *)b.re, b.flags,
	    b.ids, (unsigned)b.n, HS_MODE_BLOCK, NULL, &db->hs, &ce) !=
	    HS_SUCCESS) {
		int det = ce->expression >= 0 ? b.pat[ce->expression].det : -1;

		snprintf(err, errsz, "detector \"%.80s\": %s", det >= 0 ?
		    specs[det] : "built-in", ce->message);
		hs_free_compile_error(ce);
		build_free(&b);
		dlp_db_free(db);
		return NULL;
	}
	db->pat = b.pat;
	db->npat = b.n;
	db->serial = __atomic_add_fetch(&db_serial, 1, __ATOMIC_RELAXED);
	b.pat = NULL;
	build_free(&b);
	return db;
bad:
	snprintf(err, errsz, "%s", why);
	build_free(&b);
	dlp_db_free(db);
	return NULL;
}

int
dlp_detector_check(const char *spec, char *err, size_t errsz)
{
	struct dlp_db *db = dlp_compile(&spec, 1, err, errsz);

	if (db == NULL)
		return -1;
	dlp_db_free(db);
	return 0;
}

void
dlp_db_free(struct dlp_db *db)
{
	if (db == NULL)
		return;
	if (db->hs)
		hs_free_database(db->hs);
	for (int i = 0; db->att && i < db->ndet; i++)
		attrule_free(&db->att[i]);
	free(db->att);
	free(db->pat);
	free(db->kind);
	free(db);
}

int
dlp_db_count(const struct dlp_db *db)
{
	return db->ndet;
}

/* The values seen per detector, by a 64-bit hash of their normal form
 * (open addressing; 0 is the empty slot), grown by doubling: most
 * messages have a handful. */
struct seen {
	uint64_t	*slot;
	size_t		 cap;		/* a power of two */
	size_t		 n;
};

struct scan {
	const struct dlp_db	*db;
	struct dlp_result	*res;
	struct seen		*seen;
	const char		*text;
	size_t			 len;
	const char		*path;
	unsigned long long	*last_to;	/* regex: per pattern */
	hs_scratch_t		*scratch;
	/* dlp_spans(): each occurrence to fn, nothing counted */
	const int		*want;
	void			(*span)(void *, int, size_t, size_t);
	void			*span_arg;
};

/* FNV-1a of the characters of v that cls() keeps, lower-cased. */
static uint64_t
norm_hash(const char *v, size_t n, int digits_only)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		/* ASCII by hand: ctype's calls were a tenth of a scan. */
		if (digits_only && (unsigned)(c - '0') > 9)
			continue;
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c + ('a' - 'A'));
		h = (h ^ (uint64_t)c) * 0x100000001b3ULL;
	}
	return h ? h : 1;
}

static void
seen_put(struct seen *s, uint64_t h)
{
	size_t i;

	for (i = h & (s->cap - 1); s->slot[i] != 0; i = (i + 1) & (s->cap - 1))
		;
	s->slot[i] = h;
	s->n++;
}

/* 1 when h is new (remembered while there is room), 0 when seen. */
static int
seen_add(struct seen *s, uint64_t h)
{
	struct seen old = *s;

	for (size_t i = s->cap ? h & (s->cap - 1) : 0; s->cap &&
	    s->slot[i] != 0; i = (i + 1) & (s->cap - 1))
		if (s->slot[i] == h)
			return 0;
	if (s->n >= SEEN_MAX)
		return 1;
	if (s->n * 2 >= s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->slot = xcalloc(s->cap, sizeof(*s->slot));
		s->n = 0;
		for (size_t i = 0; i < old.cap; i++)
			if (old.slot[i])
				seen_put(s, old.slot[i]);
		free(old.slot);
	}
	seen_put(s, h);
	return 1;
}

static void
count(struct scan *sc, int det, enum dlp_kind kind, size_t from, size_t to)
{
	struct dlp_count *c = &sc->res->c[det];
	const char *v = sc->text + from;
	size_t n = to - from;
	struct dlp_hit *h;
	int digits = kind == DLP_CARD || kind == DLP_SSN || kind == DLP_PHONE;

	if (sc->span) {
		if (sc->want[det])
			sc->span(sc->span_arg, det, from, to);
		return;
	}
	if (!seen_add(&sc->seen[det], norm_hash(v, n, digits)))
		return;
	c->count++;
	if (c->nhits == DLP_SAMPLES)
		return;
	h = &c->hits[c->nhits++];
	gw_strlcpy(h->path, sc->path, sizeof(h->path));
	switch (kind) {
	case DLP_CARD:
		dlp_mask_card(v, n, h->masked);
		break;
	case DLP_SSN:
		dlp_mask_ssn(v, n, h->masked);
		break;
	case DLP_IBAN:
		dlp_mask_iban(v, n, h->masked);
		break;
	case DLP_EMAIL:
		dlp_mask_email(v, n, h->masked);
		break;
	case DLP_PHONE:
		dlp_mask_phone(v, n, h->masked);
		break;
	case DLP_PHI:
		dlp_mask_other(v, n, h->masked);
		break;
	case DLP_KEYWORDS:
		/* The admin's own word, not the sender's data. */
		gw_strlcpy(h->masked, "", sizeof(h->masked));
		if (n < sizeof(h->masked))
			for (size_t i = 0; i <= n; i++)
				h->masked[i] = i < n ? (char)tolower(
				    (unsigned char)v[i]) : '\0';
		break;
	default:
		dlp_mask_other(v, n, h->masked);
	}
}

static int
word_edge(const struct scan *sc, size_t from, size_t to)
{
	return (from == 0 || !isalnum((unsigned char)sc->text[from - 1])) &&
	    (to >= sc->len || !isalnum((unsigned char)sc->text[to]));
}

/* Every built-in detector of this kind confirms the candidate at `to`. */
static void
numrun(struct scan *sc, size_t to)
{
	const struct dlp_db *db = sc->db;
	size_t s;

	/* Only where the run ends: inside it, every digit is a trigger. */
	if (to < sc->len && isdigit((unsigned char)sc->text[to]))
		return;
	for (int d = 0; d < db->ndet; d++) {
		switch (db->kind[d]) {
		case DLP_CARD:
			if (dlp_card_at(sc->text, sc->len, to, &s))
				count(sc, d, DLP_CARD, s, to);
			break;
		case DLP_SSN:
			if (to >= 11 && dlp_ssn_at(sc->text, sc->len, to - 11))
				count(sc, d, DLP_SSN, to - 11, to);
			break;
		case DLP_PHONE:
			if (dlp_phone_at(sc->text, sc->len, to, &s))
				count(sc, d, DLP_PHONE, s, to);
			break;
		default:
			break;
		}
	}
}

static void
by_kind(struct scan *sc, enum dlp_kind kind, size_t from, size_t to)
{
	for (int d = 0; d < sc->db->ndet; d++)
		if (sc->db->kind[d] == kind)
			count(sc, d, kind, from, to);
}

static int
on_match(unsigned id, unsigned long long from, unsigned long long to,
    unsigned flags, void *arg)
{
	struct scan *sc = arg;
	const struct pat *p = &sc->db->pat[id];
	size_t s, e;

	switch (p->trig) {
	case T_NONE:
		break;
	case T_NUMRUN:
		numrun(sc, to);
		break;
	case T_IBAN:
		if (dlp_iban_at(sc->text, sc->len, to - 4, &e))
			by_kind(sc, DLP_IBAN, to - 4, e);
		break;
	case T_EMAIL:
		if (dlp_email_at(sc->text, sc->len, to - 2, &s, &e))
			by_kind(sc, DLP_EMAIL, s, e);
		break;
	case T_ICD:
		if (dlp_icd10_at(sc->text, sc->len, to - 3, &e) &&
		    dlp_phi_near(sc->text, sc->len, to - 3, e))
			by_kind(sc, DLP_PHI, to - 3, e);
		break;
	case T_MRN:
		if (dlp_mrn_at(sc->text, sc->len, from, to, &s, &e))
			by_kind(sc, DLP_PHI, s, e);
		break;
	case T_WORD:
		if (word_edge(sc, to - p->width, to))
			count(sc, p->det, DLP_KEYWORDS, to - p->width, to);
		break;
	case T_REGEX:
		/* Every end of a match is reported: count the first of
		 * each run of overlapping ones. */
		if (from >= sc->last_to[id]) {
			sc->last_to[id] = to;
			count(sc, p->det, DLP_REGEX, from, to);
		}
		break;
	}
	return 0;
}

static int
scan_one(struct scan *sc, const char *path, const char *text, size_t len,
    char *err, size_t errsz)
{
	hs_error_t r;

	sc->text = text;
	sc->len = len;
	sc->path = path;
	memset(sc->last_to, 0, sizeof(*sc->last_to) * (size_t)sc->db->npat);
	if (len == 0)
		return 0;
	/* Hyperscan takes an unsigned int length; split past 4 GiB never
	 * happens (mime_walk keeps 16 MiB), checked all the same. */
	if (len > UINT32_MAX) {
		snprintf(err, errsz, "text too long to scan");
		return -1;
	}
	r = hs_scan(sc->db->hs, text, (unsigned)len, 0, sc->scratch, on_match,
	    sc);
	if (r != HS_SUCCESS) {
		snprintf(err, errsz, "hs_scan: error %d", r);
		return -1;
	}
	return 0;
}

static int
scan_begin(const struct dlp_db *db, struct dlp_result *res, struct scan *sc,
    char *err, size_t errsz)
{
	memset(sc, 0, sizeof(*sc));
	res->n = db->ndet;
	res->c = xcalloc((size_t)(db->ndet ? db->ndet : 1), sizeof(*res->c));
	if (db->hs == NULL)
		return 1;
	if ((sc->scratch = scratch_for(db)) == NULL) {
		snprintf(err, errsz, "hs_alloc_scratch failed");
		return -1;
	}
	sc->db = db;
	sc->res = res;
	sc->seen = xcalloc((size_t)db->ndet, sizeof(*sc->seen));
	sc->last_to = xcalloc((size_t)db->npat, sizeof(*sc->last_to));
	return 0;
}

static void
scan_end(struct scan *sc)
{
	if (sc->db == NULL)
		return;
	for (int i = 0; i < sc->db->ndet; i++)
		free(sc->seen[i].slot);
	free(sc->seen);
	free(sc->last_to);
}

/* Each attachment a rule matches counts once; its name is the "match"
 * shown (control bytes as '?', cut to fit). */
static void
count_attachments(const struct dlp_db *db, const struct mime_walk *w,
    struct dlp_result *res)
{
	for (int d = 0; d < db->ndet; d++) {
		struct dlp_count *c = &res->c[d];

		if (db->kind[d] != DLP_ATTACHMENT)
			continue;
		for (int i = 0; i < w->natt; i++) {
			const struct mime_attach *a = &w->att[i];
			struct dlp_hit *h;

			if (!attrule_match(&db->att[d], a))
				continue;
			if (c->count++ >= DLP_SAMPLES)
				continue;
			h = &c->hits[c->nhits++];
			snprintf(h->path, sizeof(h->path), "%s", a->path);
			if (strlen(a->name) >= sizeof(h->masked))
				snprintf(h->masked, sizeof(h->masked),
				    "%.*s...", (int)sizeof(h->masked) - 4,
				    a->name);
			else
				snprintf(h->masked, sizeof(h->masked), "%s",
				    *a->name ? a->name : "(no name)");
			for (char *p = h->masked; *p; p++)
				if ((unsigned char)*p < 0x20 || *p == 0x7f)
					*p = '?';
		}
	}
}

int
dlp_scan(const struct dlp_db *db, const struct mime_walk *w,
    struct dlp_result *res, char *err, size_t errsz)
{
	struct scan sc;
	int r;

	/* 1: no text detector (no Hyperscan database). */
	if ((r = scan_begin(db, res, &sc, err, errsz)) == -1)
		return -1;
	for (int i = 0; i < w->ntexts && r == 0; i++)
		r = scan_one(&sc, w->texts[i].path, w->texts[i].text,
		    w->texts[i].len, err, errsz);
	scan_end(&sc);
	if (r == -1)
		return -1;
	count_attachments(db, w, res);
	return 0;
}

int
dlp_scan_text(const struct dlp_db *db, const char *text, size_t len,
    struct dlp_result *res, char *err, size_t errsz)
{
	struct scan sc;
	int r;

	if ((r = scan_begin(db, res, &sc, err, errsz)) != 0)
		return r == 1 ? 0 : -1;
	r = scan_one(&sc, "text", text, len, err, errsz);
	scan_end(&sc);
	return r;
}

int
dlp_spans(const struct dlp_db *db, const int *want, const char *text,
    size_t len, void (*fn)(void *, int, size_t, size_t), void *arg,
    char *err, size_t errsz)
{
	struct dlp_result res;
	struct scan sc;
	int r;

	if ((r = scan_begin(db, &res, &sc, err, errsz)) == 0) {
		sc.want = want;
		sc.span = fn;
		sc.span_arg = arg;
		r = scan_one(&sc, "text", text, len, err, errsz);
		scan_end(&sc);
	}
	dlp_result_free(&res);
	return r == -1 ? -1 : 0;
}

enum dlp_redact
dlp_redact_how(const struct dlp_db *db, int det)
{
	switch (db->kind[det]) {
	case DLP_CARD:
	case DLP_SSN:
	case DLP_IBAN:
		return DLP_R_LAST4;
	case DLP_PHONE:
		return DLP_R_PHONE;
	case DLP_EMAIL:
		return DLP_R_EMAIL;
	default:
		return DLP_R_ALL;
	}
}

void
dlp_result_free(struct dlp_result *res)
{
	free(res->c);
	res->c = NULL;
	res->n = 0;
}
