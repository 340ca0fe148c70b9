/*
 * suppress_parse.h - what gwctl suppression reads from an admin or a
 * file: addresses, reasons, import lines.  Pure: strings in, verdicts
 * out, so unit tests reach it.
 */
#ifndef GWCTL_SUPPRESS_PARSE_H
#define GWCTL_SUPPRESS_PARSE_H

#include "addr.h"

/* As gwd/suppress.h: a reason goes into a 550 reply line. */
#define SUPP_REASON_MAX	200

/* An address as stored: without <>, in its canonical spelling
 * (addr_canon, UTF-8 allowed), ASCII letters in lower case.  0, or -1.
 */
int	 supp_parse_address(const char *in, char out[ADDR_PATH_MAX + 1]);
/* NULL when r may be a reason, else why not. */
const char *supp_check_reason(const char *r);
/*
 * One line of an import file, split in place: "address" or CSV
 * "address,reason" (the reason may be quoted, "" inside for a quote).
 * White space around both is dropped; *reason is NULL without a comma.
 * 0, or -1 with *err saying why.  *addr may come back "" (a blank line)
 * for the caller to skip, as it skips comments and a header row.
 */
int	 supp_parse_line(char *line, char **addr, char **reason,
	    const char **err);

#endif
