/*
 * mtasts.h - MTA-STS (RFC 8461): the _mta-sts TXT record, the policy
 * file, and whether an MX host name matches the policy's "mx" patterns.
 *
 * Pure and hostile-input safe: the TXT record and the policy come from
 * the network (the policy from an HTTPS server the domain names, which
 * an attacker may run for their own domain).  Lines and counts are
 * bounded; nothing here does I/O.
 */
#ifndef GW_MTASTS_H
#define GW_MTASTS_H

#include <stddef.h>
#include <stdint.h>

#define MTASTS_ID_MAX		32	/* RFC 8461 3.1: 1*32(ALPHA / DIGIT) */
#define MTASTS_MAX_MX		16	/* patterns kept; more is an error */
#define MTASTS_PATTERN_MAX	253
#define MTASTS_MAX_AGE_MAX	31557600	/* RFC 8461 3.2: one year */
#define MTASTS_BODY_MAX		(64 * 1024)	/* RFC 8461 3.3 suggests it */

enum mtasts_mode { MTASTS_NONE, MTASTS_TESTING, MTASTS_ENFORCE };

struct mtasts_policy {
	enum mtasts_mode mode;
	int64_t		 max_age;	/* seconds */
	int		 nmx;
	char		 mx[MTASTS_MAX_MX][MTASTS_PATTERN_MAX + 1];
};

/*
 * The id of a "v=STSv1; id=...;" TXT record (RFC 8461 3.1) into id
 * (MTASTS_ID_MAX + 1 bytes).  0; 1 when the record is not an STSv1
 * record at all (another TXT at the name); -1 when it claims to be one
 * but is malformed (*errstr says why).
 */
int	 mtasts_txt_id(const char *txt, char *id, const char **errstr);
/*
 * The next field of a "v=...; a=b; c=d" record (RFC 8461 3.1, and RFC
 * 8460 3's TLS-RPT record, which has the same form): skips the
 * delimiter at *p.  1 with *p at the field, 0 at the end, -1 when what
 * follows a field is not a delimiter (*errstr).
 */
int	 mtasts_tag_next(const char **p, const char **errstr);
/*
 * Parse a policy body (RFC 8461 3.2): "key: value" lines ending in
 * CRLF or LF, version STSv1, mode, max_age, and (unless mode none) at
 * least one mx.  Unknown keys are ignored.  0, or -1 with *errstr.
 */
int	 mtasts_parse(const char *body, size_t len, struct mtasts_policy *,
	    const char **errstr);
/* 1 when host (an MX name, a trailing dot allowed) matches one of the
 * policy's mx patterns (RFC 8461 4.1: "*." matches one label), else 0. */
int	 mtasts_mx_match(const struct mtasts_policy *, const char *host);
const char *mtasts_mode_name(enum mtasts_mode);

#endif
