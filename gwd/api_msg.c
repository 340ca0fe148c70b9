/*
 * api_msg.c - what a send API request says (api.h): a JSON message
 * built into RFC 5322 with GMime, or the envelope of an RFC 5322 one.
 * Standards: RFC 8259 (JSON, read by Jansson), RFC 5322, RFC 2045-2047
 * and 2231 (MIME, written by GMime), RFC 6532 (UTF-8 addresses).
 * Exposure: the request body is untrusted input from a client holding an
 * API key.  Jansson reads it only after a scan bounded its nesting
 * (API_DEPTH_MAX); Jansson refuses invalid UTF-8, NUL in strings and
 * duplicate keys; every member's type is checked and unknown members
 * are refused; header names and values are checked before GMime sees
 * them; addresses are read by addrlist.c, as From: is at the end of
 * DATA.
 * Diagnostics: a request that cannot be read is refused with why (the
 * caller's 400); nothing here logs or dies, but GLib aborts when memory
 * runs out.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>
#include <jansson.h>

#include "addrlist.h"
#include "api_priv.h"
#include "base64.h"
#include "mime_walk.h"
#include "msg.h"
#include "util.h"

/* Objects and arrays inside one another: the schema needs 3 (the body,
 * attachments[], one attachment); a little room, then refused before
 * Jansson reads it. */
#define API_DEPTH_MAX	8

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

/* An address list into the message's header (GMime writes it, encoding
 * display names) and, for recipients, into the envelope (addrlist.c's
 * reading, the one gwd checks From: with). */
static int
add_addrs(GMimeMessage *msg, GMimeAddressType type, const char *s,
    struct api_env *env, int envelope, const char *key, char *err,
    size_t errsz)
{
	InternetAddressList *al;
	const char *why;

	if (!header_text_ok(s))
		return errf(err, errsz, "%s: control characters", key);
	if (envelope && api_env_rcpts(env, s, strlen(s), &why) == -1) {
		snprintf(err, errsz, "%s: \"%.200s\": %s", key, s, why);
		return -1;
	}
	if (msg == NULL)
		return 0;
	if ((al = internet_address_list_parse(NULL, s)) == NULL)
		return errf(err, errsz, "%s: not an address list", key);
	internet_address_list_append(g_mime_message_get_addresses(msg, type),
	    al);
	g_object_unref(al);
	return 0;
}

/* to, cc or bcc: an array of address strings (bcc: envelope only). */
static int
add_rcpt_array(GMimeMessage *msg, json_t *root, const char *key,
    GMimeAddressType type, struct api_env *env, char *err, size_t errsz)
{
	json_t *a = json_object_get(root, key), *v;
	size_t i;

	if (a == NULL || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return errf(err, errsz, "%s: expected an array of addresses",
		    key);
	json_array_foreach(a, i, v) {
		if (!json_is_string(v))
			return errf(err, errsz, "%s: expected an array of "
			    "addresses", key);
		if (add_addrs(msg, type, json_string_value(v), env, 1, key,
		    err, errsz) == -1)
			return -1;
	}
	return 0;
}

static GMimeObject *
text_part(const char *subtype, const char *text)
{
	GMimeTextPart *tp = g_mime_text_part_new_with_subtype(subtype);

	g_mime_text_part_set_text(tp, text);
	g_mime_part_set_content_encoding(GMIME_PART(tp),
	    g_mime_part_get_best_content_encoding(GMIME_PART(tp),
	    GMIME_ENCODING_CONSTRAINT_7BIT));
	return GMIME_OBJECT(tp);
}

/* text, html, or both as multipart/alternative; NULL when neither. */
static GMimeObject *
body_part(const char *text, const char *html)
{
	GMimeMultipart *alt;
	GMimeObject *t, *h;

	if (text == NULL && html == NULL)
		return NULL;
	if (html == NULL)
		return text_part("plain", text);
	if (text == NULL)
		return text_part("html", html);
	alt = g_mime_multipart_new_with_subtype("alternative");
	t = text_part("plain", text);
	h = text_part("html", html);
	g_mime_multipart_add(alt, t);
	g_mime_multipart_add(alt, h);
	g_object_unref(t);
	g_object_unref(h);
	return GMIME_OBJECT(alt);
}

/* "type/subtype", tokens only (no parameters). */
static int
content_type_ok(const char *ct, char *type, size_t tsz, char *sub,
    size_t ssz)
{
	const char *slash = strchr(ct, '/');
	size_t tl;

	if (slash == NULL || (tl = (size_t)(slash - ct)) == 0 || tl >= tsz ||
	    strlen(slash + 1) == 0 || strlen(slash + 1) >= ssz)
		return 0;
	for (const char *p = ct; *p; p++)
		if (p != slash && !isalnum((unsigned char)*p) &&
		    strchr("!#$&-^_.+", *p) == NULL)
			return 0;
	memcpy(type, ct, tl);
	type[tl] = '\0';
	gw_strlcpy(sub, slash + 1, ssz);
	return 1;
}

/* One member of attachments[]: a base64 part with its file name. */
static GMimeObject *
attachment(json_t *a, size_t idx, char *err, size_t errsz)
{
	const char *name, *ct, *b64;
	char type[64], sub[128];
	GMimePart *p;
	GMimeStream *ms;
	GMimeDataWrapper *dw;
	unsigned char *data;
	size_t n;
	int bad = 0;

	if (!json_is_object(a) || json_object_size(a) > 3) {
		snprintf(err, errsz, "attachments[%zu]: expected {filename, "
		    "content_type, content_base64}", idx);
		return NULL;
	}
	name = opt_str(a, "filename", 1, &bad);
	ct = opt_str(a, "content_type", 1, &bad);
	b64 = opt_str(a, "content_base64", 0, &bad);
	if (bad || name == NULL || b64 == NULL || name[0] == '\0' ||
	    json_object_size(a) != 2u + (ct != NULL)) {
		snprintf(err, errsz, "attachments[%zu]: expected {filename, "
		    "content_type, content_base64} (strings)", idx);
		return NULL;
	}
	if (ct == NULL)
		ct = "application/octet-stream";
	if (!content_type_ok(ct, type, sizeof(type), sub, sizeof(sub))) {
		snprintf(err, errsz, "attachments[%zu]: content_type: "
		    "expected type/subtype", idx);
		return NULL;
	}
	n = strlen(b64);
	data = xmalloc(n / 4 * 3 + 3);
	if (base64_decode(b64, n, data, n / 4 * 3 + 3, &n) == -1) {
		free(data);
		snprintf(err, errsz, "attachments[%zu]: content_base64: not "
		    "base64 (RFC 4648, no line breaks)", idx);
		return NULL;
	}
	p = g_mime_part_new_with_type(type, sub);
	g_mime_part_set_filename(p, name);
	ms = g_mime_stream_mem_new_with_buffer((const char *)data, n);
	free(data);
	dw = g_mime_data_wrapper_new_with_stream(ms,
	    GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(p, dw);
	g_mime_part_set_content_encoding(p, GMIME_CONTENT_ENCODING_BASE64);
	g_object_unref(dw);
	g_object_unref(ms);
	return GMIME_OBJECT(p);
}

/* The body, then each attachment, in multipart/mixed. */
static GMimeObject *
mixed(GMimeObject *body, json_t *atts, char *err, size_t errsz)
{
	GMimeMultipart *mp = g_mime_multipart_new_with_subtype("mixed");
	GMimeObject *a;
	json_t *v;
	size_t i;

	if (body) {
		g_mime_multipart_add(mp, body);
		g_object_unref(body);
	}
	json_array_foreach(atts, i, v) {
		if ((a = attachment(v, i, err, errsz)) == NULL) {
			g_object_unref(mp);
			return NULL;
		}
		g_mime_multipart_add(mp, a);
		g_object_unref(a);
	}
	return GMIME_OBJECT(mp);
}

/* headers{}: each name a field name no member or gwd writes, each value
 * a string without control characters. */
static int
add_headers(GMimeMessage *msg, json_t *h, char *err, size_t errsz)
{
	const char *name;
	json_t *v;

	if (h == NULL || json_is_null(h))
		return 0;
	if (!json_is_object(h))
		return errf(err, errsz, "%s: expected an object of strings",
		    "headers");
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
		g_mime_object_append_header(GMIME_OBJECT(msg), name,
		    json_string_value(v), "utf-8");
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

/* The parts of the message from root; -1 with err. */
static int
json_build(json_t *root, GMimeMessage *msg, struct api_env *env, char *err,
    size_t errsz)
{
	const char *from, *reply_to, *subject, *text, *html, *why;
	json_t *atts = json_object_get(root, "attachments");
	GMimeObject *body;
	int bad = 0;

	if (members_ok(root, err, errsz) == -1)
		return -1;
	from = opt_str(root, "from", 1, &bad);
	reply_to = opt_str(root, "reply_to", 1, &bad);
	subject = opt_str(root, "subject", 1, &bad);
	text = opt_str(root, "text", 0, &bad);
	html = opt_str(root, "html", 0, &bad);
	if (bad)
		return errf(err, errsz, "%s", "from, reply_to, subject, text "
		    "and html are strings (no control characters in the "
		    "first three)");
	if (from == NULL)
		return errf(err, errsz, "%s", "from is required");
	if (api_env_from(env, from, strlen(from), &why) == -1) {
		snprintf(err, errsz, "from: \"%.200s\": %s", from, why);
		return -1;
	}
	if (add_addrs(msg, GMIME_ADDRESS_TYPE_FROM, from, env, 0, "from",
	    err, errsz) == -1 ||
	    (reply_to && add_addrs(msg, GMIME_ADDRESS_TYPE_REPLY_TO, reply_to,
	    env, 0, "reply_to", err, errsz) == -1) ||
	    add_rcpt_array(msg, root, "to", GMIME_ADDRESS_TYPE_TO, env, err,
	    errsz) == -1 ||
	    add_rcpt_array(msg, root, "cc", GMIME_ADDRESS_TYPE_CC, env, err,
	    errsz) == -1 ||
	    add_rcpt_array(NULL, root, "bcc", GMIME_ADDRESS_TYPE_BCC, env, err,
	    errsz) == -1)
		return -1;
	if (env->nrcpt == 0)
		return errf(err, errsz, "%s", "no recipient in to, cc or bcc");
	if (subject)
		g_mime_message_set_subject(msg, subject, "utf-8");
	if (add_headers(msg, json_object_get(root, "headers"), err, errsz) ==
	    -1)
		return -1;
	body = body_part(text, html);
	if (atts && json_is_array(atts) && json_array_size(atts) > 0 &&
	    (body = mixed(body, atts, err, errsz)) == NULL)
		return -1;
	if (body == NULL)
		return errf(err, errsz, "%s", "text, html or attachments is "
		    "required");
	g_mime_message_set_mime_part(msg, body);
	g_object_unref(body);
	return 0;
}

/* The whole message, CRLF lines, appended to out. */
static int
write_message(GMimeMessage *msg, struct buf *out)
{
	GMimeFormatOptions *fo = g_mime_format_options_new();
	GMimeStream *os = g_mime_stream_mem_new();
	GByteArray *ba;
	int r;

	g_mime_format_options_set_newline_format(fo,
	    GMIME_NEWLINE_FORMAT_DOS);
	g_mime_object_write_to_stream(GMIME_OBJECT(msg), fo, os);
	ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(os));
	r = buf_append(out, ba->data, ba->len);
	g_object_unref(os);
	g_mime_format_options_free(fo);
	return r;
}

int
api_json_message(const char *body, size_t len, struct buf *out,
    struct api_env *env, char *err, size_t errsz)
{
	json_error_t je;
	json_t *root;
	GMimeMessage *msg;
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
	mime_init();
	msg = g_mime_message_new(TRUE);
	r = json_build(root, msg, env, err, errsz);
	if (r == 0 && write_message(msg, out) == -1)
		r = errf(err, errsz, "%s", "message too large");
	g_object_unref(msg);
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
