/*
 * json.h - writing JSON text (RFC 8259) into a struct buf.
 *
 * Strings come from the audit trail and from remote servers, so they are
 * treated as untrusted bytes:
 *   - '"' and '\' are escaped; \b \f \n \r \t use their short forms; every
 *     other byte below 0x20 and DEL (0x7f) becomes \u00XX;
 *   - well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates,
 *     nothing above U+10FFFF) is copied as is, except the C1 controls
 *     U+0080..U+009F, written \u0080..\u009f like C0 (a terminal that
 *     honours 8-bit controls takes U+009B as CSI), and U+2028 and
 *     U+2029, written \u2028 and \u2029 so the output is also valid
 *     JavaScript;
 *   - each byte that is not part of well-formed UTF-8 becomes \ufffd
 *     (U+FFFD REPLACEMENT CHARACTER): one per byte, so a truncated
 *     3-byte sequence gives two.
 * The output is therefore always valid UTF-8 and valid JSON, whatever the
 * input.  json_escape() and json_string() return 0, or -1 when the
 * buffer's maximum would be passed (the buffer may then hold a partial
 * value); the json_obj_*() calls remember such a failure and
 * json_obj_end() reports it.
 */
#ifndef GW_JSON_H
#define GW_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define JSON_DEPTH	8

/*
 * Length of the well-formed UTF-8 sequence at s[0..len) (1..4) with its
 * code point in *cp, or 0 when s does not start one.
 */
size_t	json_utf8_next(const unsigned char *s, size_t len, uint32_t *cp);

/* The escaped contents of s[0..len), without the surrounding quotes. */
int	json_escape(struct buf *, const char *s, size_t len);
/* A quoted string; NULL is written as null. */
int	json_string(struct buf *, const char *s);

/*
 * One JSON object whose keys may be dotted paths: "email.from.address"
 * opens (and later closes) the nested objects "email" and "from".  Keys
 * sharing a prefix must be added next to each other, or the object would
 * get the same key twice.  NULL strings are left out, as ECS documents do.
 */
struct json_obj {
	struct buf	*b;
	char		 path[256];	/* dotted path of open objects */
	int		 depth;		/* objects open below the top */
	int		 count[JSON_DEPTH + 1];	/* members per level */
	int		 error;
};

void	json_obj_begin(struct json_obj *, struct buf *);
void	json_obj_str(struct json_obj *, const char *key, const char *val);
/* The same, but NULL is written as null rather than left out. */
void	json_obj_str_or_null(struct json_obj *, const char *key,
	    const char *val);
void	json_obj_int(struct json_obj *, const char *key, int64_t val);
void	json_obj_bool(struct json_obj *, const char *key, int val);
void	json_obj_null(struct json_obj *, const char *key);
/* A value already in JSON syntax (a number, an array built by caller). */
void	json_obj_raw(struct json_obj *, const char *key, const char *json);
/* Close every open object; 0, or -1 if any append failed. */
int	json_obj_end(struct json_obj *);

#endif
