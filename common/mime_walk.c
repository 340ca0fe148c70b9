/*
 * mime_walk.c - the MIME-to-text walk of the content policy (GMime 3,
 * libmagic).
 * Standards: RFC 2045-2047 (MIME, encodings, encoded words), RFC 2183
 * (Content-Disposition), RFC 2231 (parameter values), RFC 2046 5.2.1
 * (message/rfc822), HTML 5 12.1.4 (character references).
 * Exposure: parses an untrusted message.  GMime's parser stops nesting
 * at 1024 levels; here message/rfc822 is entered to lim->depth, leaf
 * parts are read to lim->parts and decoded text is kept to lim->text, so
 * time and memory grow with the message's size, no more.  Decoding goes
 * through GMime's stream filters in 16 KiB reads, never a whole decoded
 * part at once beyond what is kept.
 * Diagnostics: none; what could not be read is in mime_walk.flags.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>
#include <magic.h>

#include "attrule.h"
#include "buf.h"
#include "mime_walk.h"
#include "util.h"

const struct mime_limits mime_limits_default = { 5, 1000, 16 << 20, 0 };

#define SNIFF_BYTES	8192	/* what libmagic sees of an attachment */
#define READ_CHUNK	16384
#define ONES		0x0101010101010101ULL	/* a byte in each lane */
#define HIGHS		0x8080808080808080ULL

static pthread_once_t	gmime_once = PTHREAD_ONCE_INIT;

/* A cookie per thread: libmagic's are not shared between threads.
 * Closed when the thread ends. */
static pthread_key_t	magic_key;
static pthread_once_t	magic_once = PTHREAD_ONCE_INIT;
static __thread int	magic_broken;

struct walk {
	const struct mime_limits	*lim;
	struct mime_walk		*out;
	int				 tcap, acap;
	const char			*msg;	/* the whole message */
	size_t				 len;
};

static void
gmime_start(void)
{
	g_mime_init();
}

void
mime_init(void)
{
	pthread_once(&gmime_once, gmime_start);
}

static void
magic_end(void *cookie)
{
	magic_close(cookie);
}

static void
magic_key_make(void)
{
	if (pthread_key_create(&magic_key, magic_end) != 0)
		abort();
}

static const char *
sniff(const char *p, size_t n)
{
	magic_t magic_cookie;
	const char *t;

	pthread_once(&magic_once, magic_key_make);
	magic_cookie = pthread_getspecific(magic_key);
	if (magic_cookie == NULL && !magic_broken) {
		magic_cookie = magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS
		    | MAGIC_NO_CHECK_ELF);
		if (magic_cookie == NULL || magic_load(magic_cookie, NULL) != 0 ||
		    pthread_setspecific(magic_key, magic_cookie) != 0) {
			if (magic_cookie)
				magic_close(magic_cookie);
			magic_broken = 1;
		}
	}
	if (magic_broken || n == 0)
		return n == 0 ? "application/x-empty" : "application/octet-stream";
	t = magic_buffer(magic_cookie, p, n);
	return t ? t : "application/octet-stream";
}

/* Eight bytes at p are printable ASCII (0x20 to 0x7e). */
static int
printable8(const char *p)
{
	uint64_t v, d;

	memcpy(&v, p, sizeof(v));
	d = v ^ (0x7f * ONES);
	return ((v | ((v - 0x20 * ONES) & ~v) | ((d - ONES) & ~d)) & HIGHS) ==
	    0;
}

/* What libmagic would call text: UTF-8 (a character cut at the end
 * allowed), no NUL, no control byte but tab, line ends, form feed and
 * escape; at least one byte. */
static int
looks_text(const char *p, size_t n)
{
	size_t i = 0;

	if (p == NULL || n == 0)
		return 0;
	while (i < n) {
		unsigned char c = (unsigned char)p[i];

		if (c >= 0x20 && c < 0x7f) {
			for (i++; i + 8 <= n && printable8(p + i); i += 8)
				;
			continue;
		}
		size_t k = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 && c >= 0xc2 ? 2 :
		    (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 && c <= 0xf4 ?
		    4 : 0;

		if (k == 0 || (c < 0x20 && !strchr("\t\n\r\f\033", c)) ||
		    c == 0x7f)
			return 0;
		for (size_t j = 1; j < k; j++)
			if (i + j < n && ((unsigned char)p[i + j] & 0xc0) != 0x80)
				return 0;
		i += k;
	}
	return 1;
}

/* Without libmagic: a few magic numbers, then text or not. */
static const char *
sniff_cheap(const char *p, size_t n)
{
	static const struct { const char *magic; size_t len; const char *type; }
	    m[] = {
		{ "PK\003\004", 4, "application/zip" },
		{ "%PDF-", 5, "application/pdf" },
		{ "MZ", 2, "application/x-dosexec" },
		{ "\177ELF", 4, "application/x-executable" },
		{ "\037\213", 2, "application/gzip" },
		{ "Rar!", 4, "application/x-rar" },
		{ "7z\274\257", 4, "application/x-7z-compressed" } };

	if (n == 0)
		return "application/x-empty";
	for (size_t i = 0; i < nitems(m); i++)
		if (n >= m[i].len && memcmp(p, m[i].magic, m[i].len) == 0)
			return m[i].type;
	return looks_text(p, n) ? "text/plain" : "application/octet-stream";
}

/* Archives are reported as such; their contents are not scanned. */
static int
is_archive(const char *type, const char *name)
{
	static const char *const types[] = { "application/zip",
	    "application/x-zip-compressed", "application/x-rar",
	    "application/vnd.rar", "application/x-rar-compressed",
	    "application/x-7z-compressed", "application/x-tar",
	    "application/gzip", "application/x-gzip", "application/x-bzip2",
	    "application/x-xz", "application/zstd", "application/x-lzip",
	    "application/java-archive", "application/x-cpio",
	    "application/x-iso9660-image", "application/vnd.ms-cab-compressed" };
	static const char *const exts[] = { ".zip", ".rar", ".7z", ".tar",
	    ".gz", ".tgz", ".bz2", ".xz", ".zst", ".jar", ".cab", ".iso" };
	size_t nl = strlen(name);

	for (size_t i = 0; i < nitems(types); i++)
		if (strcasecmp(type, types[i]) == 0)
			return 1;
	for (size_t i = 0; i < nitems(exts); i++) {
		size_t el = strlen(exts[i]);

		if (nl > el && strcasecmp(name + nl - el, exts[i]) == 0)
			return 1;
	}
	return 0;
}

/* Eight bytes at p are ASCII and none is NUL. */
static int
ascii8(const char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return ((v | ((v - ONES) & ~v)) & HIGHS) == 0;
}

/* Invalid UTF-8 becomes '?', in place, byte for byte: the length stays.
 * Runs of ASCII are passed eight bytes at a time. */
static size_t
utf8_clean(char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 && c >= 0xc2 ? 2 :
		    (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 && c <= 0xf4 ?
		    4 : 0;
		size_t k;

		if (c != '\0' && c < 0x80) {
			for (i++; i + 8 <= len && ascii8(s + i); i += 8)
				;
			continue;
		}
		if (c == '\0')
			n = 0;
		for (k = 1; n && k < n; k++)
			if (i + k >= len ||
			    ((unsigned char)s[i + k] & 0xc0) != 0x80)
				n = 0;
		/* Overlong three- and four-byte forms, surrogates, > U+10FFFF. */
		if (n == 3 && ((c == 0xe0 && (unsigned char)s[i + 1] < 0xa0) ||
		    (c == 0xed && (unsigned char)s[i + 1] >= 0xa0)))
			n = 0;
		if (n == 4 && ((c == 0xf0 && (unsigned char)s[i + 1] < 0x90) ||
		    (c == 0xf4 && (unsigned char)s[i + 1] >= 0x90)))
			n = 0;
		if (n == 0) {
			s[i++] = '?';
			continue;
		}
		i += n;
	}
	return len;
}

static void
put_utf8(char **o, unsigned long cp)
{
	unsigned char *p = (unsigned char *)*o;

	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = '?';
	if (cp < 0x80) {
		*p++ = (unsigned char)cp;
	} else if (cp < 0x800) {
		*p++ = (unsigned char)(0xc0 | cp >> 6);
		*p++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*p++ = (unsigned char)(0xe0 | cp >> 12);
		*p++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		*p++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else {
		*p++ = (unsigned char)(0xf0 | cp >> 18);
		*p++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		*p++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		*p++ = (unsigned char)(0x80 | (cp & 0x3f));
	}
	*o = (char *)p;
}

/*
 * A character reference at s[0] == '&' within s[0..n): its length, with
 * the character written at *o; 0 when it is none (the '&' is kept).
 * Only the references that matter for reading are known by name; a
 * numeric one (&#52; &#x34;) is what hides digits from a naive scan.
 */
static size_t
html_ref(const char *s, size_t n, char **o)
{
	static const struct { const char *name; unsigned long cp; } names[] = {
	    { "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' }, { "quot;", '"' },
	    { "apos;", '\'' }, { "nbsp;", ' ' }, { "shy;", 0 },
	    { "ndash;", '-' }, { "minus;", '-' }, { "hyphen;", '-' } };
	unsigned long cp = 0;
	size_t i = 1, digits = 0;
	int hex;

	if (n > 1 && s[1] == '#') {
		i = 2;
		hex = i < n && (s[i] == 'x' || s[i] == 'X');
		i += (size_t)hex;
		for (; i < n && digits < 8 && (hex ? isxdigit((unsigned char)s[i])
		    : isdigit((unsigned char)s[i])); i++, digits++)
			cp = cp * (hex ? 16 : 10) + (unsigned long)(isdigit(
			    (unsigned char)s[i]) ? s[i] - '0' :
			    (tolower((unsigned char)s[i]) - 'a' + 10));
		if (digits == 0 || digits == 8)
			return 0;
		if (i < n && s[i] == ';')
			i++;
		put_utf8(o, cp);
		return i;
	}
	for (size_t k = 0; k < nitems(names); k++) {
		size_t l = strlen(names[k].name);

		if (n - 1 >= l && strncasecmp(s + 1, names[k].name, l) == 0) {
			if (names[k].cp)
				*(*o)++ = (char)names[k].cp;
			return l + 1;
		}
	}
	return 0;
}

/* A tag's name, lower case, into nm (at most nmsz - 1 bytes). */
static void
tag_name(const char *s, size_t n, char *nm, size_t nmsz)
{
	size_t i = 0, k = 0;

	if (i < n && s[i] == '/')
		i++;
	for (; i < n && k + 1 < nmsz && isalnum((unsigned char)s[i]); i++)
		nm[k++] = (char)tolower((unsigned char)s[i]);
	nm[k] = '\0';
}

static int
block_tag(const char *nm)
{
	static const char *const blocks[] = { "br", "p", "div", "tr", "td",
	    "th", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol",
	    "hr", "blockquote", "pre", "title", "section", "article" };

	for (size_t i = 0; i < nitems(blocks); i++)
		if (nm[0] == blocks[i][0] && strcmp(nm, blocks[i]) == 0)
			return 1;
	return 0;
}

/* Where the element's content ends: past "</name", or n. */
static size_t
skip_element(const char *s, size_t n, size_t i, const char *name)
{
	size_t l = strlen(name);

	for (; i + l + 2 <= n; i++)
		if (s[i] == '<' && s[i + 1] == '/' &&
		    strncasecmp(s + i + 2, name, l) == 0)
			return i;
	return n;
}

size_t
mime_html_text_map(const char *s, size_t n, char *out, size_t *map)
{
	char *o = out, *o0, nm[16];
	size_t i = 0, r, at;
	const char *e;
	int closing;

	while (i < n) {
		at = i;
		o0 = o;
		if (s[i] == '&') {
			if ((r = html_ref(s + i, n - i, &o)) == 0)
				*o++ = s[i++];
			else
				i += r;
		} else if (s[i] != '<') {
			*o++ = s[i++];
		} else if (n - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
			e = memmem(s + i + 4, n - i - 4, "-->", 3);
			i = e ? (size_t)(e - s) + 3 : n;
		} else {
			closing = i + 1 < n && s[i + 1] == '/';
			tag_name(s + i + 1, n - i - 1, nm, sizeof(nm));
			e = memchr(s + i, '>', n - i);
			i = e ? (size_t)(e - s) + 1 : n;
			/* <script>...</script> is skipped whole; <script/>
			 * is empty. */
			if (!closing && !(e && e[-1] == '/') && nm[0] == 's' &&
			    (strcmp(nm, "script") == 0 ||
			    strcmp(nm, "style") == 0))
				i = skip_element(s, n, i, nm);
			else if (block_tag(nm))
				*o++ = '\n';
		}
		for (char *p = o0; map && p < o; p++)
			map[p - out] = at;
	}
	*o = '\0';
	return (size_t)(o - out);
}

size_t
mime_html_text(const char *s, size_t n, char *out)
{
	return mime_html_text_map(s, n, out, NULL);
}

size_t
mime_html_unit(const char *s, size_t n, size_t at)
{
	char tmp[8], *o = tmp;
	size_t r;

	if (at >= n)
		return 0;
	if (s[at] == '&' && (r = html_ref(s + at, n - at, &o)) > 0)
		return r;
	return 1;
}

/* Is s[0..n) a link attribute's name, at a name boundary? */
static size_t
link_attr(const char *s, size_t n, size_t i)
{
	static const char *const attrs[] = { "href", "src", "action" };
	int c = tolower((unsigned char)s[i]);

	if (c != 'h' && c != 's' && c != 'a')
		return 0;
	if (i > 0 && !isspace((unsigned char)s[i - 1]) && s[i - 1] != '<' &&
	    s[i - 1] != '"' && s[i - 1] != '\'' && s[i - 1] != '/')
		return 0;
	for (size_t k = 0; k < nitems(attrs); k++) {
		size_t l = strlen(attrs[k]), j;

		if (n - i < l || strncasecmp(s + i, attrs[k], l) != 0)
			continue;
		for (j = i + l; j < n && isspace((unsigned char)s[j]); j++)
			;
		if (j < n && s[j] == '=')
			return j + 1 - i;
	}
	return 0;
}

size_t
mime_html_links(const char *s, size_t n, char *out)
{
	char *o = out;
	size_t i = 0, r, a;
	int intag = 0;

	while (i < n) {
		if (!intag) {
			intag = s[i++] == '<';
			continue;
		}
		if (s[i] == '>') {
			intag = 0;
			i++;
			continue;
		}
		if ((a = link_attr(s, n, i)) == 0) {
			i++;
			continue;
		}
		/* The value: quoted, or up to a space or '>'. */
		char q = 0;

		for (i += a; i < n && isspace((unsigned char)s[i]); i++)
			;
		if (i < n && (s[i] == '"' || s[i] == '\''))
			q = s[i++];
		while (i < n && (q ? s[i] != q : !isspace((unsigned char)s[i]) &&
		    s[i] != '>')) {
			if (s[i] == '&' && (r = html_ref(s + i, n - i, &o)) > 0)
				i += r;
			else
				*o++ = s[i++];
		}
		if (q && i < n)
			i++;
		*o++ = '\n';
	}
	*o = '\0';
	return (size_t)(o - out);
}

static char *
lower_dup(const char *s)
{
	char *d = xstrdup(s ? s : "");

	for (char *p = d; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

/*
 * After the first `at` decoded bytes (or all, when fewer), fn may lower
 * or raise how much is kept: an attachment is sniffed on its first bytes
 * and, when it is text, kept whole in the same pass.
 */
struct read_cap {
	size_t	  at;
	size_t	(*fn)(void *arg, const char *p, size_t n);
	void	 *arg;
};

/* The part's content decoded (transfer encoding, then charset when cs is
 * not NULL), appended to b up to max bytes (or what cap says); the
 * decoded size in *total. */
static int
read_decoded(GMimePart *part, const char *cs, struct buf *b, size_t max,
    size_t *total, const struct read_cap *cap)
{
	GMimeDataWrapper *dw = g_mime_part_get_content(part);
	GMimeStream *raw, *fs;
	GMimeFilter *f;
	GMimeContentEncoding enc;
	char chunk[READ_CHUNK];
	ssize_t n;
	int bad = 0, capped = cap == NULL;

	*total = 0;
	if (dw == NULL || (raw = g_mime_data_wrapper_get_stream(dw)) == NULL) {
		if (cap)
			cap->fn(cap->arg, "", 0);
		return 0;
	}
	g_mime_stream_reset(raw);
	fs = g_mime_stream_filter_new(raw);
	enc = g_mime_data_wrapper_get_encoding(dw);
	if (enc == GMIME_CONTENT_ENCODING_BASE64 ||
	    enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
	    enc == GMIME_CONTENT_ENCODING_UUENCODE) {
		f = g_mime_filter_basic_new(enc, FALSE);
		g_mime_stream_filter_add(GMIME_STREAM_FILTER(fs), f);
		g_object_unref(f);
	}
	if (cs != NULL) {
		if ((f = g_mime_filter_charset_new(cs, "UTF-8")) == NULL)
			bad = 1;
		else {
			g_mime_stream_filter_add(GMIME_STREAM_FILTER(fs), f);
			g_object_unref(f);
		}
	}
	if (cap)
		max = cap->at;
	while ((n = g_mime_stream_read(fs, chunk, sizeof(chunk))) > 0) {
		size_t room = max > buf_len(b) ? max - buf_len(b) : 0;
		size_t take = (size_t)n;

		*total += (size_t)n;
		if (take > room)
			take = room;
		if (take > 0 && buf_append(b, chunk, take) == -1)
			break;
		if (capped || buf_len(b) < cap->at)
			continue;
		capped = 1;
		max = cap->fn(cap->arg, buf_ptr(b), buf_len(b));
		/* The rest of this chunk, past the first bytes. */
		room = max > buf_len(b) ? max - buf_len(b) : 0;
		if ((size_t)n - take < room)
			room = (size_t)n - take;
		if (room > 0 && buf_append(b, chunk + take, room) == -1)
			break;
	}
	if (!capped)
		cap->fn(cap->arg, buf_ptr(b) ? buf_ptr(b) : "", buf_len(b));
	g_object_unref(fs);
	return bad;
}

int
mime_part_decoded(void *part, const char *cs, struct buf *b, size_t max,
    size_t *total)
{
	return read_decoded(part, cs, b, max, total, NULL);
}

static struct mime_text *
add_text(struct walk *w, const char *path, const char *type)
{
	struct mime_walk *o = w->out;
	struct mime_text *t;

	if (o->ntexts == w->tcap) {
		w->tcap = w->tcap ? w->tcap * 2 : 8;
		o->texts = xreallocarray(o->texts, (size_t)w->tcap,
		    sizeof(*o->texts));
	}
	t = &o->texts[o->ntexts++];
	t->path = xstrdup(path);
	t->type = lower_dup(type);
	t->text = NULL;
	t->len = 0;
	t->links = NULL;
	t->linkslen = 0;
	return t;
}

/* Kept text: what lim->text still allows. */
static void
keep_text(struct walk *w, struct mime_text *t, struct buf *b, int html)
{
	size_t len = utf8_clean(buf_ptr(b) ? buf_ptr(b) : "", buf_len(b));
	char *s;

	if (html) {
		t->links = xmalloc(len + 1);
		t->linkslen = mime_html_links(buf_ptr(b) ? buf_ptr(b) : "",
		    len, t->links);
		s = xmalloc(len + 1);
		len = mime_html_text(buf_ptr(b) ? buf_ptr(b) : "", len, s);
	} else {
		/* The decoded bytes themselves, not a copy. */
		b->len = b->off + len;
		if ((s = buf_steal(b, NULL)) == NULL)
			s = xstrdup("");
	}
	t->text = s;
	t->len = len;
	w->out->textlen += len;
}

/* Bytes kept as they are (cleaned to UTF-8). */
static void
keep_bytes(struct walk *w, struct mime_text *t, const char *p, size_t n)
{
	struct buf b;

	buf_init(&b, 0);
	if (buf_append(&b, p, n) == -1)
		buf_reset(&b);
	keep_text(w, t, &b, 0);
	buf_free(&b);
}

/* The part's declared charset when text in it must be converted; NULL
 * for none, or one that is UTF-8 already (cleaned as UTF-8). */
static const char *
part_charset(GMimePart *part)
{
	GMimeContentType *ct = g_mime_object_get_content_type(
	    GMIME_OBJECT(part));
	const char *cs = ct ? g_mime_content_type_get_parameter(ct, "charset") :
	    NULL;

	if (cs && (strcasecmp(cs, "us-ascii") == 0 ||
	    strcasecmp(cs, "utf-8") == 0 || strcasecmp(cs, "utf8") == 0))
		cs = NULL;
	return cs;
}

/* What lim->text still allows; subjects count too, so the total may
 * have passed the limit. */
static size_t
text_room(const struct walk *w)
{
	return w->out->textlen >= w->lim->text ? 0 :
	    w->lim->text - w->out->textlen;
}

/* Decoded text in b (of total bytes, room of them allowed) kept as the
 * text of the part at path. */
static void
keep_decoded(struct walk *w, const char *path, const char *type,
    struct buf *b, size_t total, size_t room)
{
	struct mime_text *t = add_text(w, path, type);

	if (total > room)
		w->out->flags |= MW_TEXT_CUT;
	if (buf_len(b) > room)
		b->len = b->off + room;
	keep_text(w, t, b, strcmp(t->type, "text/html") == 0);
}

static void
walk_text(struct walk *w, GMimePart *part, const char *path,
    const char *type)
{
	const char *cs = part_charset(part);
	size_t room = text_room(w), total;
	struct buf b;
	int bad;

	buf_init(&b, 0);
	bad = read_decoded(part, cs, &b, room, &total, NULL);
	if (bad)
		w->out->flags |= MW_BAD_CHARSET;
	keep_decoded(w, path, type, &b, total, room);
	buf_free(&b);
}

/* An attachment being read: its first bytes sniffed, then the rest kept
 * when it is text that needs no conversion (read once, not twice). */
struct sniffing {
	struct walk		*w;
	struct mime_attach	*a;
	const char		*cs;
	size_t			 room;
	int			 text;
};

static size_t
attach_sniffed(void *arg, const char *p, size_t n)
{
	struct sniffing *sn = arg;
	struct mime_attach *a = sn->a;

	if (n > SNIFF_BYTES)
		n = SNIFF_BYTES;
	a->sniffed = xstrdup(sn->w->lim->no_magic ? sniff_cheap(p, n) :
	    sniff(p, n));
	a->archive = is_archive(a->type, a->name) ||
	    is_archive(a->sniffed, "");
	a->encrypted = attrule_zip_encrypted((const unsigned char *)p, n);
	/* A text file under any name or declared type is read as text. */
	sn->text = strncmp(a->type, "text/", 5) == 0 ||
	    strncmp(a->sniffed, "text/", 5) == 0;
	if (sn->text && sn->cs == NULL && sn->room > SNIFF_BYTES)
		return sn->room;
	return SNIFF_BYTES;
}

static void
walk_attachment(struct walk *w, GMimePart *part, const char *path,
    const char *type, const char *name)
{
	struct mime_walk *o = w->out;
	struct sniffing sn = { w, NULL, part_charset(part), text_room(w), 0 };
	struct read_cap cap = { SNIFF_BYTES, attach_sniffed, &sn };
	struct mime_attach *a;
	struct buf b;
	size_t total;

	if (o->natt == w->acap) {
		w->acap = w->acap ? w->acap * 2 : 8;
		o->att = xreallocarray(o->att, (size_t)w->acap,
		    sizeof(*o->att));
	}
	a = sn.a = &o->att[o->natt++];
	a->path = xstrdup(path);
	a->name = xstrdup(name ? name : "");
	a->type = lower_dup(type);
	buf_init(&b, 0);
	read_decoded(part, NULL, &b, SNIFF_BYTES, &total, &cap);
	a->size = total;
	if (sn.text && sn.cs == NULL)
		keep_decoded(w, path, strncmp(a->type, "text/", 5) == 0 ?
		    a->type : a->sniffed, &b, total, sn.room);
	else if (sn.text)
		walk_text(w, part, path, strncmp(a->type, "text/", 5) == 0 ?
		    a->type : a->sniffed);
	buf_free(&b);
}

static void walk_object(struct walk *, GMimeObject *, const char *, int);

static void
walk_leaf(struct walk *w, GMimePart *part, const char *path)
{
	GMimeContentType *ct = g_mime_object_get_content_type(
	    GMIME_OBJECT(part));
	char *type = ct ? g_mime_content_type_get_mime_type(ct) :
	    g_strdup("text/plain");
	const char *name = g_mime_part_get_filename(part);
	const char *disp = g_mime_object_get_disposition(GMIME_OBJECT(part));

	if (++w->out->nparts > w->lim->parts) {
		w->out->flags |= MW_MANY_PARTS;
	} else if (g_ascii_strncasecmp(type, "text/", 5) == 0 &&
	    name == NULL && (disp == NULL ||
	    g_ascii_strcasecmp(disp, "attachment") != 0)) {
		walk_text(w, part, path, type);
	} else
		walk_attachment(w, part, path, type, name);
	g_free(type);
}

static void
walk_subject(struct walk *w, GMimeMessage *msg, const char *prefix)
{
	const char *subj = g_mime_message_get_subject(msg);
	char *path;
	struct mime_text *t;

	if (subj == NULL)
		return;
	path = xasprintf("%s%ssubject", prefix, prefix[0] ? "." : "");
	t = add_text(w, path, "text/plain");
	free(path);
	keep_bytes(w, t, subj, strlen(subj));
}

/*
 * A message (the top one, or one inside message/rfc822 at path): its
 * subject and its body, whose parts are numbered below path as IMAP does
 * (RFC 3501 6.4.5).  depth counts messages entered.
 */
static void
walk_message(struct walk *w, GMimeMessage *msg, const char *path, int depth)
{
	GMimeObject *body = g_mime_message_get_mime_part(msg);
	char *sub;

	walk_subject(w, msg, path);
	if (body == NULL)
		return;
	if (GMIME_IS_MULTIPART(body)) {
		walk_object(w, body, path, depth);
		return;
	}
	sub = xasprintf("%s%s1", path, path[0] ? "." : "");
	walk_object(w, body, sub, depth);
	free(sub);
}

static void
walk_object(struct walk *w, GMimeObject *obj, const char *path, int depth)
{
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		int n = g_mime_multipart_get_count(mp);

		for (int i = 0; i < n && w->out->nparts <= w->lim->parts;
		    i++) {
			char *sub = xasprintf("%s%s%d", path, path[0] ? "." :
			    "", i + 1);

			walk_object(w, g_mime_multipart_get_part(mp, i), sub,
			    depth);
			free(sub);
		}
		if (w->out->nparts > w->lim->parts)
			w->out->flags |= MW_MANY_PARTS;
	} else if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *m = g_mime_message_part_get_message(
		    GMIME_MESSAGE_PART(obj));

		if (m == NULL)
			return;
		if (depth + 1 > w->lim->depth) {
			w->out->flags |= MW_DEEP;
			return;
		}
		walk_message(w, m, path, depth + 1);
	} else if (GMIME_IS_PART(obj)) {
		walk_leaf(w, GMIME_PART(obj), path);
	}
}

/* No MIME structure GMime could read: the bytes as one text. */
static void
walk_raw(struct walk *w, const char *msg, size_t len)
{
	struct mime_text *t = add_text(w, "1", "text/plain");
	size_t room = w->lim->text;

	if (len > room) {
		len = room;
		w->out->flags |= MW_TEXT_CUT;
	}
	keep_bytes(w, t, msg, len);
}

void
mime_with_message(const char *msg, size_t len, void (*fn)(void *, void *),
    void *arg)
{
	GByteArray *ba;
	GMimeStream *st;
	GMimeParser *p;
	GMimeMessage *m;

	mime_init();
	/* GMime reads the caller's bytes in place: no copy of the message. */
	ba = g_byte_array_new_take((guint8 *)(uintptr_t)msg, len);
	st = g_mime_stream_mem_new_with_byte_array(ba);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(st), FALSE);
	p = g_mime_parser_new_with_stream(st);
	g_mime_parser_set_format(p, GMIME_FORMAT_MESSAGE);
	m = g_mime_parser_construct_message(p, NULL);
	fn(arg, m);
	if (m != NULL)
		g_object_unref(m);
	g_object_unref(p);
	g_object_unref(st);
	g_byte_array_free(ba, FALSE);
}

static void
walk_top(void *arg, void *msg)
{
	struct walk *w = arg;

	if (msg == NULL)
		walk_raw(w, w->msg, w->len);
	else
		walk_message(w, msg, "", 1);
}

int
mime_walk(const char *msg, size_t len, const struct mime_limits *lim,
    struct mime_walk *out)
{
	struct walk w = { lim ? lim : &mime_limits_default, out, 0, 0, NULL,
	    0 };

	memset(out, 0, sizeof(*out));
	w.msg = msg;
	w.len = len;
	mime_with_message(msg, len, walk_top, &w);
	return 0;
}

void
mime_walk_free(struct mime_walk *o)
{
	for (int i = 0; i < o->ntexts; i++) {
		free(o->texts[i].path);
		free(o->texts[i].type);
		free(o->texts[i].text);
		free(o->texts[i].links);
	}
	for (int i = 0; i < o->natt; i++) {
		free(o->att[i].path);
		free(o->att[i].name);
		free(o->att[i].type);
		free(o->att[i].sniffed);
	}
	free(o->texts);
	free(o->att);
	memset(o, 0, sizeof(*o));
}

char *
mime_header_text(const char *raw)
{
	char *g, *s;
	size_t n;

	mime_init();
	g = g_mime_utils_header_decode_text(NULL, raw);
	s = xstrdup(g ? g : raw);
	g_free(g);
	n = utf8_clean(s, strlen(s));
	s[n] = '\0';
	return s;
}
