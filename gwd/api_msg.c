/*
 * api_msg.c - what a send API request says (api.h): a JSON message
 * read into a draft that api_mime.c writes as RFC 5322, or the envelope
 * of an RFC 5322 one.
 * Standards: RFC 8259 (JSON, read by Jansson), RFC 5322, RFC 6532
 * (UTF-8 addresses).
 * Exposure: the request body is untrusted input from a client holding an
 * API key.  Jansson reads it only after a scan bounded its nesting
 * (API_DEPTH_MAX); Jansson refuses invalid UTF-8, NUL in strings and
 * duplicate keys; every member's type is checked and unknown members
 * are refused; header names and values are checked before the writer
 * sees them; addresses are read by addrlist.c, as From: is at the end
 * of DATA.
 * Diagnostics: a request that cannot be read is refused with why (the
 * caller's 400); nothing here logs or dies.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "addrlist.h"
#include "api_priv.h"
#include "base64.h"
#include "msg.h"
#include "util.h"

/* Objects and arrays inside one another: the schema needs 3 (the body,
 * attachments[], one attachment); a little room, then refused before
 * Jansson reads it. */
#define API_DEPTH_MAX	8
/* An attachment's file name, bytes (what file systems allow). */
#define API_FILENAME_MAX	255

void
api_env_free(struct api_env *e)
{
	for (int i = 0; i < e->nrcpt; i++)
		free(e->rcpt[i]);
	free(e->rcpt);
	memset(e, 0, sizeof(*e));
}

static int
has_8bit(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

static const char *
env_add(void *arg, const char *addr, size_t at)
{
	struct api_env *e = arg;

	for (int i = 0; i < e->nrcpt; i++)
		if (strcmp(e->rcpt[i], addr) == 0)
			return NULL;
	e->rcpt = xreallocarray(e->rcpt, (size_t)e->nrcpt + 1,
	    sizeof(char *));
	e->rcpt[e->nrcpt++] = xstrdup(addr);
	e->utf8 |= has_8bit(addr);
	return NULL;
}

int
api_env_rcpts(struct api_env *e, const char *s, size_t len, const char **err)
{
	int before = e->nrcpt;

	if (addrlist_parse(s, len, env_add, e, err) == -1)
		return -1;
	return e->nrcpt - before;
}

static const char *
env_one(void *arg, const char *addr, size_t at)
{
	struct api_env *e = arg;

	if (e->has_from)
		return "more than one address";
	gw_strlcpy(e->from, addr, sizeof(e->from));
	e->has_from = 1;
	e->utf8 |= has_8bit(addr);
	return NULL;
}

int
api_env_from(struct api_env *e, const char *s, size_t len, const char **err)
{
	e->has_from = 0;
	if (addrlist_parse(s, len, env_one, e, err) == -1)
		return -1;
	if (!e->has_from) {
		*err = "no address";
		return -1;
	}
	return 0;
}

/* Nesting of objects and arrays, strings skipped: 1 when within max. */
static int
depth_ok(const char *p, size_t n, int max)
{
	int depth = 0, in_str = 0;

	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
		} else if (c == '"')
			in_str = 1;
		else if (c == '{' || c == '[') {
			if (++depth > max)
				return 0;
		} else if (c == '}' || c == ']')
			depth--;
	}
	return 1;
}

/* Text that goes into a header field: no control characters (a CR or LF
 * would start a field of the client's choosing). */
static int
header_text_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* RFC 5322 2.2: a field name is printable ASCII but ':'. */
static int
field_name_ok(const char *s)
{
	if (*s == '\0' || strlen(s) > 76)
		return 0;
	for (; *s; s++)
		if (*s < 33 || *s > 126 || *s == ':')
			return 0;
	return 1;
}

/* Fields the request's own members write, or gwd does: never from
 * headers{}. */
static int
field_reserved(const char *name)
{
	static const char *const reserved[] = { "from", "to", "cc", "bcc",
	    "reply-to", "subject", "sender", "mime-version", "content-type",
	    "content-transfer-encoding", "content-disposition", "received",
	    "dkim-signature", "return-path", "x-gw-policy", NULL };

	for (int i = 0; reserved[i]; i++)
		if (strcasecmp(name, reserved[i]) == 0)
			return 1;
	return strncasecmp(name, "content-", 8) == 0;
}

/* The optional string member key of o: NULL when absent; *bad set when
 * it is there but no string, or holds control characters. */
static const char *
opt_str(json_t *o, const char *key, int header, int *bad)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v) || (header && !header_text_ok(
	    json_string_value(v)))) {
		*bad = 1;
		return NULL;
	}
	return json_string_value(v);
}

static const char *
no_cb(void *arg, const char *addr, size_t at)
{
	return NULL;
}

/* An address list for the header; for recipients, into the envelope
 * too (addrlist.c's reading, the one gwd checks From: with). */
static int
addrs_ok(const char *s, struct api_env *env, int envelope, const char *key,
    char *err, size_t errsz)
{
	const char *why;

	if (!header_text_ok(s))
		return errf(err, errsz, "%s: control characters", key);
	if ((envelope ? api_env_rcpts(env, s, strlen(s), &why) :
	    addrlist_parse(s, strlen(s), no_cb, NULL, &why)) == -1) {
		snprintf(err, errsz, "%s: \"%.200s\": %s", key, s, why);
		return -1;
	}
	return 0;
}

/* to, cc or bcc: an array of address strings (bcc: envelope only). */
static int
rcpt_array(json_t *root, const char *key, const char ***list, size_t *n,
    struct api_env *env, char *err, size_t errsz)
{
	json_t *a = json_object_get(root, key), *v;
	size_t i;

	if (a == NULL || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return errf(err, errsz, "%s: expected an array of addresses",
		    key);
	if (list)
		*list = xcalloc(json_array_size(a) + 1, sizeof(char *));
	json_array_foreach(a, i, v) {
		if (!json_is_string(v))
			return errf(err, errsz, "%s: expected an array of "
			    "addresses", key);
		if (addrs_ok(json_string_value(v), env, 1, key, err, errsz) ==
		    -1)
			return -1;
		if (list)
			(*list)[(*n)++] = json_string_value(v);
	}
	return 0;
}

/* "type/subtype", tokens only (no parameters). */
static int
content_type_ok(const char *ct)
{
	const char *slash = strchr(ct, '/');

	if (slash == NULL || slash == ct || slash[1] == '\0' ||
	    strlen(ct) > 190)
		return 0;
	for (const char *p = ct; *p; p++)
		if (p != slash && !isalnum((unsigned char)*p) &&
		    strchr("!#$&-^_.+", *p) == NULL)
			return 0;
	return 1;
}

/* One member of attachments[]: its file name, type and decoded bytes. */
static int
attachment(json_t *a, size_t idx, struct api_att *att, char *err,
    size_t errsz)
{
	const char *name, *ct, *b64;
	size_t n;
	int bad = 0;

	if (!json_is_object(a) || json_object_size(a) > 3)
		return errf(err, errsz, "attachments[%zu]: expected {filename, "
		    "content_type, content_base64}", idx);
	name = opt_str(a, "filename", 1, &bad);
	ct = opt_str(a, "content_type", 1, &bad);
	b64 = opt_str(a, "content_base64", 0, &bad);
	if (bad || name == NULL || b64 == NULL || name[0] == '\0' ||
	    json_object_size(a) != 2u + (ct != NULL))
		return errf(err, errsz, "attachments[%zu]: expected {filename, "
		    "content_type, content_base64} (strings)", idx);
	if (strlen(name) > API_FILENAME_MAX)
		return errf(err, errsz, "attachments[%zu]: filename: over %d "
		    "bytes", idx, API_FILENAME_MAX);
	if (ct == NULL)
		ct = "application/octet-stream";
	if (!content_type_ok(ct))
		return errf(err, errsz, "attachments[%zu]: content_type: "
		    "expected type/subtype", idx);
	n = strlen(b64);
	att->name = name;
	att->ctype = ct;
	att->data = xmalloc(n / 4 * 3 + 3);
	if (base64_decode(b64, n, att->data, n / 4 * 3 + 3, &att->len) == -1)
		return errf(err, errsz, "attachments[%zu]: content_base64: not "
		    "base64 (RFC 4648, no line breaks)", idx);
	return 0;
}

static int
attachments(json_t *atts, struct api_draft *d, char *err, size_t errsz)
{
	json_t *v;
	size_t i;

	if (atts == NULL || json_is_null(atts))
		return 0;
	d->att = xcalloc(json_array_size(atts) + 1, sizeof(*d->att));
	json_array_foreach(atts, i, v) {
		if (attachment(v, i, &d->att[d->natt++], err, errsz) == -1)
			return -1;
	}
	return 0;
}

/* headers{}: each name a field name no member or gwd writes, each value
 * a string without control characters. */
static int
headers(json_t *h, struct api_draft *d, char *err, size_t errsz)
{
	const char *name;
	json_t *v;

	if (h == NULL || json_is_null(h))
		return 0;
	if (!json_is_object(h))
		return errf(err, errsz, "%s: expected an object of strings",
		    "headers");
	d->hdr = xcalloc(json_object_size(h) + 1, sizeof(*d->hdr));
	json_object_foreach(h, name, v) {
		if (!field_name_ok(name))
			return errf(err, errsz, "headers: \"%.80s\" is not a "
			    "field name", name);
		if (field_reserved(name))
			return errf(err, errsz, "headers: %.80s is set by its "
			    "own member or by gwd", name);
		if (!json_is_string(v) || !header_text_ok(json_string_value(v)))
			return errf(err, errsz, "headers: %.80s: expected a "
			    "string without control characters", name);
		d->hdr[d->nhdr].name = name;
		d->hdr[d->nhdr++].value = json_string_value(v);
	}
	return 0;
}

/* Members known, and of the right type where a helper does not check. */
static int
members_ok(json_t *root, char *err, size_t errsz)
{
	static const char *const known[] = { "from", "to", "cc", "bcc",
	    "reply_to", "subject", "text", "html", "headers", "attachments",
	    NULL };
	const char *key;
	json_t *v;
	int i;

	json_object_foreach(root, key, v) {
		for (i = 0; known[i] && strcmp(known[i], key) != 0; i++)
			;
		if (known[i] == NULL)
			return errf(err, errsz, "unknown member \"%.80s\"",
			    key);
	}
	v = json_object_get(root, "attachments");
	if (v && !json_is_null(v) && !json_is_array(v))
		return errf(err, errsz, "%s: expected an array", "attachments");
	return 0;
}

/* The draft of the message from root; -1 with err. */
static int
json_draft(json_t *root, struct api_draft *d, struct api_env *env,
    char *err, size_t errsz)
{
	const char *why;
	int bad = 0;

	if (members_ok(root, err, errsz) == -1)
		return -1;
	d->from = opt_str(root, "from", 1, &bad);
	d->reply_to = opt_str(root, "reply_to", 1, &bad);
	d->subject = opt_str(root, "subject", 1, &bad);
	d->text = opt_str(root, "text", 0, &bad);
	d->html = opt_str(root, "html", 0, &bad);
	if (bad)
		return errf(err, errsz, "%s", "from, reply_to, subject, text "
		    "and html are strings (no control characters in the "
		    "first three)");
	if (d->from == NULL)
		return errf(err, errsz, "%s", "from is required");
	if (api_env_from(env, d->from, strlen(d->from), &why) == -1) {
		snprintf(err, errsz, "from: \"%.200s\": %s", d->from, why);
		return -1;
	}
	if (addrs_ok(d->from, env, 0, "from", err, errsz) == -1 ||
	    (d->reply_to && addrs_ok(d->reply_to, env, 0, "reply_to", err,
	    errsz) == -1) ||
	    rcpt_array(root, "to", &d->to, &d->nto, env, err, errsz) == -1 ||
	    rcpt_array(root, "cc", &d->cc, &d->ncc, env, err, errsz) == -1 ||
	    rcpt_array(root, "bcc", NULL, NULL, env, err, errsz) == -1)
		return -1;
	if (env->nrcpt == 0)
		return errf(err, errsz, "%s", "no recipient in to, cc or bcc");
	if (headers(json_object_get(root, "headers"), d, err, errsz) == -1 ||
	    attachments(json_object_get(root, "attachments"), d, err,
	    errsz) == -1)
		return -1;
	if (d->text == NULL && d->html == NULL && d->natt == 0)
		return errf(err, errsz, "%s", "text, html or attachments is "
		    "required");
	return 0;
}

static void
draft_free(struct api_draft *d)
{
	for (size_t i = 0; i < d->natt; i++)
		free(d->att[i].data);
	free(d->att);
	free(d->hdr);
	free(d->to);
	free(d->cc);
}

int
api_json_message(const char *body, size_t len, struct buf *out,
    struct api_env *env, char *err, size_t errsz)
{
	struct api_draft d;
	json_error_t je;
	json_t *root;
	int r;

	if (!depth_ok(body, len, API_DEPTH_MAX))
		return errf(err, errsz, "JSON nested deeper than %s",
		    "8 levels");
	if ((root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je)) ==
	    NULL) {
		snprintf(err, errsz, "not JSON (RFC 8259, UTF-8): %s at line "
		    "%d column %d", je.text, je.line, je.column);
		return -1;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return errf(err, errsz, "%s", "expected a JSON object");
	}
	memset(&d, 0, sizeof(d));
	r = json_draft(root, &d, env, err, errsz);
	if (r == 0)
		r = api_mime_write(&d, out, err, errsz);
	draft_free(&d);
	json_decref(root);
	return r;
}

/* The recipients of To:, Cc: and Bcc: fields (folded values whole). */
static int
raw_rcpts(const char *msg, size_t hlen, struct api_env *env, char *err,
    size_t errsz)
{
	static const char *const names[] = { "to:", "cc:", "bcc:", NULL };
	const char *p = msg, *end = msg + hlen, *eol, *why;
	size_t vlen;

	while (p < end) {
		/* The field's end: a CRLF not followed by folding. */
		for (eol = p; eol + 1 < end; eol++)
			if (eol[0] == '\r' && eol[1] == '\n' && (eol + 2 >= end ||
			    (eol[2] != ' ' && eol[2] != '\t')))
				break;
		if (eol + 1 >= end)
			eol = end;
		for (int i = 0; names[i]; i++) {
			size_t nl = strlen(names[i]);

			if ((size_t)(eol - p) < nl ||
			    strncasecmp(p, names[i], nl) != 0)
				continue;
			vlen = (size_t)(eol - p) - nl;
			if (api_env_rcpts(env, p + nl, vlen, &why) == -1) {
				snprintf(err, errsz, "%.*s: %s", (int)nl - 1,
				    p, why);
				return -1;
			}
		}
		p = eol + 2;
	}
	return 0;
}

int
api_raw_envelope(const char *msg, size_t len, struct api_env *env, char *err,
    size_t errsz)
{
	struct msg_info mi;

	msg_scan(msg, len, &mi);
	if (!env->has_from) {
		if (mi.sender_addr[0]) {
			gw_strlcpy(env->from, mi.sender_addr,
			    sizeof(env->from));
		} else if (mi.nfrom_addr == 1) {
			gw_strlcpy(env->from, mi.from_addr[0],
			    sizeof(env->from));
		} else
			return errf(err, errsz, "%s", "no sender: give one "
			    "From: mailbox (or Sender:), or ?from=");
		env->has_from = 1;
		env->utf8 |= has_8bit(env->from);
	}
	if (env->nrcpt == 0 && raw_rcpts(msg, mi.header_len, env, err,
	    errsz) == -1)
		return -1;
	if (env->nrcpt == 0)
		return errf(err, errsz, "%s", "no recipient: give To:, Cc: or "
		    "Bcc:, or ?to=");
	return 0;
}
