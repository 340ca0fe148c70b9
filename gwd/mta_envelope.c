/*
 * mta_envelope.c - the delivery client's envelope for a job: whether
 * the message can go to this server at all (SMTPUTF8, REQUIRETLS, SIZE),
 * and MAIL FROM and RCPT TO with each parameter only to a server that
 * offered its extension.  mta_session.c sends them in its dialogue.
 * Standards: RFC 5321 (MAIL, RCPT), RFC 1870 (SIZE), RFC 6152
 * (8BITMIME), RFC 3461 (DSN: RET, ENVID, NOTIFY, ORCPT passed on),
 * RFC 6531 (SMTPUTF8), RFC 8689 (REQUIRETLS).
 * Exposure: reads what a remote server offered in EHLO (already parsed
 * and bounded by reply.c) and the queued message's envelope.
 * Diagnostics: none; a message that cannot go gets every recipient's
 * result (mta_result.c).
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "retpath.h"
#include "mime7.h"
#include "mta_priv.h"
#include "smtp_dsn.h"

/* A message sent with SMTPUTF8 needs it of the server when an address
 * of this job or a header field is not ASCII. */
static int
needs_smtputf8(const struct job *j)
{
	const struct qmsg *msg = j->msg;
	const char *hend;

	if (!(msg->flags & QMSG_SMTPUTF8))
		return 0;
	if (!addr_is_ascii(msg->sender))
		return 1;
	for (int i = 0; i < j->nrcpt; i++)
		if (!addr_is_ascii(j->rcpt[i]->addr))
			return 1;
	hend = memmem(msg->body, msg->bodylen, "\r\n\r\n", 4);
	return mime7_is_8bit(msg->body, hend ? (size_t)(hend - msg->body) :
	    msg->bodylen);
}

/*
 * RFC 8689 4.2.1: what a REQUIRETLS message needs of this hop that it
 * lacks, or NULL.  TLS with a certificate that verified, by DANE or by
 * the CA store with the name; for an MX host, MX records that
 * validated (DNSSEC) unless DANE or an enforced MTA-STS policy vouched
 * for the host; and a server that passes the flag on.  A smarthost is
 * the admin's choice, not DNS's: its verified certificate suffices.
 */
static const char *
requiretls_unmet(const struct mta *m, char *why, size_t whysz)
{
	const char *host = m->hop.host;
	int dane = m->hop.tls_policy != NULL &&
	    strcmp(m->hop.tls_policy, "dane") == 0;

	if (!conn_tls_active(m->c))
		snprintf(why, whysz, "REQUIRETLS: no TLS to %s", host);
	else if (m->hop.tls_verified != 1)
		snprintf(why, whysz, "REQUIRETLS: the certificate of %s is "
		    "not verified (%s)", host, m->hop.tls_note[0] ?
		    m->hop.tls_note : "no check");
	else if (m->dest->domain != NULL && !dane && !mta_sts_enforce(m) &&
	    !m->mx_secure)
		snprintf(why, whysz, "REQUIRETLS: the MX records of %s are "
		    "not DNSSEC-validated, %s has no DANE records and no "
		    "MTA-STS policy enforces it",
		    m->dest->domain, host);
	else if (!m->caps.requiretls)
		snprintf(why, whysz, "REQUIRETLS: %s does not support "
		    "REQUIRETLS", host);
	else
		return NULL;
	return why;
}

/*
 * Whether the message can go to this server as it is, by what the
 * server offered: 0, or -1 with every recipient's result set.
 */
int
mta_envelope_fits(struct mta *m, struct job *j)
{
	struct qmsg *msg = j->msg;
	char text[600];

	if (needs_smtputf8(j) && !m->caps.smtputf8) {
		/* RFC 6531 3.2: no downgrade, no mangling. */
		snprintf(text, sizeof(text), "%s does not support SMTPUTF8, "
		    "which this message needs (UTF-8 addresses or header "
		    "fields)", j->hop.host);
		mta_result_fill(j, 550, "5.6.7", text);
		return -1;
	}
	if ((msg->flags & QMSG_REQUIRETLS) &&
	    requiretls_unmet(m, text, sizeof(text)) != NULL) {
		/* RFC 8689 4.2.2: no delivery, a report with 5.7.10. */
		mta_result_fill(j, 550, "5.7.10", text);
		return -1;
	}
	if (m->caps.size && msg->size > m->caps.size) {
		snprintf(text, sizeof(text), "message size %zu exceeds the "
		    "limit of %s (%llu)", msg->size, j->hop.host,
		    (unsigned long long)m->caps.size);
		mta_result_fill(j, 552, "5.3.4", text);
		return -1;
	}
	return 0;
}

/* RET and ENVID as the client gave them, to a server offering DSN
 * (RFC 3461 6.2). */
static void
dsn_mail_params(const struct mta *m, const struct qmsg *msg, char *out,
    size_t outsz)
{
	out[0] = '\0';
	if (!m->caps.dsn)
		return;
	snprintf(out, outsz, "%s%s%s",
	    msg->dsn_ret == DSN_RET_FULL ? " RET=FULL" :
	    msg->dsn_ret == DSN_RET_HDRS ? " RET=HDRS" : "",
	    msg->dsn_envid ? " ENVID=" : "",
	    msg->dsn_envid ? msg->dsn_envid : "");
}

/* MAIL FROM, with each parameter only to a server that offered its
 * extension. */
void
mta_envelope_mail(struct mta *m)
{
	const struct qmsg *msg = m->job->msg;
	char size[40] = "", dsn[40 + DSN_ENVID_MAX], verp[ADDR_PATH_MAX + 1];
	const char *from = msg->sender;
	size_t len;

	/* RFC 1870 6; the size of what goes, converted or not */
	(void)mta_8bit_body(m, &len);
	if (m->caps.size_ext)
		snprintf(size, sizeof(size), " SIZE=%zu", len);
	dsn_mail_params(m, msg, dsn, sizeof(dsn));
	/* A VERP return path, so a later bounce finds this recipient
	 * (fbl.h); never for the null sender, whose mail must not bounce.
	 * DSNs gw makes still go to the original sender.  The scheduler
	 * gives such mail one recipient per job (dest_ready); a job it made
	 * of several before a bounce domain applied keeps the sender, as
	 * one token cannot name them all. */
	if (m->job->nrcpt == 1 && retpath_applies(from, msg->subaccount) &&
	    retpath_verp(msg->subaccount, msg->qid,
	    (unsigned)(m->job->rcpt[0] - msg->rcpt), verp, sizeof(verp)) == 0)
		from = verp;
	mta_send(m, "MAIL FROM:<%s>%s%s%s%s%s", from, size,
	    m->eightbit && m->caps.eightbitmime ? " BODY=8BITMIME" : "",
	    (msg->flags & QMSG_SMTPUTF8) && m->caps.smtputf8 ?
	    " SMTPUTF8" : "",
	    /* mta_envelope_fits() made sure the server takes it on
	     * (RFC 8689). */
	    (msg->flags & QMSG_REQUIRETLS) ? " REQUIRETLS" : "", dsn);
}

/* NOTIFY and ORCPT as the client gave them, to a server offering DSN. */
static void
dsn_rcpt_params(const struct mta *m, const struct qrcpt *r, char *out,
    size_t outsz)
{
	int n = r->dsn_notify & DSN_NOTIFY_MASK;

	out[0] = '\0';
	if (!m->caps.dsn)
		return;
	if (n & DSN_NOTIFY_NEVER)
		snprintf(out, outsz, " NOTIFY=NEVER");
	else if (n)
		snprintf(out, outsz, " NOTIFY=%s%s%s%s%s",
		    n & DSN_NOTIFY_SUCCESS ? "SUCCESS" : "",
		    (n & DSN_NOTIFY_SUCCESS) && (n & ~DSN_NOTIFY_SUCCESS) ?
		    "," : "",
		    n & DSN_NOTIFY_FAILURE ? "FAILURE" : "",
		    (n & DSN_NOTIFY_FAILURE) && (n & DSN_NOTIFY_DELAY) ?
		    "," : "",
		    n & DSN_NOTIFY_DELAY ? "DELAY" : "");
	if (r->dsn_orcpt) {
		size_t l = strlen(out);

		snprintf(out + l, outsz - l, " ORCPT=%s", r->dsn_orcpt);
	}
}

void
mta_envelope_rcpt(struct mta *m, const struct qrcpt *r)
{
	char dsn[64 + DSN_ORCPT_MAX];

	dsn_rcpt_params(m, r, dsn, sizeof(dsn));
	mta_send(m, "RCPT TO:<%s>%s", r->addr, dsn);
}
