/*
 * json.c - writing JSON text into a struct buf.
 * Standards: RFC 8259 (JSON), RFC 3629 (UTF-8).
 * Exposure: escapes untrusted bytes (subjects, remote replies).
 * Diagnostics: never dies; an append past the buffer's maximum returns
 * -1, and a json_obj remembers it for json_obj_end().
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

size_t
json_utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
	uint32_t c, min;
	size_t n;

	if (len == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	/* Lead byte: sequence length and the smallest code point it may
	 * carry (anything less is an overlong form). */
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		min = 0x10000;
	} else
		return 0;
	if (len < n)
		return 0;
	c = s[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	/* Overlong, UTF-16 surrogates, beyond Unicode. */
	if (c < min || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	*cp = c;
	return n;
}

static int
json_escape_ctl(struct buf *b, unsigned char c)
{
	switch (c) {
	case '\b':
		return buf_puts(b, "\\b");
	case '\f':
		return buf_puts(b, "\\f");
	case '\n':
		return buf_puts(b, "\\n");
	case '\r':
		return buf_puts(b, "\\r");
	case '\t':
		return buf_puts(b, "\\t");
	default:
		return buf_printf(b, "\\u%04x", c);
	}
}

/* Bytes at p that can be copied as they are (0: p needs escaping). */
static size_t
json_plain(const unsigned char *p, size_t len)
{
	uint32_t cp;
	size_t n;

	if (p[0] >= 0x20 && p[0] < 0x7f)
		return p[0] == '"' || p[0] == '\\' ? 0 : 1;
	if (p[0] < 0x80 || (n = json_utf8_next(p, len, &cp)) == 0)
		return 0;
	/* C1 controls (CSI is U+009B) act on terminals that read 8-bit
	 * controls, like C0 on all; U+2028/9 end JavaScript lines. */
	return cp < 0xa0 || cp == 0x2028 || cp == 0x2029 ? 0 : n;
}

/* Escape the one character (or invalid byte) at p; *used = its bytes. */
static int
json_escape_one(struct buf *b, const unsigned char *p, size_t len,
    size_t *used)
{
	uint32_t cp;

	*used = 1;
	if (p[0] == '"' || p[0] == '\\')
		return buf_printf(b, "\\%c", p[0]);
	if (p[0] < 0x80)
		return json_escape_ctl(b, p[0]);
	if ((*used = json_utf8_next(p, len, &cp)) != 0)
		return buf_printf(b, "\\u%04" PRIx32, cp);	/* C1, U+2028/9 */
	*used = 1;
	return buf_puts(b, "\\ufffd");
}

int
json_escape(struct buf *b, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, start, n;

	while (i < len) {
		/* Copy a run of plain characters at once. */
		for (start = i; i < len && (n = json_plain(p + i, len - i)); )
			i += n;
		if (buf_append(b, p + start, i - start) == -1)
			return -1;
		if (i < len) {
			if (json_escape_one(b, p + i, len - i, &n) == -1)
				return -1;
			i += n;
		}
	}
	return 0;
}

int
json_string(struct buf *b, const char *s)
{
	if (s == NULL)
		return buf_puts(b, "null");
	if (buf_putc(b, '"') == -1 || json_escape(b, s, strlen(s)) == -1)
		return -1;
	return buf_putc(b, '"');
}

void
json_obj_begin(struct json_obj *o, struct buf *b)
{
	memset(o, 0, sizeof(*o));
	o->b = b;
	if (buf_putc(b, '{') == -1)
		o->error = 1;
}

/* Number of leading path components a and b share ("a.b" vs "a.c": 1). */
static int
json_common_levels(const char *a, const char *b)
{
	int levels = 0;
	size_t i = 0;

	if (*a == '\0')
		return 0;
	for (;; i++) {
		int ea = a[i] == '\0' || a[i] == '.';
		int eb = b[i] == '\0' || b[i] == '.';

		if (ea || eb) {
			if (!(ea && eb))
				return levels;
			levels++;
			if (a[i] == '\0' || b[i] == '\0')
				return levels;
		} else if (a[i] != b[i])
			return levels;
	}
}

static void
json_put(struct json_obj *o, int r)
{
	if (r == -1)
		o->error = 1;
}

static void
json_obj_key_part(struct json_obj *o, const char *k, size_t n)
{
	if (o->count[o->depth]++ > 0)
		json_put(o, buf_putc(o->b, ','));
	json_put(o, buf_putc(o->b, '"'));
	json_put(o, json_escape(o->b, k, n));
	json_put(o, buf_puts(o->b, "\":"));
}

/* Close and open objects so that `key`'s parent is the open one. */
static void
json_obj_key(struct json_obj *o, const char *key)
{
	char parent[sizeof(o->path)];
	const char *dot = strrchr(key, '.'), *p, *q;
	int keep;

	if (dot == NULL || (size_t)(dot - key) >= sizeof(parent))
		dot = NULL, parent[0] = '\0';
	else
		memcpy(parent, key, (size_t)(dot - key)), parent[dot - key] = 0;
	keep = json_common_levels(o->path, parent);
	for (; o->depth > keep; o->depth--)
		json_put(o, buf_putc(o->b, '}'));
	/* Open the components of parent beyond the first `keep`. */
	p = parent;
	for (int i = 0; i < keep && p; i++)
		if ((p = strchr(p, '.')) != NULL)
			p++;
	while (p && *p && o->depth < JSON_DEPTH) {
		q = strchr(p, '.');
		json_obj_key_part(o, p, q ? (size_t)(q - p) : strlen(p));
		json_put(o, buf_putc(o->b, '{'));
		o->count[++o->depth] = 0;
		p = q ? q + 1 : NULL;
	}
	snprintf(o->path, sizeof(o->path), "%s", parent);
	p = dot ? dot + 1 : key;
	json_obj_key_part(o, p, strlen(p));
}

void
json_obj_str(struct json_obj *o, const char *key, const char *val)
{
	if (val == NULL)
		return;
	json_obj_key(o, key);
	json_put(o, json_string(o->b, val));
}

void
json_obj_str_or_null(struct json_obj *o, const char *key, const char *val)
{
	json_obj_key(o, key);
	json_put(o, json_string(o->b, val));
}

void
json_obj_int(struct json_obj *o, const char *key, int64_t val)
{
	json_obj_key(o, key);
	json_put(o, buf_printf(o->b, "%" PRId64, val));
}

void
json_obj_bool(struct json_obj *o, const char *key, int val)
{
	json_obj_key(o, key);
	json_put(o, buf_puts(o->b, val ? "true" : "false"));
}

void
json_obj_null(struct json_obj *o, const char *key)
{
	json_obj_key(o, key);
	json_put(o, buf_puts(o->b, "null"));
}

void
json_obj_raw(struct json_obj *o, const char *key, const char *json)
{
	json_obj_key(o, key);
	json_put(o, buf_puts(o->b, json));
}

int
json_obj_end(struct json_obj *o)
{
	for (; o->depth > 0; o->depth--)
		json_put(o, buf_putc(o->b, '}'));
	json_put(o, buf_putc(o->b, '}'));
	return o->error ? -1 : 0;
}
