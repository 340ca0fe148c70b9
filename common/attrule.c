/*
 * attrule.c - attachment rules (see attrule.h).
 * Standards: PKWARE APPNOTE.TXT 6.3 (zip local file headers).
 * Exposure: the attachment's name and bytes are untrusted; every read
 * is bounded by the length given.
 * Diagnostics: attrule_parse() says what is wrong with a rule.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "attrule.h"
#include "util.h"

/* Run by Windows (or a browser, or Java) on a double click. */
static const char *const exec_exts[] = { "exe", "com", "scr", "bat", "cmd",
	"pif", "msi", "msp", "vbs", "vbe", "js", "jse", "wsf", "wsh", "hta",
	"cpl", "jar", "ps1", "psm1", "lnk", "reg", "dll", "scf", "msc", NULL };
static const char *const exec_types[] = { "application/x-dosexec",
	"application/x-msdownload", "application/x-executable",
	"application/x-sharedlib", "application/x-pie-executable",
	"application/x-mach-binary", "application/x-msi",
	"application/vnd.microsoft.portable-executable",
	"application/x-ms-shortcut", NULL };
/* What an executable pretends to be. */
static const char *const doc_exts[] = { "pdf", "doc", "docx", "xls",
	"xlsx", "ppt", "pptx", "rtf", "txt", "csv", "odt", "ods", "jpg",
	"jpeg", "png", "gif", "htm", "html", "zip", "rar", "mp3", "mp4",
	"avi", "wav", NULL };
static const char *const macro_exts[] = { "docm", "dotm", "xlsm", "xltm",
	"xlam", "xlsb", "pptm", "potm", "ppsm", "ppam", "sldm", NULL };

int
attrule_is(const char *spec)
{
	return strncmp(spec, ATTRULE_PREFIX, strlen(ATTRULE_PREFIX)) == 0;
}

static int
in_list(const char *const *l, const char *s, size_t n)
{
	for (; *l; l++)
		if (strlen(*l) == n && strncasecmp(*l, s, n) == 0)
			return 1;
	return 0;
}

/* ",a,b," from "A, b": lower case, blanks trimmed; NULL if empty. */
static char *
norm_list(const char *v)
{
	char *out = xmalloc(strlen(v) + 3), *o = out;
	const char *e;

	*o++ = ',';
	for (; *v; v = *e ? e + 1 : e) {
		size_t n;

		e = v + strcspn(v, ",");
		while (v < e && isspace((unsigned char)*v))
			v++;
		n = (size_t)(e - v);
		while (n > 0 && isspace((unsigned char)v[n - 1]))
			n--;
		if (n > 0 && *v == '.')		/* ".exe" as "exe" */
			v++, n--;
		for (size_t i = 0; i < n; i++)
			*o++ = (char)tolower((unsigned char)v[i]);
		if (n > 0)
			*o++ = ',';
	}
	*o = '\0';
	if (o - out < 2 || strchr(out, ' ')) {
		free(out);
		return NULL;
	}
	return out;
}

int
attrule_parse(const char *spec, struct attrule *r, char *err, size_t errsz)
{
	static const struct { const char *name; enum attrule_kind kind; }
	    plain[] = { { "exec", AR_EXEC }, { "double-ext", AR_DOUBLE_EXT },
	    { "macro", AR_MACRO }, { "encrypted", AR_ENCRYPTED } };
	const char *v = spec + strlen(ATTRULE_PREFIX);

	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < nitems(plain); i++)
		if (strcmp(v, plain[i].name) == 0) {
			r->kind = plain[i].kind;
			return 0;
		}
	if (strncmp(v, "ext=", 4) == 0 || strncmp(v, "type=", 5) == 0) {
		r->kind = *v == 'e' ? AR_EXT : AR_TYPE;
		if ((r->list = norm_list(strchr(v, '=') + 1)) != NULL)
			return 0;
		snprintf(err, errsz, "%.*s needs a list, comma-separated",
		    (int)(strchr(v, '=') - v + 1), v);
		return -1;
	}
	if (strncmp(v, "size>", 5) == 0) {
		r->kind = AR_SIZE;
		if (parse_size(v + 5, &r->size) == 0)
			return 0;
		snprintf(err, errsz, "size> needs a byte count (10M, 512K)");
		return -1;
	}
	snprintf(err, errsz, "unknown attachment rule \"%.40s\" (exec, "
	    "double-ext, macro, encrypted, ext=EXT,..., type=TYPE,..., "
	    "size>N)", v);
	return -1;
}

void
attrule_free(struct attrule *r)
{
	free(r->list);
	r->list = NULL;
}

/* The extension of name[0..n): after its last dot; "" if none. */
static const char *
ext_of(const char *name, size_t n, size_t *len)
{
	for (size_t i = n; i > 0; i--)
		if (name[i - 1] == '.') {
			*len = n - i;
			return name + i;
		}
	*len = 0;
	return name + n;
}

/* The name, trailing blanks and dots dropped (Windows drops them). */
static size_t
name_len(const char *name)
{
	size_t n = strlen(name);

	while (n > 0 && (isspace((unsigned char)name[n - 1]) ||
	    name[n - 1] == '.'))
		n--;
	return n;
}

static int
is_exec(const struct mime_attach *a)
{
	size_t n = name_len(a->name), el;
	const char *e = ext_of(a->name, n, &el);

	return in_list(exec_exts, e, el) ||
	    in_list(exec_types, a->sniffed, strlen(a->sniffed)) ||
	    in_list(exec_types, a->type, strlen(a->type));
}

static int
is_double_ext(const struct mime_attach *a)
{
	size_t n = name_len(a->name), el, pl;
	const char *e = ext_of(a->name, n, &el), *pe;

	if (!in_list(exec_exts, e, el) || e == a->name)
		return 0;
	/* Blanks between the two hide the second in a file list. */
	n = (size_t)(e - 1 - a->name);
	while (n > 0 && isspace((unsigned char)a->name[n - 1]))
		n--;
	pe = ext_of(a->name, n, &pl);
	return pe != a->name && in_list(doc_exts, pe, pl);
}

static int
is_macro(const struct mime_attach *a)
{
	size_t n = name_len(a->name), el;
	const char *e = ext_of(a->name, n, &el);

	return in_list(macro_exts, e, el) ||
	    strcasestr(a->sniffed, "macroenabled") != NULL ||
	    strcasestr(a->type, "macroenabled") != NULL;
}

/* ",a,b," holds s[0..n). */
static int
listed(const char *list, const char *s, size_t n)
{
	for (const char *p = list; (p = strchr(p, ',')) != NULL && p[1];
	    p++) {
		size_t k = strcspn(p + 1, ",");

		if (k == n && strncasecmp(p + 1, s, n) == 0)
			return 1;
		/* "image/" and a star: the family */
		if (k >= 2 && p[k] == '*' && p[k - 1] == '/' && n >= k - 1 &&
		    strncasecmp(p + 1, s, k - 1) == 0)
			return 1;
	}
	return 0;
}

int
attrule_match(const struct attrule *r, const struct mime_attach *a)
{
	size_t el;
	const char *e;

	switch (r->kind) {
	case AR_EXEC:
		return is_exec(a);
	case AR_DOUBLE_EXT:
		return is_double_ext(a);
	case AR_MACRO:
		return is_macro(a);
	case AR_ENCRYPTED:
		return a->encrypted;
	case AR_EXT:
		e = ext_of(a->name, name_len(a->name), &el);
		return el > 0 && listed(r->list, e, el);
	case AR_TYPE:
		return listed(r->list, a->sniffed, strlen(a->sniffed)) ||
		    listed(r->list, a->type, strlen(a->type));
	case AR_SIZE:
		return a->size > r->size;
	}
	return 0;
}

static unsigned
le16(const unsigned char *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8;
}

static uint64_t
le32(const unsigned char *p)
{
	return (uint64_t)le16(p) | (uint64_t)le16(p + 2) << 16;
}

int
attrule_zip_encrypted(const unsigned char *p, size_t n)
{
	size_t at = 0;

	/* Local file headers one after another, while their sizes say
	 * where the next starts (not with a data descriptor, bit 3). */
	while (at + 30 <= n && memcmp(p + at, "PK\3\4", 4) == 0) {
		unsigned flags = le16(p + at + 6);
		uint64_t next;

		if (flags & 1)
			return 1;
		if (flags & 8)
			break;
		next = (uint64_t)at + 30 + le16(p + at + 26) +
		    le16(p + at + 28) + le32(p + at + 18);
		if (next > n)
			break;
		at = (size_t)next;
	}
	return 0;
}
