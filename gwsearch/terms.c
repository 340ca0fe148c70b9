/*
 * terms.c - notmuch-style search terms and journalctl-style times.
 *
 *   from:ADDR to:ADDR subject:TEXT id:MSGID status:STATUS domain:DOMAIN
 *   subaccount:NAME ip:ADDR response:TEXT class:CLASS policy:NAME
 *   since:TIME until:TIME  (action: is status:, ECS's name)
 *   word "a phrase" prefix*
 *
 * Values may be quoted ("..."; "" inside is a quote).  Free text goes to
 * the FTS5 index, but never as FTS5 syntax: every word or phrase is
 * re-quoted here, so user text can only be a phrase or a prefix phrase,
 * never NEAR(), OR, a column filter or a bare '*'.
 *
 * Exposure: parses whatever the caller typed; errors are messages for
 * exit 64, never a crash.
 * Diagnostics: never dies; a term that does not parse returns -1 with
 * the reason in the caller's err, for exit 64.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bounce.h"
#include "buf.h"
#include "config.h"
#include "event.h"
#include "gwsearch.h"
#include "log.h"
#include "util.h"

static const struct {
	const char		*key;
	enum filter_kind	 kind;
} term_keys[] = {
	{ "from", F_SENDER }, { "sender", F_SENDER },
	{ "to", F_RECIPIENT }, { "recipient", F_RECIPIENT },
	{ "subject", F_SUBJECT },
	{ "id", F_MSGID }, { "message-id", F_MSGID },
	{ "status", F_STATUS }, { "action", F_STATUS },
	{ "policy", F_POLICY },
	{ "subaccount", F_SUBACCOUNT },
	{ "domain", F_DOMAIN },
	{ "ip", F_CLIENT_IP }, { "client-ip", F_CLIENT_IP },
	{ "response", F_RESPONSE },
	{ "class", F_CLASS },
	{ "tls", F_TLS },
	{ "since", F_SINCE }, { "until", F_UNTIL },
};

static const char *
term_unbracket(const char *s, char *out, size_t n)
{
	size_t len = strlen(s);

	if (len >= 2 && s[0] == '<' && s[len - 1] == '>')
		snprintf(out, n, "%.*s", (int)(len - 2), s + 1);
	else
		snprintf(out, n, "%s", s);
	return out;
}

/* A --status word is an event action (event.h), the one it finds. */
static int
term_status(const char *v, char *err, size_t errsz)
{
	char names[512];

	if (event_lookup(v) != -1)
		return 0;
	if (event_names(names, sizeof(names)) == -1)
		gw_strlcpy(names, "an event action", sizeof(names));
	snprintf(err, errsz, "status: \"%.64s\" is not one of %s", v, names);
	return -1;
}

int
terms_class_names(char *out, size_t n)
{
	size_t o = 0;
	int r;

	for (int i = BC_NONE + 1; i < BC_COUNT; i++) {
		r = snprintf(out + o, n - o, "%s%s", i == BC_NONE + 1 ? "" :
		    i == BC_COUNT - 1 ? " or " : ", ",
		    bounce_class_name((enum bounce_class)i));
		if (r < 0 || (size_t)r >= n - o)
			return -1;
		o += (size_t)r;
	}
	return 0;
}

/* One free-text word or phrase as an FTS5 string: "w""x" or "w"* . */
static int
term_fts(struct buf *b, const char *w, size_t n, int phrase)
{
	int prefix = 0;

	if (!phrase && n > 0 && w[n - 1] == '*') {
		prefix = 1;
		n--;
	}
	if (n == 0)
		return -1;
	if (buf_len(b) > 0)
		buf_putc(b, ' ');
	buf_putc(b, '"');
	for (size_t i = 0; i < n; i++) {
		if (w[i] == '"')
			buf_putc(b, '"');
		buf_putc(b, w[i]);
	}
	buf_putc(b, '"');
	if (prefix)
		buf_putc(b, '*');
	return 0;
}

int
terms_add(struct query *q, enum filter_kind k, const char *val, char *err,
    size_t errsz)
{
	char tmp[FILTER_MAX + 3];
	struct filter *f;
	int64_t t = 0;

	if (q->nf == QUERY_MAX_FILTERS) {
		snprintf(err, errsz, "more than %d filters", QUERY_MAX_FILTERS);
		return -1;
	}
	if (strlen(val) > FILTER_MAX) {
		snprintf(err, errsz, "a filter is longer than %d bytes",
		    FILTER_MAX);
		return -1;
	}
	if (k == F_RECIPIENT || k == F_SENDER || k == F_MSGID)
		val = term_unbracket(val, tmp, sizeof(tmp));
	if (*val == '\0' && k != F_SENDER) {
		snprintf(err, errsz, "empty filter value");
		return -1;
	}
	if (k == F_STATUS && term_status(val, err, errsz) == -1)
		return -1;
	if (k == F_CLASS && bounce_class_parse(val) == -1) {
		char names[512];

		if (terms_class_names(names, sizeof(names)) == -1)
			gw_strlcpy(names, "a bounce class", sizeof(names));
		snprintf(err, errsz, "class: \"%.64s\" is not one of %s", val,
		    names);
		return -1;
	}
	if (k == F_TLS && tls_policy_parse(val) == -1 &&
	    strcmp(val, "dane") != 0 && strcmp(val, "mta-sts") != 0) {
		snprintf(err, errsz, "tls: \"%.64s\" is not one of none, "
		    "opportunistic, required, verify, dane, mta-sts", val);
		return -1;
	}
	if ((k == F_SINCE || k == F_UNTIL) &&
	    terms_time(val, now_us(), &t) == -1) {
		snprintf(err, errsz, "\"%.64s\" is not a time (e.g. today, "
		    "yesterday, -2h, 2026-11-20 10:00, 2026-11-20T10:00:00Z, "
		    "@1763900000)", val);
		return -1;
	}
	if (k == F_DOMAIN && *val == '@')
		val++;
	f = &q->f[q->nf++];
	f->kind = k;
	f->val = xstrdup(val);
	f->t = t;
	return 0;
}

/* Free text: quoted phrases and words, each re-quoted for FTS5. */
static int
term_text(struct query *q, const char *w, size_t n, int phrase, char *err,
    size_t errsz)
{
	struct buf b;
	int r;

	buf_init(&b, 4 * FILTER_MAX);
	if (term_fts(&b, w, n, phrase) == -1) {
		snprintf(err, errsz, "\"%.*s\": nothing to search for", (int)n,
		    w);
		buf_free(&b);
		return -1;
	}
	r = terms_add(q, F_TEXT, buf_cstr(&b), err, errsz);
	buf_free(&b);
	return r;
}

/* A value at *p: "quoted" or up to white space.  Advances *p. */
static int
term_value(const char **p, struct buf *v, int *quoted, char *err,
    size_t errsz)
{
	const char *s = *p;

	*quoted = (*s == '"');
	if (!*quoted) {
		size_t n = strcspn(s, " \t\n");

		buf_append(v, s, n);
		*p = s + n;
		return 0;
	}
	for (s++;; s++) {
		if (*s == '\0') {
			snprintf(err, errsz, "unbalanced quote in \"%.64s\"",
			    *p);
			return -1;
		}
		if (*s == '"' && s[1] == '"')
			buf_putc(v, *s++);
		else if (*s == '"')
			break;
		else
			buf_putc(v, *s);
	}
	s++;
	if (*s && !isspace((unsigned char)*s)) {
		snprintf(err, errsz, "a space must follow a closing quote in "
		    "\"%.64s\"", *p);
		return -1;
	}
	*p = s;
	return 0;
}

static int
term_one(struct query *q, const char **p, char *err, size_t errsz)
{
	const char *s = *p, *colon;
	size_t klen = strspn(s, "abcdefghijklmnopqrstuvwxyz-_");
	struct buf v;
	int quoted, r = -1;

	colon = s[klen] == ':' && klen > 0 ? s + klen : NULL;
	buf_init(&v, 0);
	if (colon == NULL) {
		if (term_value(p, &v, &quoted, err, errsz) == 0)
			r = term_text(q, buf_cstr(&v), buf_len(&v), quoted,
			    err, errsz);
		buf_free(&v);
		return r;
	}
	for (size_t i = 0; i < nitems(term_keys); i++) {
		if (strlen(term_keys[i].key) != klen ||
		    strncmp(term_keys[i].key, s, klen) != 0)
			continue;
		*p = colon + 1;
		if (term_value(p, &v, &quoted, err, errsz) == 0)
			r = terms_add(q, term_keys[i].kind, buf_cstr(&v), err,
			    errsz);
		buf_free(&v);
		return r;
	}
	snprintf(err, errsz, "unknown search key \"%.*s:\" (keys: from: to: "
	    "subject: id: status: action: domain: subaccount: ip: response: "
	    "class: policy: since: until:)", (int)klen, s);
	buf_free(&v);
	return -1;
}

int
terms_parse(struct query *q, const char *text, char *err, size_t errsz)
{
	const char *p = text;

	for (;;) {
		p += strspn(p, " \t\n");
		if (*p == '\0')
			return 0;
		if (term_one(q, &p, err, errsz) == -1)
			return -1;
	}
}

/* "2026-11-20", "2026-11-20 10:00[:00[.123]]", "...T...Z", "+01:00" */
static int
term_date(const char *s, int64_t *out)
{
	struct tm tm = { 0 };
	int y, mo, d, h = 0, mi = 0, sec = 0, n = 0, oh, om;
	int64_t off = 0, frac = 0, scale = 100000;

	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
		return -1;
	s += n;
	if (*s == 'T' || *s == 't' || *s == ' ') {
		if (sscanf(s + 1, "%2d:%2d%n", &h, &mi, &n) != 2 || n != 5)
			return -1;
		s += 1 + n;
		if (*s == ':') {
			if (!isdigit((unsigned char)s[1]) ||
			    !isdigit((unsigned char)s[2]))
				return -1;
			sec = (s[1] - '0') * 10 + (s[2] - '0');
			s += 3;
			if (*s == '.')
				for (s++; isdigit((unsigned char)*s); s++) {
					frac += (*s - '0') * scale;
					scale /= 10;
				}
		}
	}
	if (*s == 'Z' || *s == 'z')
		s++;
	else if (*s == '+' || *s == '-') {
		if (sscanf(s + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5 ||
		    oh > 23 || om > 59)
			return -1;
		off = (int64_t)(oh * 3600 + om * 60) * (*s == '-' ? -1 : 1);
		s += 1 + n;
	}
	if (*s != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = ((int64_t)timegm(&tm) - off) * 1000000 + frac;
	return 0;
}

/* journalctl's forms; UTC unless a zone is given. */
int
terms_time(const char *s, int64_t now, int64_t *out)
{
	int64_t day = 86400LL * 1000000, ms;
	char *end;
	long long v;

	if (strcmp(s, "now") == 0)
		*out = now;
	else if (strcmp(s, "today") == 0)
		*out = now - now % day;
	else if (strcmp(s, "yesterday") == 0)
		*out = now - now % day - day;
	else if (strcmp(s, "tomorrow") == 0)
		*out = now - now % day + day;
	else if (s[0] == '@') {
		errno = 0;
		v = strtoll(s + 1, &end, 10);
		if (errno || end == s + 1 || *end || v < 0 ||
		    v > 253402300799LL)
			return -1;
		*out = (int64_t)v * 1000000;
	} else if (s[0] == '-' || s[0] == '+') {
		if (!isdigit((unsigned char)s[1]) ||
		    parse_duration_ms(s + 1, &ms) == -1)
			return -1;
		*out = now + (s[0] == '-' ? -ms : ms) * 1000;
	} else
		return term_date(s, out);
	return 0;
}

void
terms_free(struct query *q)
{
	for (int i = 0; i < q->nf; i++)
		free(q->f[i].val);
	q->nf = 0;
}

void
terms_complete(const char *cur, void (*add)(const char *, const char *),
    int keys)
{
	const char *colon = strchr(cur, ':');
	char w[64];

	if (colon == NULL) {
		for (size_t i = 0; keys && i < nitems(term_keys); i++) {
			snprintf(w, sizeof(w), "%s:", term_keys[i].key);
			add(cur, w);
		}
		return;
	}
	if (strncmp(cur, "status:", 7) == 0)
		for (int i = 0; i < EV_COUNT; i++) {
			snprintf(w, sizeof(w), "status:%s", event_name(i));
			add(cur, w);
		}
	if (strncmp(cur, "class:", 6) == 0)
		for (int i = BC_NONE + 1; i < BC_COUNT; i++) {
			snprintf(w, sizeof(w), "class:%s",
			    bounce_class_name(i));
			add(cur, w);
		}
}
