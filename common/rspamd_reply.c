/*
 * rspamd_reply.c - rspamd's /checkv2 answer, read with jansson.
 * Standards: rspamd's HTTP protocol (docs: "Rspamd protocol", v2).
 * Exposure: parses bytes from a socket (a local daemon's); bounded by
 * RSPAMD_REPLY_MAX and fixed-size fields.
 * Diagnostics: returns -1 with the reason; never fatal but for memory.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "rspamd_reply.h"
#include "util.h"

static const char *const names[RSA_COUNT] = {
	[RSA_REJECT] = "reject", [RSA_SOFT_REJECT] = "soft reject",
	[RSA_REWRITE_SUBJECT] = "rewrite subject",
	[RSA_ADD_HEADER] = "add header", [RSA_GREYLIST] = "greylist",
};

int
rspamd_action_parse(const char *s)
{
	if (strcmp(s, "no action") == 0)
		return -1;
	for (int i = 0; i < RSA_COUNT; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -2;
}

/* s into out, every byte outside [A-Za-z0-9_.-] as '_'. */
static void
safe_copy(char *out, size_t outsz, const char *s)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < outsz; i++) {
		unsigned char c = (unsigned char)s[i];

		out[i] = (char)(((c >= 'a' && c <= 'z') || (c >= 'A' &&
		    c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		    c == '-') ? c : '_');
	}
	out[i] = '\0';
}

struct sym {
	const char	*name;
	double		 score;
};

static int
by_score(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;

	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	return strcmp(x->name, y->name);
}

static double
number(json_t *v)
{
	double d = json_is_number(v) ? json_number_value(v) : 0;

	return isfinite(d) ? d : 0;
}

/* The names of the RSPAMD_SYMBOLS highest-scoring symbols. */
static void
symbols(json_t *obj, struct rspamd_reply *r)
{
	struct sym top[RSPAMD_SYMBOLS + 1];
	const char *key;
	json_t *v;
	size_t n = 0, o = 0;
	char name[40];

	r->symbols[0] = '\0';
	if (!json_is_object(obj))
		return;
	json_object_foreach(obj, key, v) {
		/* Keep the best RSPAMD_SYMBOLS: add at n (at most the
		 * spare last slot), sort, and the last of a full set drops. */
		top[n].name = key;
		top[n].score = number(json_object_get(v, "score"));
		qsort(top, n + 1, sizeof(*top), by_score);
		if (n < RSPAMD_SYMBOLS)
			n++;
	}
	for (size_t i = 0; i < n; i++) {
		safe_copy(name, sizeof(name), top[i].name);
		o += (size_t)snprintf(r->symbols + o, sizeof(r->symbols) - o,
		    "%s%s", i ? "," : "", name);
		if (o >= sizeof(r->symbols))
			break;
	}
}

int
rspamd_reply_parse(const char *s, size_t len, struct rspamd_reply *r,
    char *err, size_t errsz)
{
	json_error_t je;
	json_t *root, *act;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	r->action = -1;
	if (len > RSPAMD_REPLY_MAX) {
		snprintf(err, errsz, "answer longer than %d bytes",
		    RSPAMD_REPLY_MAX);
		return -1;
	}
	if ((root = json_loadb(s, len, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		snprintf(err, errsz, "answer is not JSON: %s (line %d)",
		    je.text, je.line);
		return -1;
	}
	act = json_object_get(root, "action");
	if (!json_is_object(root))
		snprintf(err, errsz, "answer is not a JSON object");
	else if (!json_is_string(act))
		snprintf(err, errsz, "answer has no \"action\"");
	else if ((r->action = rspamd_action_parse(json_string_value(act))) ==
	    -2)
		snprintf(err, errsz, "unknown action \"%.40s\"",
		    json_string_value(act));
	else {
		safe_copy(r->action_name, sizeof(r->action_name),
		    json_string_value(act));
		r->score = number(json_object_get(root, "score"));
		r->required = number(json_object_get(root, "required_score"));
		r->skipped = json_is_true(json_object_get(root, "is_skipped"));
		symbols(json_object_get(root, "symbols"), r);
		rc = 0;
	}
	json_decref(root);
	return rc;
}
