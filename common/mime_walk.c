/*
 * mime_walk.c - the MIME-to-text walk of the content policy (GMime 3,
 * libmagic).
 * Standards: RFC 2045-2047 (MIME, encodings, encoded words), RFC 2183
 * (Content-Disposition), RFC 2231 (parameter values), RFC 2046 5.2.1
 * (message/rfc822); HTML to text in mime_html.c.
 * Exposure: parses an untrusted message.  GMime's parser stops nesting
 * at 1024 levels; here message/rfc822 is entered to lim->depth, leaf
 * parts are read to lim->parts and decoded text is kept to lim->text, so
 * time and memory grow with the message's size, no more.  Decoding
 * (mime_decode.c) goes by GMime's decoder steps in 4 KiB reads, never a
 * whole decoded part at once beyond what is kept.  A message of one
 * plain text part (mime_plain.c says which) skips GMime's parser and
 * objects: its body is read in place, decoded in one step by GMime's
 * own QP decoder.  Any other top message is parsed as GMime's part, not
 * its message: the same parts, none of the message's address lists
 * (walk_top()); and when mime_head.c finds its header section plain,
 * GMime sees only the fields the walk reads (walk_kept()).
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
#include "mime_decode.h"
#include "mime_head.h"
#include "mime_plain.h"
#include "mime_walk.h"
#include "util.h"

const struct mime_limits mime_limits_default = { 5, 1000, 16 << 20, 0, 0 };

#define SNIFF_BYTES	8192	/* what libmagic sees of an attachment */
#define KEPT_COPY_MAX	(256 << 10)	/* walk_kept() copies the body */
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

static char *
lower_dup(const char *s)
{
	char *d = xstrdup(s ? s : "");

	for (char *p = d; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
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
	bad = mime_read_decoded(part, cs, &b, room, &total, NULL,
	    w->lim->gmime_only);
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
	mime_read_decoded(part, NULL, &b, SNIFF_BYTES, &total, &cap,
	    w->lim->gmime_only);
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

/*
 * "type/subtype" as g_mime_content_type_get_mime_type() gives it (its
 * defaults too), without its g_strdup_printf: this and sub_path() run
 * for every part, and stdio's formatting was a visible share of the
 * walk in gwd (bench/RESULTS.md, part 8).  Free with g_free().
 */
static char *
mime_type_of(GMimeContentType *ct)
{
	const char *t = ct ? g_mime_content_type_get_media_type(ct) : NULL;
	const char *s = ct ? g_mime_content_type_get_media_subtype(ct) :
	    NULL;

	return g_strconcat(t ? t : "text", "/", s ? s : "plain", NULL);
}

/* Part n (at least 1) below path, numbered as IMAP does (RFC 3501
 * 6.4.5): "2", "1.3". */
static char *
sub_path(const char *path, int n)
{
	char num[12], *d = num + sizeof(num), *s, *p;
	size_t len = strlen(path), nd;

	do
		*--d = (char)('0' + n % 10);
	while ((n /= 10) > 0);
	nd = (size_t)(num + sizeof(num) - d);
	p = s = xmalloc(len + 1 + nd + 1);
	if (len > 0) {
		memcpy(p, path, len);
		p += len;
		*p++ = '.';
	}
	memcpy(p, d, nd);
	p[nd] = '\0';
	return s;
}

static void
walk_leaf(struct walk *w, GMimePart *part, const char *path)
{
	GMimeContentType *ct = g_mime_object_get_content_type(
	    GMIME_OBJECT(part));
	char *type = mime_type_of(ct);
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
	sub = sub_path(path, 1);
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
			char *sub = sub_path(path, i + 1);

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

/* The top message's Subject, raw (n bytes after the colon): unfolded,
 * then decoded by GMime's own function, as GMime's message has it. */
static void
keep_subject(struct walk *w, const char *p, size_t n)
{
	char *raw = xstrndup(p, n);
	char *unf = g_mime_utils_header_unfold(raw);
	char *subj = g_mime_utils_header_decode_text(NULL, unf);

	free(raw);
	g_free(unf);
	if (subj) {
		keep_bytes(w, add_text(w, "subject", "text/plain"), subj,
		    strlen(subj));
		g_free(subj);
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

/* A GMime stream over the caller's bytes in place (no copy); *ba to
 * be let go with g_byte_array_free(*ba, FALSE) once the stream is. */
static GMimeStream *
stream_in_place(const char *p, size_t n, GByteArray **ba)
{
	GMimeStream *st;

	*ba = g_byte_array_new_take((guint8 *)(uintptr_t)p, n);
	st = g_mime_stream_mem_new_with_byte_array(*ba);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(st), FALSE);
	return st;
}

/*
 * GMime's parser over the caller's bytes in place (no copy of the
 * message), its result to fn: the message (GMimeMessage), or with part
 * set its MIME part (GMimeObject, its headers the message's), which
 * builds none of the message's address lists, or the message when no
 * part could be read.  NULL when GMime found no MIME structure.
 */
static void
with_parser(const char *msg, size_t len, int part, void (*fn)(void *,
    void *), void *arg)
{
	GByteArray *ba;
	GMimeStream *st;
	GMimeParser *p;
	void *m;

	mime_init();
	st = stream_in_place(msg, len, &ba);
	p = g_mime_parser_new_with_stream(st);
	g_mime_parser_set_format(p, GMIME_FORMAT_MESSAGE);
	m = part ? (void *)g_mime_parser_construct_part(p, NULL) : NULL;
	/* Read as a message when no part could be, e.g. after an mbox
	 * "From " line, which only the message's parse skips. */
	if (m == NULL) {
		g_object_unref(p);
		g_mime_stream_reset(st);
		p = g_mime_parser_new_with_stream(st);
		g_mime_parser_set_format(p, GMIME_FORMAT_MESSAGE);
		m = g_mime_parser_construct_message(p, NULL);
	}
	fn(arg, m);
	if (m != NULL)
		g_object_unref(m);
	g_object_unref(p);
	g_object_unref(st);
	g_byte_array_free(ba, FALSE);
}

void
mime_with_message(const char *msg, size_t len, void (*fn)(void *, void *),
    void *arg)
{
	with_parser(msg, len, 0, fn, arg);
}

/*
 * The top message as GMime's part, not its message: the subject from
 * its last Subject header (as GMime's message keeps it), decoded as
 * walk_plain() does, then the body numbered as walk_message() numbers
 * it.  No GMimeMessage is built for the top: its address lists, parsed
 * from From, To, Cc and the rest and freed with their signal handlers,
 * are of no use to any detector (bench/RESULTS.md).
 */
static void
walk_top(void *arg, void *top)
{
	struct walk *w = arg;
	GMimeObject *obj = top;
	GMimeHeaderList *hl;
	const char *raw = NULL;

	if (obj == NULL) {
		walk_raw(w, w->msg, w->len);
		return;
	}
	if (GMIME_IS_MESSAGE(obj)) {
		walk_message(w, top, "", 1);
		return;
	}
	hl = g_mime_object_get_header_list(obj);
	for (int i = 0, n = g_mime_header_list_get_count(hl); i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);

		if (g_ascii_strcasecmp(g_mime_header_get_name(h),
		    "Subject") == 0)
			raw = g_mime_header_get_raw_value(h);
	}
	if (raw)
		keep_subject(w, raw, strlen(raw));
	walk_object(w, obj, GMIME_IS_MULTIPART(obj) ? "" : "1", 1);
}

/*
 * The fast path: a message of one plain text part (mime_plain.h) read
 * without building GMime's objects, which cost most of the stage in
 * gwd (bench/RESULTS.md).  What it keeps is what walk_message() keeps
 * for such a message: the subject as GMime's message gives it (unfolded,
 * then decoded by GMime's own function), then part "1", the body (the
 * quoted-printable decoded by GMime's own decoder, in one step as its
 * filter does it), through the same keep_decoded().  The unit tests and
 * tests/fuzz/fuzz_mime_plain.c hold the two paths to the same result.
 */
static void
walk_plain(struct walk *w, const struct mime_plain *p)
{
	const char *body = w->msg + p->body;
	size_t blen = w->len - p->body, room, total;
	struct buf b;

	if (p->subject)
		keep_subject(w, p->subject, p->subjectlen);
	if (++w->out->nparts > w->lim->parts) {
		w->out->flags |= MW_MANY_PARTS;
		return;
	}
	room = text_room(w);
	buf_init(&b, 0);
	if (p->qp) {
		int state = 0;
		guint32 save = 0;

		/* Decoded QP is never longer than its source. */
		if (buf_reserve(&b, blen + 1) == 0) {
			total = g_mime_encoding_quoted_decode_step(
			    (const unsigned char *)body, blen,
			    (unsigned char *)buf_tail(&b), &state, &save);
			buf_added(&b, total < room ? total : room);
		} else
			total = 0;
	} else {
		total = blen;
		if (buf_append(&b, body, total < room ? total : room) == -1)
			buf_reset(&b);
	}
	keep_decoded(w, "1", p->html ? "text/html" : "text/plain", &b, total,
	    room);
	buf_free(&b);
}

/*
 * The kept fields in head, then the body in place, as one stream: a copy
 * of both for a body up to KEPT_COPY_MAX (GMime's cat stream costs more
 * than the copy: bench/RESULTS.md), else GMime's cat of the two, so a
 * large message is never held twice.
 */
static GMimeStream *
kept_stream(struct buf *head, const char *body, size_t len, GByteArray **hba,
    GByteArray **bba)
{
	GMimeStream *cat, *st;

	*bba = NULL;
	if (len <= KEPT_COPY_MAX && buf_append(head, body, len) == 0)
		return stream_in_place(buf_ptr(head), buf_len(head), hba);
	cat = g_mime_stream_cat_new();
	st = stream_in_place(buf_ptr(head), buf_len(head), hba);
	g_mime_stream_cat_add_source(GMIME_STREAM_CAT(cat), st);
	g_object_unref(st);
	st = stream_in_place(body, len, bba);
	g_mime_stream_cat_add_source(GMIME_STREAM_CAT(cat), st);
	g_object_unref(st);
	return cat;
}

/*
 * The top message with only the header fields the walk reads
 * (mime_head.h), then its body, parsed as walk_top() parses the whole
 * message.  -1 when the check doubts, or GMime reads no part of it:
 * then the whole message goes to GMime.  tests/fuzz/fuzz_mime_plain.c
 * and tests/unit/test_mime_plain.c hold the result to the whole
 * message's.
 */
static int
walk_kept(struct walk *w)
{
	GByteArray *hba, *bba;
	GMimeStream *st;
	GMimeParser *p;
	GMimeObject *top;
	struct buf head;
	size_t body;
	int r = -1;

	buf_init(&head, 0);
	if (mime_head_keep(w->msg, w->len, &head, &body) == -1) {
		buf_free(&head);
		return -1;
	}
	mime_init();
	st = kept_stream(&head, w->msg + body, w->len - body, &hba, &bba);
	p = g_mime_parser_new_with_stream(st);
	g_mime_parser_set_format(p, GMIME_FORMAT_MESSAGE);
	if ((top = g_mime_parser_construct_part(p, NULL)) != NULL) {
		walk_top(w, top);
		g_object_unref(top);
		r = 0;
	}
	g_object_unref(p);
	g_object_unref(st);
	g_byte_array_free(hba, FALSE);
	if (bba != NULL)
		g_byte_array_free(bba, FALSE);
	buf_free(&head);
	return r;
}

int
mime_walk(const char *msg, size_t len, const struct mime_limits *lim,
    struct mime_walk *out)
{
	struct walk w = { lim ? lim : &mime_limits_default, out, 0, 0, NULL,
	    0 };
	struct mime_plain p;

	memset(out, 0, sizeof(*out));
	w.msg = msg;
	w.len = len;
	if (!w.lim->gmime_only && mime_plain_head(msg, len, &p) == 0) {
		mime_init();
		walk_plain(&w, &p);
	} else if (w.lim->gmime_only || walk_kept(&w) == -1)
		with_parser(msg, len, 1, walk_top, &w);
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
