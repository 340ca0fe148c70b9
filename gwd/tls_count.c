/*
 * tls_count.c - SMTP TLS Reporting's counts: every delivery session
 * under an MTA-STS or DANE policy goes into queue.db (table tls_rpt,
 * through the store thread: a restart keeps the counts) per UTC day and
 * policy domain, as a success or as a failure with its RFC 8460 result
 * type, sending and receiving side.  tls_report.c reports them.
 * Standards: RFC 8460 4.3 (result types, common/tlsrpt.c).
 * Exposure: MX names and notes from remote servers are stored as text,
 * bound parameters.
 * Diagnostics: none; the store retries what does not commit.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "gwd.h"
#include "store.h"
#include "tls_count.h"
#include "tlsrpt.h"
#include "util.h"

static char *
dupe(const char *s)
{
	return xstrdup(s != NULL ? s : "");
}

void
tls_count_session(const char *domain, const char *policy, int ok,
    const char *note, const char *sending_ip, const char *mx_host,
    const char *receiving_ip)
{
	struct store_op *op;

	if (!gcfg->tls_rpt.enable || domain == NULL || policy == NULL)
		return;
	op = store_op_new();
	op->rpt.day = (int64_t)time(NULL) / 86400;	/* UTC day */
	op->rpt.domain = dupe(domain);
	for (char *p = op->rpt.domain; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	op->rpt.policy = xstrdup(strcmp(policy, "dane") == 0 ? "tlsa" :
	    "sts");
	/* Successes are only counted: one row per day and policy. */
	op->rpt.result = dupe(ok ? NULL : tlsrpt_result_type(note));
	op->rpt.sending_ip = dupe(ok ? NULL : sending_ip);
	op->rpt.mx_host = dupe(ok ? NULL : mx_host);
	op->rpt.receiving_ip = dupe(ok ? NULL : receiving_ip);
	store_submit(op);
}

