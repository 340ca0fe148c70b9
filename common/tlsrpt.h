/*
 * tlsrpt.h - SMTP TLS Reporting (RFC 8460): the _smtp._tls TXT record's
 * report addresses, the result type of a failure as gwd records it, and
 * the aggregate report's JSON (section 4).
 *
 * Pure: the TXT record is untrusted DNS data; the report's strings come
 * from remote servers (MX names, policy bodies) and are JSON-escaped.
 */
#ifndef GW_TLSRPT_H
#define GW_TLSRPT_H

#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "mtasts.h"

#define TLSRPT_MAX_RUA	4	/* report addresses kept */
#define TLSRPT_RUA_MAX	512

struct tlsrpt_failure {
	const char	*result_type;	/* RFC 8460 4.3, tlsrpt_result_type() */
	const char	*sending_ip;	/* or NULL */
	const char	*mx_host;	/* receiving-mx-hostname, or NULL */
	const char	*receiving_ip;	/* or NULL */
	int64_t		 count;
	const char	*reason;	/* failure-reason-code, or NULL */
};

struct tlsrpt_policy {
	const char	*type;		/* "sts", "tlsa", "no-policy-found" */
	const char	*domain;
	const char	*policy_text;	/* the MTA-STS body (one string per
					   line in policy-string), or NULL */
	const char *const *mx;		/* mx-host patterns */
	int		 nmx;
	int64_t		 ok, failed;	/* sessions */
	const struct tlsrpt_failure *fail;
	int		 nfail;
};

struct tlsrpt_report {
	const char	*org;		/* organization-name */
	const char	*contact;	/* contact-info */
	const char	*report_id;
	time_t		 start, end;	/* date-range, UTC */
	const struct tlsrpt_policy *pol;
	int		 npol;
};

/* One count of a domain's day as gwd keeps it (queue.db's tls_rpt):
 * policy "sts" or "tlsa"; result "" for sessions that succeeded, else a
 * result type; sip, mx, rip "" when not known. */
struct tlsrpt_row {
	char		*policy, *result, *sip, *mx, *rip;
	int64_t		 count;
};

/*
 * The rua URIs of a "v=TLSRPTv1; rua=mailto:a@b,https://c" record into
 * rua (up to TLSRPT_MAX_RUA, each at most TLSRPT_RUA_MAX - 1 bytes;
 * only mailto: and https: are kept).  Returns how many (0 or more); 
 * -1 when txt is not a TLSRPTv1 record or is malformed (*errstr).
 */
int	 tlsrpt_txt_rua(const char *txt, char rua[][TLSRPT_RUA_MAX],
	    const char **errstr);
/* RFC 8460 4.3's result type for a delivery event's tls_note. */
const char *tlsrpt_result_type(const char *tls_note);
/* The report as JSON into out; 0, or -1 when out's maximum is passed. */
int	 tlsrpt_json(struct buf *out, const struct tlsrpt_report *);
/*
 * The report's policies from a domain's rows: one per policy type that
 * has rows ("sts" before "tlsa") into pol, their failures into fail
 * (room for nrows).  sts_text, the MTA-STS policy body kept (or NULL),
 * is parsed into *sts, and the "sts" policy's mx patterns point into it
 * through mx (room for MTASTS_MAX_MX).  Returns how many policies.
 */
int	 tlsrpt_policies(const char *domain, const struct tlsrpt_row *rows,
	    int nrows, const char *sts_text, struct tlsrpt_policy pol[2],
	    struct tlsrpt_failure *fail, struct mtasts_policy *sts,
	    const char **mx);
/* gzip (RFC 1952) of in into *out (the caller frees it); 0, or -1. */
int	 tlsrpt_gzip(const char *in, size_t n, unsigned char **out,
	    size_t *outlen);

#endif
