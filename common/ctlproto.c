/*
 * ctlproto.c - parsing the control socket's version word and queue
 * commands (see ctlproto.h).  Pure: bytes in, a command or a reason out.
 * Exposure: reads what a local admin (root or gwd's group) sent; every
 * word is bounded and checked before gwd acts on it.
 * Diagnostics: never dies; a request that does not parse returns -1 with
 * the reason, naming the word, in the caller's err.
 */
#include <stdio.h>
#include <string.h>

#include "ctlproto.h"
#include "event.h"
#include "log.h"
#include "util.h"

#define CTL_MAX_WORDS	(CTL_MAX_IDS + 8)

static const char *const verbs[] = {
	[CTL_Q_LIST] = "list", [CTL_Q_SHOW] = "show", [CTL_Q_FLUSH] = "flush",
	[CTL_Q_HOLD] = "hold", [CTL_Q_RELEASE] = "release",
	[CTL_Q_DELETE] = "delete", [CTL_Q_BOUNCE] = "bounce",
};

const int ctl_age_min[CTL_AGES - 1] = { 5, 10, 20, 40, 80 };

int
ctl_version(const char **line, char *err, size_t errsz)
{
	const char *p = *line;
	size_t n = 0;
	long v = 0;

	if (p[0] != 'v')
		return 0;
	while (n < 9 && p[1 + n] >= '0' && p[1 + n] <= '9')
		v = v * 10 + (p[1 + n++] - '0');
	/* "v" then digits then the end of the word; anything else is a
	 * command (none looks like this). */
	if (n == 0 || (p[1 + n] != ' ' && p[1 + n] != '\0'))
		return 0;
	if (v != CTL_VERSION) {
		snprintf(err, errsz, "protocol version %ld: this gwd speaks %d",
		    v, CTL_VERSION);
		return -1;
	}
	for (p += 1 + n; *p == ' '; p++)
		;
	*line = p;
	return 0;
}

int
ctl_qid_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return i == CTL_QID_LEN;
}

const char *
ctl_verb_name(enum ctl_verb v)
{
	if ((size_t)v >= nitems(verbs))
		return NULL;
	return verbs[v];
}

int
ctl_verb_event(enum ctl_verb v)
{
	static const int ev[] = {
		[CTL_Q_LIST] = -1, [CTL_Q_SHOW] = -1,
		[CTL_Q_FLUSH] = EV_FLUSHED, [CTL_Q_HOLD] = EV_HELD,
		[CTL_Q_RELEASE] = EV_RELEASED, [CTL_Q_DELETE] = EV_DELETED,
		[CTL_Q_BOUNCE] = EV_BOUNCED,
	};

	return (size_t)v < nitems(ev) ? ev[v] : -1;
}

static int
ctl_fail(char *err, size_t errsz, const char *msg)
{
	snprintf(err, errsz, "%s", msg);
	return -1;
}

/* A reason naming the word it is about (escaped). */
static int
ctl_err(char *err, size_t errsz, const char *before, const char *word,
    const char *after)
{
	char esc[80];

	log_escape(word, strlen(word), esc, sizeof(esc));
	snprintf(err, errsz, "%s%s%s", before, esc, after);
	return -1;
}

/* Split line into words (spaces and tabs); -1 if there are too many. */
static int
ctl_words(char *line, char **w, int max)
{
	int n = 0;
	char *p = line;

	for (;;) {
		p += strspn(p, " \t");
		if (*p == '\0')
			return n;
		if (n == max)
			return -1;
		w[n++] = p;
		p += strcspn(p, " \t");
		if (*p)
			*p++ = '\0';
	}
}

static int
ctl_add_id(struct ctl_queue_cmd *c, const char *w, char *err, size_t errsz)
{
	if (strcmp(w, "ALL") == 0) {
		c->all = 1;
		return 0;
	}
	if (strcasecmp(w, "ALL") == 0)
		return ctl_err(err, errsz, "\"", w,
		    "\": write ALL in upper case");
	if (!ctl_qid_valid(w))
		return ctl_err(err, errsz, "\"", w, "\" is not a queue id (16 "
		    "upper-case hex digits)");
	for (int i = 0; i < c->nids; i++)
		if (strcmp(c->ids[i], w) == 0)
			return 0;
	if (c->nids == CTL_MAX_IDS)
		return ctl_fail(err, errsz, "more than 100 queue ids");
	memcpy(c->ids[c->nids++], w, CTL_QID_LEN + 1);
	return 0;
}

/* --domain and --subaccount, each with a value in the next word. */
static int
ctl_option(struct ctl_queue_cmd *c, char **w, int n, int *i, char *err,
    size_t errsz)
{
	const char *name = w[*i], *v;
	char *dst;
	size_t max;

	if (strcmp(name, "--domain") == 0 && (c->verb == CTL_Q_LIST ||
	    c->verb == CTL_Q_FLUSH)) {
		dst = c->domain;
		max = CTL_DOMAIN_MAX;
	} else if (strcmp(name, "--quarantined") == 0 &&
	    (c->verb == CTL_Q_LIST || c->verb == CTL_Q_RELEASE ||
	    c->verb == CTL_Q_DELETE)) {
		c->quarantined = 1;
		return 0;
	} else if (strcmp(name, "--subaccount") == 0 &&
	    c->verb == CTL_Q_LIST) {
		dst = c->subaccount;
		max = CTL_NAME_MAX;
	} else
		return ctl_err(err, errsz, "unknown option ", name, "");
	if (*i + 1 >= n)
		return ctl_err(err, errsz, "", name, " needs a value");
	v = w[++*i];
	if (strlen(v) > max || str_has_ctl(v, strlen(v)))
		return ctl_err(err, errsz, "", name,
		    ": value too long or not printable");
	if (*dst)
		return ctl_err(err, errsz, "", name, " given twice");
	memcpy(dst, v, strlen(v) + 1);
	if (dst == c->domain)
		str_lower(dst);
	return 0;
}

/* " --reason TEXT" ends the line: cut it off into c->reason. */
static int
ctl_reason(char *line, struct ctl_queue_cmd *c, char *err, size_t errsz)
{
	char *p = strstr(line, " --reason"), *v;

	if (p == NULL || (p[9] != '\0' && p[9] != ' ' && p[9] != '\t'))
		return 0;
	*p = '\0';
	v = p + 9 + strspn(p + 9, " \t");
	if (*v == '\0')
		return ctl_fail(err, errsz, "--reason needs a value");
	if (strlen(v) > CTL_REASON_MAX || str_has_ctl(v, strlen(v)))
		return ctl_fail(err, errsz, "--reason: value too long or not "
		    "printable");
	memcpy(c->reason, v, strlen(v) + 1);
	return 0;
}

/* What each verb may be given. */
static int
ctl_check(struct ctl_queue_cmd *c, char *err, size_t errsz)
{
	const char *v = verbs[c->verb];

	if (c->reason[0] && c->verb != CTL_Q_DELETE)
		return ctl_err(err, errsz, "", v, " takes no --reason");
	switch (c->verb) {
	case CTL_Q_LIST:
		if (c->nids || c->all)
			return ctl_err(err, errsz, "", v,
			    " takes no queue ids");
		return 0;
	case CTL_Q_SHOW:
		if (c->all || c->nids != 1)
			return ctl_err(err, errsz, "", v,
			    " takes one queue id");
		return 0;
	case CTL_Q_FLUSH:
		if ((c->all && c->nids) || ((c->all || c->nids) &&
		    c->domain[0]))
			return ctl_err(err, errsz, "", v, ": give queue ids, "
			    "ALL or --domain, not several");
		if (!c->nids && !c->domain[0])
			c->all = 1;
		return 0;
	default:
		if (c->quarantined && c->all)
			return ctl_err(err, errsz, "", v,
			    " --quarantined: name the messages");
		if (c->all && c->nids)
			return ctl_err(err, errsz, "", v, ": ALL stands alone");
		if (!c->all && !c->nids)
			return ctl_err(err, errsz, "", v,
			    ": which messages? (queue ids or ALL)");
		return 0;
	}
}

int
ctl_queue_parse(const char *line, struct ctl_queue_cmd *c, char *err,
    size_t errsz)
{
	char copy[4096], *w[CTL_MAX_WORDS];
	size_t vi;
	int n;

	memset(c, 0, sizeof(*c));
	if (gw_strlcpy(copy, line, sizeof(copy)) >= sizeof(copy))
		return ctl_fail(err, errsz, "request too long");
	if (ctl_reason(copy, c, err, errsz) == -1)
		return -1;
	if ((n = ctl_words(copy, w, CTL_MAX_WORDS)) == -1)
		return ctl_fail(err, errsz, "too many words (at most 100 queue "
		    "ids a request)");
	if (n == 0 || strcmp(w[0], "queue") != 0)
		return ctl_fail(err, errsz, "not a queue command");
	if (n < 2)
		return ctl_fail(err, errsz, "queue: missing verb (list, show, "
		    "flush, hold, release, delete, bounce)");
	for (vi = 0; vi < nitems(verbs); vi++)
		if (strcmp(w[1], verbs[vi]) == 0)
			break;
	if (vi == nitems(verbs))
		return ctl_err(err, errsz, "queue: unknown verb \"", w[1],
		    "\" (list, show, flush, hold, release, delete, bounce)");
	c->verb = (enum ctl_verb)vi;
	for (int i = 2; i < n; i++) {
		if (strncmp(w[i], "--", 2) == 0) {
			if (ctl_option(c, w, n, &i, err, errsz) == -1)
				return -1;
		} else if (ctl_add_id(c, w[i], err, errsz) == -1)
			return -1;
	}
	return ctl_check(c, err, errsz);
}
