/*
 * attrule.h - attachment rules (issue 11): content-policy detectors
 * that look at a message's attachments (mime_walk.h lists them with
 * name, declared and sniffed type, size) instead of its text.  Written
 * as `gwctl policy add --detector`:
 *
 *   attachment:exec             an executable, by extension (.exe, .scr,
 *                               .js, .ps1, ...) or by content (PE, ELF,
 *                               Mach-O, MSI)
 *   attachment:double-ext       a document extension hiding an
 *                               executable one: "invoice.pdf.exe"
 *   attachment:macro            a macro-enabled Office file (.docm,
 *                               .xlsm, .pptm, ... or such a content type)
 *   attachment:encrypted        a zip archive with encrypted entries
 *   attachment:ext=EXT[,EXT...] by extension, caseless ("iso,img")
 *   attachment:type=T[,T...]    by declared or sniffed MIME type; a T
 *                               ending in "/" then "*" for a family
 *   attachment:size>N[K|M|G]    larger than N bytes (decoded)
 *
 * Each attachment that matches counts once.  Pure: no I/O.
 */
#ifndef GW_ATTRULE_H
#define GW_ATTRULE_H

#include <stddef.h>
#include <stdint.h>

#include "mime_walk.h"

#define ATTRULE_PREFIX	"attachment:"

enum attrule_kind { AR_EXEC, AR_DOUBLE_EXT, AR_MACRO, AR_ENCRYPTED, AR_EXT,
	AR_TYPE, AR_SIZE };

struct attrule {
	enum attrule_kind kind;
	char		*list;		/* AR_EXT, AR_TYPE: ",a,b,", lower */
	uint64_t	 size;		/* AR_SIZE */
};

/* 1 when spec starts with ATTRULE_PREFIX. */
int	 attrule_is(const char *spec);
/* Parse spec ("attachment:..."): 0, or -1 with the reason in err. */
int	 attrule_parse(const char *spec, struct attrule *, char *err,
	    size_t errsz);
void	 attrule_free(struct attrule *);
/* 1 when a matches r. */
int	 attrule_match(const struct attrule *r, const struct mime_attach *a);
/* 1 when p[0..n) starts a zip archive with an entry whose encryption
 * bit is set (APPNOTE 4.3.7, 4.4.4: general purpose bit 0), as far as
 * the n bytes go. */
int	 attrule_zip_encrypted(const unsigned char *p, size_t n);

#endif
